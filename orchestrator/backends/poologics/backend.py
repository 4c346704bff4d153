"""POOLOGICS: the Poologics CRM as a plug-in (settings, adapter, sandbox)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from orchestrator.backends.base import CrmBackend, Webhooks
from orchestrator.backends.poologics import wire
from orchestrator.backends.poologics.client import BACKEND_NAME, open_poologics_crm
from orchestrator.backends.poologics.sandbox.data import SANDBOX_LOGIN, SANDBOX_PASSWORD
from orchestrator.backends.poologics.settings import PoologicsSettings

UI_PATH = "/ui/{model}/{id}"  # the sandbox's page of a lead or contact


def sandbox_app() -> Any:
    """The sandbox app, imported only by the process that serves it (not by every worker)."""
    from orchestrator.backends.poologics.sandbox.app import create_sandbox_app

    return create_sandbox_app()


def sandbox_settings(base_url: str) -> PoologicsSettings:
    """Settings pointing at the sandbox served at `base_url`: its user's login and password (so
    the key is fetched as in production; no api_key), links to its UI page."""
    base = base_url.rstrip("/")
    return PoologicsSettings(
        url=base,
        login=SANDBOX_LOGIN,
        password=SecretStr(SANDBOX_PASSWORD),
        api_key=SecretStr(""),
        record_url=f"{base}{UI_PATH}",
    )


POOLOGICS: CrmBackend[PoologicsSettings] = CrmBackend(
    name=BACKEND_NAME,
    title="Poologics",
    settings_type=PoologicsSettings,
    open=open_poologics_crm,
    sandbox_app=sandbox_app,
    sandbox_settings=sandbox_settings,
    webhooks=Webhooks(triggers=wire.TRIGGERS, read=wire.read_event),
)
