"""Shared access-token cache port: one token for every worker, refreshed by one of them at a time.

Zoho allows 10 token refreshes per 10 minutes and 15 live tokens per refresh token, so N workers
refreshing independently would lock each other out (shared/reference/zoho-crm.md §1.5).
Pure Python; the SQL implementation is orchestrator/store/token_cache.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

REFRESH_MARGIN_S = 60.0  # refresh this long before expiry so no call carries a dying token


@dataclass(frozen=True, slots=True)
class CachedToken:
    value: str
    expires_at: float  # epoch seconds

    def fresh(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at - REFRESH_MARGIN_S


Fetch = Callable[[], Awaitable[CachedToken]]


class TokenCache(Protocol):
    async def get(self, key: str) -> CachedToken | None:
        """The cached token for `key`, fresh or not; None when there is none."""
        ...

    async def refresh(self, key: str, fetch: Fetch, *, stale: str | None) -> CachedToken:
        """Under a lock shared by all processes: return the cached token if it is fresh and not
        `stale` (the value a caller just saw rejected); else call `fetch`, store and return it."""
        ...


class InMemoryTokenCache:
    """TokenCache for one process (tests, single-process dev)."""

    def __init__(self) -> None:
        self._tokens: dict[str, CachedToken] = {}
        self._lock = asyncio.Lock()

    async def get(self, key: str) -> CachedToken | None:
        return self._tokens.get(key)

    async def refresh(self, key: str, fetch: Fetch, *, stale: str | None) -> CachedToken:
        async with self._lock:
            current = self._tokens.get(key)
            if current is not None and current.fresh() and current.value != stale:
                return current
            token = await fetch()
            self._tokens[key] = token
            return token
