"""Poologics' settings, read from POOLOGICS_* environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from orchestrator.backends.base import BackendSettings

CREDENTIALS = ("login", "password")


class PoologicsSettings(BackendSettings):
    """Where Poologics is and how to get its API key.

    `url` is the instance (`https://<name>.v2.poologics.com`), the base the seed's routes are
    appended to; it has no default (an empty one means "not configured"). The key is either
    given (`api_key`) or fetched with `login` and `password` (/web/get/key) and shared by every
    worker. `cancel_stage` is the stage a lead is moved to when a saga is undone. `record_url` is
    an optional template of a link to a record in Poologics' UI with `{model}` (`crm.lead`,
    `res.partner`) and `{id}`, e.g. `https://acme.v2.poologics.com/web#id={id}&model={model}`
    ("" = no link). Secrets are SecretStr: `**********` in repr and logs."""

    model_config = SettingsConfigDict(
        env_prefix="POOLOGICS_", env_file=None, extra="ignore", case_sensitive=False
    )
    required: ClassVar[tuple[str, ...]] = ("url",)

    url: str = ""
    login: str = ""
    password: SecretStr = SecretStr("")
    api_key: SecretStr = SecretStr("")
    cancel_stage: str = "Lost"
    record_url: str = ""

    def missing(self) -> list[str]:
        """POOLOGICS_URL when unset, and POOLOGICS_LOGIN / POOLOGICS_PASSWORD (those unset)
        when there is neither an API key nor both of them (names only, never values)."""
        names = super().missing()
        if self.api_key.get_secret_value() or self.has_credentials():
            return names
        unset = [field for field in CREDENTIALS if not self._given(field)]
        return names + [self.env_name(field) for field in unset]

    def has_credentials(self) -> bool:
        """Both login and password are set (the key can be fetched)."""
        return all(self._given(field) for field in CREDENTIALS)

    def _given(self, field: str) -> bool:
        value = getattr(self, field)
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return bool(text)
