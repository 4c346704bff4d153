"""What a move's outcome does to a saga's rows: pure functions, no I/O.

The engine claims a step, calls the CRM, then hands the outcome here; each function changes the
rows in place and returns the events to write with them in one commit. Like next_move(), they
can be read (and tested) without a store or a CRM.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from orchestrator.crm.errors import (
    OutcomeUnknown,
    PermanentCrmError,
    error_code,
    error_message,
    retry_after,
)
from orchestrator.saga.codec import to_json
from orchestrator.saga.definition import Step, UndoKind
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.shape import record_id, wrote_nothing
from orchestrator.saga.state import Event, SagaState, SagaStatus, StepState, StepStatus


def claimed(
    row: StepState, status: StepStatus, now: datetime, lease_s: float, holder: str | None
) -> None:
    """The row is held by `holder` (this worker) until the lease ends."""
    row.status, row.retry_at = status, None
    row.started_at = row.started_at or now
    row.lease_until = now + seconds(lease_s)
    row.holder = holder


def step_succeeded(
    step: Step[Any, Any, Any], row: StepState, output: object, adopted: bool, now: datetime
) -> Event:
    """The step ran (or, `adopted`, an earlier cut-off try's record was found)."""
    row.status, row.output = StepStatus.SUCCEEDED, to_json(step.output, output)
    row.error = row.error_code = None
    row.finished_at, row.lease_until, row.retry_at, row.holder = now, None, None, None
    detail = {"adopted": adopted, "record_id": record_id(output)}
    return Event("step.succeeded", step.name, row.attempts, detail)


def step_failed(
    saga: SagaState,
    step: Step[Any, Any, Any],
    row: StepState,
    exc: Exception,
    policy: RetryPolicy,
    ambiguous_wait_s: float,
    now: datetime,
) -> tuple[Event, ...]:
    """A transient error with tries left waits and retries; anything else fails the step and
    starts the compensation. After a lost answer the wait is at least `ambiguous_wait_s`."""
    transient = not isinstance(exc, PermanentCrmError)
    row.error, row.error_code, row.lease_until = error_message(exc), error_code(exc), None
    detail = {"error": row.error, "code": row.error_code, "transient": transient}
    # tries cut off by a dead or stopped worker were no fault of the step
    if transient and not policy.exhausted(row.attempts - row.interrupted):
        delay = policy.delay(row.attempts, retry_after(exc))
        if isinstance(exc, OutcomeUnknown):
            delay = max(delay, ambiguous_wait_s)
        row.status, row.retry_at = StepStatus.RETRY_WAIT, now + seconds(delay)
        return (Event("step.retry", step.name, row.attempts, {**detail, "delay_s": delay}),)
    row.status, row.finished_at = StepStatus.FAILED, now
    # a try may have landed unseen, or a step writing several wrote some before it failed
    row.maybe_created = transient or row.attempts > 1 or step.leftovers is not None
    return _compensating(saga, step, row, f"{step.name}: {row.error}", detail)


def deadline_passed(
    saga: SagaState, step: Step[Any, Any, Any], row: StepState, now: datetime
) -> tuple[Event, ...]:
    """The saga's deadline came while the step waited: it fails, the compensation starts."""
    row.status, row.finished_at, row.retry_at = StepStatus.FAILED, now, None
    row.maybe_created = row.attempts > 0  # an earlier try may have landed unseen
    error = f"{step.name}: deadline exceeded" + (f" (last error: {row.error})" if row.error else "")
    return _compensating(saga, step, row, error, {"error": error, "code": "DEADLINE_EXCEEDED"})


def _compensating(
    saga: SagaState, step: Step[Any, Any, Any], row: StepState, error: str, detail: dict[str, Any]
) -> tuple[Event, ...]:
    saga.status, saga.failed_step, saga.error = SagaStatus.COMPENSATING, step.name, error
    return Event("step.failed", step.name, row.attempts, detail), Event("saga.compensating")


def undone(step: Step[Any, Any, Any], row: StepState, record: object, now: datetime) -> Event:
    """The undo ran on `record`; None: the failed step's tries left nothing to undo."""
    row.status = StepStatus.COMPENSATED if record is not None else StepStatus.NOTHING_TO_UNDO
    row.finished_at, row.lease_until, row.retry_at = now, None, None
    kind = "undo.succeeded" if record is not None else "undo.nothing_found"
    says = step.undo_says
    detail: dict[str, object] = {"record_id": record_id(record),
                                 "undo": says.value if says else None}  # fmt: skip
    return Event(kind, step.name, row.undo_attempts, detail)


def undo_failed(
    step: Step[Any, Any, Any], row: StepState, exc: Exception, policy: RetryPolicy, now: datetime
) -> Event:
    """An undo is retried with backoff until the policy is spent, then fails for an operator."""
    row.error, row.error_code, row.lease_until = error_message(exc), error_code(exc), None
    detail = {"error": row.error, "code": row.error_code}
    if not policy.exhausted(row.undo_attempts):
        delay = policy.delay(row.undo_attempts, retry_after(exc))
        row.status, row.retry_at = StepStatus.UNDO_RETRY_WAIT, now + seconds(delay)
        return Event("undo.retry", step.name, row.undo_attempts, {**detail, "delay_s": delay})
    row.status, row.finished_at = StepStatus.COMPENSATION_FAILED, now
    return Event("undo.failed", step.name, row.undo_attempts, detail)


def left_behind(step: Step[Any, Any, Any], row: StepState, looked: bool) -> Event:
    """A write with no undo stays for a person, said so in those words; unless it wrote
    nothing, or (`looked`: its finder ran) nothing of its tries was found."""
    if wrote_nothing(step, row) or (row.output is None and looked):
        row.status = StepStatus.NOTHING_TO_UNDO  # e.g. a create it skipped or never made
        return Event("undo.nothing_found", step.name)
    row.status = StepStatus.LEFT_FOR_OPERATOR
    detail = {"undo": UndoKind.NONE, "record_id": record_id(row.output)}
    return Event("undo.left_for_operator", step.name, None, detail)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
