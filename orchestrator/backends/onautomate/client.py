"""OnAutomateCrm: the OpportunityPipelines port over OnAutomate's API V1.1.1 (seed 003), on one
pooled httpx.AsyncClient with the Bearer token.

The adapter only sends and translates: bodies, parsing and error mapping live in wire.py (with
every assumption the seed leaves open). A create stamps the saga's marker into `source`; find
lists by title and contact and picks the opportunity carrying the marker; a delete is confirmed
by a read, because OnAutomate's DELETE answers HTTP 200 whatever happened.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from orchestrator.backends.base import CallObserver, OpenContext
from orchestrator.backends.onautomate import wire
from orchestrator.backends.onautomate.settings import OnAutomateSettings
from orchestrator.backends.onautomate.wire import OpportunityPage
from orchestrator.backends.transport import AiohttpTransport
from orchestrator.crm.errors import (
    DuplicateRecord,
    NotFound,
    OutcomeUnknown,
    PermanentCrmError,
    TransientCrmError,
)
from orchestrator.crm.opportunities import OPPORTUNITY, NewOpportunity, Opportunity
from orchestrator.crm.records import RecordRef, ScopedRef

MAX_FIND_PAGES = 50  # find pages through at most 50 × 20 opportunities of one title and contact

__all__ = ["MAX_FIND_PAGES", "OnAutomateCrm", "OpportunityPage", "open_onautomate_crm"]


async def open_onautomate_crm(settings: OnAutomateSettings, ctx: OpenContext) -> OnAutomateCrm:
    """An OnAutomateCrm with its pooled client (base_url = settings.url, Bearer token)."""
    timeout = httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s)
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
    )
    headers = {
        "Accept": "application/json",
        "Authorization": f"Bearer {settings.token.get_secret_value()}",
    }
    http = httpx.AsyncClient(
        base_url=settings.url,
        headers=headers,
        timeout=timeout,
        limits=limits,
        transport=AiohttpTransport(limits),
    )
    return OnAutomateCrm(settings, http, on_call=ctx.on_call)


class OnAutomateCrm:
    """OpportunityPipelines (and CrmAdapter) over OnAutomate."""

    def __init__(
        self,
        settings: OnAutomateSettings,
        http: httpx.AsyncClient,
        *,
        on_call: CallObserver | None = None,
    ) -> None:
        self._settings = settings
        self._http = http  # base_url settings.url, Authorization: Bearer …, timeouts
        self._on_call = on_call  # e.g. a latency histogram

    def __repr__(self) -> str:
        return (
            f"OnAutomateCrm(url={self._settings.url!r}, pipeline_id={self._settings.pipeline_id!r})"
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def record_url(self, record: RecordRef) -> str | None:
        """The settings' `record_url` template filled in; None without a template."""
        template = self._settings.record_url
        if not template:
            return None
        pipeline = quote(_scope_of(record) or self._settings.pipeline_id, safe="")
        return template.replace("{pipeline}", pipeline).replace("{id}", quote(record.id, safe=""))

    # --- OpportunityPipelines -------------------------------------------------------------------

    async def create_opportunity(self, new: NewOpportunity, *, marker: str) -> ScopedRef:
        """POST the opportunity with the marker in `source`. A 2xx without an id may still have
        created it: OutcomeUnknown, so the retry looks for it by marker."""
        pipeline = self._pipeline(new)
        body = wire.opportunity_body(new, source=wire.marked_source(new.source, marker))
        url = wire.path(wire.CREATE_PATH, pipeline)
        try:
            response = await self._send("POST", url, wire.CREATE_PATH, json=body)
        except DuplicateRecord as exc:
            raise _duplicate(exc, new, pipeline) from exc
        record_id = wire.created_id(response)
        if record_id is None:
            raise OutcomeUnknown(
                f"OnAutomate answered the create with {response.status_code} but no id",
                code="UNEXPECTED_RESPONSE",
                status=response.status_code,
            )
        return ScopedRef(OPPORTUNITY, record_id, scope=pipeline)

    async def find_opportunity(self, new: NewOpportunity, *, marker: str) -> ScopedRef | None:
        """The opportunity of `new`'s title and contact whose `source` carries `marker`, paging
        through the listing (at most MAX_FIND_PAGES pages)."""
        pipeline = self._pipeline(new)
        filters = wire.find_filters(new)
        number = 1
        for _ in range(MAX_FIND_PAGES):
            found = await self.list_opportunities(pipeline, page=number, **filters)
            for item in found.items:
                if wire.carries_marker(item.source, marker):
                    return ScopedRef(OPPORTUNITY, item.id, scope=pipeline)
            if found.next_page is None or found.next_page <= found.page:
                break
            number = found.next_page
        return None

    async def move_opportunity(self, record: ScopedRef, *, stage_id: str, status: str) -> None:
        """PUT …/status; answered 200 `""` (a `{"msg"}` body raises even with 200)."""
        pipeline = self._scope(record)
        url = wire.path(wire.STATUS_PATH, pipeline, record.id)
        body = wire.status_body(stage_id=stage_id, status=status)
        await self._send("PUT", url, wire.STATUS_PATH, json=body)

    async def get_opportunity(self, record: ScopedRef) -> Opportunity:
        """Read it; NotFound (404) when it does not exist (any more)."""
        pipeline = self._scope(record)
        url = wire.path(wire.ONE_PATH, pipeline, record.id)
        response = await self._send("GET", url, wire.ONE_PATH)
        return wire.opportunity(wire.payload(response), pipeline_id=pipeline)

    async def update_opportunity(
        self, record: ScopedRef, new: NewOpportunity, *, marker: str | None = None
    ) -> Opportunity:
        """PUT the create's fields; returns the opportunity as updated. `source` is sent only
        when `new` has one (with `marker` stamped when given): a PUT without it keeps the stored
        source, marker included (wire.py, assumption 1)."""
        pipeline = self._scope(record)
        source = new.source if marker is None else wire.marked_source(new.source, marker)
        body = wire.opportunity_body(new, source=source)
        url = wire.path(wire.ONE_PATH, pipeline, record.id)
        try:
            response = await self._send("PUT", url, wire.ONE_PATH, json=body)
        except DuplicateRecord as exc:
            raise _duplicate(exc, new, pipeline) from exc
        return wire.opportunity(wire.payload(response), pipeline_id=pipeline)

    async def list_opportunities(
        self, pipeline_id: str, *, page: int = 1, **filters: str
    ) -> OpportunityPage:
        """One page (20) of the pipeline's opportunities; `filters` under the seed's names
        (title, stageId, status, contactId, email, phone …), matched exactly."""
        url = wire.path(wire.LIST_PATH, pipeline_id)
        params = wire.list_params(page, filters)
        response = await self._send("GET", url, wire.LIST_PATH, params=params)
        return wire.page(response, pipeline_id=pipeline_id)

    async def delete_if_present(self, record: RecordRef) -> None:
        """DELETE, then a read decides: gone (404) is done, whatever the DELETE said (already
        gone counts as deleted). Still there after a DELETE that answered `""` is transient (the
        engine retries); still there after a refusal (`{"msg": "Bad Request"}`, with 200) raises
        that refusal. Unauthorized raises at once."""
        scoped = ScopedRef(record.kind, record.id, scope=self._scope(record))
        url = wire.path(wire.ONE_PATH, scoped.scope, record.id)
        refused: PermanentCrmError | None = None
        try:
            await self._send("DELETE", url, wire.ONE_PATH)
        except PermanentCrmError as exc:
            if exc.code == "UNAUTHORIZED":
                raise
            refused = exc
        if not await self._exists(scoped):
            return
        if refused is not None:
            raise PermanentCrmError(
                f"opportunity {record.id} was not deleted ({refused.message})",
                code=refused.code,
                status=refused.status,
            ) from refused
        raise TransientCrmError(
            f"opportunity {record.id} still there after DELETE", code="STILL_THERE"
        )

    # --- helpers --------------------------------------------------------------------------------

    def pipeline_for(self, new: NewOpportunity) -> str | None:
        """The input's pipeline, else ONAUTOMATE_PIPELINE_ID; None when neither is set."""
        return new.pipeline_id or self._settings.pipeline_id or None

    def _pipeline(self, new: NewOpportunity) -> str:
        pipeline = self.pipeline_for(new)
        if not pipeline:
            raise PermanentCrmError(
                "no pipeline: give input.pipelineId or set ONAUTOMATE_PIPELINE_ID",
                code="NO_PIPELINE",
            )
        return pipeline

    def _scope(self, record: RecordRef) -> str:
        """The record's pipeline: its scope, else (a plain RecordRef) the default pipeline."""
        pipeline = _scope_of(record) or self._settings.pipeline_id
        if not pipeline:
            raise PermanentCrmError(
                f"opportunity {record.id} has no pipeline and ONAUTOMATE_PIPELINE_ID is unset",
                code="NO_PIPELINE",
            )
        return pipeline

    async def _exists(self, record: ScopedRef) -> bool:
        try:
            await self.get_opportunity(record)
        except NotFound:
            return False
        return True

    async def _send(
        self,
        method: str,
        url: str,
        label: str,
        *,
        params: Mapping[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One call, reported to on_call under `label`. Not sent: transient. Sent but
        unanswered: OutcomeUnknown for a write, transient for a read. A failure status or a
        `{"msg"}` body goes through wire.crm_error."""
        status: int | None = None  # None: no answer came
        started = time.perf_counter()
        try:
            response = await self._http.request(method, url, params=params, json=json)
            status = response.status_code
        except _NOT_SENT as exc:
            raise TransientCrmError(f"OnAutomate {method} {label}: {exc!r}") from exc
        except httpx.TransportError as exc:
            text = f"OnAutomate {method} {label}: no answer ({exc!r})"
            if method == "GET":
                raise TransientCrmError(text, code="NO_ANSWER") from exc
            raise OutcomeUnknown(text, code="NO_ANSWER") from exc
        finally:
            if self._on_call is not None:
                self._on_call(method, label, status, time.perf_counter() - started)
        if wire.failed(response):
            raise wire.crm_error(response)
        return response


# Failures before the request left this process: OnAutomate cannot have applied it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _scope_of(record: RecordRef) -> str:
    return record.scope if isinstance(record, ScopedRef) else ""


def _duplicate(exc: DuplicateRecord, new: NewOpportunity, pipeline: str) -> DuplicateRecord:
    """The duplicate rule's refusal, naming the contact and the pipeline for a person."""
    who = new.contact_id or new.email or new.phone or "?"
    return DuplicateRecord(
        f"contact {who} already has an opportunity in pipeline {pipeline}; {exc.message}",
        code=exc.code,
        status=exc.status,
    )
