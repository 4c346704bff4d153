"""The one Zoho sandbox every engine calls: salesaga's own sandbox app, mounted at /zoho-sandbox
as `salesaga serve` mounts it, in a uvicorn process of its own, counting the calls it serves.

    python -m bench.throughput.sandbox --port 8123

Extra routes (not Zoho): GET /__bench__/calls (calls per "METHOD Module") and
POST /__bench__/calls/reset. The latency is a sandbox fault with only `delay_s`.
"""

from __future__ import annotations

import argparse
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from bench.throughput.config import SANDBOX_PREFIX

Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


class CallCounter:
    """ASGI wrapper: counts record-API calls by method and module, answers /__bench__/*."""

    def __init__(self, app: Asgi) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/__bench__/calls"):
            if path.endswith("/reset"):
                self.calls.clear()
            await _json(send, dict(self.calls))
            return
        if scope["type"] == "http":
            self.calls[_label(scope["method"], path)] += 1
        await self.app(scope, receive, send)


def _label(method: str, path: str) -> str:
    parts = path.removeprefix(SANDBOX_PREFIX).strip("/").split("/")
    if parts[:2] == ["oauth", "v2"]:
        return f"{method} token"
    if parts[0] == "crm" and len(parts) > 2:
        return f"{method} {parts[2]}"
    return f"{method} {'/'.join(parts[:2])}"


async def _json(send: Any, body: dict[str, int]) -> None:
    import json

    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def build_app() -> CallCounter:
    from fastapi import FastAPI

    from orchestrator.backends.zoho.sandbox.app import create_sandbox_app

    outer = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    outer.mount(SANDBOX_PREFIX, create_sandbox_app())
    return CallCounter(outer)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    # IPPROTO_TCP named: asyncio then sets TCP_NODELAY on accepted sockets (else ~40 ms a call).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        build_app(), log_level="warning", access_log=False, lifespan="off", backlog=4096
    )
    uvicorn.Server(config).run(sockets=[sock])


# --- the benchmark's side ----------------------------------------------------------------------


class SandboxClient:
    """Control calls to the sandbox process at `base` (http://127.0.0.1:PORT)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.url = base + SANDBOX_PREFIX  # ZOHO_ACCOUNTS_URL and ZOHO_API_DOMAIN
        self._http = httpx.Client(timeout=60)

    def close(self) -> None:
        self._http.close()

    def records(self) -> dict[str, Any]:
        response = self._http.get(f"{self.url}/__sandbox__/records")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def reset(self) -> None:
        self._http.post(f"{self.url}/__sandbox__/reset", json={}).raise_for_status()

    def set_latency(self, delay_s: float, times: int = 100_000_000) -> None:
        """Every record-API call (and COQL query) waits `delay_s` before it is served."""
        fault = {"delay_s": delay_s, "times": times}
        self._http.post(f"{self.url}/__sandbox__/faults", json=fault).raise_for_status()

    def delayed_calls(self) -> int:
        """How many calls the latency fault has delayed so far."""
        faults = self.records()["faults"]
        return sum(int(f["times"]) - int(f["remaining"]) for f in faults if f.get("delay_s"))

    def calls(self, reset: bool = False) -> dict[str, int]:
        path = "/__bench__/calls/reset" if reset else "/__bench__/calls"
        response = self._http.get(self.base + path)
        response.raise_for_status()
        return {str(k): int(v) for k, v in response.json().items()}


if __name__ == "__main__":
    main()
