"""The Zoho sale flow on the engine, against the in-memory CRM: end states, not call orders."""

from __future__ import annotations

from decimal import Decimal

from orchestrator.crm.errors import PermanentCrmError, RateLimited, TransientCrmError
from orchestrator.crm.protocol import OrderLine, RecordKind
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.memory import InMemorySagaStore, run_to_end
from orchestrator.saga.state import SagaStatus, StepStatus
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 2), OrderLine("P-2", 5)))
PRICES = {"P-1": Decimal("100.00"), "P-2": Decimal("40.00")}
ALL = [RecordKind.DEAL, RecordKind.QUOTE, RecordKind.SALES_ORDER]


def statuses(saga):
    return {row.name: row.status for row in saga.steps}


async def test_success_creates_deal_quote_and_sales_order_once_each():
    crm = FakeSalesCrm(PRICES)
    saga = await run_to_end(ZOHO_SALE, ORDER, crm)
    assert saga.status is SagaStatus.SUCCEEDED
    assert crm.kinds() == ALL
    assert set(crm.records.values()) == {f"salesaga-{saga.id}"}
    assert saga.steps[0].output["lines"][0]["unit_price"] == "100.00"


async def test_deal_rejected_stops_with_nothing_written():
    crm = FakeSalesCrm(PRICES)
    crm.fail_next("create_deal", PermanentCrmError("invalid data", code="INVALID_DATA"))
    saga = await run_to_end(ZOHO_SALE, ORDER, crm)
    assert saga.status is SagaStatus.FAILED
    assert saga.failed_step == "create_deal"
    assert crm.records == {}
    assert statuses(saga)["create_quote"] is StepStatus.PENDING


async def test_quote_rejected_deletes_the_deal():
    crm = FakeSalesCrm(PRICES)
    crm.fail_next("create_quote", PermanentCrmError("bad quote", code="INVALID_DATA"))
    saga = await run_to_end(ZOHO_SALE, ORDER, crm)
    assert saga.status is SagaStatus.COMPENSATED
    assert saga.failed_step == "create_quote"
    assert "bad quote" in (saga.error or "")
    assert crm.records == {}
    assert statuses(saga)["create_deal"] is StepStatus.COMPENSATED


async def test_sales_order_rejected_deletes_quote_then_deal():
    crm = FakeSalesCrm(PRICES)
    crm.fail_next("create_sales_order", PermanentCrmError("no", code="MANDATORY_NOT_FOUND"))
    store = InMemorySagaStore()
    saga = await run_to_end(ZOHO_SALE, ORDER, crm, store=store)
    assert saga.status is SagaStatus.COMPENSATED
    assert crm.records == {}
    undone = [e.step for e in store.events[saga.id] if e.kind == "undo.succeeded"]
    assert undone == ["create_quote", "create_deal"]  # newest first


async def test_unknown_and_inactive_products_fail_before_any_write():
    for order in (
        SaleRequest("C-1", (OrderLine("NOPE", 1),)),
        SaleRequest("C-1", (OrderLine("P-2", 1),)),
    ):
        crm = FakeSalesCrm(PRICES, inactive=["P-2"])
        saga = await run_to_end(ZOHO_SALE, order, crm)
        assert saga.status is SagaStatus.FAILED
        assert saga.failed_step == "price_order"
        assert crm.records == {}


async def test_rate_limited_quote_is_retried_without_a_duplicate():
    crm = FakeSalesCrm(PRICES)
    crm.fail_next("create_quote", RateLimited("slow down", retry_after=0.01))
    crm.fail_next("create_quote", TransientCrmError("500", status=500))
    saga = await run_to_end(ZOHO_SALE, ORDER, crm)
    assert saga.status is SagaStatus.SUCCEEDED
    assert crm.kinds() == ALL
    assert saga.steps[2].attempts == 3


async def test_timeout_after_the_crm_committed_adopts_the_record():
    crm = FakeSalesCrm(PRICES)
    crm.fail_next("create_quote", TransientCrmError("read timeout"), after_effect=True)
    store = InMemorySagaStore()
    saga = await run_to_end(ZOHO_SALE, ORDER, crm, store=store)
    assert saga.status is SagaStatus.SUCCEEDED
    assert crm.kinds() == ALL  # exactly one quote: the retry found the first one
    adopted = [
        e for e in store.events[saga.id] if e.kind == "step.succeeded" and e.detail["adopted"]
    ]
    assert [e.step for e in adopted] == ["create_quote"]


async def test_exhausted_retries_on_a_step_that_landed_still_roll_it_back():
    crm = FakeSalesCrm(PRICES)
    crm.fail_next("create_sales_order", TransientCrmError("timeout"), after_effect=True)
    for _ in range(4):  # every retry's look-up fails, and the first look-up of the rollback
        crm.fail_next("find", TransientCrmError("timeout"))
    saga = await run_to_end(ZOHO_SALE, ORDER, crm)
    assert saga.status is SagaStatus.COMPENSATED
    assert crm.records == {}  # the unseen sales order was found by marker and deleted
    assert statuses(saga)["create_sales_order"] is StepStatus.COMPENSATED


async def test_compensation_that_keeps_failing_is_flagged_not_dropped():
    crm = FakeSalesCrm(PRICES)
    crm.fail_next("create_sales_order", PermanentCrmError("no", code="INVALID_DATA"))
    for _ in range(4):  # FAST policy: 4 attempts, all for the quote's delete
        crm.fail_next("delete", PermanentCrmError("record locked", code="RECORD_LOCKED"))
    saga = await run_to_end(ZOHO_SALE, ORDER, crm)
    assert saga.status is SagaStatus.COMPENSATION_FAILED
    assert statuses(saga)["create_quote"] is StepStatus.COMPENSATION_FAILED
    assert statuses(saga)["create_deal"] is StepStatus.COMPENSATED  # the rest still rolled back
    assert crm.kinds() == [RecordKind.QUOTE]


async def test_transient_delete_failure_is_retried_to_success():
    crm = FakeSalesCrm(PRICES)
    crm.fail_next("create_quote", PermanentCrmError("no", code="INVALID_DATA"))
    crm.fail_next("delete", TransientCrmError("503", status=503))
    saga = await run_to_end(ZOHO_SALE, ORDER, crm)
    assert saga.status is SagaStatus.COMPENSATED
    assert saga.steps[1].undo_attempts == 2
    assert crm.records == {}


async def test_failure_queues_exactly_one_notice_and_success_none():
    store = InMemorySagaStore()
    crm = FakeSalesCrm(PRICES)
    ok = await run_to_end(ZOHO_SALE, ORDER, crm, store=store)
    crm.fail_next("create_quote", PermanentCrmError("no", code="INVALID_DATA"))
    bad = await run_to_end(ZOHO_SALE, ORDER, crm, store=store)
    assert store.outbox == [(bad.id, "sale_failed")]
    assert ok.id != bad.id
