"""A CRM backend as a plug-in: its settings, how to open its adapter, its sandbox.

Each backend is one package, orchestrator/backends/<name>/ (client, wire mapping, settings,
sandbox, and a `backend.py` holding its `CrmBackend`), listed once in
orchestrator/backends/__init__.py. The composition root (orchestrator/bootstrap.py) opens every
backend whose settings are complete, or its sandbox when asked for, and binds each flow to the
adapter of the backend the flow names. docs/backends.md walks through adding one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.crm.records import RecordRef
from orchestrator.crm.tokens import TokenCache

CallObserver = Callable[[str, str, int | None, float], None]
"""Told of every API call: (method, path, HTTP status or None without an answer, seconds)."""


class BackendSettings(BaseSettings):
    """Base of a backend's settings: read from the environment under the backend's prefix
    (`ZOHO_`, `ONAUTOMATE_` …). `required` names the fields that must all be set for the
    backend to be used; setting some but not all of a backend's variables is an error."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)
    required: ClassVar[tuple[str, ...]] = ()
    tuning: ClassVar[
        tuple[str, ...]
    ] = ()  # like the timeouts: set alone, they do not turn the backend on

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    max_connections: int = 20

    @classmethod
    def env_name(cls, field: str) -> str:
        prefix = str(cls.model_config.get("env_prefix", ""))
        return f"{prefix}{field}".upper()

    def missing(self) -> list[str]:
        """The environment variables of required fields that are unset or empty."""
        return [self.env_name(name) for name in self.required if not _filled(getattr(self, name))]

    def touched(self) -> bool:
        """A variable beyond the timeouts and pool size was given a value: the backend is meant
        to be used (with the timeouts alone, or empty values, it is not; a sandbox keeps them)."""
        given = self.model_fields_set - set(BackendSettings.model_fields) - set(self.tuning)
        return any(_filled(getattr(self, name)) for name in given)

    def pointed_at(self, sandbox: BackendSettings) -> BackendSettings:
        """These settings with the sandbox's location and credentials (the fields it sets)."""
        return self.model_copy(update={k: getattr(sandbox, k) for k in sandbox.model_fields_set})


def _filled(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


class EventLookup(Protocol):
    async def find_event(self, backend: str, trigger: str, contains: str) -> dict[str, Any] | None:
        """The newest event `backend` pushed for `trigger` whose payload holds `contains`."""
        ...


@dataclass(frozen=True, slots=True)
class OpenContext:
    """What the composition root lends a backend's adapter."""

    tokens: TokenCache  # shared by every process (SQL), for backends that log in
    on_call: CallObserver | None = None  # e.g. a latency histogram
    events: EventLookup | None = None  # events the CRM pushed to us (webhooks), once stored


class CrmAdapter(Protocol):
    """What every adapter offers besides its flow's port."""

    def record_url(self, record: RecordRef) -> str | None:
        """A link to the record in the backend's UI, where it has one."""
        ...

    async def aclose(self) -> None: ...


S = TypeVar("S", bound=BackendSettings)


@dataclass(frozen=True, slots=True)
class Webhooks:
    """Events a backend pushes to subscribers. `read(trigger, headers, payload)` gives the
    event's (delivery id, record id) or raises ValueError saying what is wrong with it; the
    adapter offers `subscribe(trigger, url)` and `unsubscribe(trigger, url)`."""

    triggers: tuple[str, ...]
    read: Callable[[str, Mapping[str, str], dict[str, Any]], tuple[str | None, str | None]]


@dataclass(frozen=True, slots=True)
class CrmBackend(Generic[S]):
    """One CRM: `open` builds its adapter from complete settings; `sandbox_app` is a fresh
    ASGI app speaking the CRM's wire format; `sandbox_settings(base_url)` points the adapter at
    that sandbox served at `base_url` (with the sandbox's own credentials)."""

    name: str  # "zoho", "onautomate": flows name their backend by it
    title: str  # "Zoho CRM"
    settings_type: type[S]
    open: Callable[[S, OpenContext], Awaitable[CrmAdapter]]
    sandbox_app: Callable[[], Any]
    sandbox_settings: Callable[[str], S]
    webhooks: Webhooks | None = None  # the events it pushes, if any

    @property
    def sandbox_path(self) -> str:
        """Where `CRM_SANDBOX=true` and `salesaga dev` mount the sandbox on the service."""
        return f"/{self.name}-sandbox"
