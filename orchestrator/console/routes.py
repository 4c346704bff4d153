"""The operator console's pages: login/logout, the saga list and one saga with its actions.

GET  /console/login, POST /console/login    operator key (and the form's CSRF token) → session
POST /console/logout                        end the session on the server (CSRF token required)
GET  /console                               counts, filters, newest sagas (cursor pages)
GET  /console/sagas/{id}                    steps, CRM records, event log, e-mail as sent
POST /console/sagas/{id}/{action}           retry | compensate | resolve (CSRF token required)

Every page but login needs a valid session and otherwise redirects to the login page.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from orchestrator.api.auth import AuthError, Role
from orchestrator.api.deps import ApiContext, ContextDep
from orchestrator.console import health, views, web
from orchestrator.console.session import (
    Session,
    csrf_ok,
    login_form_ok,
    new_login_form,
    new_session,
    session_secret,
)
from orchestrator.flows import FLOWS
from orchestrator.saga.actions import Action, ActionRefused
from orchestrator.saga.errors import SagaNotFound
from orchestrator.saga.state import SagaStatus
from orchestrator.store.console_sessions import end_session
from orchestrator.store.queries import SagaFilter, list_sagas, saga_counts, saga_detail

log = logging.getLogger("orchestrator.console")

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)

PAGE_SIZE = 50
FILTER_FIELDS = ("status", "flow", "contact", "q", "created_from", "created_to")
ACTION_DONE = {
    Action.RETRY: "Retry started: the saga goes forward again from the failed step.",
    Action.COMPENSATE: "Rollback started: the saga's records are being undone.",
    Action.RESOLVE: "Marked as cleaned up by hand.",
}


@router.get("/static/console.js")
async def console_script() -> Response:
    """The console's one script (a file, for the CSP's script-src 'self')."""
    path = web.TEMPLATES_DIR / "console" / "static" / "console.js"
    return FileResponse(path, media_type="text/javascript", headers={"cache-control": "no-cache"})


# --- login -------------------------------------------------------------------------------------


@router.get("/login")
async def login_page(
    request: Request, ctx: ContextDep, target: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    if await web.current_session(request, ctx) is not None:
        return RedirectResponse(web.safe_next(target), status_code=303)
    return _login_form(request, ctx, web.safe_next(target), None)


@router.post("/login")
async def login(request: Request, ctx: ContextDep) -> Response:
    fields = await web.form(request)
    target = web.safe_next(fields.get("next"))
    settings = ctx.deps.settings
    secret = session_secret(settings)
    cookie = request.cookies.get(web.LOGIN_COOKIE)
    if not login_form_ok(cookie, fields.get("csrf"), web.now(), secret):
        return _login_refused(request, ctx, target, "stale form")
    key = fields.get("key", "").strip()
    if not key:
        return _login_refused(request, ctx, target, "missing key")
    try:
        who = ctx.keys.identify(key)
    except AuthError:
        return _login_refused(request, ctx, target, "invalid key")
    if who.role is not Role.OPERATOR:
        return _login_refused(request, ctx, target, "client key", fingerprint=who.fingerprint)
    response = RedirectResponse(target, status_code=303)
    session = new_session(who.actor, who.fingerprint, web.now())
    await web.start_session(response, request, ctx, session)
    log.info("console login: %s", who.actor)
    return response


def _login_form(
    request: Request, ctx: ApiContext, target: str, error: str | None, *, status: int = 200
) -> Response:
    """The login page with a fresh CSRF token (and the signed cookie that vouches for it)."""
    token, cookie = new_login_form(web.now(), session_secret(ctx.deps.settings))
    context = {"next": target, "error": error, "csrf": token}
    response = web.render(request, "login.html", context, status=status)
    web.set_login_form(response, request, cookie)
    return response


LOGIN_ERRORS = {
    "missing key": "Enter your operator key.",
    "invalid key": "That key is not valid.",
    "client key": "That is a client API key: the console needs an operator key.",
    "stale form": "The sign-in form had expired or did not come from this console: try again.",
}


def _login_refused(
    request: Request,
    ctx: ApiContext,
    target: str,
    reason: str,
    *,
    fingerprint: str | None = None,
) -> Response:
    client = request.client.host if request.client else "?"
    who = f" (client:{fingerprint})" if fingerprint else ""
    log.warning("console login refused from %s: %s%s", client, reason, who)  # never the key
    status = 403 if reason in ("client key", "stale form") else 401
    return _login_form(request, ctx, target, LOGIN_ERRORS[reason], status=status)


@router.post("/logout")
async def logout(request: Request, ctx: ContextDep) -> Response:
    """End the session on the server (the token is refused from now on), then drop the cookie.
    Only a POST with the session's CSRF token: a link or an image elsewhere cannot log out."""
    session = await web.current_session(request, ctx)
    if session is not None:
        fields = await web.form(request)
        if not csrf_ok(session, fields.get("csrf")):
            log.warning("console: refused a log-out without a valid CSRF token")
            return _refused(request, ctx, session)
        await end_session(ctx.deps.db, session.token, web.now())
        log.info("console logout: %s", session.actor)
    response = RedirectResponse(f"{web.PREFIX}/login", status_code=303)
    web.clear_session(response, request)
    return response


# --- list --------------------------------------------------------------------------------------


@router.get("")
async def saga_list(request: Request, ctx: ContextDep) -> Response:
    session = await web.current_session(request, ctx)
    if session is None:
        return web.to_login(request)
    chosen = {name: request.query_params.get(name, "").strip() for name in FILTER_FIELDS}
    context = await _list_context(ctx, chosen, request.query_params.get("cursor"))
    return web.signed_in_page(request, ctx, session, "list.html", context)


async def _list_context(
    ctx: ApiContext, chosen: dict[str, str], cursor: str | None
) -> dict[str, object]:
    where, problem = _filter(chosen, cursor)
    items: list[dict[str, object]] = []
    next_url = None
    if problem is None:
        try:
            page = await list_sagas(ctx.deps.db, where)
        except ValueError:
            problem = "That page link is no longer valid: start again from the first page."
        else:
            items = [views.list_row(row) for row in page.items]
            next_url = _page_url(chosen, page.next_cursor)
    counts = await saga_counts(ctx.deps.db)
    return {
        "health": await health.panel(ctx),
        "items": items,
        "next_url": next_url,
        "problem": problem,
        "chosen": chosen,
        "status_counts": [(s.value, counts["status"].get(s.value, 0)) for s in SagaStatus],
        "flow_counts": sorted(counts["flow"].items()),
        "flows": sorted(set(FLOWS) | set(counts["flow"])),
        "total": sum(counts["status"].values()),
    }


def _filter(chosen: dict[str, str], cursor: str | None) -> tuple[SagaFilter, str | None]:
    status = chosen["status"] or None
    if status is not None and status not in SagaStatus.__members__.values():
        return SagaFilter(limit=PAGE_SIZE), f"Unknown status {status!r}."
    try:
        start = views.parse_day(chosen["created_from"])
        end = views.parse_day(chosen["created_to"], end=True)
    except ValueError:
        return SagaFilter(limit=PAGE_SIZE), "Dates must look like 2026-05-03."
    where = SagaFilter(
        status,
        chosen["flow"] or None,
        chosen["contact"] or None,
        PAGE_SIZE,
        cursor or None,
        start,
        end,
        chosen["q"] or None,
    )
    return where, None


def _page_url(chosen: dict[str, str], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = {name: value for name, value in chosen.items() if value}
    return f"{web.PREFIX}?{urlencode({**query, 'cursor': cursor})}"


# --- one saga ----------------------------------------------------------------------------------


@router.get("/sagas/{saga_id}")
async def saga_page(saga_id: str, request: Request, ctx: ContextDep) -> Response:
    session = await web.current_session(request, ctx)
    if session is None:
        return web.to_login(request)
    key = _uuid(saga_id)
    detail = await saga_detail(ctx.deps.db, key) if key is not None else None
    if detail is None:
        missing = {"heading": "Not found", "message": f"There is no saga {saga_id}."}
        return web.signed_in_page(request, ctx, session, "missing.html", missing, status=404)
    flow = detail.saga.flow
    links = ctx.deps.links(flow)
    saga = views.saga_view(detail, links, ctx.deps.cancel_stage(flow))
    context: dict[str, object] = {
        "saga": saga,
        "timeline": views.timeline_view(detail, links),
        "live": not saga.terminal,
        "refresh": not saga.terminal,
        "title": f"saga {saga.id[:8]}",
    }
    return web.signed_in_page(request, ctx, session, "saga.html", context)


@router.post("/sagas/{saga_id}/{action}")
async def saga_action(saga_id: str, action: str, request: Request, ctx: ContextDep) -> Response:
    """Through the engine like the API's action endpoint, recorded as `operator:<fingerprint>`."""
    session = await web.current_session(request, ctx)
    if session is None:
        return web.to_login(request)
    fields = await web.form(request)
    if not csrf_ok(session, fields.get("csrf")):
        log.warning("console: refused %s on saga %s without a valid CSRF token", action, saga_id)
        return _refused(request, ctx, session)
    key = _uuid(saga_id)
    if key is None or action not in Action.__members__.values():
        missing = {"heading": "Not found", "message": "No such saga or action."}
        return web.signed_in_page(request, ctx, session, "missing.html", missing, status=404)
    kind, text = await _act(ctx, key, Action(action), session, fields.get("comment"))
    response = RedirectResponse(f"{web.PREFIX}/sagas/{key}", status_code=303)
    web.set_flash(response, request, kind, text, session_secret(ctx.deps.settings))
    return response


async def _act(
    ctx: ApiContext, key: uuid.UUID, action: Action, session: Session, comment: str | None
) -> tuple[str, str]:
    comment = (comment or "").strip() or None
    try:
        await ctx.deps.engine.act(key, action, actor=session.actor, comment=comment)
    except SagaNotFound:
        return "error", f"There is no saga {key}."
    except ActionRefused as refused:
        return "error", f"Refused: {refused.reason}"
    if action is not Action.RESOLVE:
        ctx.dispatch(key)
    log.info("console: %s on saga %s by %s", action.value, key, session.actor)
    return "ok", ACTION_DONE[action]


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _refused(request: Request, ctx: ApiContext, session: Session) -> Response:
    """A form without the session's CSRF token: 403, nothing done."""
    context = {
        "heading": "Refused",
        "message": "This form has expired or did not come from the console: "
        "reload the page and try again.",
    }
    return web.signed_in_page(request, ctx, session, "missing.html", context, status=403)
