"""Console sessions on the server: opened at login, looked up on every console request, ended at
logout. One statement each (autocommit on PostgreSQL; a short transaction on SQLite).

The cookie carries a random token; only its SHA-256 is stored, so the table leaks no session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.store.db import single_statement
from orchestrator.store.models import ConsoleSessionRow

SESSION = ConsoleSessionRow.__table__  # type: ignore[attr-defined]
KEEP_ENDED = timedelta(days=1)  # ended or expired rows are deleted this long after


@dataclass(frozen=True, slots=True)
class StoredSession:
    actor: str
    key_fingerprint: str
    csrf: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(db: AsyncEngine, token: str, session: StoredSession, now: datetime) -> None:
    """Store a new session (and drop the rows long expired or ended, so the table stays small)."""
    async with db.begin() as conn:
        await conn.execute(
            sa.delete(SESSION).where(
                sa.or_(
                    SESSION.c.expires_at < now - KEEP_ENDED, SESSION.c.ended_at < now - KEEP_ENDED
                )
            )
        )
        await conn.execute(
            sa.insert(SESSION).values(
                token_hash=token_hash(token),
                actor=session.actor,
                key_fingerprint=session.key_fingerprint,
                csrf=session.csrf,
                created_at=now,
                expires_at=session.expires_at,
            )
        )


async def find_session(db: AsyncEngine, token: str, now: datetime) -> StoredSession | None:
    """The live session of this token: not ended, not expired."""
    query = sa.select(
        SESSION.c.actor, SESSION.c.key_fingerprint, SESSION.c.csrf, SESSION.c.expires_at
    ).where(
        SESSION.c.token_hash == token_hash(token),
        SESSION.c.ended_at.is_(None),
        SESSION.c.expires_at > now,
    )
    async with single_statement(db).connect() as conn:  # every console page: no BEGIN/ROLLBACK
        row = (await conn.execute(query)).first()
    return StoredSession(*row) if row is not None else None


async def end_session(db: AsyncEngine, token: str, now: datetime) -> bool:
    """Log out: the token is refused from now on, in every process. False: it was not live."""
    async with db.begin() as conn:
        result = await conn.execute(
            sa.update(SESSION)
            .where(SESSION.c.token_hash == token_hash(token), SESSION.c.ended_at.is_(None))
            .values(ended_at=now)
        )
    return bool(result.rowcount)
