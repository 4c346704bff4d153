"""A saga change written to PostgreSQL in one network round trip.

The claim or record of a step is BEGIN, the saga row's compare-and-set, the step rows, the
event rows (and for an end the outbox rows and the NOTIFY), COMMIT. Sent one by one through
SQLAlchemy, each of those waits for its answer: five or six round trips, and as many turns of
psycopg's async wait machinery, a quarter of a worker's CPU. psycopg's pipeline mode sends them
all at once and reads the answers together; the transaction is the same, and a lost
compare-and-set rolls all of it back. SQLAlchemy has no pipeline API, hence the driver
connection and these few hand-written statements (generated from the table definitions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.types.json import Json
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestrator.store.db import SqlCounts


class _Lost(Exception):
    """The saga's version moved on: roll the whole change back."""


def _quoted(name: str) -> str:
    return f'"{name}"'


def update_sql(table: sa.Table, fields: Sequence[str], keys: Mapping[str, str]) -> str:
    sets = ", ".join(f"{_quoted(f)} = %(p_{f})s" for f in fields)
    where = " AND ".join(f"{_quoted(column)} = %({param})s" for column, param in keys.items())
    return f"UPDATE {_quoted(table.name)} SET {sets} WHERE {where}"


def insert_sql(table: sa.Table, fields: Sequence[str]) -> str:
    columns = ", ".join(_quoted(f) for f in fields)
    values = ", ".join(f"%({f})s" for f in fields)
    return f"INSERT INTO {_quoted(table.name)} ({columns}) VALUES ({values})"


def json_columns(table: sa.Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, sa.JSON))


def adapted(values: Mapping[str, Any], json: Iterable[str], prefix: str = "") -> dict[str, Any]:
    """Values as psycopg takes them: JSON columns wrapped (None stays SQL NULL)."""
    out = dict(values)
    for name in json:
        key = f"{prefix}{name}"
        if key in out and out[key] is not None:
            out[key] = Json(out[key])
    return out


async def apply_pipelined(
    conn: AsyncConnection,
    compare_and_set: tuple[str, dict[str, Any]],
    writes: Sequence[tuple[str, Sequence[dict[str, Any]]]],
) -> bool:
    """Run the saga row's UPDATE (it must touch one row), then every (statement, rows) of
    `writes`, in one transaction: BEGIN and every statement go out as one batch, COMMIT as a
    second. False, and nothing written, when the compare-and-set matched no row."""
    raw = await conn.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    statements = 1
    try:
        async with driver.pipeline() as pipeline, driver.transaction():
            guard, rest = driver.cursor(), driver.cursor()
            sql, params = compare_and_set
            await guard.execute(sql.encode(), params)
            for statement, rows in writes:
                if rows:
                    await rest.executemany(statement.encode(), rows)
                    statements += len(rows)
            await pipeline.sync()  # the first round trip: every result is in
            if guard.rowcount != 1:
                raise _Lost  # leaves the transaction block: ROLLBACK
    except _Lost:
        _count(conn, statements, committed=False)
        return False
    except (psycopg.OperationalError, psycopg.InterfaceError):
        # The server went away: as SQLAlchemy does on a disconnect it sees, drop this
        # connection and every other one the pool holds (they all died with it).
        await conn.invalidate()
        await conn.engine.dispose(close=False)
        raise
    _count(conn, statements, committed=True)
    return True


def _count(conn: AsyncConnection, statements: int, *, committed: bool) -> None:
    counts = SqlCounts.of(conn.engine)
    if counts is not None:
        counts.add(statements=statements, committed=committed)
