"""Every setting of the service, read from the environment once (pydantic-settings).

Only entry points, bootstrap and tests call get_settings(). docs/configuration.md lists every field.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./salesaga.db"
DEFAULT_BROKER_URL = "memory://"


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting never prints the others (passwords, keys) back.
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, hide_input_in_errors=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    broker_url: str = DEFAULT_BROKER_URL
    celery_queue: str = "celery"  # the queue sagas are dispatched to and workers consume
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    operator_api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # A TOML file of named keys held as SHA-256 digests, with roles and limits (api/keys.py).
    api_keys_file: str = ""
    key_rate_limit_per_min: int = Field(default=0, ge=0)  # per key and API process; 0: none
    # The most CRM records one request may have a saga look up (a sale naming 200 products
    # would make 200 product reads): more is refused with 400 naming the field.
    max_crm_lookups: int = Field(default=50, ge=1)
    port: int = Field(default=8000, ge=1, le=65535)
    session_secret: SecretStr | None = None  # console cookies; unset: random per process

    # CRM backends read their own settings (ZOHO_*, ONAUTOMATE_*: orchestrator/backends/<name>/
    # settings.py). CRM_SANDBOX=true: every backend whose settings are not given runs against its
    # built-in sandbox, mounted on this service at /<backend>-sandbox (`salesaga dev` sets it).
    crm_sandbox: bool = False
    # This service's base URL as other processes and systems reach it ("": http://127.0.0.1:PORT):
    # where workers reach the sandboxes the API serves, and (later) where webhooks are sent.
    public_url: str = ""
    # The secret in the webhook receiver's path (/hooks/<backend>/<trigger>/<secret>), the same
    # for every process; "": no webhooks are taken in. Never logged (redacted in access logs).
    webhook_secret: SecretStr = SecretStr("")
    # Settings objects by backend name, used instead of the backend's environment (tests, tools).
    crms: Annotated[dict[str, Any], NoDecode] = Field(default_factory=dict, exclude=True)

    mail_backend: Literal["smtp", "sink"] = "smtp"  # sink: keep e-mails in MAIL_SINK_DIR
    mail_sink_dir: str = ".salesaga/mail"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    # A login (SMTP_USERNAME) without SMTP_STARTTLS or SMTP_USE_TLS would send the password in
    # clear: refused at start unless this says the relay is trusted (e.g. on the same host).
    smtp_allow_plaintext_login: bool = False
    smtp_timeout_s: float = 10.0
    mail_retry_base_s: float = 5.0  # e-mail delivery retries forever, backing off to the cap
    mail_retry_cap_s: float = 300.0
    mail_from: str = "salesaga@localhost"
    it_email: str = "it@poligonmuhendislik.com"

    sync_wait_s: float = 25.0  # /createSales answers 202 after this long
    max_body_bytes: int = Field(default=1_048_576, ge=1024)  # larger request bodies: 413, unread
    # Swagger UI at /docs (it loads its script from a CDN); off unless asked for (`salesaga dev`
    # turns it on). /openapi.json is always served.
    api_docs: bool = False
    step_max_attempts: int = 6
    compensation_max_attempts: int = 8
    retry_base_s: float = 0.5
    retry_cap_s: float = 60.0
    lease_s: float = 120.0
    saga_deadline_s: float = 600.0  # a flow may set its own
    ambiguous_wait_s: float = 0.0  # 0: twice the longest read timeout of the backends in use
    idempotency_ttl_s: float = 86_400.0
    recover_every_s: float = 15.0
    recover_hold_s: float = 60.0
    # Where the message start tasks (salesaga.start_saga, salesaga.create_sales) keep their
    # results, so a producer can `.get()` the saga id. "": the broker URL when it is Redis,
    # else none. Every other task ignores results (the state table is the truth).
    result_backend_url: str = ""

    # Plain JSON messages: a Redis Stream read by a consumer group (`salesaga consume`).
    # STREAM_URL "": the broker's URL when it is Redis, else no stream.
    stream_url: str = ""
    requests_stream: str = "salesaga:requests"
    stream_group: str = "salesaga"
    stream_claim_idle_s: float = 60.0  # an entry a dead consumer left pending is taken after this
    stream_block_s: float = 2.0  # how long one read waits for new entries
    # Replies when a message-started saga ends: to its reply_to queue / stream, or POSTed to this
    # URL (signed: X-Salesaga-Signature: sha256=HMAC-SHA256(REPLY_SIGNING_SECRET, body)).
    reply_callback_url: str = ""
    reply_signing_secret: SecretStr = SecretStr("")
    reply_timeout_s: float = 10.0

    @field_validator("api_keys", "operator_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    log_level: str = "INFO"
    log_json: bool = True
    worker_concurrency: int = 4  # Celery pool threads (or prefork processes) per worker
    # Connections per process, never more (a statement waits for a free one): API + N workers
    # must stay under PostgreSQL's max_connections (100 by default). 10: a worker running 100
    # sagas keeps about 9 statements in flight at c = 100 (docs/performance.md).
    db_pool_size: int = 10
    worker_sagas: int = 100  # sagas one worker process runs at once on its event loop
    heartbeat_s: float = 2.0  # how often a worker process says it is alive
    worker_dead_after_s: float = 8.0  # silent this long: dead, its steps are taken over
    shutdown_grace_s: float = 20.0  # on SIGTERM: how long calls in flight may finish

    @property
    def service_url(self) -> str:
        """Where this service's own HTTP server answers on this host."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def sandbox_base(self) -> str:
        """Where the API's sandboxes are reached by every process: PUBLIC_URL, else this host."""
        return self.public_url.rstrip("/") or self.service_url

    @property
    def result_backend(self) -> str | None:
        """RESULT_BACKEND_URL, or the Redis broker's URL, or None (no results kept)."""
        if self.result_backend_url:
            return self.result_backend_url
        return self.broker_url if self.broker_url.startswith(("redis://", "rediss://")) else None

    @property
    def stream_redis_url(self) -> str | None:
        """STREAM_URL, or the Redis broker's URL, or None (no request stream, no stream replies)."""
        if self.stream_url:
            return self.stream_url
        return self.broker_url if self.broker_url.startswith(("redis://", "rediss://")) else None

    @model_validator(mode="after")
    def _callback_is_signed(self) -> Settings:
        if self.reply_callback_url and not self.reply_signing_secret.get_secret_value():
            raise ValueError("REPLY_CALLBACK_URL needs REPLY_SIGNING_SECRET (replies are signed)")
        return self

    @model_validator(mode="after")
    def _smtp_login_is_encrypted(self) -> Settings:
        encrypted = self.smtp_starttls or self.smtp_use_tls
        if (
            self.mail_backend == "smtp"
            and self.smtp_username
            and not encrypted
            and not self.smtp_allow_plaintext_login
        ):
            raise ValueError(
                "SMTP_USERNAME is set but neither SMTP_STARTTLS nor SMTP_USE_TLS is: the SMTP "
                "password would cross the network in clear. Set SMTP_STARTTLS=true (port 587) or "
                "SMTP_USE_TLS=true (port 465), or SMTP_ALLOW_PLAINTEXT_LOGIN=true for a trusted "
                "relay"
            )
        return self


@functools.cache
def get_settings() -> Settings:
    return Settings()
