"""What an operator may do to a saga, as pure plans over its rows.

retry      resume forward from the failed step (a saga that ended failed or compensated)
compensate roll back now (a pending or running saga; or again, after compensation_failed)
resolve    record that the left-over records were cleaned up by hand (with a comment)

Each planner checks the saga's state, raises ActionRefused with the reason when it may not act,
and otherwise changes the rows in place and returns the steps it touched. Must not import any
framework.
"""

from __future__ import annotations

import enum
from datetime import datetime

from orchestrator.saga.definition import Flow
from orchestrator.saga.errors import EngineError
from orchestrator.saga.state import SagaState, SagaStatus, StepState, StepStatus


class Action(enum.StrEnum):
    RETRY = "retry"
    COMPENSATE = "compensate"
    RESOLVE = "resolve"


class ActionRefused(EngineError):
    """The saga is in a state where this action makes no sense; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


LEFT_OVER = (StepStatus.COMPENSATION_FAILED, StepStatus.LEFT_FOR_OPERATOR)


def plan(
    action: Action, saga: SagaState, flow: Flow[object, object], now: datetime, comment: str | None
) -> list[StepState]:
    if action is Action.RETRY:
        return plan_retry(saga, flow)
    if action is Action.COMPENSATE:
        return plan_compensate(saga, now)
    return plan_resolve(saga, now, comment)


def plan_retry(saga: SagaState, flow: Flow[object, object]) -> list[StepState]:
    if not flow.retryable:
        raise ActionRefused(f"flow {flow.name} does not allow a retry")
    if saga.status not in (SagaStatus.FAILED, SagaStatus.COMPENSATED):
        raise ActionRefused(
            f"saga is {saga.status.value}: only a failed or compensated saga can be retried"
        )
    touched = [step for step in saga.steps if step.status is not StepStatus.SUCCEEDED]
    for step in touched:  # back to a clean slate; the event log keeps the history
        step.status, step.attempts, step.undo_attempts = StepStatus.PENDING, 0, 0
        step.output = step.error = step.error_code = None
        step.maybe_created = False
        step.started_at = step.finished_at = step.lease_until = step.retry_at = None
    saga.status, saga.error, saga.failed_step, saga.finished_at = (
        SagaStatus.RUNNING,
        None,
        None,
        None,
    )
    return touched


def plan_compensate(saga: SagaState, now: datetime) -> list[StepState]:
    if saga.status is SagaStatus.COMPENSATION_FAILED:
        touched = [step for step in saga.steps if step.status is StepStatus.COMPENSATION_FAILED]
        for step in touched:  # a fresh undo budget for each record left over
            step.status, step.undo_attempts, step.retry_at = StepStatus.UNDO_RETRY_WAIT, 0, now
        saga.status, saga.finished_at = SagaStatus.COMPENSATING, None
        return touched
    if saga.status not in (SagaStatus.PENDING, SagaStatus.RUNNING):
        raise ActionRefused(
            f"saga is {saga.status.value}: only a pending, running or compensation_failed saga "
            "can be rolled back"
        )
    current = next(step for step in saga.steps if step.status is not StepStatus.SUCCEEDED)
    if current.status is StepStatus.RUNNING and current.lease_until and current.lease_until > now:
        raise ActionRefused(
            f"step {current.name} is running on a worker until {current.lease_until.isoformat()}; "
            "try again after it"
        )
    if current.attempts > 0:
        current.status, current.finished_at = StepStatus.FAILED, now
        current.maybe_created, current.retry_at, current.lease_until = True, None, None
    saga.status, saga.failed_step = SagaStatus.COMPENSATING, current.name
    saga.error = f"{current.name}: rolled back by an operator"
    return [current]


def plan_resolve(saga: SagaState, now: datetime, comment: str | None) -> list[StepState]:
    if not comment or not comment.strip():
        raise ActionRefused("comment is required: say how the records were cleaned up")
    if saga.status not in (SagaStatus.COMPENSATION_FAILED, SagaStatus.NEEDS_MANUAL_CLEANUP):
        raise ActionRefused(
            f"saga is {saga.status.value}: only compensation_failed or needs_manual_cleanup "
            "sagas have records left to resolve"
        )
    touched = [step for step in saga.steps if step.status in LEFT_OVER]
    for step in touched:
        step.status, step.finished_at = StepStatus.RESOLVED, now
    saga.status, saga.finished_at = SagaStatus.COMPENSATED, now
    return touched
