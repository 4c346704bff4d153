"""Run the RPC CRM sandbox over real HTTP for tests: uvicorn in a background thread on a free
port.

    with running_rpccrm_sandbox() as sandbox:
        crm = await open_rpccrm_crm(sandbox.settings(), OpenContext(InMemoryTokenCache()))
        sandbox.state.faults.fail("CreateTicket", status=500)
        sandbox.state.faults.delay(1.0, method="CreateProduct")  # with read_timeout_s=0.3: lost
        sandbox.state.expire_tokens()
        assert sandbox.state.writes() == []

The app is mounted under `prefix` (default /rpccrm-sandbox, as in dev mode), so `sandbox.url` is
RPCCRM_URL. `settings()` logs in as the sandbox user in PROFILE_ID. Pass a configured state for
other behaviour, e.g. `running_rpccrm_sandbox(SandboxState(token_ttl_s=0.5))`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.backends.rpccrm.sandbox.app import create_sandbox_app
from orchestrator.backends.rpccrm.sandbox.data import SandboxState
from tests.servers import serve_sandbox

if TYPE_CHECKING:
    from orchestrator.backends.rpccrm.settings import RpcCrmSettings


@dataclass(frozen=True)
class RunningRpcCrmSandbox:
    url: str  # e.g. http://127.0.0.1:54321/rpccrm-sandbox
    state: SandboxState

    def settings(self, **overrides: Any) -> RpcCrmSettings:
        """Settings pointing at this sandbox (its user, profile and UI links), with short
        timeouts; any field can be overridden (`password="wrong"`, `read_timeout_s=0.3` …)."""
        from orchestrator.backends.rpccrm.backend import sandbox_settings
        from orchestrator.backends.rpccrm.settings import RpcCrmSettings

        base = sandbox_settings(self.url).model_dump()
        base |= {"connect_timeout_s": 2.0, "read_timeout_s": 10.0, "max_connections": 10}
        return RpcCrmSettings(**(base | overrides))


@contextlib.contextmanager
def running_rpccrm_sandbox(
    state: SandboxState | None = None, *, prefix: str = "/rpccrm-sandbox"
) -> Iterator[RunningRpcCrmSandbox]:
    """Start the sandbox on 127.0.0.1:<free port>, wait until it answers, stop it on exit."""
    state = state if state is not None else SandboxState()
    with serve_sandbox(create_sandbox_app(state), prefix=prefix, name="rpccrm-sandbox") as url:
        yield RunningRpcCrmSandbox(url=url, state=state)
