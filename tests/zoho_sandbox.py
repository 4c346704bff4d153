"""Run the Zoho sandbox over real HTTP for tests: uvicorn in a background thread on a free port.

    with running_sandbox() as sandbox:
        crm = await open_zoho_crm(sandbox.config(), InMemoryTokenCache())
        sandbox.state.faults.fail("Quotes", status=500)

The app is mounted under `prefix` (default /zoho-sandbox, as in dev mode), so `sandbox.url` is
both ZOHO_ACCOUNTS_URL and ZOHO_API_DOMAIN. Pass a configured state for other behaviour, e.g.
`running_sandbox(SandboxState(search_lag_s=5))` for a search index that lags writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from orchestrator.backends.zoho.backend import sandbox_settings
from orchestrator.backends.zoho.client import ZohoConfig
from orchestrator.backends.zoho.sandbox.app import create_sandbox_app
from orchestrator.backends.zoho.sandbox.data import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    SandboxState,
)
from orchestrator.backends.zoho.settings import ZohoSettings

STARTUP_TIMEOUT_S = 10.0


def zoho_env(url: str) -> dict[str, str]:
    """ZOHO_* variables for the sandbox at `url`, with its credentials."""
    return {"ZOHO_ACCOUNTS_URL": url, "ZOHO_API_DOMAIN": url, "ZOHO_CLIENT_ID": SANDBOX_CLIENT_ID,
            "ZOHO_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
            "ZOHO_REFRESH_TOKEN": SANDBOX_REFRESH_TOKEN}  # fmt: skip


@dataclass(frozen=True)
class RunningSandbox:
    url: str  # e.g. http://127.0.0.1:54321/zoho-sandbox
    state: SandboxState

    def settings(self) -> ZohoSettings:
        """ZOHO_* settings pointing at this sandbox (Settings(crms={"zoho": …}))."""
        return sandbox_settings(self.url)

    def env(self) -> dict[str, str]:
        """The ZOHO_* variables of a process that should use this sandbox."""
        return zoho_env(self.url)

    def config(self, **overrides: Any) -> ZohoConfig:
        """A ZohoConfig pointing at this sandbox with its credentials; fields can be overridden."""
        config = ZohoConfig(
            accounts_url=self.url,
            api_domain=self.url,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=SANDBOX_CLIENT_SECRET,
            refresh_token=SANDBOX_REFRESH_TOKEN,
            connect_timeout_s=2.0,
            read_timeout_s=10.0,
            max_connections=10,
        )
        return dataclasses.replace(config, **overrides)


@contextlib.contextmanager
def running_sandbox(
    state: SandboxState | None = None, *, prefix: str = "/zoho-sandbox"
) -> Iterator[RunningSandbox]:
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
        target=server.run, kwargs={"sockets": [sock]}, name="zoho-sandbox", daemon=True
    )
    thread.start()
    sandbox = RunningSandbox(url=f"http://127.0.0.1:{port}{prefix}", state=state)
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
