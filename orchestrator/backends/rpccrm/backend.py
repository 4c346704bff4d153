"""RPCCRM: the method-RPC CRM (seed 001) as a plug-in (settings, adapter, sandbox)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from orchestrator.backends.base import CrmBackend
from orchestrator.backends.rpccrm.client import BACKEND_NAME, open_rpccrm
from orchestrator.backends.rpccrm.sandbox.data import PROFILE_ID, SANDBOX_EMAIL, SANDBOX_PASSWORD
from orchestrator.backends.rpccrm.settings import RpcCrmSettings

UI_PATH = "/ui/{kind}/{id}"  # the sandbox's page of a product, opportunity or ticket


def sandbox_app() -> Any:
    """The sandbox app, imported only by the process that serves it (not by every worker)."""
    from orchestrator.backends.rpccrm.sandbox.app import create_sandbox_app

    return create_sandbox_app()


def sandbox_settings(base_url: str) -> RpcCrmSettings:
    """Settings pointing at the sandbox served at `base_url`: its user, its profile, links to
    its UI page."""
    base = base_url.rstrip("/")
    return RpcCrmSettings(
        url=base,
        email=SANDBOX_EMAIL,
        password=SecretStr(SANDBOX_PASSWORD),
        profile_id=str(PROFILE_ID),
        record_url=f"{base}{UI_PATH}",
    )


RPCCRM: CrmBackend[RpcCrmSettings] = CrmBackend(
    name=BACKEND_NAME,
    title="RPC CRM",
    settings_type=RpcCrmSettings,
    open=open_rpccrm,
    sandbox_app=sandbox_app,
    sandbox_settings=sandbox_settings,
)
