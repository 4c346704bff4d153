"""The engine on the SQL store (SQLite and PostgreSQL): same end states as in memory, plus the
compare-and-set that keeps two workers from making the same move."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from orchestrator.crm.errors import PermanentCrmError, TransientCrmError
from orchestrator.crm.protocol import OrderLine, RecordKind
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.saga.ports import DuplicateIdempotencyKey
from orchestrator.saga.state import SagaStatus, StepStatus
from orchestrator.store.db import make_engine
from orchestrator.store.queries import SagaFilter, list_sagas, saga_detail
from orchestrator.store.sql_store import SqlSagaStore
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 2),))


@pytest.fixture
def db(any_db):
    return any_db


def make_engine_for(db, crm) -> Engine:
    flows = {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}
    return Engine(SqlSagaStore(db), flows, retry=FAST, undo_retry=FAST)


async def run(engine: Engine, saga_id) -> None:
    while (wakeup := await engine.advance(saga_id)) is not None:
        await asyncio.sleep(wakeup.after_s)


async def test_success_round_trips_every_field(db):
    crm = FakeSalesCrm({"P-1": Decimal("12.50")})
    engine = make_engine_for(db, crm)
    saga = await engine.start(ZOHO_SALE.name, ORDER, subject="C-1")
    await run(engine, saga.id)
    detail = await saga_detail(db, saga.id)
    assert detail is not None
    loaded = detail.saga
    assert loaded.status is SagaStatus.SUCCEEDED
    assert loaded.wake_at is None and loaded.finished_at is not None
    assert loaded.finished_at.tzinfo is not None
    assert [s.status for s in loaded.steps] == [StepStatus.SUCCEEDED] * 4
    assert loaded.steps[0].output["lines"][0]["unit_price"] == "12.50"
    assert loaded.steps[1].output == {"kind": "deal", "id": "1"}
    kinds = [e["kind"] for e in detail.events]
    assert kinds[0] == "saga.created" and kinds[-1] == "saga.succeeded"
    assert kinds.count("step.succeeded") == 4
    assert detail.notifications == []


async def test_failure_writes_one_outbox_row_with_the_terminal_change(db):
    crm = FakeSalesCrm({"P-1": Decimal("1")})
    crm.fail_next("create_quote", PermanentCrmError("invalid data", code="INVALID_DATA"))
    engine = make_engine_for(db, crm)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    await run(engine, saga.id)
    detail = await saga_detail(db, saga.id)
    assert detail.saga.status is SagaStatus.COMPENSATED
    assert [n["kind"] for n in detail.notifications] == ["sale_failed"]
    assert detail.notifications[0]["status"] == "pending"
    assert crm.records == {}


async def test_a_stale_version_cannot_write(db):
    crm = FakeSalesCrm({"P-1": Decimal("1")})
    engine = make_engine_for(db, crm)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    store = SqlSagaStore(db)
    first = await store.load(saga.id)
    second = await store.load(saga.id)
    from orchestrator.saga.state import Change

    first.status = SagaStatus.RUNNING
    first.version += 1
    assert await store.apply(Change(first, expected_version=0))
    second.status = SagaStatus.COMPENSATING
    second.version += 1
    assert not await store.apply(Change(second, expected_version=0))  # lost the race
    assert (await store.load(saga.id)).status is SagaStatus.RUNNING


async def test_two_workers_advancing_at_once_create_each_record_once(db):
    crm = FakeSalesCrm({"P-1": Decimal("1")})
    engine = make_engine_for(db, crm)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    await asyncio.gather(*(run(engine, saga.id) for _ in range(4)))
    await run(engine, saga.id)
    assert (await SqlSagaStore(db).load(saga.id)).status is SagaStatus.SUCCEEDED
    assert crm.kinds() == [RecordKind.DEAL, RecordKind.QUOTE, RecordKind.SALES_ORDER]


async def test_retry_wait_makes_the_saga_due_later(db):
    crm = FakeSalesCrm({"P-1": Decimal("1")})
    crm.fail_next("create_deal", TransientCrmError("503", status=503))
    slow = Engine(SqlSagaStore(db), {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)})
    saga = await slow.start(ZOHO_SALE.name, ORDER)
    wakeup = await slow.advance(saga.id)
    assert wakeup is not None and 0.2 <= wakeup.after_s <= 0.5  # default: 0.5 s with jitter
    assert saga.id not in await slow.claim_due()
    loaded = await SqlSagaStore(db).load(saga.id)
    assert loaded.steps[1].status is StepStatus.RETRY_WAIT


async def test_idempotency_key_is_unique(db):
    engine = make_engine_for(db, FakeSalesCrm({}))
    first = await engine.start(ZOHO_SALE.name, ORDER, idempotency_key="k-1-" + str(id(db)))
    with pytest.raises(DuplicateIdempotencyKey) as caught:
        await engine.start(ZOHO_SALE.name, ORDER, idempotency_key="k-1-" + str(id(db)))
    assert caught.value.saga_id == first.id


async def test_list_filters_and_pages(db):
    engine = make_engine_for(db, FakeSalesCrm({"P-1": Decimal("1")}))
    subject = f"C-list-{id(db)}"
    ids = [(await engine.start(ZOHO_SALE.name, ORDER, subject=subject)).id for _ in range(5)]
    first = await list_sagas(db, SagaFilter(subject=subject, limit=3))
    assert len(first.items) == 3 and first.next_cursor
    rest = await list_sagas(db, SagaFilter(subject=subject, limit=3, cursor=first.next_cursor))
    seen = [row["id"] for row in first.items + rest.items]
    assert sorted(seen) == sorted(ids) and rest.next_cursor is None
    pending = await list_sagas(db, SagaFilter(subject=subject, status="succeeded"))
    assert pending.items == []


async def test_a_due_saga_is_claimed_by_one_sweep_and_held_back(db):
    engine = make_engine_for(db, FakeSalesCrm({"P-1": Decimal("1")}))
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    first, second = await asyncio.gather(engine.claim_due(), engine.claim_due())
    assert (saga.id in first) != (saga.id in second)  # exactly one sweep sends it
    assert saga.id not in await engine.claim_due()  # held back for recover_hold_s
    held = await SqlSagaStore(db).load(saga.id)
    assert held.wake_at > saga.created_at


async def test_an_expired_idempotency_key_is_released_for_a_new_saga(db):
    from datetime import timedelta

    key = f"k-ttl-{id(db)}"
    engine = make_engine_for(db, FakeSalesCrm({}))
    old = await engine.start(ZOHO_SALE.name, ORDER, idempotency_key=key)
    engine.clock = lambda: old.created_at + timedelta(days=2)  # the key's 24 h have passed
    new = await engine.start(ZOHO_SALE.name, ORDER, idempotency_key=key)
    assert new.id != old.id
    assert (await SqlSagaStore(db).load(old.id)).idempotency_key is None


async def test_a_database_that_is_gone_raises_store_unavailable():
    from orchestrator.saga.ports import StoreUnavailable

    engine = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    with pytest.raises(StoreUnavailable):
        await SqlSagaStore(engine).load(uuid.uuid4())
    await engine.dispose()
