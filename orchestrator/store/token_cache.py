"""SqlTokenCache: the shared CRM access token in the state database, refreshed by one process.

PostgreSQL serialises refreshes across processes with a transaction-scoped advisory lock; SQLite
with its database write lock, taken by a no-op UPDATE before the row is read.
"""

from __future__ import annotations

import asyncio
import zlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orchestrator.crm.tokens import CachedToken, Fetch
from orchestrator.store.models import CrmTokenRow

TOKEN = CrmTokenRow.__table__  # type: ignore[attr-defined]


class SqlTokenCache:
    """The token last read or refreshed is kept in the process while fresh: a CRM call costs no
    SQL read. A token revoked meanwhile is answered 401 by the CRM, and that refresh goes to
    the table (`stale`), where another process may have stored the new one already."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._local = asyncio.Lock()
        self._seen: dict[str, CachedToken] = {}

    async def get(self, key: str) -> CachedToken | None:
        seen = self._seen.get(key)
        if seen is not None and seen.fresh():
            return seen
        async with self._engine.connect() as conn:
            current = await _read(conn, key)
        if current is not None:
            self._seen[key] = current
        return current

    async def refresh(self, key: str, fetch: Fetch, *, stale: str | None) -> CachedToken:
        async with self._local, self._engine.begin() as conn:
            await _lock(conn, key)
            current = await _read(conn, key)
            if current is not None and current.fresh() and current.value != stale:
                self._seen[key] = current
                return current  # another process refreshed while we waited for the lock
            token = await fetch()
            await _write(conn, key, token, exists=current is not None)
        self._seen[key] = token
        return token


async def _lock(conn: AsyncConnection, key: str) -> None:
    """Hold a lock shared by every process until this transaction ends."""
    if conn.dialect.name == "postgresql":
        lock_id = zlib.crc32(key.encode())  # stable across processes, unlike hash()
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
    else:  # SQLite: any write statement takes the database's write lock, matching rows or not
        touch = sa.update(TOKEN).where(TOKEN.c.key == key).values(expires_at=TOKEN.c.expires_at)
        await conn.execute(touch)


async def _read(conn: AsyncConnection, key: str) -> CachedToken | None:
    row = (await conn.execute(sa.select(TOKEN).where(TOKEN.c.key == key))).mappings().first()
    return CachedToken(row["value"], row["expires_at"]) if row is not None else None


async def _write(conn: AsyncConnection, key: str, token: CachedToken, *, exists: bool) -> None:
    values = {"value": token.value, "expires_at": token.expires_at}
    if exists:
        await conn.execute(sa.update(TOKEN).where(TOKEN.c.key == key).values(values))
    else:
        await conn.execute(sa.insert(TOKEN).values(key=key, **values))
