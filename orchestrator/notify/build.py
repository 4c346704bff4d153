"""Build a FailureReport from a saga's persisted state and its flow definition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.notify.report import FailureReport, RecordFate, RecordLine
from orchestrator.saga.codec import from_json
from orchestrator.saga.definition import Flow
from orchestrator.saga.state import SagaState, StepState, StepStatus

_FATES = {
    StepStatus.SUCCEEDED: RecordFate.KEPT,
    StepStatus.COMPENSATED: RecordFate.ROLLED_BACK,
    StepStatus.COMPENSATION_FAILED: RecordFate.LEFT_OVER,
    StepStatus.LEFT_FOR_OPERATOR: RecordFate.LEFT_OVER,
    StepStatus.COMPENSATING: RecordFate.LEFT_OVER,
    StepStatus.UNDO_RETRY_WAIT: RecordFate.LEFT_OVER,
    StepStatus.RESOLVED: RecordFate.RESOLVED,
}

RecordUrl = Callable[[Any], str | None]


def failure_report(
    saga: SagaState, flow: Flow[Any, Any], record_url: RecordUrl | None = None
) -> FailureReport:
    """What the IT e-mail says about this saga: error, failing step and every record's fate."""
    lines = tuple(
        record_line(step_def.record, step_def.output, row, record_url)
        for step_def, row in zip(flow.steps, saga.steps, strict=True)
        if step_def.record is not None
    )
    described = flow.describe(from_json(flow.input_type, saga.input)) if flow.describe else None
    return FailureReport(
        saga_id=str(saga.id),
        flow=saga.flow,
        status=saga.status.value,
        error=saga.error or "unknown error",
        failed_step=saga.failed_step,
        contact=described,
        occurred_at=saga.finished_at or saga.updated_at or saga.created_at,  # type: ignore[arg-type]
        records=lines,
    )


def record_line(
    label: str, output_type: type[Any], row: StepState, record_url: RecordUrl | None
) -> RecordLine:
    record_id = row.output.get("id") if isinstance(row.output, dict) else None
    if record_id is None:
        return RecordLine(f"{label} ID", None, RecordFate.NOT_CREATED)
    fate = _FATES.get(row.status, RecordFate.NOT_CREATED)
    url = record_url(from_json(output_type, row.output)) if record_url else None
    return RecordLine(f"{label} ID", str(record_id), fate, url)
