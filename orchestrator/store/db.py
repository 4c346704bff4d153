"""Async database engine from DATABASE_URL: PostgreSQL (psycopg 3) or SQLite (aiosqlite).

Plain URLs are accepted (`postgresql://…`, `sqlite:///file.db`) and given the async driver.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from orchestrator.store import models  # noqa: F401 - registers the tables on SQLModel.metadata

SQLITE_BUSY_TIMEOUT_MS = 10_000


def async_url(url: str) -> str:
    """Give a plain database URL its async driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like postgresql://… or sqlite:///…")
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database {base!r}: use postgresql or sqlite")


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    target = async_url(url)
    if target.startswith("sqlite"):
        engine = create_async_engine(
            target, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        target, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def create_schema(engine: AsyncEngine) -> None:
    """Create missing tables (schema migrations with alembic are a later issue)."""
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
