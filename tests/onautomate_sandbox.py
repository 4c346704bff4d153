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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.backends.onautomate.backend import sandbox_settings
from orchestrator.backends.onautomate.sandbox.app import create_sandbox_app
from orchestrator.backends.onautomate.sandbox.data import SandboxState
from orchestrator.backends.onautomate.settings import OnAutomateSettings
from tests.servers import serve_sandbox


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
    with serve_sandbox(create_sandbox_app(state), prefix=prefix, name="onautomate-sandbox") as url:
        yield RunningOnAutomateSandbox(url=url, state=state)
