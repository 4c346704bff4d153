"""Worker liveness on SQLite and PostgreSQL: beats, the takeover of a dead worker's steps, the
late write of the dead worker found by marker (no duplicate), release on shutdown."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from orchestrator.crm.protocol import OrderLine, RecordKind, RecordRef
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.saga.state import SagaStatus, StepStatus
from orchestrator.store.liveness import WORKER, WorkerRegistry
from orchestrator.store.queries import saga_detail
from orchestrator.store.sql_store import SqlSagaStore
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 2),))
DEAD_AFTER_S = 8.0
RUN = uuid.uuid4().hex[:6]  # PostgreSQL is shared by the session: ids of this run alone


class HeldDealCrm(FakeSalesCrm):
    """create_deal waits for `land` before its record is made: a call in flight."""

    def __init__(self) -> None:
        super().__init__({"P-1": Decimal("10")})
        self.entered = asyncio.Event()
        self.land = asyncio.Event()

    async def create_deal(self, order, *, marker: str) -> RecordRef:  # type: ignore[override]
        if not self.entered.is_set():
            self.entered.set()
            await self.land.wait()
        return await super().create_deal(order, marker=marker)


@pytest.fixture
def db(own_db):
    """A database of this test's own: a worker another test left running must not take its
    steps over first (the takeover is what these tests make happen)."""
    return own_db


def engine_for(db, crm, holder: str) -> Engine:
    flows = {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}
    return Engine(SqlSagaStore(db), flows, retry=FAST, undo_retry=FAST, holder=holder,
                  lease_s=120)  # fmt: skip


async def silent_for(db, worker_id: str, seconds: float) -> None:
    """A worker that beat, then nothing for `seconds` (as if it died then)."""
    await WorkerRegistry(db).beat(worker_id, "h", 1)
    async with db.begin() as conn:
        beat_at = await conn.scalar(sa.select(WORKER.c.beat_at).where(WORKER.c.id == worker_id))
        await conn.execute(sa.update(WORKER).where(WORKER.c.id == worker_id)
                           .values(beat_at=beat_at - timedelta(seconds=seconds)))  # fmt: skip


async def run(engine: Engine, saga_id) -> None:
    while (wakeup := await engine.advance(saga_id)) is not None:
        await asyncio.sleep(wakeup.after_s)


async def test_a_beat_registers_the_worker_and_lists_it_alive(db):
    registry = WorkerRegistry(db)
    await registry.beat(f"w-1-{RUN}", "host-a", 101)
    await registry.beat(f"w-1-{RUN}", "host-a", 101)
    [worker] = [w for w in await registry.workers(DEAD_AFTER_S) if w.id == f"w-1-{RUN}"]
    assert (worker.state, worker.host, worker.pid, worker.holding) == ("alive", "host-a", 101, ())
    assert await registry.alive_count(DEAD_AFTER_S) >= 1


async def test_a_dead_workers_step_is_taken_over_and_its_late_write_is_adopted(db):
    crm = HeldDealCrm()
    dead = engine_for(db, crm, f"w-dead-{RUN}")
    await silent_for(db, f"w-dead-{RUN}", 30)
    saga = await dead.start(ZOHO_SALE.name, ORDER)
    inside = asyncio.create_task(dead.advance(saga.id))
    await asyncio.wait_for(crm.entered.wait(), 5)  # the Deal call is in flight

    registry = WorkerRegistry(db)
    [held] = [w for w in await registry.workers(DEAD_AFTER_S) if w.id == f"w-dead-{RUN}"]
    assert held.state == "silent" and held.holding == ((saga.id, "create_deal"),)
    await registry.beat(f"w-live-{RUN}", "h", 2)
    freed = await registry.take_over(f"w-live-{RUN}", DEAD_AFTER_S)
    mine = [(f.saga_id, f.step, f.holder) for f in freed if f.saga_id == saga.id]
    assert mine == [(saga.id, "create_deal", f"w-dead-{RUN}")]
    again = await registry.take_over(f"w-live-{RUN}", DEAD_AFTER_S)
    assert saga.id not in {f.saga_id for f in again}  # declared dead once

    state = await SqlSagaStore(db).load(saga.id)
    assert state is not None
    row = state.steps[1]
    assert (row.status, row.holder, row.interrupted) == (StepStatus.RUNNING, None, 1)
    assert row.lease_until is not None and row.lease_until <= datetime.now(UTC)
    assert state.wake_at is not None and state.wake_at <= datetime.now(UTC)

    crm.land.set()  # the dead worker's request lands in the CRM after the takeover
    assert await asyncio.wait_for(inside, 5) is None  # its record is lost: the version moved on
    assert crm.kinds() == [RecordKind.DEAL]

    await run(engine_for(db, crm, f"w-live-{RUN}"), saga.id)
    done = await SqlSagaStore(db).load(saga.id)
    assert done is not None and done.status is SagaStatus.SUCCEEDED
    assert crm.kinds() == [RecordKind.DEAL, RecordKind.QUOTE, RecordKind.SALES_ORDER]  # one each
    assert done.steps[1].attempts == 2 and all(s.holder is None for s in done.steps)
    detail = await saga_detail(db, saga.id)
    assert detail is not None
    taken = [e for e in detail.events if e["kind"] == "step.taken_over"]
    assert [(e["step"], e["actor"], e["detail"]["worker"]) for e in taken] == [
        ("create_deal", f"w-live-{RUN}", f"w-dead-{RUN}")
    ]
    succeeded = [e for e in detail.events if e["kind"] == "step.succeeded"]
    assert succeeded[1]["detail"]["adopted"] is True
    [gone] = [w for w in await registry.workers(DEAD_AFTER_S) if w.id == f"w-dead-{RUN}"]
    assert (gone.state, gone.taken_over_by) == ("dead", f"w-live-{RUN}")


async def test_a_worker_beating_now_keeps_its_steps(db):
    crm = HeldDealCrm()
    live = engine_for(db, crm, f"w-busy-{RUN}")
    registry = WorkerRegistry(db)
    await registry.beat(f"w-busy-{RUN}", "h", 1)
    saga = await live.start(ZOHO_SALE.name, ORDER)
    inside = asyncio.create_task(live.advance(saga.id))
    await asyncio.wait_for(crm.entered.wait(), 5)
    freed = await registry.take_over(f"w-other-{RUN}", DEAD_AFTER_S)
    assert saga.id not in {f.saga_id for f in freed}
    crm.land.set()
    await asyncio.wait_for(inside, 5)
    done = await SqlSagaStore(db).load(saga.id)
    assert done is not None and done.status is SagaStatus.SUCCEEDED


async def test_a_dead_worker_that_beats_again_is_alive_again(db):
    await silent_for(db, f"w-back-{RUN}", 60)
    registry = WorkerRegistry(db)
    await registry.take_over(f"w-live-{RUN}", DEAD_AFTER_S)
    await registry.beat(f"w-back-{RUN}", "h", 1)
    [back] = [w for w in await registry.workers(DEAD_AFTER_S) if w.id == f"w-back-{RUN}"]
    assert back.state == "alive" and back.ended_at is None


async def test_release_hands_a_cut_off_step_back_after_the_settle_time(db):
    crm = HeldDealCrm()
    stopping = engine_for(db, crm, f"w-stop-{RUN}")
    registry = WorkerRegistry(db)
    await registry.beat(f"w-stop-{RUN}", "h", 1)
    saga = await stopping.start(ZOHO_SALE.name, ORDER)
    inside = asyncio.create_task(stopping.advance(saga.id))
    await asyncio.wait_for(crm.entered.wait(), 5)
    await registry.stopping(f"w-stop-{RUN}")
    inside.cancel()  # the grace period ran out inside the call
    freed = await registry.release(f"w-stop-{RUN}", settle_s=3.0)
    await registry.retire(f"w-stop-{RUN}")
    assert [f.step for f in freed] == ["create_deal"]
    state = await SqlSagaStore(db).load(saga.id)
    assert state is not None
    row = state.steps[1]
    assert row.holder is None and row.lease_until is not None
    assert 2.0 < (row.lease_until - datetime.now(UTC)).total_seconds() <= 3.0
    assert state.wake_at == row.lease_until  # the recovery sweep sends it then
    detail = await saga_detail(db, saga.id)
    assert detail is not None and detail.events[-1]["kind"] == "step.released"
    [gone] = [w for w in await registry.workers(DEAD_AFTER_S) if w.id == f"w-stop-{RUN}"]
    assert gone.state == "stopped"
