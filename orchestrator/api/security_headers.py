"""Security headers on every answer of the service: API, console and mounted sandboxes.

- `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`;
- never framed: `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`;
- a Content-Security-Policy: the API answers data only (`default-src 'none'`); the console's
  pages load their own script file and nothing from elsewhere (`script-src 'self'`; styles
  may be inline: the pages carry style attributes, and autoescaping keeps data out of them);
- `Cache-Control: no-store` on every answer that did not set its own: each one carries
  sagas, records or contacts, which no shared cache or browser history should keep.

A header the route set itself wins. A pure ASGI middleware (not BaseHTTPMiddleware) so that
streamed and long-waiting answers pass through untouched.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.observability.http import editing_headers

API_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
CONSOLE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# Swagger UI, only when API_DOCS=true: FastAPI's page loads its script and style from a CDN
# and starts them with an inline script.
DOCS_CSP: Final = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: "
    "https://fastapi.tiangolo.com; connect-src 'self'; frame-ancestors 'none'"
)
COMMON: Final = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
)


def policy_for(path: str) -> str:
    if path == "/console" or path.startswith("/console/"):
        return CONSOLE_CSP
    if path in ("/docs", "/redoc"):
        return DOCS_CSP
    return API_CSP


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope["path"])

        def with_headers(headers: MutableHeaders) -> None:
            for name, value in (*COMMON, ("content-security-policy", policy)):
                headers.setdefault(name, value)

        await self.app(scope, receive, editing_headers(send, with_headers))
