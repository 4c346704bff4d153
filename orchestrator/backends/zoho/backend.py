"""The Zoho CRM backend (seed 002's CRM): settings, adapter, sandbox."""

from __future__ import annotations

from typing import Any

from orchestrator.backends.base import CrmAdapter, CrmBackend, OpenContext
from orchestrator.backends.zoho.client import ZohoConfig, open_zoho_crm
from orchestrator.backends.zoho.sandbox.data import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
)
from orchestrator.backends.zoho.settings import ZohoSettings


def zoho_config(settings: ZohoSettings) -> ZohoConfig:
    return ZohoConfig(
        accounts_url=settings.accounts_url,
        api_domain=settings.api_domain,
        api_version=settings.api_version,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        refresh_token=settings.refresh_token.get_secret_value(),
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        max_connections=settings.max_connections,
        deal_stage=settings.deal_stage,
        deal_pipeline=settings.deal_pipeline,
        closing_days=settings.closing_days,
        record_url=settings.record_url,
    )


async def open_zoho(settings: ZohoSettings, ctx: OpenContext) -> CrmAdapter:
    return await open_zoho_crm(zoho_config(settings), ctx.tokens, on_call=ctx.on_call)


def sandbox_app() -> Any:
    """The sandbox app, imported only by the process that serves it (not by every worker)."""
    from orchestrator.backends.zoho.sandbox.app import create_sandbox_app

    return create_sandbox_app()


def sandbox_settings(base_url: str) -> ZohoSettings:
    """The built-in sandbox at `base_url` is both the accounts server and the API domain."""
    return ZohoSettings(
        accounts_url=base_url,
        api_domain=base_url,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
        refresh_token=SANDBOX_REFRESH_TOKEN,
    )


ZOHO = CrmBackend(
    name="zoho",
    title="Zoho CRM",
    settings_type=ZohoSettings,
    open=open_zoho,
    sandbox_app=sandbox_app,
    sandbox_settings=sandbox_settings,
)
