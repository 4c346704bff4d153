"""A saga's end is pushed to its waiters (PostgreSQL LISTEN/NOTIFY), with the row as the
fallback: waiters of that saga are woken at its commit, others are not, and a lost listening
connection is made again."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import sqlalchemy as sa

from orchestrator.crm.protocol import OrderLine
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.store.endings import CHANNEL, FALLBACK_S, POLL_S, SagaEndings
from orchestrator.store.sql_store import SqlSagaStore
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 2),))


@pytest.fixture
def db(pg_db):
    return pg_db


@pytest.fixture
async def endings(pg_url):
    listening = SagaEndings(pg_url)
    await listening.start()
    for _ in range(250):
        if listening.interval_s == FALLBACK_S:
            break
        await asyncio.sleep(0.02)
    assert listening.interval_s == FALLBACK_S, "never listening"
    yield listening
    await listening.aclose()


def sales_engine(db) -> Engine:
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    return Engine(SqlSagaStore(db), {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=FAST)


async def test_the_end_of_a_saga_wakes_its_waiters_and_nobody_elses(db, endings):
    engine = sales_engine(db)
    mine = await engine.start(ZOHO_SALE.name, ORDER)
    other = await engine.start(ZOHO_SALE.name, ORDER)
    with endings.watch(mine.id) as ended, endings.watch(other.id) as not_ended:
        assert await engine.advance(mine.id) is None  # runs to the end and commits it
        await asyncio.wait_for(ended.wait(), 2)
        assert not not_ended.is_set()


async def test_a_lost_listening_connection_is_made_again(db, endings, pg_url):
    async with db.begin() as conn:
        killed = await conn.scalar(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query = :listen AND pid <> pg_backend_pid() AND datname = current_database()"
        ), {"listen": f"LISTEN {CHANNEL}"})  # fmt: skip
    assert killed >= 1
    for _ in range(100):  # the waiters read the table meanwhile
        if endings.interval_s == POLL_S:
            break
        await asyncio.sleep(0.02)
    for _ in range(500):
        if endings.interval_s == FALLBACK_S:
            break
        await asyncio.sleep(0.02)
    assert endings.interval_s == FALLBACK_S, "not listening again"
    engine = sales_engine(db)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    with endings.watch(saga.id) as ended:
        await engine.advance(saga.id)
        await asyncio.wait_for(ended.wait(), 2)


async def test_without_postgresql_waiters_read_the_table_often(sqlite_url):
    endings = SagaEndings(sqlite_url)
    await endings.start()
    assert endings.interval_s == POLL_S
    await endings.aclose()
