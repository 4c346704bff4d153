"""RequestContextMiddleware: every log line of an API request carries its request id, method
and path, and the saga id once the request has one; the response echoes X-Request-ID."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.observability.logcontext import bind_saga_id, log_context

REQUEST_ID = "X-Request-ID"
SAGA_ID = "X-Saga-Id"  # set by /createSales and friends
_CALLER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a caller's own id is kept if it is this tame


def editing_headers(send: Send, edit: Callable[[MutableHeaders], None]) -> Send:
    """`send`, with `edit` applied to the response's headers as they go out: for pure ASGI
    middleware (not BaseHTTPMiddleware), so streamed and long-waiting answers pass untouched."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            edit(MutableHeaders(scope=message))
        await send(message)

    return sending


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID, "")
        request_id = given if _CALLER_ID.fullmatch(given) else uuid.uuid4().hex

        def with_id(headers: MutableHeaders) -> None:
            headers[REQUEST_ID] = request_id
            saga_id = headers.get(SAGA_ID)
            if saga_id:  # the server's access line is written on this send: let it say so
                bind_saga_id(saga_id)

        with log_context(request_id=request_id, method=scope["method"], path=scope["path"]):
            await self.app(scope, receive, editing_headers(send, with_id))
