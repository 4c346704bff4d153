"""Server-side console sessions on SQLite and PostgreSQL: found while live, gone once ended or
expired, and only a hash of the token is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from orchestrator.store.console_sessions import (
    SESSION,
    StoredSession,
    end_session,
    find_session,
    open_session,
)


async def test_a_session_lives_until_it_is_ended_or_expires(any_db):
    now = datetime.now(UTC)
    live = StoredSession("operator:912cc499", "912cc499", "csrf-1", now + timedelta(hours=8))
    await open_session(any_db, "token-a", live, now)
    found = await find_session(any_db, "token-a", now)
    assert found is not None and found.actor == "operator:912cc499" and found.csrf == "csrf-1"
    assert await find_session(any_db, "token-b", now) is None
    assert await find_session(any_db, "token-a", now + timedelta(hours=8, seconds=1)) is None

    assert await end_session(any_db, "token-a", now) is True
    assert await find_session(any_db, "token-a", now) is None
    assert await end_session(any_db, "token-a", now) is False  # already ended

    async with any_db.connect() as conn:
        stored = (await conn.execute(sa.select(SESSION.c.token_hash))).scalars().all()
    assert stored and "token-a" not in stored and all(len(h) == 64 for h in stored)


async def test_a_login_deletes_rows_long_ended_or_expired(any_db):
    now = datetime.now(UTC)
    old = StoredSession("operator:a", "a", "c", now - timedelta(days=2))
    await open_session(any_db, "old-token", old, now - timedelta(days=3))
    fresh = StoredSession("operator:b", "b", "c", now + timedelta(hours=8))
    await open_session(any_db, "new-token", fresh, now)
    async with any_db.connect() as conn:
        actors = (await conn.execute(sa.select(SESSION.c.actor))).scalars().all()
    assert "operator:a" not in actors and "operator:b" in actors
