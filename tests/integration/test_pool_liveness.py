"""The connection pool's liveness check (orchestrator/store/db.py): no `SELECT 1` before each
transaction, yet a pooled connection whose server side went away is replaced, not used."""

from __future__ import annotations

import os
import resource

import psycopg
import pytest
import sqlalchemy as sa

from orchestrator.store.db import make_engine
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
async def engine(pg_url):
    db = make_engine(pg_url, pool_size=1)
    yield db
    await db.dispose()


def _sent(monkeypatch) -> list[str]:
    """Every statement psycopg sends, the pool's own included (they bypass SQLAlchemy's events)."""
    seen: list[str] = []
    execute = psycopg.AsyncCursor.execute

    async def recording(self, query, *args, **kwargs):
        seen.append(str(query).strip())
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", recording)
    return seen


async def _backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.text("SELECT pg_backend_pid()")))


async def test_a_transaction_sends_no_ping(engine, monkeypatch):
    await _backend_pid(engine)  # the pool now holds one connection
    seen = _sent(monkeypatch)
    async with engine.begin() as conn:
        await conn.execute(sa.text("SELECT 42"))
    assert seen == ["SELECT 42"]


async def test_a_connection_the_server_ended_is_replaced_before_use(engine):
    first = await _backend_pid(engine)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        ended = admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first,)).fetchone()
    assert ended == (True,)
    # the same pool, the same (only) slot: the dead connection is noticed at checkout
    second = await _backend_pid(engine)
    assert second != first


async def test_a_connection_numbered_past_1024_is_not_taken_for_dead(pg_url):
    """The check must not use select(): an API with 1,000 clients open has such descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this machine allows only {hard} open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    fillers = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    db = make_engine(pg_url, pool_size=1)
    try:
        first = await _backend_pid(db)
        async with db.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw.pgconn.socket > 1024
        assert await _backend_pid(db) == first  # the same connection, used again
    finally:
        await db.dispose()
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
