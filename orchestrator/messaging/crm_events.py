"""Events CRMs push to us (webhooks): stored before they are answered, a redelivery recognised
and not stored twice, a malformed one kept as rejected; an event about a record a saga made is
written into that saga's event log (`crm.<trigger>`), and `find_event` lets an adapter find
what a lost answer created (OpenContext.events).

Core statements on the SQLModel tables, like orchestrator/messaging/store.py.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orchestrator.saga.definition import MARKER_PREFIX
from orchestrator.store.models import CrmEventRow
from orchestrator.store.sql_store import EVENT, SAGA, reachable

CRM_EVENT = CrmEventRow.__table__  # type: ignore[attr-defined]
MARKER = re.compile(re.escape(MARKER_PREFIX) + r"([0-9a-f-]{36})")
MAX_LIST = 500


@dataclass(frozen=True, slots=True)
class Received:
    """One event as it came: which backend and trigger, its delivery id, its fields."""

    backend: str
    trigger: str
    delivery: str | None
    payload: dict[str, Any]
    record_id: str | None  # the CRM record it is about


@dataclass(frozen=True, slots=True)
class Taken:
    event_id: int
    duplicate: bool  # this delivery was stored before: nothing new
    saga_id: uuid.UUID | None  # the saga whose record it is about, when known


async def take_event(db: AsyncEngine, event: Received, *, now: datetime) -> Taken:
    """Store the event (once per delivery) and, when it is about a saga's record, note it in
    that saga's event log — one transaction, committed before the CRM is answered."""
    text = json.dumps(event.payload, sort_keys=True, ensure_ascii=False)
    try:
        return await _take(db, event, text, now)
    except IntegrityError:  # the same delivery, stored by another process meanwhile
        return Taken(0, True, None)


async def _take(db: AsyncEngine, event: Received, text: str, now: datetime) -> Taken:
    async with reachable(), db.begin() as conn:
        earlier = await _same_delivery(conn, event)
        if earlier is not None:
            return Taken(int(earlier.id), True, earlier.saga_id)
        saga_id = await _saga_of(conn, event, text)
        values = {"received_at": now, "backend": event.backend, "trigger": event.trigger,
                  "delivery": event.delivery, "payload": text, "status": "stored",
                  "record_id": event.record_id, "saga_id": saga_id}  # fmt: skip
        event_id = await _insert(conn, values)
        if saga_id is not None:
            await conn.execute(sa.insert(EVENT).values(
                saga_id=saga_id, at=now, kind=f"crm.{event.trigger}", actor=event.backend,
                detail=_detail(event, event_id),
            ))  # fmt: skip
    return Taken(event_id, False, saga_id)


async def reject_event(
    db: AsyncEngine, *, backend: str, trigger: str, payload: str, reason: str, now: datetime
) -> int:
    """Keep an event that could not be read, with the reason (answered 4xx)."""
    values = {"received_at": now, "backend": backend[:40], "trigger": trigger[:60],
              "payload": payload, "status": "rejected", "reason": reason}  # fmt: skip
    async with reachable(), db.begin() as conn:
        return await _insert(conn, values)


async def list_events(
    db: AsyncEngine, *, saga_id: uuid.UUID | None = None, status: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:  # fmt: skip
    query = sa.select(CRM_EVENT).order_by(CRM_EVENT.c.id.desc()).limit(min(limit, MAX_LIST))
    if saga_id is not None:
        query = query.where(CRM_EVENT.c.saga_id == saga_id)
    if status is not None:
        query = query.where(CRM_EVENT.c.status == status)
    async with reachable(), db.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [_json(row) for row in rows]


@dataclass(frozen=True, slots=True)
class SqlEventLookup:
    """OpenContext.events: what an adapter asks to find a record a lost answer created."""

    db: AsyncEngine

    async def find_event(self, backend: str, trigger: str, contains: str) -> dict[str, Any] | None:
        query = (
            sa.select(CRM_EVENT.c.payload)
            .where(
                CRM_EVENT.c.backend == backend,
                CRM_EVENT.c.trigger == trigger,
                CRM_EVENT.c.status == "stored",
                CRM_EVENT.c.payload.contains(contains, autoescape=True),
            )
            .order_by(CRM_EVENT.c.id.desc())
            .limit(1)
        )
        async with reachable(), self.db.connect() as conn:
            text = await conn.scalar(query)
        found = json.loads(text) if isinstance(text, str) else None
        return found if isinstance(found, dict) else None


async def _same_delivery(conn: AsyncConnection, event: Received) -> Any:
    if event.delivery is None:
        return None
    query = sa.select(CRM_EVENT.c.id, CRM_EVENT.c.saga_id).where(
        CRM_EVENT.c.backend == event.backend, CRM_EVENT.c.delivery == event.delivery
    )
    return (await conn.execute(query)).first()


async def _saga_of(conn: AsyncConnection, event: Received, text: str) -> uuid.UUID | None:
    """The saga's marker in the event, else an earlier event about the same record that had it."""
    for match in MARKER.finditer(text):
        saga_id = uuid.UUID(match.group(1))
        if await conn.scalar(sa.select(SAGA.c.id).where(SAGA.c.id == saga_id)) is not None:
            return saga_id
    if event.record_id is None:
        return None
    query = (
        sa.select(CRM_EVENT.c.saga_id)
        .where(
            CRM_EVENT.c.backend == event.backend,
            CRM_EVENT.c.record_id == event.record_id,
            CRM_EVENT.c.saga_id.is_not(None),
        )
        .order_by(CRM_EVENT.c.id.desc())
        .limit(1)
    )  # the newest: a record id is reused after a reset
    value = await conn.scalar(query)
    return value if isinstance(value, uuid.UUID) else None


async def _insert(conn: AsyncConnection, values: dict[str, Any]) -> int:
    result = await conn.execute(sa.insert(CRM_EVENT).values(values).returning(CRM_EVENT.c.id))
    return int(result.scalar_one())


def _detail(event: Received, event_id: int) -> dict[str, Any]:
    detail: dict[str, Any] = {"eventId": event_id, "recordId": event.record_id}
    for key in ("stage", "name"):
        if isinstance(event.payload.get(key), str):
            detail[key] = event.payload[key]
    crm, stage = event.backend.capitalize(), detail.get("stage")
    if stage and "stage" in event.trigger:
        detail["said"] = f"stage changed in {crm} to {stage}"
    elif stage:
        detail["said"] = f"{event.trigger.replace('_', ' ')} in {crm} (stage {stage})"
    return detail


def _json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "receivedAt": row["received_at"].isoformat(), "backend": row["backend"],
        "trigger": row["trigger"], "delivery": row["delivery"], "status": row["status"],
        "reason": row["reason"], "recordId": row["record_id"],
        "sagaId": str(row["saga_id"]) if row["saga_id"] else None,
        "payload": row["payload"],
    }  # fmt: skip
