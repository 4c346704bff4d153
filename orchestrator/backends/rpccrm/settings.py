"""The method-RPC CRM's settings, read from RPCCRM_* environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from orchestrator.backends.base import BackendSettings


class RpcCrmSettings(BackendSettings):
    """Where the CRM is, who the service logs in as, and in which profile it works.

    `url` is the base the method groups are appended to (`<url>/opportunities`); `email` and
    `password` are the user `Login` is called with (one token shared by every worker);
    `profile_id` is the profile every call works in. The seed gives no token lifetime: a token is
    kept `token_ttl_s` (and replaced at once when the CRM answers 401). Catalogues (stages,
    users, products, ticket origins, cases, priorities) are cached `catalogue_ttl_s`.
    `record_url` is an optional template of a link to a record in the CRM's UI with `{kind}`
    (product, opportunity, ticket) and `{id}` ("" = no link). The password is a SecretStr:
    `**********` in repr and logs."""

    model_config = SettingsConfigDict(
        env_prefix="RPCCRM_", env_file=None, extra="ignore", case_sensitive=False
    )
    required: ClassVar[tuple[str, ...]] = ("url", "email", "password", "profile_id")
    tuning: ClassVar[tuple[str, ...]] = ("token_ttl_s", "catalogue_ttl_s")

    url: str = ""
    email: str = ""
    password: SecretStr = SecretStr("")
    profile_id: str = Field(default="", pattern=r"^\d*$")
    token_ttl_s: float = Field(default=3600.0, gt=0)
    catalogue_ttl_s: float = Field(default=300.0, ge=0)
    record_url: str = ""
