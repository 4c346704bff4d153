"""An in-memory SagaStore and run_to_end(): drive a flow in-process, without SQL or a broker.

For unit tests and dry runs of a flow against a fake CRM. Same semantics as the SQL store:
compare-and-set on the saga version, idempotency keys unique.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from orchestrator.saga.definition import Flow
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.ports import DuplicateIdempotencyKey
from orchestrator.saga.state import Change, Event, SagaState


class InMemorySagaStore:
    def __init__(self) -> None:
        self.sagas: dict[uuid.UUID, SagaState] = {}
        self.events: dict[uuid.UUID, list[Event]] = {}
        self.outbox: list[tuple[uuid.UUID, str]] = []

    async def create(
        self, saga: SagaState, event: Event, *, keys_expire_before: datetime | None = None
    ) -> None:
        for other in self.sagas.values():
            if not saga.idempotency_key or other.idempotency_key != saga.idempotency_key:
                continue
            expired = (
                keys_expire_before and other.created_at and other.created_at < keys_expire_before
            )
            if not expired:
                raise DuplicateIdempotencyKey(other.id)
            other.idempotency_key = None
        self.sagas[saga.id] = copy.deepcopy(saga)
        self.events[saga.id] = [event]

    async def load(self, saga_id: uuid.UUID) -> SagaState | None:
        saga = self.sagas.get(saga_id)
        return copy.deepcopy(saga) if saga is not None else None

    async def apply(self, change: Change) -> bool:
        stored = self.sagas.get(change.saga.id)
        if stored is None or stored.version != change.expected_version:
            return False
        self.sagas[change.saga.id] = copy.deepcopy(change.saga)
        self.events[change.saga.id].extend(change.events)
        self.outbox.extend((change.saga.id, kind) for kind in change.notify)
        return True

    async def claim_due(
        self, now: datetime, limit: int, hold_until: datetime
    ) -> Sequence[uuid.UUID]:
        due = [s for s in self.sagas.values() if s.wake_at is not None and s.wake_at <= now]
        for saga in due[:limit]:
            saga.wake_at = hold_until
        return [saga.id for saga in due[:limit]]


FAST = RetryPolicy(max_attempts=4, base_s=0.0, cap_s=0.0)


async def run_to_end(
    flow: Flow[Any, Any],
    payload: object,
    deps: Any,
    *,
    store: InMemorySagaStore | None = None,
    retry: RetryPolicy = FAST,
    undo_retry: RetryPolicy = FAST,
) -> SagaState:
    """Start a saga and advance it until it is terminal, sleeping through backoffs."""
    store = store if store is not None else InMemorySagaStore()
    engine = Engine(store, {flow.name: BoundFlow(flow, deps)}, retry=retry, undo_retry=undo_retry)
    saga = await engine.start(flow.name, payload)
    while True:
        wakeup = await engine.advance(saga.id)
        if wakeup is None:
            break
        await asyncio.sleep(wakeup.after_s)  # the backoff itself, by design
    final = await store.load(saga.id)
    assert final is not None
    return final
