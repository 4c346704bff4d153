"""OnAutomate's settings, read from ONAUTOMATE_* environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from orchestrator.backends.base import BackendSettings


class OnAutomateSettings(BackendSettings):
    """Where OnAutomate is and the Bearer token (a static location API key) to reach it.

    `url` is the base the seed's `/v1/pipelines/…` paths are appended to. `pipeline_id` is the
    pipeline of an input that names none. `record_url` is an optional template of a link to an
    opportunity in OnAutomate's UI, with `{pipeline}` and `{id}` placeholders ("" = no link).
    The token is a SecretStr: it shows as `**********` in repr and logs."""

    model_config = SettingsConfigDict(
        env_prefix="ONAUTOMATE_", env_file=None, extra="ignore", case_sensitive=False
    )
    required: ClassVar[tuple[str, ...]] = ("token",)

    url: str = "https://link.amtssl.com"
    token: SecretStr = SecretStr("")
    pipeline_id: str = ""
    record_url: str = ""
