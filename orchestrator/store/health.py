"""What the console's home page shows at a glance, read from the state table in a few grouped
queries over indexed columns (saga.created_at, saga.status, dead_letter.status,
crm_event.received_at, worker.state):

- sagas started per 5 minutes over the last day, by the status each has now;
- per flow, the sagas of the last day that ended: how many, how many did not succeed, and their
  durations (created → finished) as counts per bucket, from which p50/p95 are read the way
  Prometheus' histogram_quantile reads them (an estimate inside one bucket, said "≈");
- the sagas waiting for an operator, the oldest first;
- workers alive, dead letters not replayed, webhook events of the last day, e-mails not sent.

One statement per figure, each on its own autocommit connection on PostgreSQL (no BEGIN and
ROLLBACK around a read). The console caches the whole for a few seconds (console/health.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.store.db import single_statement
from orchestrator.store.models import CrmEventRow, DeadLetterRow, OutboxRow, UtcDateTime
from orchestrator.store.sql_store import SAGA

BUCKET_S = 300  # the day's chart has 288 five-minute buckets (the hour's: the last 12)
DAY = timedelta(days=1)
# seconds; at most 1.5× apart, so that a p95 read inside one is off by at most half its width
DURATION_BOUNDS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.5, 6.5, 10.0, 15.0,
                   20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0,
                   1800.0, 3600.0)  # fmt: skip
NEEDS_OPERATOR = ("compensation_failed", "needs_manual_cleanup")
NOT_SUCCEEDED = ("failed", "compensated", "compensation_failed", "needs_manual_cleanup")
DEAD_LETTER = DeadLetterRow.__table__  # type: ignore[attr-defined]
CRM_EVENT = CrmEventRow.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Ended:
    """Sagas of one flow that ended within the window: by status, and their durations as
    counts per DURATION_BOUNDS bucket (the last one: longer than the last bound)."""

    flow: str
    by_status: dict[str, int]
    buckets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Waiting:
    id: uuid.UUID
    flow: str
    status: str
    error: str | None
    updated_at: datetime


def _seconds(dialect: str, later: Any, earlier: Any) -> Any:
    """`later − earlier` in seconds, as SQL."""
    if dialect == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


async def started_by_bucket(db: AsyncEngine, now: datetime) -> dict[tuple[int, str], int]:
    """(buckets ago: 0 = the last 5 minutes, status) → sagas started then (the last day)."""
    at_now = sa.literal(now, UtcDateTime())
    ago = sa.cast(sa.func.floor(_seconds(db.dialect.name, at_now, SAGA.c.created_at) / BUCKET_S),
                  sa.Integer)  # fmt: skip
    query = (
        sa.select(ago.label("ago"), SAGA.c.status, sa.func.count())
        .where(SAGA.c.created_at >= now - DAY, SAGA.c.created_at <= now)
        .group_by(ago, SAGA.c.status)
    )
    async with single_statement(db).connect() as conn:
        rows = (await conn.execute(query)).all()
    return {(int(a), str(status)): int(n) for a, status, n in rows}


async def ended_by_flow(db: AsyncEngine, now: datetime) -> list[Ended]:
    """Sagas started in the last day that have ended, per flow."""
    took = _seconds(db.dialect.name, SAGA.c.finished_at, SAGA.c.created_at)
    bucket = sa.case(
        *((took <= bound, index) for index, bound in enumerate(DURATION_BOUNDS)),
        else_=len(DURATION_BOUNDS),
    )
    query = (
        sa.select(SAGA.c.flow, SAGA.c.status, bucket.label("bucket"), sa.func.count())
        .where(SAGA.c.created_at >= now - DAY, SAGA.c.finished_at.is_not(None))
        .group_by(SAGA.c.flow, SAGA.c.status, bucket)
    )
    async with single_statement(db).connect() as conn:
        rows = (await conn.execute(query)).all()
    flows: dict[str, tuple[dict[str, int], list[int]]] = {}
    for flow, status, index, n in rows:
        by_status, buckets = flows.setdefault(str(flow), ({}, [0] * (len(DURATION_BOUNDS) + 1)))
        by_status[str(status)] = by_status.get(str(status), 0) + int(n)
        buckets[int(index)] += int(n)
    return [Ended(flow, s, tuple(b)) for flow, (s, b) in sorted(flows.items())]


async def waiting_for_operator(db: AsyncEngine, limit: int = 10) -> tuple[int, list[Waiting]]:
    """How many sagas wait for an operator, and the `limit` that have waited longest."""
    where = SAGA.c.status.in_(NEEDS_OPERATOR)
    oldest = (
        sa.select(SAGA.c.id, SAGA.c.flow, SAGA.c.status, SAGA.c.error, SAGA.c.updated_at)
        .where(where)
        .order_by(SAGA.c.updated_at)
        .limit(limit)
    )
    async with single_statement(db).connect() as conn:
        count = int(await conn.scalar(sa.select(sa.func.count()).where(where)) or 0)
        rows = (await conn.execute(oldest)).all() if count else []
    return count, [Waiting(r.id, str(r.flow), str(r.status), r.error, r.updated_at) for r in rows]


async def backlog(db: AsyncEngine, now: datetime) -> dict[str, int]:
    """Dead letters not replayed; the last day's webhook events: stored and tied to a saga,
    stored about no saga we know, rejected; e-mails and replies not sent yet."""
    tied = sa.func.sum(sa.case((CRM_EVENT.c.saga_id.is_not(None), 1), else_=0))
    events = (
        sa.select(CRM_EVENT.c.status, tied, sa.func.count())
        .where(CRM_EVENT.c.received_at >= now - DAY)
        .group_by(CRM_EVENT.c.status)
    )
    letters = sa.select(sa.func.count()).where(DEAD_LETTER.c.status == "new")
    unsent = sa.select(sa.func.count()).where(OUTBOX.c.status != "sent")
    out = {"dead_letters": 0, "webhooks_tied": 0, "webhooks_untied": 0, "webhooks_rejected": 0}
    async with single_statement(db).connect() as conn:
        out["dead_letters"] = int(await conn.scalar(letters) or 0)
        out["unsent"] = int(await conn.scalar(unsent) or 0)
        for status, with_saga, n in (await conn.execute(events)).all():
            if status == "rejected":
                out["webhooks_rejected"] += int(n)
            else:
                out["webhooks_tied"] += int(with_saga or 0)
                out["webhooks_untied"] += int(n) - int(with_saga or 0)
    return out
