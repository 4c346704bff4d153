"""Deliver queued notifications: the outbox row is written with the state change that caused it,
then sent here by the deliverer of its kind, and retried with backoff until it is taken.

Each notice is rendered at delivery time from the saga's persisted state (orchestrator/notify/
notices.py), and what was sent is kept on the row (recipient, subject, text) for operators.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.notify.notices import Deliverer
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.ports import Clock, utc_now
from orchestrator.saga.state import SagaState
from orchestrator.store.models import OutboxRow
from orchestrator.store.sql_store import load_saga

OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]
MAIL_ATTEMPTS = 1_000_000  # in effect forever: a notice is never dropped, only delayed
MAIL_RETRY = RetryPolicy(max_attempts=MAIL_ATTEMPTS, base_s=5.0, cap_s=300.0)
log = logging.getLogger(__name__)


class Outbox:
    def __init__(
        self,
        engine: AsyncEngine,
        deliverers: Mapping[str, Deliverer],  # by outbox kind
        *,
        clock: Clock = utc_now,
        retry: RetryPolicy = MAIL_RETRY,
        send_lease_s: float = 30.0,  # a sender that died mid-send is replaced after this
    ) -> None:
        self._engine, self._deliverers, self._clock, self._retry = engine, deliverers, clock, retry
        self._send_lease = timedelta(seconds=send_lease_s)

    async def deliver_for(self, saga_id: uuid.UUID) -> int:
        """Send this saga's due notifications now; returns how many were sent."""
        return await self._deliver(OUTBOX.c.saga_id == saga_id, limit=10)

    async def deliver_due(self, limit: int = 50) -> int:
        """Send every due notification (the periodic sweep)."""
        return await self._deliver(sa.true(), limit=limit)

    async def backlog(self) -> int:
        async with self._engine.connect() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.status != "sent")
            )
        return int(count or 0)

    async def _deliver(self, where: Any, *, limit: int) -> int:
        now = self._clock()
        query = (
            sa.select(OUTBOX.c.id)
            .where(where, OUTBOX.c.status != "sent", OUTBOX.c.next_attempt_at <= now)
            .order_by(OUTBOX.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            ids = list((await conn.scalars(query)).all())
        sent = 0
        for row_id in ids:
            sent += await self._deliver_one(row_id)
        return sent

    async def _deliver_one(self, row_id: int) -> int:
        row = await self._claim(row_id)
        if row is None:
            return 0  # another sender has it
        try:
            deliverer = self._deliverers.get(row["kind"])
            if deliverer is None:
                raise LookupError(f"no deliverer for notices of kind {row['kind']}")
            saga = await self._saga(row["saga_id"])
            sent = await deliverer.deliver(saga, f"salesaga.{row['saga_id']}.{row_id}")
        except Exception as exc:
            await self._failed(row_id, row["attempts"], exc)
            return 0
        await self._update(
            row_id,
            status="sent",
            sent_at=self._clock(),
            recipient=sent.recipient[:255],
            subject=sent.subject,
            body_text=sent.text,
            last_error=None,
        )
        return 1

    async def _claim(self, row_id: int) -> Any:
        now = self._clock()
        async with self._engine.begin() as conn:
            claimed = await conn.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id == row_id, OUTBOX.c.status != "sent")
                .where(OUTBOX.c.next_attempt_at <= now)
                .values(
                    status="sending",
                    attempts=OUTBOX.c.attempts + 1,
                    next_attempt_at=now + self._send_lease,
                )
                .returning(OUTBOX.c.saga_id, OUTBOX.c.attempts, OUTBOX.c.kind)
            )
            return claimed.mappings().first()

    async def _saga(self, saga_id: uuid.UUID) -> SagaState:
        async with self._engine.connect() as conn:
            saga = await load_saga(conn, saga_id)
        if saga is None:
            raise LookupError(f"saga {saga_id} is gone")
        return saga

    async def _failed(self, row_id: int, attempts: int, exc: Exception) -> None:
        delay = self._retry.delay(attempts)
        log.warning("notification %s not delivered (attempt %s): %s", row_id, attempts, exc)
        await self._update(
            row_id,
            status="pending",
            last_error=str(exc) or type(exc).__name__,
            next_attempt_at=self._clock() + timedelta(seconds=delay),
        )

    async def _update(self, row_id: int, **values: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sa.update(OUTBOX).where(OUTBOX.c.id == row_id).values(**values))
