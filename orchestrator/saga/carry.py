"""A step's success carried into the next move's transaction (see Carried)."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

from orchestrator.saga.state import Event, StepState


@dataclass(slots=True)
class Carried:
    """A step's success not yet written: it goes into the next move's transaction (the next
    claim, or the finish), which follows at once with no CRM call in between, so a step costs
    one transaction instead of two. Lost with its process, it is found again by marker."""

    saga_id: uuid.UUID
    steps: dict[int, StepState] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def add(self, row: StepState, event: Event) -> None:
        self.steps[row.index] = row
        self.events.append(event)

    def merge(
        self, steps: tuple[StepState, ...], events: tuple[Event, ...]
    ) -> tuple[tuple[StepState, ...], tuple[Event, ...]]:
        merged = {**self.steps, **{step.index: step for step in steps}}
        out = (tuple(merged.values()), (*self.events, *events))
        self.steps, self.events = {}, []
        return out


# The advance() in progress in this task; each drive of a saga is its own asyncio task.
CARRY: ContextVar[Carried | None] = ContextVar("salesaga_carried", default=None)
