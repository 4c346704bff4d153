"""The console's HTTP plumbing: templates, session and flash cookies, form bodies, redirects.

One Jinja2 environment (autoescape on, StrictUndefined) over templates/console/. Cookies are
HttpOnly, SameSite=Strict, Path=/console, and Secure when the request came over https.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from orchestrator.api.deps import ApiContext
from orchestrator.console.session import (
    LOGIN_FORM_TTL,
    SESSION_TTL,
    Session,
    seal,
    session_secret,
    still_operator,
    unseal,
)
from orchestrator.store.console_sessions import StoredSession, find_session, open_session

TEMPLATES_DIR: Final = Path(__file__).resolve().parents[2] / "templates"
PREFIX: Final = "/console"
SESSION_COOKIE: Final = "salesaga_console"
LOGIN_COOKIE: Final = "salesaga_login"  # vouches for the login form's CSRF token
MAX_TOKEN_CHARS: Final = 128
FLASH_COOKIE: Final = "salesaga_flash"
FLASH_TTL_S: Final = 60
MAX_FORM_BYTES: Final = 64 * 1024


@functools.cache
def templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


def render(
    request: Request, name: str, context: Mapping[str, Any], *, status: int = 200
) -> Response:
    base = {"session": None, "flash": None, "refresh": False, "title": "salesaga console"}
    return templates().TemplateResponse(
        request, f"console/{name}", {**base, **context}, status_code=status
    )


def signed_in_page(
    request: Request,
    ctx: ApiContext,
    session: Session,
    name: str,
    context: Mapping[str, object],
    *,
    status: int = 200,
) -> Response:
    """A signed-in page: shows (and drops) the flash message left by the last action."""
    flash = take_flash(request, session_secret(ctx.deps.settings))
    response = render(request, name, {**context, "session": session, "flash": flash}, status=status)
    drop_flash(response, request)
    return response


def now() -> datetime:
    return datetime.now(UTC)


async def current_session(request: Request, ctx: ApiContext) -> Session | None:
    """The operator's session: its token is live on the server (not logged out, not expired)
    and the key that opened it is still an operator key."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    stored = await find_session(ctx.deps.db, token, now())
    if stored is None:
        return None
    session = Session(token, stored.actor, stored.key_fingerprint, stored.expires_at, stored.csrf)
    if not still_operator(session, ctx.keys):
        return None
    return session


async def start_session(
    response: Response, request: Request, ctx: ApiContext, session: Session
) -> None:
    """Store the session on the server and give the browser its token."""
    stored = StoredSession(session.actor, session.fingerprint, session.csrf, session.expires_at)
    await open_session(ctx.deps.db, session.token, stored, now())
    _cookie(response, request, SESSION_COOKIE, session.token, int(SESSION_TTL.total_seconds()))
    _cookie(response, request, LOGIN_COOKIE, "", 0)


def set_login_form(response: Response, request: Request, cookie: str) -> None:
    _cookie(response, request, LOGIN_COOKIE, cookie, int(LOGIN_FORM_TTL.total_seconds()))


def to_login(request: Request) -> RedirectResponse:
    """Back to the login page; after logging in the operator lands where they were going."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = PREFIX  # a form post is not replayed after login
    return RedirectResponse(f"{PREFIX}/login?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only a console path: never another site (`//evil`, `https://…`) after login."""
    if target and target.startswith(PREFIX) and "//" not in target and "\\" not in target:
        return target
    return PREFIX


def clear_session(response: Response, request: Request) -> None:
    _cookie(response, request, SESSION_COOKIE, "", 0)


def set_flash(response: Response, request: Request, kind: str, text: str, secret: bytes) -> None:
    """A message for the next page only (after a POST-redirect-GET)."""
    value = seal({"k": kind, "t": text, "e": int(now().timestamp()) + FLASH_TTL_S}, secret)
    _cookie(response, request, FLASH_COOKIE, value, FLASH_TTL_S)


def take_flash(request: Request, secret: bytes) -> dict[str, str] | None:
    payload = unseal(request.cookies.get(FLASH_COOKIE), secret)
    if payload is None or not isinstance(payload.get("e"), int):
        return None
    if payload["e"] < now().timestamp():
        return None
    return {"kind": str(payload.get("k")), "text": str(payload.get("t"))}


def drop_flash(response: Response, request: Request) -> None:
    if FLASH_COOKIE in request.cookies:
        _cookie(response, request, FLASH_COOKIE, "", 0)


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form body as field → first value (bounded in size)."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}
