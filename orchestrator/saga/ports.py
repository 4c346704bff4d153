"""The ports the engine needs: where sagas are stored and what time it is.

Pure typing. Implementations: orchestrator/store/sql_store.py (SQL) and orchestrator/saga/memory.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from orchestrator.saga.state import Change, Event, SagaState


class DuplicateIdempotencyKey(Exception):
    """A saga with this idempotency key exists already; `saga_id` names it."""

    def __init__(self, saga_id: uuid.UUID) -> None:
        super().__init__(f"idempotency key already used by saga {saga_id}")
        self.saga_id = saga_id


class SagaStore(Protocol):
    async def create(self, saga: SagaState, event: Event) -> None:
        """Insert the saga, its step rows and its first event in one transaction.

        Raises DuplicateIdempotencyKey when the key is taken."""
        ...

    async def load(self, saga_id: uuid.UUID) -> SagaState | None: ...

    async def apply(self, change: Change) -> bool:
        """Write the change if the saga row still has `expected_version`; False if not."""
        ...

    async def due(self, now: datetime, limit: int) -> Sequence[uuid.UUID]:
        """Sagas not terminal whose wake_at has passed (lost message, dead worker, backoff over)."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


def utc_now() -> datetime:
    return datetime.now(UTC)
