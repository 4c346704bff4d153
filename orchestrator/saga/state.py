"""A saga's state as plain data, and next_move(): the pure decision of what to do next.

The tables hold exactly these fields; the engine reads them, decides with next_move(), and writes
the change back. Must not import any framework.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class SagaStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPENSATING = "compensating"
    SUCCEEDED = "succeeded"
    COMPENSATED = "compensated"
    FAILED = "failed"  # nothing was written
    COMPENSATION_FAILED = "compensation_failed"
    NEEDS_MANUAL_CLEANUP = "needs_manual_cleanup"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {
        SagaStatus.SUCCEEDED,
        SagaStatus.COMPENSATED,
        SagaStatus.FAILED,
        SagaStatus.COMPENSATION_FAILED,
        SagaStatus.NEEDS_MANUAL_CLEANUP,
    }
)


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"  # claimed: a worker holds the lease and may be inside the CRM call
    RETRY_WAIT = "retry_wait"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    COMPENSATING = "compensating"  # claimed for undo
    UNDO_RETRY_WAIT = "undo_retry_wait"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"
    NOTHING_TO_UNDO = "nothing_to_undo"  # failed step whose earlier tries left no record
    LEFT_FOR_OPERATOR = "left_for_operator"  # irreversible: only a person can undo it
    RESOLVED = "resolved_by_hand"  # an operator says the record was cleaned up by hand


@dataclass(slots=True)
class StepState:
    index: int
    name: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    undo_attempts: int = 0
    output: Any = None  # JSON form of the step's result
    error: str | None = None
    error_code: str | None = None
    maybe_created: bool = False  # a try ended without a clear answer: the effect may exist
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_until: datetime | None = None
    retry_at: datetime | None = None
    holder: str | None = None  # the worker process that claimed it (while running/compensating)
    interrupted: int = 0  # tries cut off by their worker's death or shutdown: not held against it


@dataclass(slots=True)
class SagaState:
    id: uuid.UUID
    flow: str
    input: Any  # JSON form of the flow input
    status: SagaStatus = SagaStatus.PENDING
    version: int = 0
    error: str | None = None
    failed_step: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    subject: str | None = None  # who the saga is for (contact id), for search
    message_id: str | None = None  # the queue message that started it, if one did
    reply_to: str | None = None  # where its result goes when it ends (a reply route), if anywhere
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    wake_at: datetime | None = None  # when the saga next needs a worker (None: terminal)
    deadline_at: datetime | None = None  # going forward past this, the saga rolls back
    steps: list[StepState] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # step.claimed, step.succeeded, step.retry, step.failed, undo.*, saga.*
    step: str | None = None
    attempt: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    actor: str = "engine"


@dataclass(frozen=True, slots=True)
class Change:
    """One atomic write: the saga row (compare-and-set on `expected_version`), the step rows
    touched, events appended and notifications queued in the same transaction."""

    saga: SagaState
    expected_version: int
    steps: tuple[StepState, ...] = ()
    events: tuple[Event, ...] = ()
    notify: tuple[str, ...] = ()  # outbox message kinds, e.g. "sale_failed"


# --- moves -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunStep:
    index: int


@dataclass(frozen=True, slots=True)
class UndoStep:
    index: int


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The saga's deadline passed: fail this step and roll back."""

    index: int


@dataclass(frozen=True, slots=True)
class Finish:
    status: SagaStatus


@dataclass(frozen=True, slots=True)
class WaitUntil:
    at: datetime
    held: bool  # True: another worker holds a live lease; False: a backoff is running


@dataclass(frozen=True, slots=True)
class Done:
    pass


Move = RunStep | UndoStep | GiveUp | Finish | WaitUntil | Done


@dataclass(frozen=True, slots=True)
class UndoSpec:
    """What the flow says about reversing one step."""

    undo: bool  # has an undo action
    find: bool  # can look for its own effect by marker
    irreversible: bool  # a write nobody can undo but a person


def next_move(saga: SagaState, specs: list[UndoSpec], now: datetime) -> Move:
    """Decide the saga's next move from its rows alone (`specs[i]` describes step i).

    Past its deadline a saga still going forward gives up its current step and rolls back, but
    never under a worker that holds a live lease (its call is bounded by the CRM timeout).
    """
    if saga.status.terminal:
        return Done()
    if saga.status is SagaStatus.COMPENSATING:
        return _next_undo(saga, specs, now)
    for step in saga.steps:
        if step.status is StepStatus.SUCCEEDED:
            continue
        wait = _busy(step, now)
        deadline = saga.deadline_at
        if wait is not None and wait.held:
            return wait
        if deadline is not None and now >= deadline:
            return GiveUp(step.index)
        if wait is not None:
            return WaitUntil(min(wait.at, deadline), held=False) if deadline else wait
        return RunStep(step.index)
    return Finish(SagaStatus.SUCCEEDED)


def _next_undo(saga: SagaState, specs: list[UndoSpec], now: datetime) -> Move:
    for step in reversed(saga.steps):
        if not _needs_undo(step, specs[step.index]):
            continue
        wait = _busy(step, now)
        return wait if wait is not None else UndoStep(step.index)
    return Finish(rollback_outcome(saga.steps))


def _needs_undo(step: StepState, spec: UndoSpec) -> bool:
    if step.status in (StepStatus.COMPENSATING, StepStatus.UNDO_RETRY_WAIT):
        return True
    has_effect = step.status is StepStatus.SUCCEEDED or (
        step.status is StepStatus.FAILED and step.maybe_created
    )
    return has_effect and (spec.undo or spec.irreversible)


def _busy(step: StepState, now: datetime) -> WaitUntil | None:
    if step.status in (StepStatus.RUNNING, StepStatus.COMPENSATING):
        if step.lease_until is not None and step.lease_until > now:
            return WaitUntil(step.lease_until, held=True)
        return None  # lease expired: the holder died; take it over
    waiting = step.status in (StepStatus.RETRY_WAIT, StepStatus.UNDO_RETRY_WAIT)
    if waiting and step.retry_at is not None and step.retry_at > now:
        return WaitUntil(step.retry_at, held=False)
    return None


FAILURE_NOTICE = "sale_failed"  # outbox kind: the IT e-mail, when a saga ends in any failure
REPLY_NOTICE = "saga_reply"  # outbox kind: the result message to the saga's reply_to


def finish_notices(saga: SagaState, status: SagaStatus) -> tuple[str, ...]:
    """The notifications queued, in the same transaction, when the saga ends in `status`."""
    failure = () if status is SagaStatus.SUCCEEDED else (FAILURE_NOTICE,)
    return failure + ((REPLY_NOTICE,) if saga.reply_to else ())


def rollback_outcome(steps: list[StepState]) -> SagaStatus:
    """The terminal status once nothing is left to undo."""
    statuses = {step.status for step in steps}
    if StepStatus.COMPENSATION_FAILED in statuses:
        return SagaStatus.COMPENSATION_FAILED
    if StepStatus.LEFT_FOR_OPERATOR in statuses:
        return SagaStatus.NEEDS_MANUAL_CLEANUP
    if statuses & {StepStatus.COMPENSATED, StepStatus.RESOLVED}:
        return SagaStatus.COMPENSATED
    return SagaStatus.FAILED


def wake_at(saga: SagaState, now: datetime) -> datetime | None:
    """When a worker must next look at this saga: the backoff's end (or the deadline, if that
    comes first), the lease's end, or now."""
    if saga.status.terminal:
        return None
    for row in saga.steps:
        if row.status in (StepStatus.RUNNING, StepStatus.COMPENSATING) and row.lease_until:
            return row.lease_until
        if row.status is StepStatus.UNDO_RETRY_WAIT and row.retry_at:
            return row.retry_at
        if row.status is StepStatus.RETRY_WAIT and row.retry_at:
            deadline = saga.deadline_at
            return min(row.retry_at, deadline) if deadline else row.retry_at
    return now
