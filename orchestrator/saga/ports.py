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


class StoreUnavailable(Exception):
    """The state store cannot be reached right now (database down or restarting)."""


class SagaStore(Protocol):
    """Every method raises StoreUnavailable while the store cannot be reached."""

    async def create(
        self, saga: SagaState, event: Event, *, keys_expire_before: datetime | None = None
    ) -> None:
        """Insert the saga, its step rows and its first event in one transaction.

        An idempotency key held by a saga created before `keys_expire_before` is released first.
        Raises DuplicateIdempotencyKey when the key is taken."""
        ...

    async def load(self, saga_id: uuid.UUID) -> SagaState | None: ...

    async def apply(self, change: Change) -> bool:
        """Write the change if the saga row still has `expected_version`; False if not."""
        ...

    async def claim_due(
        self, now: datetime, limit: int, hold_until: datetime
    ) -> Sequence[uuid.UUID]:
        """Sagas not terminal whose wake_at has passed (lost message, dead worker, backoff over),
        their wake_at moved to `hold_until` so the next sweep does not send them again at once."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


def utc_now() -> datetime:
    return datetime.now(UTC)
