"""Build a FailureReport from a saga's persisted state and its flow definition."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

from orchestrator.crm.records import RecordRef
from orchestrator.notify.report import FailureReport, RecordFate, RecordLine
from orchestrator.saga.codec import from_json
from orchestrator.saga.definition import Flow, UndoKind, record_ids
from orchestrator.saga.state import SagaState, StepState, StepStatus

_FATES = {
    StepStatus.SUCCEEDED: RecordFate.KEPT,
    StepStatus.COMPENSATED: RecordFate.ROLLED_BACK,
    StepStatus.COMPENSATION_FAILED: RecordFate.LEFT_OVER,
    StepStatus.LEFT_FOR_OPERATOR: RecordFate.LEFT_IN_PLACE,
    StepStatus.COMPENSATING: RecordFate.LEFT_OVER,
    StepStatus.UNDO_RETRY_WAIT: RecordFate.LEFT_OVER,
    StepStatus.RESOLVED: RecordFate.RESOLVED,
}

# What an operator must still do with a record, by its fate and the kind of undo it has.
_TODO = {
    (RecordFate.LEFT_OVER, UndoKind.DELETE): "delete it by hand",
    (RecordFate.LEFT_OVER, UndoKind.CANCEL_STAGE): "move it to the cancel stage by hand",
    (RecordFate.LEFT_OVER, UndoKind.NONE): "remove it by hand",
    (RecordFate.LEFT_IN_PLACE, UndoKind.NONE): "remove it by hand (the CRM's API cannot)",
    (RecordFate.LEFT_IN_PLACE, UndoKind.DELETE): "remove it by hand (the CRM's API cannot)",
    (RecordFate.LEFT_IN_PLACE, UndoKind.CANCEL_STAGE): "remove it by hand (the CRM's API cannot)",
}

RecordUrl = Callable[[Any], str | None]


class Links(Protocol):
    """What a flow's backend can tell people about its records, by flow name."""

    def __call__(self, flow_name: str) -> RecordUrl | None:
        """How to link a record to the backend's UI (None: no links)."""
        ...

    def cancel_stage(self, flow_name: str) -> str | None:
        """The stage a cancel-stage undo moves a record to (None: unknown or none)."""
        ...


def failure_report(
    saga: SagaState,
    flow: Flow[Any, Any],
    record_url: RecordUrl | None = None,
    *,
    cancel_stage: str | None = None,
) -> FailureReport:
    """What the IT e-mail says about this saga: error, failing step and every record's fate
    (`cancel_stage`: where a cancel-stage undo moved its record, when known)."""
    lines = tuple(
        line
        for step_def, row in zip(flow.steps, saga.steps, strict=True)
        if step_def.record is not None
        for line in record_lines(
            step_def.record,
            step_def.output,
            row,
            record_url,
            step_def.undo_says,
            cancel_stage=cancel_stage,
        )
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


def record_lines(
    label: str,
    output_type: type[Any],
    row: StepState,
    record_url: RecordUrl | None,
    undo: UndoKind | None = UndoKind.DELETE,
    *,
    cancel_stage: str | None = None,
) -> tuple[RecordLine, ...]:
    """The lines of a step's records: one, or one per record for a step that writes several
    (`ids`, e.g. products), each with its own link."""
    if not isinstance(row.output, dict) or "ids" not in row.output:
        return (record_line(label, output_type, row, record_url, undo, cancel_stage=cancel_stage),)
    kind = str(row.output.get("kind") or label.lower())
    lines = tuple(
        record_line(label, RecordRef, _with_output(row, {"kind": kind, "id": record_id}),
                    record_url, undo, cancel_stage=cancel_stage)
        for record_id in record_ids(row.output)
    )  # fmt: skip
    return lines or (RecordLine(f"{label} ID", None, RecordFate.NOT_CREATED),)


def _with_output(row: StepState, output: dict[str, Any]) -> StepState:
    return dataclasses.replace(row, output=output)


def record_line(
    label: str,
    output_type: type[Any],
    row: StepState,
    record_url: RecordUrl | None,
    undo: UndoKind | None = UndoKind.DELETE,
    *,
    cancel_stage: str | None = None,
) -> RecordLine:
    """One record's line: its fate in the words of its undo, its link, what is left to do."""
    ids = record_ids(row.output) if isinstance(row.output, dict) else ()
    record_id = ids[0] if len(ids) == 1 else None
    if record_id is None:
        return RecordLine(f"{label} ID", None, RecordFate.NOT_CREATED)
    fate = _FATES.get(row.status, RecordFate.NOT_CREATED)
    if fate is RecordFate.ROLLED_BACK and undo is UndoKind.CANCEL_STAGE:
        fate = RecordFate.CANCELLED
    url = record_url(from_json(output_type, row.output)) if record_url else None
    todo = _TODO.get((fate, undo or UndoKind.NONE))
    if todo is not None and undo is UndoKind.CANCEL_STAGE and cancel_stage:
        todo = todo.replace("the cancel stage", f"stage {cancel_stage}")
    stage = cancel_stage if undo is UndoKind.CANCEL_STAGE else None
    return RecordLine(f"{label} ID", str(record_id), fate, url, todo, stage)
