"""PoologicsCrm: the LeadPipeline port over Poologics' API 1.0.0 (seed 000), on one pooled
httpx.AsyncClient.

The adapter only sends and translates: params, parsing and error mapping live in wire.py (with
every assumption the seed leaves open). The API key is POOLOGICS_API_KEY when given; else it is
fetched with POOLOGICS_LOGIN and POOLOGICS_PASSWORD (/web/get/key, then /check_key) and shared
by every worker through the TokenCache, fetched under its lock. A call answered 401 fetches a
new key once (passing the rejected one as `stale`, so N workers seeing the same 401 log in
once) and is repeated once. A create stamps the saga's marker into the lead's description; a
lead an interrupted try made is found through the `new_opportunity` events Poologics pushed
(OpenContext.events); a cancel moves the lead to POOLOGICS_CANCEL_STAGE and is done only when a
read shows it there.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

from orchestrator.backends.base import CallObserver, EventLookup, OpenContext
from orchestrator.backends.poologics import wire
from orchestrator.backends.poologics.settings import PoologicsSettings
from orchestrator.backends.transport import AiohttpTransport
from orchestrator.crm.errors import (
    NotFound,
    OutcomeUnknown,
    PermanentCrmError,
    TransientCrmError,
)
from orchestrator.crm.leads import CONTACT, LEAD, Lead, LeadContact, NewLead
from orchestrator.crm.records import RecordRef
from orchestrator.crm.tokens import CachedToken, TokenCache

BACKEND_NAME = "poologics"  # CrmBackend.name, and the backend events are stored under
KEY_LIFETIME_S = 10 * 365 * 24 * 3600.0  # a key does not expire: cached "for ten years"

__all__ = ["BACKEND_NAME", "KEY_LIFETIME_S", "PoologicsCrm", "open_poologics_crm"]


async def open_poologics_crm(settings: PoologicsSettings, ctx: OpenContext) -> PoologicsCrm:
    """A PoologicsCrm with its pooled client (base_url = settings.url); no call is made yet."""
    timeout = httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s)
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
    )
    http = httpx.AsyncClient(
        base_url=settings.url.rstrip("/"),
        headers={"Accept": "application/json"},
        timeout=timeout,
        limits=limits,
        transport=AiohttpTransport(limits),
    )
    return PoologicsCrm(settings, http, tokens=ctx.tokens, on_call=ctx.on_call, events=ctx.events)


class PoologicsCrm:
    """LeadPipeline (and CrmAdapter) over Poologics, plus its webhook subscriptions."""

    def __init__(
        self,
        settings: PoologicsSettings,
        http: httpx.AsyncClient,
        *,
        tokens: TokenCache,
        on_call: CallObserver | None = None,
        events: EventLookup | None = None,
    ) -> None:
        self._settings = settings
        self._http = http  # base_url settings.url, timeouts; the key goes on each request
        self._tokens = tokens  # shared by every worker (SQL in production)
        self._on_call = on_call  # e.g. a latency histogram
        self._events = events  # the webhooks Poologics pushed to us, once stored
        # Keyed by instance and login, never by a secret.
        self.cache_key = f"poologics:{settings.login}@{settings.url.rstrip('/')}"

    def __repr__(self) -> str:
        key = "configured" if self._configured_key() else "fetched"
        return (
            f"PoologicsCrm(url={self._settings.url!r}, login={self._settings.login!r}, "
            f"api_key={key}, cancel_stage={self.cancel_stage!r})"
        )

    @property
    def cancel_stage(self) -> str:
        return self._settings.cancel_stage

    async def aclose(self) -> None:
        await self._http.aclose()

    def record_url(self, record: RecordRef) -> str | None:
        """The settings' `record_url` template filled in; None without a template."""
        template = self._settings.record_url
        if not template:
            return None
        model = wire.MODELS.get(record.kind, record.kind)
        return template.replace("{model}", model).replace("{id}", quote(record.id, safe=""))

    # --- LeadPipeline ---------------------------------------------------------------------------

    async def create_contact(self, contact: LeadContact, *, marker: str) -> RecordRef:
        """A res.partner. It has no free-text field, so the marker is not written (wire.py, 3)."""
        del marker
        return await self._create(wire.CONTACT_MODEL, wire.contact_values(contact), CONTACT)

    async def create_lead(self, new: NewLead, *, marker: str) -> RecordRef:
        """A crm.lead with the marker in its description, in `new.stage` (by name)."""
        return await self._create(wire.LEAD_MODEL, wire.lead_values(new, marker=marker), LEAD)

    async def find_lead(self, marker: str) -> RecordRef | None:
        """The lead of the newest stored `new_opportunity` event carrying `marker`; None without
        an event lookup or such an event (Poologics has no search)."""
        if self._events is None:
            return None
        event = await self._events.find_event(BACKEND_NAME, wire.NEW_OPPORTUNITY, marker)
        lead_id = None if event is None else wire.event_lead_id(event)
        return None if lead_id is None else RecordRef(LEAD, lead_id)

    async def move_lead(self, record: RecordRef, *, stage: str) -> None:
        """/web/dataset/write of stage_id (a name); an unknown stage is INVALID_VALUES."""
        await self._call(wire.WRITE_PATH, wire.stage_params(record.id, stage), write=True)

    async def get_lead(self, record: RecordRef) -> Lead:
        """Read it; NotFound when no lead has that id."""
        return wire.lead(await self._call(wire.GET_PATH, wire.get_params(record.id), write=False))

    async def cancel(self, record: RecordRef) -> None:
        """Move the lead to the cancel stage, then read it: done only when it shows that stage
        (else transient: the engine retries). A lead that is gone (deleted by a person: the API
        cannot delete) is permanent LEAD_GONE: nothing shows it cancelled, a person decides."""
        stage = self.cancel_stage
        try:
            await self.move_lead(record, stage=stage)
            seen = await self.get_lead(record)
        except NotFound as exc:
            raise PermanentCrmError(
                f"lead {record.id} is no longer in Poologics ({exc.message}): it cannot be moved "
                f"to {stage!r}; check it by hand",
                code="LEAD_GONE",
                status=exc.status,
            ) from exc
        except PermanentCrmError as exc:
            if exc.code != "INVALID_VALUES":
                raise
            raise PermanentCrmError(
                f"{exc.message} (is POOLOGICS_CANCEL_STAGE={stage!r} a stage of Poologics?)",
                code=exc.code,
                status=exc.status,
            ) from exc
        if seen.stage != stage:
            raise TransientCrmError(
                f"lead {record.id} still in stage {seen.stage!r} after the move to {stage!r}",
                code="STILL_IN_STAGE",
            )

    # --- webhooks -------------------------------------------------------------------------------

    async def subscribe(self, trigger: str, url: str) -> None:
        """Poologics POSTs `trigger`'s events (wire.TRIGGERS) to `url` (idempotent)."""
        await self._zapier(trigger, wire.START, url)

    async def unsubscribe(self, trigger: str, url: str) -> None:
        """No more events of `trigger` to `url`; one that was not subscribed succeeds too."""
        await self._zapier(trigger, wire.STOP, url)

    # --- helpers --------------------------------------------------------------------------------

    async def _zapier(self, trigger: str, action: str, url: str) -> None:
        params = wire.zapier_params(trigger, action, url)
        if not wire.succeeded(await self._call(wire.ZAPIER_PATH, params, write=False)):
            raise TransientCrmError(
                f"Poologics {wire.ZAPIER_PATH} answered without success",
                code="UNEXPECTED_RESPONSE",
            )

    async def _create(self, model: str, values: dict[str, Any], kind: str) -> RecordRef:
        """A create; answered without an id it may still have been stored: OutcomeUnknown."""
        body = await self._call(wire.CREATE_PATH, wire.create_params(model, values), write=True)
        created = wire.created_id(body)
        if created is None:
            raise OutcomeUnknown(
                f"Poologics answered the {model} create without an id",
                code="UNEXPECTED_RESPONSE",
            )
        return RecordRef(kind, created)

    async def _call(self, route: str, params: dict[str, Any], *, write: bool) -> object:
        """One authenticated call; on a 401 with a fetched key, one new key and one repeat (a
        refused call changed nothing). Returns the answer's payload; failures raise."""
        key = await self._key()
        response = await self._send(route, params, key=key, write=write)
        if response.status_code == 401 and not self._configured_key():
            fresh = await self._tokens.refresh(self.cache_key, self._fetch_key, stale=key)
            response = await self._send(route, params, key=fresh.value, write=write)
        return _checked(response, route)

    def _configured_key(self) -> str:
        return self._settings.api_key.get_secret_value()

    async def _key(self) -> str:
        """POOLOGICS_API_KEY, else the shared fetched key (fetched first when there is none)."""
        configured = self._configured_key()
        if configured:
            return configured
        cached = await self._tokens.get(self.cache_key)
        if cached is None or not cached.fresh():
            cached = await self._tokens.refresh(self.cache_key, self._fetch_key, stale=None)
        return cached.value

    async def _fetch_key(self) -> CachedToken:
        """/web/get/key with the login and password, then /check_key with the new key."""
        if not self._settings.has_credentials():
            raise PermanentCrmError(
                "no Poologics API key: set POOLOGICS_API_KEY, or POOLOGICS_LOGIN and "
                "POOLOGICS_PASSWORD",
                code="NO_CREDENTIALS",
            )
        password = self._settings.password.get_secret_value()
        params = wire.login_params(self._settings.login, password)
        answer = _checked(await self._send(wire.GET_KEY_PATH, params), wire.GET_KEY_PATH)
        key = wire.issued_key(answer)
        if key is None:
            raise TransientCrmError(
                f"Poologics {wire.GET_KEY_PATH} answered without an api_key",
                code="UNEXPECTED_RESPONSE",
            )
        checked = await self._send(wire.CHECK_KEY_PATH, {}, key=key)
        if not wire.succeeded(_checked(checked, wire.CHECK_KEY_PATH)):
            raise TransientCrmError(
                f"Poologics {wire.CHECK_KEY_PATH} answered without success",
                code="UNEXPECTED_RESPONSE",
            )
        return CachedToken(key, time.time() + KEY_LIFETIME_S)

    async def _send(
        self, route: str, params: dict[str, Any], *, key: str | None = None, write: bool = False
    ) -> httpx.Response:
        """POST one route, reported to on_call. Not sent: transient. Sent but unanswered:
        OutcomeUnknown for a write, transient for the rest. The answer is not judged here."""
        headers = {wire.KEY_HEADER: key} if key is not None else None
        status: int | None = None  # None: no answer came
        started = time.perf_counter()
        try:
            response = await self._http.post(route, json=wire.body(params), headers=headers)
            status = response.status_code
        except _NOT_SENT as exc:
            raise TransientCrmError(f"Poologics POST {route}: {exc!r}") from exc
        except httpx.TransportError as exc:
            text = f"Poologics POST {route}: no answer ({exc!r})"
            if write:
                raise OutcomeUnknown(text, code="NO_ANSWER") from exc
            raise TransientCrmError(text, code="NO_ANSWER") from exc
        finally:
            if self._on_call is not None:
                self._on_call("POST", route, status, time.perf_counter() - started)
        return response


# Failures before the request left this process: Poologics cannot have applied it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _checked(response: httpx.Response, route: str) -> object:
    """The answer's payload; a failure status or a `success: false` body raises."""
    if wire.failed(response):
        raise wire.crm_error(response, route)
    return wire.payload(response)
