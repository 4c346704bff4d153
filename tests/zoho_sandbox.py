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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
from tests.servers import serve_sandbox


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
    with serve_sandbox(create_sandbox_app(state), prefix=prefix, name="zoho-sandbox") as url:
        yield RunningSandbox(url=url, state=state)
