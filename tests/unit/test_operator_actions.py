"""Operator actions on the engine: retry, compensate, resolve — and the states that refuse them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orchestrator.crm.errors import PermanentCrmError, TransientCrmError
from orchestrator.crm.protocol import OrderLine, RecordKind
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.actions import Action, ActionRefused
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST, InMemorySagaStore
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.state import SagaStatus, StepStatus
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 1),))
ALL = [RecordKind.DEAL, RecordKind.QUOTE, RecordKind.SALES_ORDER]


def setup(undo_retry=FAST):
    crm, store = FakeSalesCrm({"P-1": Decimal("5")}), InMemorySagaStore()
    engine = Engine(store, {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=FAST,
                    undo_retry=undo_retry)  # fmt: skip
    return crm, store, engine


async def drive(engine, saga_id):
    while await engine.advance(saga_id) is not None:
        pass
    return await engine.store.load(saga_id)


async def test_retry_resumes_a_compensated_sale_to_success():
    crm, store, engine = setup()
    crm.fail_next("create_quote", PermanentCrmError("bad", code="INVALID_DATA"))
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    assert (await drive(engine, saga.id)).status is SagaStatus.COMPENSATED
    await engine.act(saga.id, Action.RETRY, actor="operator:ab12", comment="price book fixed")
    final = await drive(engine, saga.id)
    assert final.status is SagaStatus.SUCCEEDED and crm.kinds() == ALL
    event = next(e for e in store.events[saga.id] if e.kind == "operator.retry")
    assert event.actor == "operator:ab12" and event.detail == {"comment": "price book fixed"}


async def test_retry_of_a_succeeded_saga_is_refused_with_the_reason():
    _, _, engine = setup()
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    await drive(engine, saga.id)
    with pytest.raises(ActionRefused, match="succeeded"):
        await engine.act(saga.id, Action.RETRY, actor="op")


async def test_compensate_rolls_a_waiting_saga_back_now():
    crm, _, engine = setup()
    slow = RetryPolicy(max_attempts=50, base_s=30, cap_s=30)
    engine.retry = slow
    crm.fail_next("create_quote", TransientCrmError("503", status=503))
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    assert await engine.advance(saga.id) is not None  # quote waits 15-30 s for its retry
    await engine.act(saga.id, Action.COMPENSATE, actor="op")
    final = await drive(engine, saga.id)
    assert final.status is SagaStatus.COMPENSATED and crm.records == {}
    assert "rolled back by an operator" in final.error


async def test_compensate_again_after_compensation_failed_then_resolve_is_refused():
    crm, _, engine = setup()
    crm.fail_next("create_sales_order", PermanentCrmError("no", code="INVALID_DATA"))
    for _ in range(4):
        crm.fail_next("delete", PermanentCrmError("locked", code="RECORD_LOCKED"))
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    assert (await drive(engine, saga.id)).status is SagaStatus.COMPENSATION_FAILED
    await engine.act(saga.id, Action.COMPENSATE, actor="op")  # the lock is gone now
    final = await drive(engine, saga.id)
    assert final.status is SagaStatus.COMPENSATED and crm.records == {}
    with pytest.raises(ActionRefused):
        await engine.act(saga.id, Action.RESOLVE, actor="op", comment="done")


async def test_resolve_needs_a_comment_and_closes_the_leftovers():
    crm, store, engine = setup()
    crm.fail_next("create_sales_order", PermanentCrmError("no", code="INVALID_DATA"))
    for _ in range(4):
        crm.fail_next("delete", PermanentCrmError("locked", code="RECORD_LOCKED"))
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    await drive(engine, saga.id)
    with pytest.raises(ActionRefused, match="comment"):
        await engine.act(saga.id, Action.RESOLVE, actor="op", comment="  ")
    await engine.act(saga.id, Action.RESOLVE, actor="op", comment="deleted the quote in Zoho")
    final = await store.load(saga.id)
    assert final.status is SagaStatus.COMPENSATED
    assert {s.name: s.status for s in final.steps}["create_quote"] is StepStatus.RESOLVED
