"""A saga's end is pushed to its waiters (PostgreSQL LISTEN/NOTIFY), with the row as the
fallback: waiters of that saga are woken at its commit and told its outcome, others are not,
an outcome too long for a notification makes them read the row, and a lost listening
connection is made again (every waiter then reads the row)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from orchestrator.crm.errors import PermanentCrmError
from orchestrator.crm.protocol import OrderLine
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.store.endings import CHANNEL, FALLBACK_S, POLL_S, SagaEndings
from orchestrator.store.queries import saga_outcome
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


def sales_engine(db, crm: FakeSalesCrm | None = None) -> Engine:
    crm = crm or FakeSalesCrm({"P-1": Decimal("10")})
    return Engine(SqlSagaStore(db), {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=FAST)


async def test_the_end_of_a_saga_wakes_its_waiters_and_nobody_elses(db, endings):
    engine = sales_engine(db)
    mine = await engine.start(ZOHO_SALE.name, ORDER)
    other = await engine.start(ZOHO_SALE.name, ORDER)
    with endings.watch(mine.id) as ended, endings.watch(other.id) as not_ended:
        assert await engine.advance(mine.id) is None  # runs to the end and commits it
        await asyncio.wait_for(ended.event.wait(), 2)
        assert ended.outcome == ("succeeded", None)
        assert not not_ended.event.is_set()
        assert not_ended.outcome is None


async def test_the_notification_tells_a_rolled_back_sagas_status_and_error_as_the_row_does(
    db, endings
):
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    crm.fail_next("create_quote", PermanentCrmError("price book missing", code="INVALID_DATA"))
    engine = sales_engine(db, crm)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    with endings.watch(saga.id) as ended:
        await engine.advance(saga.id)
        await asyncio.wait_for(ended.event.wait(), 2)
    row = await saga_outcome(db, saga.id)
    assert row is not None and row[0] == "compensated" and "price book missing" in str(row[1])
    assert ended.outcome == row


async def test_an_outcome_too_long_to_notify_wakes_the_waiter_without_one(db, endings):
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    crm.fail_next("create_quote", PermanentCrmError("x" * 9_000, code="INVALID_DATA"))
    engine = sales_engine(db, crm)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    with endings.watch(saga.id) as ended:
        await engine.advance(saga.id)  # a payload of 8,000 bytes would fail the write itself
        await asyncio.wait_for(ended.event.wait(), 2)
    assert ended.outcome is None  # so the waiter reads the row
    row = await saga_outcome(db, saga.id)
    assert row is not None and row[0] == "compensated"


async def test_a_watch_begun_before_the_dispatch_needs_no_first_read_while_listening(endings):
    with endings.before_dispatch() as (watch, follow):
        saga_id = uuid.uuid4()
        await follow(saga_id)
        assert watch.early
        endings._announce(f"{saga_id} " + '{"status": "failed", "error": "no contact"}')
        assert watch.event.is_set() and watch.outcome == ("failed", "no contact")
    assert saga_id not in endings._waiters  # forgotten once the request is answered


async def test_a_lost_listening_connection_is_made_again(db, endings, pg_url):
    with endings.before_dispatch() as (waiting, follow):
        await follow(uuid.uuid4())  # a waiter that counted on hearing its saga's end
        assert waiting.early
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
        # an end may have passed unheard: the waiter is woken to read the row
        assert waiting.event.is_set() and waiting.outcome is None and not waiting.early
    engine = sales_engine(db)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    with endings.watch(saga.id) as ended:
        await engine.advance(saga.id)
        await asyncio.wait_for(ended.event.wait(), 2)
    assert ended.outcome == ("succeeded", None)


async def test_without_postgresql_waiters_read_the_table_often(sqlite_url):
    endings = SagaEndings(sqlite_url)
    await endings.start()
    assert endings.interval_s == POLL_S
    await endings.aclose()
