"""What a flow is: an ordered tuple of steps, each an action with an optional undo and finder.

Pure data and typing. Must not import celery, httpx, sqlmodel or fastapi (import-linter contract).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from orchestrator.saga.policy import RetryPolicy

In = TypeVar("In")  # the flow's validated input
Deps = TypeVar("Deps")  # the port the flow talks to, e.g. SalesCrm
Out = TypeVar("Out")  # what one step returns; stored as JSON in its step row

MARKER_PREFIX = "salesaga-"


def marker_for(saga_id: uuid.UUID) -> str:
    """The reference stamped on every record a saga creates, so a retry can find it again."""
    return f"{MARKER_PREFIX}{saga_id}"


def record_ids(output: object) -> tuple[str, ...]:
    """The ids of the records a step's output names (a dataclass or its JSON): `id` for a step
    that writes one record, `ids` for one that writes several of a kind (e.g. products)."""

    def field(name: str) -> object:
        return output.get(name) if isinstance(output, Mapping) else getattr(output, name, None)

    many = field("ids")
    if isinstance(many, list | tuple):
        return tuple(str(item) for item in many if item is not None)
    one = field("id")
    return (str(one),) if isinstance(one, str | int) and not isinstance(one, bool) else ()


class UndoKind(enum.StrEnum):
    """What a step's undo does to its record, so people are told in those words."""

    DELETE = "delete"  # the record is deleted from the CRM
    CANCEL_STAGE = "cancel_stage"  # moved to a stage meaning cancelled: it stays in the CRM
    NONE = "none"  # the CRM's API cannot remove it: an operator must, by hand


@dataclass(frozen=True, slots=True)
class StepContext(Generic[In]):
    saga_id: uuid.UUID
    input: In
    outputs: Mapping[str, object]  # decoded outputs of the steps already done, by step name

    @property
    def marker(self) -> str:
        return marker_for(self.saga_id)

    def output(self, step: str, kind: type[Out]) -> Out:
        value = self.outputs[step]
        if not isinstance(value, kind):
            raise TypeError(f"{step!r} gave {type(value).__name__}, not {kind.__name__}")
        return value


Run = Callable[[StepContext[Any], Any], Awaitable[Any]]
Undo = Callable[[StepContext[Any], Any, Any], Awaitable[None]]
Find = Callable[[StepContext[Any], Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Step(Generic[In, Deps, Out]):
    """One forward action.

    `undo` reverses a done step (None: nothing to reverse, e.g. a read). `find` looks for the effect
    of an earlier, interrupted try by the saga's marker: a retry adopts it instead of duplicating.
    `irreversible` marks a write with no undo: a rollback past it ends `needs_manual_cleanup`.
    `record` names what the output is for people ("Deal"); the output then has an `id`, or
    `ids` and a `kind` for a step that writes several records of one kind (`record_ids`).
    `undo_kind` says what the undo does to that record (None: DELETE when there is an undo,
    NONE for an irreversible write).
    """

    name: str
    run: Callable[[StepContext[In], Deps], Awaitable[Out]]
    output: type[Out]
    undo: Callable[[StepContext[In], Deps, Out], Awaitable[None]] | None = None
    find: Callable[[StepContext[In], Deps], Awaitable[Out | None]] | None = None
    irreversible: bool = False
    record: str | None = None
    retry: RetryPolicy | None = None  # None: the engine's default
    undo_kind: UndoKind | None = None
    # A step writing several records may fail after some: what its tries left behind, listed
    # for people when it failed (its failure is then always looked into). Its `run` must itself
    # find and keep what an earlier try made, as `find` adopts only a whole effect.
    leftovers: Callable[[StepContext[In], Deps], Awaitable[Out | None]] | None = None

    @property
    def undo_says(self) -> UndoKind | None:
        """What the undo does to the record: None for a step that writes no record."""
        if self.record is None:
            return None
        if self.undo_kind is not None:
            return self.undo_kind
        return UndoKind.DELETE if self.undo is not None else UndoKind.NONE


@dataclass(frozen=True, slots=True)
class Flow(Generic[In, Deps]):
    """A saga definition. `backend` names the CRM backend whose adapter its steps get;
    `input_model` is what callers send (a model with `to_input()` and `subject()`, validated
    by the intake), `input_type` what the steps read."""

    name: str
    input_type: type[In]
    steps: tuple[Step[In, Deps, Any], ...]
    backend: str = ""
    input_model: type[Any] | None = None
    title: str = ""  # one line for people, e.g. "Zoho CRM: Deal, Quote, Sales Order"
    # A check of a valid input against what the bound adapter can do, before anything is
    # written: (field of the input, what is wrong with it), or None when it can run.
    admit: Callable[[In, Deps], tuple[str, str] | None] | None = None
    undo_retry: RetryPolicy | None = None  # None: the engine's default
    deadline_s: float | None = None  # None: the engine's default
    retryable: bool = True  # may an operator resume it forward after it failed?
    describe: Callable[[In], str] | None = field(default=None)  # who/what, for people

    def step(self, name: str) -> Step[In, Deps, Any]:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)
