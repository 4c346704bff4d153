"""What each outcome of a move does to the rows (saga.outcomes), from rows alone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from orchestrator.crm.errors import OutcomeUnknown, PermanentCrmError, RateLimited
from orchestrator.saga import outcomes
from orchestrator.saga.definition import Step
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.state import SagaState, SagaStatus, StepState, StepStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_s=1.0, cap_s=4.0)


@dataclass(frozen=True)
class Made:
    id: str


async def _never(*_: object) -> Made:
    raise AssertionError("not called")


WRITE = Step("create", _never, Made, undo=_never, find=_never, record="Deal")
ONE_WAY = Step("ticket", _never, Made, irreversible=True, record="Ticket")


def rows(attempts=1, status=StepStatus.RUNNING, **fields):
    row = StepState(0, "create", status, attempts=attempts, **fields)
    return SagaState(uuid.uuid4(), "f", {}, status=SagaStatus.RUNNING, steps=[row]), row


def test_a_lost_answer_waits_at_least_the_ambiguous_wait_then_retries():
    saga, row = rows()
    [event] = outcomes.step_failed(saga, WRITE, row, OutcomeUnknown("no answer"), POLICY, 9.0, NOW)
    assert (event.kind, event.detail["code"], event.detail["delay_s"]) == ("step.retry", None, 9.0)
    assert row.status is StepStatus.RETRY_WAIT and row.retry_at == NOW + timedelta(seconds=9)
    assert row.lease_until is None and saga.status is SagaStatus.RUNNING


def test_the_crms_retry_after_wins_over_a_shorter_backoff():
    saga, row = rows()
    [event] = outcomes.step_failed(
        saga, WRITE, row, RateLimited("429", retry_after=30), POLICY, 0, NOW
    )
    assert event.detail["delay_s"] == 30 and row.retry_at == NOW + timedelta(seconds=30)


def test_a_permanent_error_fails_the_step_and_starts_the_compensation_at_once():
    saga, row = rows()
    error = PermanentCrmError("Stage unknown", code="INVALID_DATA")
    failed, compensating = outcomes.step_failed(saga, WRITE, row, error, POLICY, 0, NOW)
    assert (failed.kind, compensating.kind) == ("step.failed", "saga.compensating")
    assert failed.detail == {"error": "Stage unknown", "code": "INVALID_DATA", "transient": False}
    assert (saga.status, saga.failed_step, saga.error) == (
        SagaStatus.COMPENSATING, "create", "create: Stage unknown")  # fmt: skip
    assert row.status is StepStatus.FAILED and row.maybe_created is False


def test_spent_retries_fail_the_step_as_one_that_may_have_written():
    saga, row = rows(attempts=3)
    failed, _ = outcomes.step_failed(saga, WRITE, row, OutcomeUnknown("lost"), POLICY, 0, NOW)
    assert failed.kind == "step.failed" and row.maybe_created is True


def test_tries_cut_off_by_a_dead_worker_do_not_count_against_the_step():
    saga, row = rows(attempts=3, interrupted=1)
    [event] = outcomes.step_failed(saga, WRITE, row, OutcomeUnknown("lost"), POLICY, 0, NOW)
    assert event.kind == "step.retry"


def test_a_passed_deadline_names_the_last_error():
    saga, row = rows(attempts=2, error="CRM 503")
    failed, _ = outcomes.deadline_passed(saga, WRITE, row, NOW)
    assert saga.error == "create: deadline exceeded (last error: CRM 503)"
    assert failed.detail["code"] == "DEADLINE_EXCEEDED" and row.maybe_created is True


def test_an_undo_is_retried_until_its_policy_is_spent_then_fails_for_an_operator():
    _, row = rows(undo_attempts=2)
    retry = outcomes.undo_failed(WRITE, row, OutcomeUnknown("lost"), POLICY, NOW)
    assert retry.kind == "undo.retry" and row.status is StepStatus.UNDO_RETRY_WAIT
    row.undo_attempts = 3
    failed = outcomes.undo_failed(WRITE, row, OutcomeUnknown("lost"), POLICY, NOW)
    assert failed.kind == "undo.failed" and row.status is StepStatus.COMPENSATION_FAILED


def test_an_undone_record_says_what_the_undo_did():
    _, row = rows()
    event = outcomes.undone(WRITE, row, Made("D1"), NOW)
    assert (event.kind, event.detail) == ("undo.succeeded", {"record_id": "D1", "undo": "delete"})
    assert row.status is StepStatus.COMPENSATED
    _, row = rows()
    assert outcomes.undone(WRITE, row, None, NOW).kind == "undo.nothing_found"
    assert row.status is StepStatus.NOTHING_TO_UNDO


def test_an_irreversible_write_is_left_for_a_person_unless_nothing_of_it_was_found():
    _, row = rows(status=StepStatus.SUCCEEDED, output={"id": "T7"})
    event = outcomes.left_behind(ONE_WAY, row, looked=True)
    assert (event.kind, event.detail) == (
        "undo.left_for_operator",
        {"undo": "none", "record_id": "T7"},
    )
    _, row = rows(status=StepStatus.FAILED, maybe_created=True)
    assert outcomes.left_behind(ONE_WAY, row, looked=True).kind == "undo.nothing_found"
    assert row.status is StepStatus.NOTHING_TO_UNDO
