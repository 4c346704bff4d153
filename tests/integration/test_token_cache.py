"""The shared CRM token: many processes (here: separate engines and pools) refresh it once."""

from __future__ import annotations

import asyncio
import time

from orchestrator.crm.tokens import CachedToken
from orchestrator.store.db import create_schema, make_engine
from orchestrator.store.token_cache import SqlTokenCache


async def test_concurrent_refreshes_from_separate_pools_fetch_once(db_url):
    engines = [make_engine(db_url) for _ in range(3)]
    await create_schema(engines[0])
    fetched = []

    async def fetch() -> CachedToken:
        fetched.append(1)
        await asyncio.sleep(0.2)  # a slow token endpoint widens the race
        return CachedToken(f"token-{len(fetched)}", time.time() + 3600)

    key = f"zoho:test-{id(engines)}"
    caches = [SqlTokenCache(engine) for engine in engines]
    tokens = await asyncio.gather(*(c.refresh(key, fetch, stale=None) for c in caches * 2))
    assert len(fetched) == 1
    assert {t.value for t in tokens} == {"token-1"}
    assert (await caches[2].get(key)).value == "token-1"
    for engine in engines:
        await engine.dispose()


async def test_a_rejected_token_is_replaced_once(db_url):
    engine = make_engine(db_url)
    await create_schema(engine)
    cache = SqlTokenCache(engine)
    key = f"zoho:stale-{id(engine)}"
    calls = []

    async def fetch() -> CachedToken:
        calls.append(1)
        return CachedToken(f"t{len(calls)}", time.time() + 3600)

    first = await cache.refresh(key, fetch, stale=None)
    again = await cache.refresh(key, fetch, stale=None)  # fresh: no new fetch
    replaced = await cache.refresh(key, fetch, stale=first.value)  # rejected by the CRM
    assert (first.value, again.value, replaced.value) == ("t1", "t1", "t2")
    await engine.dispose()
