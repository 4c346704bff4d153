"""Run the OnAutomate sandbox over real HTTP for tests: uvicorn in a background thread on a free
port.

    with running_onautomate_sandbox() as sandbox:
        crm = await open_onautomate_crm(sandbox.settings(), OpenContext(InMemoryTokenCache()))
        sandbox.state.faults.fail("create", status=500)

The app is mounted under `prefix` (default /onautomate-sandbox, as in dev mode), so `sandbox.url`
is ONAUTOMATE_URL. Pass a configured state for other behaviour, e.g.
`running_onautomate_sandbox(SandboxState(allow_duplicates=True))`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from orchestrator.backends.onautomate.backend import sandbox_settings
from orchestrator.backends.onautomate.sandbox.app import create_sandbox_app
from orchestrator.backends.onautomate.sandbox.data import SandboxState
from orchestrator.backends.onautomate.settings import OnAutomateSettings

STARTUP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RunningOnAutomateSandbox:
    url: str  # e.g. http://127.0.0.1:54321/onautomate-sandbox
    state: SandboxState

    def settings(self, **overrides: Any) -> OnAutomateSettings:
        """Settings pointing at this sandbox (its token, seeded pipeline, UI links), with short
        timeouts; any field can be overridden (`token="wrong"`, `read_timeout_s=0.3` …)."""
        base = sandbox_settings(self.url).model_dump()
        base |= {"connect_timeout_s": 2.0, "read_timeout_s": 10.0, "max_connections": 10}
        return OnAutomateSettings(**(base | overrides))


@contextlib.contextmanager
def running_onautomate_sandbox(
    state: SandboxState | None = None, *, prefix: str = "/onautomate-sandbox"
) -> Iterator[RunningOnAutomateSandbox]:
    """Start the sandbox on 127.0.0.1:<free port>, wait until it answers, stop it on exit."""
    state = state if state is not None else SandboxState()
    app = create_sandbox_app(state)
    if prefix:
        outer = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        outer.mount(prefix, app)
        app = outer
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (else ~40 ms a call)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port meanwhile
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="onautomate-sandbox", daemon=True
    )
    thread.start()
    sandbox = RunningOnAutomateSandbox(url=f"http://127.0.0.1:{port}{prefix}", state=state)
    try:
        _wait_until_up(sandbox.url, thread)
        yield sandbox
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait_until_up(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the sandbox server thread died while starting")
        try:
            if httpx.get(f"{url}/__sandbox__/records", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"the sandbox at {url} did not answer within {STARTUP_TIMEOUT_S}s")
