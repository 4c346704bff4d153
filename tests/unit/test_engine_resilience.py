"""The engine when things underneath misbehave: the store drops out, the deadline passes,
an answer is lost after the CRM applied the request."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from orchestrator.crm.errors import OutcomeUnknown, TransientCrmError
from orchestrator.crm.protocol import OrderLine, RecordKind
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST, InMemorySagaStore, run_to_end
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.ports import StoreUnavailable
from orchestrator.saga.state import SagaStatus, StepStatus
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 1),))
PRICES = {"P-1": Decimal("10")}


class FlakyStore(InMemorySagaStore):
    """The in-memory store, unreachable for its next `outage` writes."""

    def __init__(self, outage: int) -> None:
        super().__init__()
        self.outage = outage

    async def apply(self, change):
        if self.outage > 0:
            self.outage -= 1
            raise StoreUnavailable("connection refused")
        return await super().apply(change)


async def test_an_outcome_is_kept_while_the_store_is_down_and_written_after():
    crm = FakeSalesCrm(PRICES)
    store = FlakyStore(outage=0)
    engine = Engine(store, {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=FAST)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    store.outage = 3  # the first claim and its retries fail, then the database is back
    assert await engine.advance(saga.id) is None
    final = await store.load(saga.id)
    assert final.status is SagaStatus.SUCCEEDED
    assert crm.kinds() == [RecordKind.DEAL, RecordKind.QUOTE, RecordKind.SALES_ORDER]


async def test_a_store_down_for_too_long_raises_for_the_task_to_retry():
    store = FlakyStore(outage=1000)
    engine = Engine(store, {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, FakeSalesCrm(PRICES))},
                    store_retry_s=0.3)  # fmt: skip
    store.outage = 0
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    store.outage = 1000
    try:
        await engine.advance(saga.id)
    except StoreUnavailable:
        pass
    else:
        raise AssertionError("expected StoreUnavailable")


async def test_a_saga_past_its_deadline_rolls_back_instead_of_retrying_forever():
    crm = FakeSalesCrm(PRICES)
    for _ in range(50):
        crm.fail_next("create_quote", TransientCrmError("503", status=503))
    slow = RetryPolicy(max_attempts=50, base_s=0.05, cap_s=0.05)
    store = InMemorySagaStore()
    engine = Engine(store, {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=slow,
                    undo_retry=FAST, deadline_s=0.4)  # fmt: skip
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    while (wakeup := await engine.advance(saga.id)) is not None:
        await asyncio.sleep(wakeup.after_s)
    final = await store.load(saga.id)
    assert final.status is SagaStatus.COMPENSATED
    assert "deadline exceeded" in final.error and "503" in final.error
    assert final.finished_at - final.created_at < timedelta(seconds=2)
    assert final.steps[1].status is StepStatus.COMPENSATED and crm.records == {}


async def test_after_a_lost_answer_the_retry_waits_then_adopts_the_late_record():
    crm = FakeSalesCrm(PRICES)
    crm.fail_next("create_deal", OutcomeUnknown("read timeout"), after_effect=True)
    store = InMemorySagaStore()
    engine = Engine(store, {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=FAST,
                    ambiguous_wait_s=0.25)  # fmt: skip
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    wakeup = await engine.advance(saga.id)
    assert wakeup is not None and wakeup.after_s >= 0.2  # at least the ambiguous wait
    await asyncio.sleep(wakeup.after_s)
    assert await engine.advance(saga.id) is None
    assert crm.kinds() == [RecordKind.DEAL, RecordKind.QUOTE, RecordKind.SALES_ORDER]


async def test_every_saga_carries_its_deadline():
    store = InMemorySagaStore()
    saga = await run_to_end(ZOHO_SALE, ORDER, FakeSalesCrm(PRICES), store=store)
    assert saga.deadline_at - saga.created_at == timedelta(seconds=600)
