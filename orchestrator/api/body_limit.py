"""A request body over MAX_BODY_BYTES is refused before it is read whole.

A body that declares its size (Content-Length) over the limit is answered 413 before a byte of
it is read; a chunked one is counted as it streams in, and the read that passes the limit
raises BodyTooLarge (an HTTPException 413, answered in our error shape by the handlers).
Why not FastAPI's own `max_body_size`: it sits outside every user middleware and answers a
declared oversize body in plain text, not in the API's JSON error shape.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("orchestrator.api")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def too_large(limit: int) -> str:
    return f"the body is larger than {limit} bytes."


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app, self.limit = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared(scope) > self.limit:
            await self._refuse(scope, send)
            return
        limit, seen = self.limit, 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    log.warning("refused %s %s: the body is larger than %d bytes",
                                scope["method"], scope["path"], limit)  # fmt: skip
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        log.warning("refused %s %s: the body is larger than %d bytes", scope["method"],
                    scope["path"], self.limit)  # fmt: skip
        body = json.dumps({"status": "error", "message": too_large(self.limit)}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"),
                              (b"content-length", str(len(body)).encode()),
                              (b"connection", b"close")]  # fmt: skip
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _declared(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # uvicorn refuses a malformed length before we see it
    return 0
