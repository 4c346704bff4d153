"""Shared fixtures: a fresh PostgreSQL database per test session, a Redis database, SQLite files,
each at this release's schema (as `salesaga db upgrade` leaves it: serve and worker refuse any
other). scratch_database() gives an empty one.

PostgreSQL and Redis are the real local servers (.ci/run starts them when they are down).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis

from orchestrator.store.db import make_engine
from orchestrator.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    name = f"salesaga_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated(url: str) -> str:
    """The database at `url` brought to head (what `salesaga db upgrade` does)."""

    async def run() -> None:
        engine = make_engine(url, pool_size=1)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    # in a thread of its own: an async fixture may ask for it while its loop runs
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
    return url


@contextlib.contextmanager
def migrated_database() -> Iterator[str]:
    """A new PostgreSQL database at head, dropped afterwards."""
    with scratch_database() as url:
        yield migrated(url)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of its own for this test session, shared by its in-process tests."""
    with migrated_database() as url:
        yield url


@pytest.fixture
def own_pg_url() -> Iterator[str]:
    """A database for one test alone: its workers' recovery sweeps must see no other test's
    sagas."""
    with migrated_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return migrated(f"sqlite:///{tmp_path / 'salesaga.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """Both supported databases: the embedded default and the production one."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")
