"""SQL for messages: the dead_letter table (record, list, load, mark replayed), and the
`message.received` event that ties a saga to the message that started it.

Core statements on the SQLModel tables, like orchestrator/store/sql_store.py.
"""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.store.models import DeadLetterRow
from orchestrator.store.sql_store import EVENT, reachable

DEAD_LETTER = DeadLetterRow.__table__  # type: ignore[attr-defined]
MAX_LIST = 500


class DeadLetterStatus(enum.StrEnum):
    NEW = "new"
    REPLAYED = "replayed"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    received_at: datetime
    source: str
    message_id: str | None
    payload: str  # JSON text as sent, or its repr when it was not JSON
    reason: str
    status: DeadLetterStatus
    replayed_at: datetime | None
    replay_saga_id: uuid.UUID | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "receivedAt": self.received_at.isoformat(),
            "source": self.source,
            "messageId": self.message_id,
            "payload": self.payload,
            "reason": self.reason,
            "status": self.status.value,
            "replayedAt": self.replayed_at.isoformat() if self.replayed_at else None,
            "replaySagaId": str(self.replay_saga_id) if self.replay_saga_id else None,
        }


def pretty_payload(payload: str) -> str:
    """A stored payload indented for reading (as is when it was not JSON: its repr)."""
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


def payload_text(payload: object) -> str:
    """The payload as JSON text; what JSON cannot hold (bytes, NaN, objects) as its repr."""
    try:
        return json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return repr(payload)


async def record_dead_letter(
    db: AsyncEngine,
    *,
    source: str,
    message_id: str | None,
    payload: str,
    reason: str,
    now: datetime,
) -> tuple[int, bool]:
    """Keep the message; returns (its id, True if a new row was written).

    The same message received again (a redelivery) while its dead letter is still `new` gets
    that row back instead of a second one.
    """
    async with reachable(), db.begin() as conn:
        if message_id is not None:
            same = sa.select(DEAD_LETTER.c.id).where(
                DEAD_LETTER.c.source == source,
                DEAD_LETTER.c.message_id == message_id,
                DEAD_LETTER.c.payload == payload,
                DEAD_LETTER.c.status == DeadLetterStatus.NEW.value,
            )
            earlier = await conn.scalar(same.limit(1))
            if earlier is not None:
                return int(earlier), False
        values = {
            "received_at": now,
            "source": source,
            "message_id": message_id,
            "payload": payload,
            "reason": reason,
            "status": DeadLetterStatus.NEW.value,
        }
        inserted = await conn.execute(
            sa.insert(DEAD_LETTER).values(values).returning(DEAD_LETTER.c.id)
        )
        return int(inserted.scalar_one()), True


async def list_dead_letters(
    db: AsyncEngine, *, status: DeadLetterStatus | None = None, limit: int = 50
) -> list[DeadLetter]:
    """Newest first."""
    query = sa.select(DEAD_LETTER).order_by(DEAD_LETTER.c.id.desc()).limit(min(limit, MAX_LIST))
    if status is not None:
        query = query.where(DEAD_LETTER.c.status == status.value)
    async with reachable(), db.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [_dead_letter(row) for row in rows]


async def load_dead_letter(db: AsyncEngine, dead_letter_id: int) -> DeadLetter | None:
    async with reachable(), db.connect() as conn:
        query = sa.select(DEAD_LETTER).where(DEAD_LETTER.c.id == dead_letter_id)
        row = (await conn.execute(query)).mappings().first()
    return _dead_letter(row) if row is not None else None


async def mark_replayed(
    db: AsyncEngine, dead_letter_id: int, saga_id: uuid.UUID, *, now: datetime
) -> bool:
    """False if it was replayed already (by someone else in the meantime)."""
    async with reachable(), db.begin() as conn:
        updated = await conn.execute(
            sa.update(DEAD_LETTER)
            .where(
                DEAD_LETTER.c.id == dead_letter_id,
                DEAD_LETTER.c.status == DeadLetterStatus.NEW.value,
            )
            .values(status=DeadLetterStatus.REPLAYED.value, replayed_at=now, replay_saga_id=saga_id)
        )
    return updated.rowcount == 1


async def note_received(
    db: AsyncEngine, saga_id: uuid.UUID, *, actor: str, detail: dict[str, Any], now: datetime
) -> None:
    """Append `message.received` to the saga's event log: which message started it, and its
    reply_to (kept for when replies are sent; docs/messaging.md, "Not yet")."""
    values = {"saga_id": saga_id, "at": now, "kind": "message.received", "actor": actor[:100],
              "detail": detail}  # fmt: skip
    async with reachable(), db.begin() as conn:
        await conn.execute(sa.insert(EVENT).values(values))


def _dead_letter(row: Any) -> DeadLetter:
    return DeadLetter(
        id=int(row["id"]),
        received_at=row["received_at"],
        source=row["source"],
        message_id=row["message_id"],
        payload=row["payload"],
        reason=row["reason"],
        status=DeadLetterStatus(row["status"]),
        replayed_at=row["replayed_at"],
        replay_saga_id=row["replay_saga_id"],
    )
