"""The CRM clients' transport (orchestrator/backends/transport.py) against real sockets: what
reaches the server, what comes back, and each failure mapped to the httpx error that says
whether the request may have been applied."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from orchestrator.backends.transport import AiohttpTransport
from orchestrator.backends.zoho.client import _NOT_SENT

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def client(base: str, read_s: float = 5.0) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    return httpx.AsyncClient(
        base_url=base,
        timeout=httpx.Timeout(read_s, connect=1.0),
        limits=limits,
        transport=AiohttpTransport(limits),
    )


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


async def test_the_request_and_a_compressed_answer_go_through(serve):
    seen: list[tuple[bytes, bytes]] = []

    async def answer(reader, writer):
        seen.append(await read_request(reader))
        body = gzip.compress(json.dumps({"data": [{"id": "1"}]}).encode())
        writer.write(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nX-Trace: t-1\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip
        await writer.drain()
        writer.close()

    async with client(await serve(answer)) as http:
        got = await http.post("/crm/v7/Deals", json={"data": [{"Deal_Name": "x"}]},
                              headers={"Authorization": "Zoho-oauthtoken secret"})  # fmt: skip
    assert got.status_code == 201 and got.reason_phrase == "Created"
    assert got.json() == {"data": [{"id": "1"}]}
    assert got.headers["x-trace"] == "t-1"
    head, body = seen[0]
    assert head.startswith(b"POST /crm/v7/Deals HTTP/1.1\r\n")
    assert b"authorization: zoho-oauthtoken secret" in head.lower()
    assert json.loads(body) == {"data": [{"Deal_Name": "x"}]}


async def test_nothing_listening_is_a_connect_error_nothing_was_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    async with client(f"http://127.0.0.1:{port}") as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.post("/crm/v7/Deals", json={})
    assert isinstance(caught.value, _NOT_SENT)


async def test_a_connection_dropped_after_the_request_is_an_unknown_outcome(serve):
    received: list[bytes] = []

    async def drop(reader, writer):
        received.append((await read_request(reader))[1])
        writer.close()  # read it all, answered nothing: it may have been applied

    async with client(await serve(drop)) as http:
        with pytest.raises(httpx.TransportError) as caught:
            await http.post("/crm/v7/Quotes", json={"data": [1]})
    assert received == [b'{"data":[1]}']
    assert not isinstance(caught.value, _NOT_SENT)


async def test_an_answer_slower_than_the_read_timeout_is_a_read_timeout(serve):
    async def slow(reader, writer):
        await read_request(reader)
        await asyncio.sleep(1.0)
        writer.close()

    async with client(await serve(slow), read_s=0.2) as http:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await http.get("/crm/v7/Accounts/1")
    assert not isinstance(caught.value, _NOT_SENT)
