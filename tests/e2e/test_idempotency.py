"""Idempotency-Key on POST /createSales: same key and body → the same saga and answer, never a
second sale; same key, other body → 409."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import ORDER


def test_same_key_same_body_returns_the_same_saga_without_a_second_sale(svc):
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = svc.create_sales(headers=key)
    reordered = {"products": ORDER["products"], "contactId": ORDER["contactId"]}
    again = svc.create_sales(reordered, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert svc.left_in_crm() == {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}


def test_same_key_other_body_is_409(svc):
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    assert svc.create_sales(headers=key).status_code == 200
    other = {**ORDER, "products": [{"productId": ORDER["products"][0]["productId"], "quantity": 9}]}
    response = svc.create_sales(other, headers=key)
    assert response.status_code == 409
    assert response.json()["message"].startswith("Idempotency-Key")
    assert svc.left_in_crm() == {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}


def test_a_failed_sale_replays_its_failure(svc):
    svc.sandbox.state.faults.fail("Quotes", operation="create", status=400)
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = svc.create_sales(headers=key)
    again = svc.create_sales(headers=key)
    assert first.status_code == again.status_code == 500
    assert again.json()["sagaId"] == first.json()["sagaId"]
    assert len(svc.mails_for(first.json()["sagaId"])) == 1


def test_bad_key_is_400(svc):
    response = svc.create_sales(headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Idempotency-Key")


def test_ten_concurrent_requests_with_one_key_make_one_sale(svc):
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: svc.create_sales(headers=key), range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert len({r.json()["sagaId"] for r in responses}) == 1
    assert sum("Idempotent-Replayed" in r.headers for r in responses) == 9
    assert svc.left_in_crm() == {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}
