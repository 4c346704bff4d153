"""ONAUTOMATE: the OnAutomate CRM as a plug-in (settings, adapter, sandbox)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from orchestrator.backends.base import CrmBackend
from orchestrator.backends.onautomate.client import open_onautomate_crm
from orchestrator.backends.onautomate.sandbox.data import PIPELINE_ID, SANDBOX_TOKEN
from orchestrator.backends.onautomate.settings import OnAutomateSettings

UI_PATH = "/ui/pipelines/{pipeline}/opportunities/{id}"  # the sandbox's page of an opportunity


def sandbox_app() -> Any:
    """The sandbox app, imported only by the process that serves it (not by every worker)."""
    from orchestrator.backends.onautomate.sandbox.app import create_sandbox_app

    return create_sandbox_app()


def sandbox_settings(base_url: str) -> OnAutomateSettings:
    """Settings pointing at the sandbox served at `base_url`: its token, its seeded pipeline,
    links to its UI page."""
    base = base_url.rstrip("/")
    return OnAutomateSettings(
        url=base,
        token=SecretStr(SANDBOX_TOKEN),
        pipeline_id=PIPELINE_ID,
        record_url=f"{base}{UI_PATH}",
    )


ONAUTOMATE: CrmBackend[OnAutomateSettings] = CrmBackend(
    name="onautomate",
    title="OnAutomate",
    settings_type=OnAutomateSettings,
    open=open_onautomate_crm,
    sandbox_app=sandbox_app,
    sandbox_settings=sandbox_settings,
)
