"""The one way in: POST /createSales, POST /sagas, the Celery start tasks and the Redis Stream
all start sagas here — the flow's input validated by its model, the idempotency key honoured
(same key and body → the first saga; another body → refused), the saga dispatched."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from orchestrator.intake.validation import (
    describe_validation,
    field_path,
    request_digest,
    short,
)
from orchestrator.saga.definition import Flow
from orchestrator.saga.engine import Engine
from orchestrator.saga.ports import DuplicateIdempotencyKey, SagaStore

log = logging.getLogger(__name__)


class InvalidInput(Exception):
    """A request that starts nothing: `field` names what is wrong, `message` says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


class FlowUnavailable(InvalidInput):
    """A flow salesaga knows whose backend is not configured on this service: not the
    caller's mistake (HTTP answers 503; a message becomes a dead letter, replayable later)."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A valid request: which flow, with what input (the flow's input_type)."""

    flow: str
    input: object
    subject: str | None  # who or what the saga is about, for lists and search
    digest: str  # same body, same digest
    lookups: Mapping[str, int] = field(default_factory=dict)  # FlowInput.crm_lookups()


@dataclass(frozen=True, slots=True)
class Started:
    saga_id: uuid.UUID
    duplicate: bool  # the key had started this saga before: nothing new was started
    live: bool  # not finished yet, so worth an `advance`

    def body(self) -> dict[str, Any]:
        """The message start task's result."""
        return {
            "sagaId": str(self.saga_id),
            "status": "duplicate" if self.duplicate else "accepted",
        }


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The idempotency key belongs to a saga started with another flow or body."""

    saga_id: uuid.UUID


class Dispatch(Protocol):
    def __call__(self, saga_id: uuid.UUID, delay_s: float = 0.0) -> None: ...


@dataclass(frozen=True, slots=True)
class Intake:
    engine: Engine
    store: SagaStore
    flows: Mapping[str, Flow[Any, Any]]  # the flows this service can run (backend in use)
    catalogue: Mapping[str, Flow[Any, Any]]  # every flow salesaga knows
    dispatch: Dispatch
    adapters: Mapping[str, Any] = field(default_factory=dict)  # flow name → its adapter
    max_crm_lookups: int = 0  # MAX_CRM_LOOKUPS; 0: no cap

    def parse(self, flow_name: object, body: object, *, where: str = "input.") -> Parsed:
        """parse_start over the flows this service runs."""
        parsed = parse_start(self.flows, self.catalogue, flow_name, body, where=where)
        self._within_lookups(parsed, where)
        flow = self.flows[parsed.flow]
        adapter = self.adapters.get(parsed.flow)
        if flow.admit is not None and adapter is not None:
            refused = flow.admit(parsed.input, adapter)
            if refused is not None:
                name, why = refused
                raise InvalidInput(f"{where}{name}", f"{where}{name} {why}")
        return parsed

    def _within_lookups(self, parsed: Parsed, where: str) -> None:
        cap = self.max_crm_lookups
        for name, count in parsed.lookups.items():
            if cap and count > cap:
                why = f"makes {count} CRM lookups: one request may make at most {cap}"
                raise InvalidInput(f"{where}{name}", f"{where}{name} {why} (MAX_CRM_LOOKUPS)")

    async def start(
        self,
        request: Parsed,
        *,
        actor: str,
        key: str | None = None,
        message_id: str | None = None,
        reply_to: str | None = None,
        on_new: Callable[[uuid.UUID], Awaitable[None]] | None = None,
    ) -> Started | KeyReused:
        """Persist the saga (or find the one `key` started for the same flow and body), then
        dispatch it while it is live. `on_new` runs for a new saga before the dispatch."""
        try:
            saga = await self.engine.start(
                request.flow, request.input, subject=request.subject, actor=actor,
                idempotency_key=key, request_hash=request.digest, message_id=message_id,
                reply_to=reply_to,
            )  # fmt: skip
        except DuplicateIdempotencyKey as duplicate:
            earlier = await self.store.load(duplicate.saga_id)
            if earlier is None or (earlier.flow, earlier.request_hash) != (
                request.flow,
                request.digest,
            ):
                return KeyReused(duplicate.saga_id)
            started = Started(earlier.id, True, not earlier.status.terminal)
        else:
            started = Started(saga.id, False, True)
            if on_new is not None:
                await on_new(saga.id)
        if started.live:
            # A publish is blocking I/O (and retried while the broker is away): off the loop.
            await asyncio.to_thread(self._dispatch, started.saga_id)
        return started

    def _dispatch(self, saga_id: uuid.UUID) -> None:
        try:
            self.dispatch(saga_id)
        except Exception as exc:  # the saga is in the table: the recovery sweep dispatches it
            log.warning("broker unavailable for saga %s: %s", saga_id, type(exc).__name__)


def parse_start(
    flows: Mapping[str, Flow[Any, Any]],
    catalogue: Mapping[str, Flow[Any, Any]],
    flow_name: object,
    body: object,
    *,
    where: str = "input.",
) -> Parsed:
    """Check the flow name against `flows` (the ones that can run; `catalogue`: every flow
    known, for a clearer refusal) and validate `body` with the flow's input model. Raises
    InvalidInput naming the field (`flow`, or `where` + the input's field path)."""
    flow = _flow(flows, catalogue, flow_name)
    model = flow.input_model
    if model is None:
        raise InvalidInput("flow", f"flow {flow.name} cannot be started from outside")
    if not isinstance(body, dict):
        name = where.rstrip(".") or "body"
        raise InvalidInput(name, f"{name} must be a JSON object")
    try:
        checked = model.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(_first_field(exc, where), describe_validation(exc, where)) from None
    return Parsed(flow.name, checked.to_input(), checked.subject(), request_digest(checked),
                  checked.crm_lookups())  # fmt: skip


def _flow(
    flows: Mapping[str, Flow[Any, Any]], catalogue: Mapping[str, Flow[Any, Any]], name: object
) -> Flow[Any, Any]:
    runnable = ", ".join(sorted(flows)) or "(none: no CRM backend is configured here)"
    if not isinstance(name, str) or not name:
        raise InvalidInput("flow", f"flow must be one of: {runnable}")
    flow = flows.get(name)
    if flow is not None:
        return flow
    known = catalogue.get(name)
    if known is not None:
        raise FlowUnavailable("flow", f"flow {name} is not available on this service: its "
                              f"backend {known.backend} is not configured")  # fmt: skip
    raise InvalidInput("flow", f"flow must be one of: {runnable} (got {short(name)})")


def _first_field(exc: ValidationError, where: str) -> str:
    return field_path(tuple(exc.errors()[0]["loc"]), where) or "body"
