"""SIGKILL the worker inside each CRM call and at step boundaries, start a new one: every saga
ends whole or not at all, and nothing is created twice."""

from __future__ import annotations

import time

import pytest

from tests.faults.cluster import check_invariants

DELAY_S = 1.5  # the sandbox holds the call this long: the window to kill in


@pytest.mark.parametrize(
    ("module", "operation", "step"),
    [("Products", "get", "price_order"), ("Deals", "create", "create_deal"),
     ("Quotes", "create", "create_quote"), ("Sales_Orders", "create", "create_sales_order")],
)  # fmt: skip
def test_kill_inside_a_crm_call(fresh, module, operation, step):
    fresh.fault(module=module, operation=operation, delay_s=DELAY_S)
    saga_id = fresh.sale()
    fresh.wait_for_step(saga_id, step, "running")
    time.sleep(0.3)  # the request is at the sandbox now; its record lands after the kill
    fresh.kill_worker()
    fresh.start_worker()
    outcome = fresh.wait_terminal([saga_id], timeout_s=40)
    assert outcome == {saga_id: "succeeded"}
    check_invariants(fresh, outcome)
    steps = {s["name"]: s for s in fresh.saga(saga_id)["steps"]}
    assert steps[step]["attempts"] == 2  # taken over after the lease, and adopted


@pytest.mark.parametrize(("module", "step"), [("Quotes", "create_quote"), ("Deals", "create_deal")])
def test_kill_inside_a_delete_during_rollback(fresh, module, step):
    fresh.fault(module="Sales_Orders", operation="create", status=400)
    fresh.fault(module=module, operation="delete", delay_s=DELAY_S)
    saga_id = fresh.sale()
    fresh.wait_for_step(saga_id, step, "compensating")
    time.sleep(0.3)
    fresh.kill_worker()
    fresh.start_worker()
    outcome = fresh.wait_terminal([saga_id], timeout_s=40)
    assert outcome == {saga_id: "compensated"}
    check_invariants(fresh, outcome)


@pytest.mark.parametrize("after", ["price_order", "create_deal", "create_quote"])
def test_kill_at_a_step_boundary(fresh, after):
    for module in ("Deals", "Quotes", "Sales_Orders"):
        fresh.fault(module=module, operation="create", delay_s=0.4)
    saga_id = fresh.sale()
    fresh.wait_for_step(saga_id, after, "succeeded")
    fresh.kill_worker()  # right as the next step is claimed or on its way out
    fresh.start_worker()
    outcome = fresh.wait_terminal([saga_id], timeout_s=40)
    assert outcome == {saga_id: "succeeded"}
    check_invariants(fresh, outcome)
