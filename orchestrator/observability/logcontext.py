"""Log context: values bound here appear on every log line of the task or request (structlog
contextvars, merged for stdlib `logging` calls too: see orchestrator/logging.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from orchestrator.saga.state import SagaState

_STEP_KEYS = ("step", "attempt")


@contextmanager
def log_context(**values: object) -> Iterator[None]:
    """Bind `values` inside the block; on exit the context is exactly as before, so keys bound
    deeper (a saga's id and flow, the running step) do not leak into the next task."""
    before = structlog.contextvars.get_contextvars()
    structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**before)


def bind_saga(saga: SagaState) -> None:
    structlog.contextvars.bind_contextvars(saga_id=str(saga.id), flow=saga.flow)


def bind_saga_id(saga_id: str) -> None:
    structlog.contextvars.bind_contextvars(saga_id=saga_id)


def bind_key(actor: str) -> None:
    """A request's lines say whose key sent it (`client:erp`), never the key itself."""
    structlog.contextvars.bind_contextvars(key=actor)


def bind_step(step: str | None, attempt: int | None) -> None:
    """While a step (or its undo) runs, the lines it causes say which step and which attempt."""
    structlog.contextvars.bind_contextvars(step=step, attempt=attempt)


def unbind_step() -> None:
    structlog.contextvars.unbind_contextvars(*_STEP_KEYS)
