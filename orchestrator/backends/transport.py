"""The CRM clients' HTTP transport: httpx's API over aiohttp's connection pool.

The backends speak httpx (requests, responses, errors, MockTransport in the tests); only the
wire under it changes. Why not httpx's own transport: httpcore's pool looks at the socket of
every pooled connection on each request (`has_expired`, a poll and a peer-name lookup per idle
connection) and parses HTTP in Python — with 20 connections per CRM, a third of a worker's CPU
went into httpx. aiohttp keeps idle connections in a queue and parses HTTP in C: about a
third of the CPU per call (docs/performance.md).

Why not the `httpx-aiohttp` package: it maps aiohttp.ClientConnectionError, which includes
ServerDisconnectedError (the connection dropped after the request went out), to
httpx.ConnectTimeout — "never sent" to our clients (`_NOT_SENT`), so a create that may have
landed would be sent again without looking for it first. Here only failures that happen
before a byte of the request is written map to ConnectError / ConnectTimeout /
UnsupportedProtocol; everything else is a read error: the outcome is unknown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # made on first use: aiohttp binds a session to the running event loop
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                limit_per_host=0,
                keepalive_timeout=self._limits.keepalive_expiry or 5.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx's client keeps the cookies
                auto_decompress=False,  # httpx decodes by Content-Encoding
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open()
        timeout = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        body = await request.aread()
        with _mapped(request):
            async with session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            ) as answer:
                content = await answer.read()
        return httpx.Response(
            answer.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.raw_headers],
            stream=httpx.ByteStream(content),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (answer.reason or "").encode(),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


@contextlib.contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    """aiohttp's errors as httpx's, sent or not kept apart (see the module's docstring)."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:  # no connection was made: nothing sent
        raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
    except aiohttp.ConnectionTimeoutError as exc:  # waiting for a connection or connecting
        raise httpx.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
    except (TimeoutError, aiohttp.SocketTimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(str(exc) or "server disconnected", request=request) from exc
    except (aiohttp.ClientError, OSError) as exc:  # mid-request: the outcome is unknown
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
