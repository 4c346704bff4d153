"""ObservedStore: a SagaStore that, after each successful write, logs one JSON line per event
and updates the metrics. The engine writes every transition through the store, so wrapping the
store observes every saga without the engine knowing (it must import no logging framework).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from orchestrator.observability.logcontext import bind_saga, bind_step, unbind_step
from orchestrator.observability.metrics import FINISHED_STATUSES, SagaMetrics
from orchestrator.saga.ports import SagaStore
from orchestrator.saga.state import Change, Event, SagaState

log = logging.getLogger(__name__)

# The moves a step duration is measured over: claim → outcome (forward step or its undo).
_CLAIMS = {"step.claimed": "step", "undo.claimed": "undo"}
_OUTCOMES = {
    "step.succeeded": ("step", "succeeded"),
    "step.retry": ("step", "retry"),
    "step.failed": ("step", "failed"),
    "undo.succeeded": ("undo", "compensated"),
    "undo.nothing_found": ("undo", "nothing_to_undo"),
    "undo.retry": ("undo", "undo_retry"),
    "undo.failed": ("undo", "undo_failed"),
}
_LEVELS = {
    **dict.fromkeys(
        ("step.retry", "step.failed", "undo.retry", "undo.left_for_operator", "saga.compensating",
         "saga.failed", "saga.compensated"), logging.WARNING),
    **dict.fromkeys(
        ("undo.failed", "saga.compensation_failed", "saga.needs_manual_cleanup"), logging.ERROR),
}  # fmt: skip
_FINISHED = {f"saga.{status}": status for status in FINISHED_STATUSES}
# An event detail key that is also a LogRecord attribute would make `extra=` raise.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
MAX_OPEN_CLAIMS = 10_000  # claims whose outcome was written elsewhere (lost lease) are dropped


class ObservedStore:
    def __init__(
        self,
        inner: SagaStore,
        metrics: SagaMetrics,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._inner, self._metrics, self._timer = inner, metrics, timer
        self._claimed_at: dict[tuple[uuid.UUID, str, str], float] = {}

    async def create(
        self, saga: SagaState, event: Event, *, keys_expire_before: datetime | None = None
    ) -> None:
        await self._inner.create(saga, event, keys_expire_before=keys_expire_before)
        bind_saga(saga)
        self._observe(saga, (event,))

    async def load(self, saga_id: uuid.UUID) -> SagaState | None:
        saga = await self._inner.load(saga_id)
        if saga is not None:
            bind_saga(saga)  # every later line of this task is about this saga
        return saga

    async def apply(self, change: Change) -> bool:
        applied = await self._inner.apply(change)
        if applied:
            self._observe(change.saga, change.events)
        else:
            log.info("saga.change_lost", extra=_fields(change.saga, None))
        return applied

    async def claim_due(
        self, now: datetime, limit: int, hold_until: datetime
    ) -> Sequence[uuid.UUID]:
        return await self._inner.claim_due(now, limit, hold_until)

    def _observe(self, saga: SagaState, events: Iterable[Event]) -> None:
        try:
            for event in events:
                self._count(saga, event)
                if event.kind in _CLAIMS:
                    bind_step(event.step, event.attempt)
                level = _LEVELS.get(event.kind, logging.INFO)
                log.log(level, event.kind, extra=_fields(saga, event))
                if event.kind in _OUTCOMES:
                    unbind_step()
        except Exception:  # the write happened: a metrics fault must not fail the engine's move
            log.exception("saga events not observed", extra={"saga_id": str(saga.id)})

    def _count(self, saga: SagaState, event: Event) -> None:
        metrics, flow, kind = self._metrics, saga.flow, event.kind
        if kind == "saga.started":
            metrics.sagas_started.labels(flow).inc()
        elif kind in _FINISHED:
            metrics.sagas_finished.labels(flow, _FINISHED[kind]).inc()
            self._time_saga(saga, _FINISHED[kind])
        elif kind == "step.retry" and event.step is not None:
            metrics.step_retries.labels(flow, event.step).inc()
        if event.step is not None:
            self._time_step(saga, event, event.step)

    def _time_saga(self, saga: SagaState, status: str) -> None:
        """created_at → finished_at: the clocks of the process that started the saga and of the
        one that finished it, which may differ a little (hence never below 0). A saga that an
        operator sends on again and that finishes again is observed again, over its whole life."""
        if saga.created_at is not None and saga.finished_at is not None:
            elapsed = (saga.finished_at - saga.created_at).total_seconds()
            self._metrics.saga_duration.labels(saga.flow, status).observe(max(elapsed, 0.0))

    def _time_step(self, saga: SagaState, event: Event, step: str) -> None:
        if event.kind in _CLAIMS:
            if len(self._claimed_at) >= MAX_OPEN_CLAIMS:
                del self._claimed_at[next(iter(self._claimed_at))]
            self._claimed_at[(saga.id, step, _CLAIMS[event.kind])] = self._timer()
        elif event.kind in _OUTCOMES:
            move, outcome = _OUTCOMES[event.kind]
            # No claim seen here: it was made by another process, or the deadline gave up.
            started = self._claimed_at.pop((saga.id, step, move), None)
            if started is not None:
                elapsed = self._timer() - started
                self._metrics.step_duration.labels(saga.flow, step, outcome).observe(elapsed)


def _fields(saga: SagaState, event: Event | None) -> dict[str, Any]:
    """The line's fields: which saga, flow, step and attempt, who did it and where it stands."""
    detail = {k: v for k, v in event.detail.items() if k not in _RESERVED} if event else {}
    return {
        **detail,
        "saga_id": str(saga.id),
        "flow": saga.flow,
        "step": event.step if event else None,
        "attempt": event.attempt if event else None,
        "actor": event.actor if event else None,
        "status": saga.status.value,
        "version": saga.version,
    }
