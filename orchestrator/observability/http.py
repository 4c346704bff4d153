"""RequestContextMiddleware: every log line of an API request carries its request id, method
and path, and the saga id once the request has one; the response echoes X-Request-ID."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.observability.logcontext import bind_saga_id, log_context

REQUEST_ID = "X-Request-ID"
SAGA_ID = "X-Saga-Id"  # set by /createSales and friends
_CALLER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a caller's own id is kept if it is this tame


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID, "")
        request_id = given if _CALLER_ID.fullmatch(given) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID] = request_id
                saga_id = headers.get(SAGA_ID)
                if saga_id:  # the server's access line is written on this send: let it say so
                    bind_saga_id(saga_id)
            await send(message)

        with log_context(request_id=request_id, method=scope["method"], path=scope["path"]):
            await self.app(scope, receive, send_with_id)
