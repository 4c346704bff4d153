"""next_move(): the whole decision table of the engine, from rows alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.saga.state import (
    Done,
    Finish,
    RunStep,
    SagaState,
    SagaStatus,
    StepState,
    StepStatus,
    UndoSpec,
    UndoStep,
    WaitUntil,
    next_move,
    rollback_outcome,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
EARLIER = NOW - timedelta(seconds=30)
READ = UndoSpec(undo=False, find=False, irreversible=False)
WRITE = UndoSpec(undo=True, find=True, irreversible=False)
ONE_WAY = UndoSpec(undo=False, find=False, irreversible=True)
SPECS = [READ, WRITE, WRITE]
S = StepStatus


def saga(status: SagaStatus, *steps: StepState) -> SagaState:
    return SagaState(uuid.uuid4(), "f", {}, status=status, steps=list(steps))


def step(index: int, status: StepStatus, **fields) -> StepState:
    return StepState(index, f"s{index}", status, **fields)


CASES = [
    ("new saga runs its first step", SagaStatus.PENDING,
     [step(0, S.PENDING), step(1, S.PENDING), step(2, S.PENDING)], RunStep(0)),
    ("next pending step runs", SagaStatus.RUNNING,
     [step(0, S.SUCCEEDED), step(1, S.PENDING), step(2, S.PENDING)], RunStep(1)),
    ("a live lease is respected", SagaStatus.RUNNING,
     [step(0, S.SUCCEEDED), step(1, S.RUNNING, lease_until=LATER), step(2, S.PENDING)],
     WaitUntil(LATER, held=True)),
    ("an expired lease is taken over", SagaStatus.RUNNING,
     [step(0, S.SUCCEEDED), step(1, S.RUNNING, lease_until=EARLIER), step(2, S.PENDING)],
     RunStep(1)),
    ("a backoff is waited out", SagaStatus.RUNNING,
     [step(0, S.SUCCEEDED), step(1, S.RETRY_WAIT, retry_at=LATER), step(2, S.PENDING)],
     WaitUntil(LATER, held=False)),
    ("a finished backoff retries", SagaStatus.RUNNING,
     [step(0, S.SUCCEEDED), step(1, S.RETRY_WAIT, retry_at=EARLIER), step(2, S.PENDING)],
     RunStep(1)),
    ("all done succeeds", SagaStatus.RUNNING,
     [step(0, S.SUCCEEDED), step(1, S.SUCCEEDED), step(2, S.SUCCEEDED)],
     Finish(SagaStatus.SUCCEEDED)),
    ("rollback starts with the newest write", SagaStatus.COMPENSATING,
     [step(0, S.SUCCEEDED), step(1, S.SUCCEEDED), step(2, S.FAILED)], UndoStep(1)),
    ("a failed step that may have landed is undone first", SagaStatus.COMPENSATING,
     [step(0, S.SUCCEEDED), step(1, S.SUCCEEDED), step(2, S.FAILED, maybe_created=True)],
     UndoStep(2)),
    ("reads are never undone", SagaStatus.COMPENSATING,
     [step(0, S.SUCCEEDED), step(1, S.COMPENSATED), step(2, S.FAILED)],
     Finish(SagaStatus.COMPENSATED)),
    ("nothing written ends failed", SagaStatus.COMPENSATING,
     [step(0, S.SUCCEEDED), step(1, S.FAILED), step(2, S.PENDING)], Finish(SagaStatus.FAILED)),
    ("an undo backoff is waited out", SagaStatus.COMPENSATING,
     [step(0, S.SUCCEEDED), step(1, S.UNDO_RETRY_WAIT, retry_at=LATER), step(2, S.FAILED)],
     WaitUntil(LATER, held=False)),
    ("a failed undo does not stop the others", SagaStatus.COMPENSATING,
     [step(0, S.SUCCEEDED), step(1, S.SUCCEEDED), step(2, S.COMPENSATION_FAILED)], UndoStep(1)),
    ("a left-over ends compensation_failed", SagaStatus.COMPENSATING,
     [step(0, S.SUCCEEDED), step(1, S.COMPENSATED), step(2, S.COMPENSATION_FAILED)],
     Finish(SagaStatus.COMPENSATION_FAILED)),
    ("terminal sagas do nothing", SagaStatus.COMPENSATED,
     [step(0, S.SUCCEEDED), step(1, S.COMPENSATED), step(2, S.FAILED)], Done()),
]  # fmt: skip


@pytest.mark.parametrize(("name", "status", "steps", "expected"), CASES, ids=[c[0] for c in CASES])
def test_next_move(name, status, steps, expected):
    assert next_move(saga(status, *steps), SPECS, NOW) == expected


def test_an_irreversible_write_is_handed_to_an_operator():
    rows = saga(SagaStatus.COMPENSATING, step(0, S.SUCCEEDED), step(1, S.FAILED))
    assert next_move(rows, [ONE_WAY, WRITE], NOW) == UndoStep(0)
    rows.steps[0].status = S.LEFT_FOR_OPERATOR
    assert next_move(rows, [ONE_WAY, WRITE], NOW) == Finish(SagaStatus.NEEDS_MANUAL_CLEANUP)


def test_compensation_failed_outranks_manual_cleanup():
    steps = [step(0, S.LEFT_FOR_OPERATOR), step(1, S.COMPENSATION_FAILED)]
    assert rollback_outcome(steps) is SagaStatus.COMPENSATION_FAILED
