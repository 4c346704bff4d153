"""What the state machine needs to know of a flow's shape, and the check that a saga's step
rows still match its flow's definition (renamed or reordered steps are refused)."""

from __future__ import annotations

import functools
from typing import Any

from orchestrator.saga.definition import Flow, Step, record_ids
from orchestrator.saga.errors import StepMismatch
from orchestrator.saga.state import SagaState, StepState, UndoSpec


@functools.cache
def _specs(flow: Flow[Any, Any]) -> tuple[UndoSpec, ...]:
    return tuple(
        UndoSpec(undo=s.undo is not None, find=s.find is not None, irreversible=s.irreversible)
        for s in flow.steps
    )


def undo_specs(flow: Flow[Any, Any]) -> list[UndoSpec]:
    """Per step: has it an undo, a finder, is it irreversible (computed once per flow)."""
    return list(_specs(flow))


def check_steps(saga: SagaState, flow: Flow[Any, Any]) -> None:
    for row, step in zip(saga.steps, flow.steps, strict=False):
        if row.name != step.name:
            raise StepMismatch(str(saga.id), row.index, row.name, step.name)
    if len(saga.steps) != len(flow.steps):
        raise StepMismatch(str(saga.id), len(saga.steps), "?", "?")


def wrote_nothing(step: Step[Any, Any, Any], row: StepState) -> bool:
    """A record step that succeeded without a record id (it had nothing to create)."""
    return step.record is not None and row.output is not None and not record_ids(row.output)


def record_id(output: object) -> str | None:
    """The record id(s) for an event's detail: "12" or "12, 13" for a step that made several."""
    ids = record_ids(output) if output is not None else ()
    return ", ".join(ids) if ids else None
