"""Read-side queries for the API, CLI and console: one saga in full, and filtered lists."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.saga.state import SagaState
from orchestrator.store.db import single_statement
from orchestrator.store.sql_store import EVENT, OUTBOX, SAGA, STEP, load_saga

MAX_PAGE = 200
# built once (SQLAlchemy memoises its cache key): read by every waiting /createSales
_OUTCOME = sa.select(SAGA.c.status, SAGA.c.error).where(SAGA.c.id == sa.bindparam("w_id"))


@dataclass(frozen=True, slots=True)
class SagaDetail:
    saga: SagaState
    events: list[dict[str, Any]]
    notifications: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SagaFilter:
    status: str | None = None
    flow: str | None = None
    subject: str | None = None
    limit: int = 50
    cursor: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str | None = None  # over the saga id, contact id, CRM record ids and the error


@dataclass(frozen=True, slots=True)
class SagaPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


async def saga_outcome(db: AsyncEngine, saga_id: uuid.UUID) -> tuple[str, str | None] | None:
    """The saga's status word and error (the one that started its rollback), in one read:
    one statement, so on PostgreSQL no BEGIN and ROLLBACK around it (three round trips)."""
    async with single_statement(db).connect() as conn:
        row = (await conn.execute(_OUTCOME, {"w_id": saga_id})).first()
    return None if row is None else (str(row.status), row.error)


async def saga_detail(db: AsyncEngine, saga_id: uuid.UUID) -> SagaDetail | None:
    async with db.connect() as conn:
        saga = await load_saga(conn, saga_id)
        if saga is None:
            return None
        events = await conn.execute(
            sa.select(EVENT).where(EVENT.c.saga_id == saga_id).order_by(EVENT.c.id)
        )
        mails = await conn.execute(
            sa.select(OUTBOX).where(OUTBOX.c.saga_id == saga_id).order_by(OUTBOX.c.id)
        )
        return SagaDetail(
            saga, [dict(row) for row in events.mappings()], [dict(row) for row in mails.mappings()]
        )


async def list_sagas(db: AsyncEngine, where: SagaFilter) -> SagaPage:
    """Newest first; `cursor` continues after the last item of the previous page."""
    columns = (SAGA.c.id, SAGA.c.flow, SAGA.c.status, SAGA.c.subject, SAGA.c.error,
               SAGA.c.failed_step, SAGA.c.created_at, SAGA.c.finished_at)  # fmt: skip
    query: sa.Select[Any] = sa.select(*columns).order_by(SAGA.c.created_at.desc(), SAGA.c.id.desc())
    query = _filtered(query, where)
    if where.cursor:
        at, last_id = decode_cursor(where.cursor)
        query = query.where(
            sa.or_(SAGA.c.created_at < at, sa.and_(SAGA.c.created_at == at, SAGA.c.id < last_id))
        )
    limit = max(1, min(where.limit, MAX_PAGE))
    async with db.connect() as conn:
        rows = [dict(row) for row in (await conn.execute(query.limit(limit + 1))).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return SagaPage(rows, cursor)


def _filtered(query: sa.Select[Any], where: SagaFilter) -> sa.Select[Any]:
    for column, value in ((SAGA.c.status, where.status), (SAGA.c.flow, where.flow),
                          (SAGA.c.subject, where.subject)):  # fmt: skip
        if value:
            query = query.where(column == value)
    if where.created_from is not None:
        query = query.where(SAGA.c.created_at >= where.created_from)
    if where.created_to is not None:
        query = query.where(SAGA.c.created_at < where.created_to)
    if where.text:
        query = query.where(_matches_text(where.text.strip()))
    return query


def _matches_text(text: str) -> sa.ColumnElement[bool]:
    pattern = f"%{text.replace('%', '').replace('_', '')}%"
    in_records = sa.exists().where(
        STEP.c.saga_id == SAGA.c.id, sa.cast(STEP.c.output, sa.Text).like(pattern)
    )
    try:  # a whole saga id: compared as a UUID (SQLite stores it without hyphens)
        same_id: sa.ColumnElement[bool] = SAGA.c.id == uuid.UUID(text)
    except ValueError:
        same_id = sa.false()
    return sa.or_(
        same_id,
        SAGA.c.subject.like(pattern),
        SAGA.c.error.ilike(pattern),
        in_records,
    )


async def saga_counts(db: AsyncEngine) -> dict[str, dict[str, int]]:
    """How many sagas there are per status and per flow."""
    async with db.connect() as conn:
        by_status = await conn.execute(
            sa.select(SAGA.c.status, sa.func.count()).group_by(SAGA.c.status)
        )
        by_flow = await conn.execute(sa.select(SAGA.c.flow, sa.func.count()).group_by(SAGA.c.flow))
        return {
            "status": {str(k): int(n) for k, n in by_status.all()},
            "flow": {str(k): int(n) for k, n in by_flow.all()},
        }


async def events_after(
    db: AsyncEngine, after: int, saga_id: uuid.UUID | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Events newer than `after` (an event id), oldest first: what `tail` follows."""
    query = sa.select(EVENT).where(EVENT.c.id > after).order_by(EVENT.c.id).limit(limit)
    if saga_id is not None:
        query = query.where(EVENT.c.saga_id == saga_id)
    async with db.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def last_event_id(db: AsyncEngine) -> int:
    async with db.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(EVENT.c.id), 0))) or 0)


def encode_cursor(at: datetime, saga_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{saga_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Raises ValueError for a cursor this service did not make."""
    try:
        at, saga_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(saga_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not valid") from exc
