"""ZOHO_* settings (pydantic-settings). The backend is used when ZOHO_CLIENT_ID,
ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN are all set; docs/configuration.md lists every field."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from orchestrator.backends.base import BackendSettings


class ZohoSettings(BackendSettings):
    model_config = SettingsConfigDict(
        env_prefix="ZOHO_", env_file=None, extra="ignore", case_sensitive=False
    )
    required: ClassVar[tuple[str, ...]] = ("client_id", "client_secret", "refresh_token")

    accounts_url: str = "https://accounts.zoho.com"
    api_domain: str = "https://www.zohoapis.com"
    api_version: str = "v7"
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    refresh_token: SecretStr = SecretStr("")
    deal_stage: str = "Qualification"
    deal_pipeline: str = ""  # set when the org's Deals layout has pipelines enabled
    closing_days: int = 30
    # A link to a record in Zoho's UI, e.g. https://crm.zoho.eu/crm/org123456/tab/{module}/{id}
    # (the org id is in Zoho's Setup → Company Details). "": no links.
    record_url: str = ""
