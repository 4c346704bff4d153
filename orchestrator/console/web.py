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
    SESSION_TTL,
    Session,
    decode_session,
    encode_session,
    seal,
    session_secret,
    still_operator,
    unseal,
)

TEMPLATES_DIR: Final = Path(__file__).resolve().parents[2] / "templates"
PREFIX: Final = "/console"
SESSION_COOKIE: Final = "salesaga_console"
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


def current_session(request: Request, ctx: ApiContext) -> Session | None:
    """The operator's session from the cookie: signed by us, not expired, key still valid."""
    settings = ctx.deps.settings
    session = decode_session(request.cookies.get(SESSION_COOKIE), session_secret(settings), now())
    if session is None or not still_operator(session, settings.operator_api_keys):
        return None
    return session


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


def set_session(response: Response, request: Request, session: Session, secret: bytes) -> None:
    _cookie(
        response,
        request,
        SESSION_COOKIE,
        encode_session(session, secret),
        int(SESSION_TTL.total_seconds()),
    )


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
