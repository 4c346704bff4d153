"""POST /createSales end to end: API → Redis → worker → Zoho sandbox → PostgreSQL → SMTP."""

from __future__ import annotations

import threading
import time

from tests.e2e.conftest import ACCOUNT_ID, CONTACT_ID, IT_EMAIL, P1, P2

NOTHING_LEFT = {"Deals": 0, "Quotes": 0, "Sales_Orders": 0}


def lookup_id(record: dict, field: str) -> str:
    return record[field]["id"]


def mail_text(message) -> str:
    return message.get_body(("plain",)).get_content()


def mail_html(message) -> str:
    return message.get_body(("html",)).get_content()


def test_success_creates_linked_deal_quote_and_sales_order(svc):
    response = svc.create_sales()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"status": "success", "message": "Success.", "sagaId": body["sagaId"]}
    assert response.headers["X-Saga-Id"] == body["sagaId"]

    [deal], [quote], [order] = (svc.live(m) for m in ("Deals", "Quotes", "Sales_Orders"))
    assert body["sagaId"] in deal["Deal_Name"]
    assert deal["Amount"] == 2 * 100.0 + 5 * 40.0
    assert lookup_id(deal, "Contact_Name") == CONTACT_ID
    assert lookup_id(deal, "Account_Name") == ACCOUNT_ID
    for record in (quote, order):
        assert lookup_id(record, "Deal_Name") == deal["id"]
        assert lookup_id(record, "Contact_Name") == CONTACT_ID
        assert lookup_id(record, "Account_Name") == ACCOUNT_ID
        assert record["Billing_City"] == "Bursa" and record["Shipping_Code"] == "16110"
    assert lookup_id(order, "Quote_Name") == quote["id"]
    for record, items in ((quote, "Quoted_Items"), (order, "Ordered_Items")):
        lines = [(line["Product_Name"]["id"], line["Quantity"], line["List_Price"])
                 for line in record[items]]  # fmt: skip
        assert lines == [(P1, 2, 100.0), (P2, 5, 40.0)]
    assert all(r["_meta"]["trigger"] == [] for r in (deal, quote, order))

    saga = svc.saga(body["sagaId"])
    assert saga["status"] == "succeeded"
    assert {r["record"]: r["id"] for r in saga["records"]} == {
        "Deal": deal["id"], "Quote": quote["id"], "Sales Order": order["id"]
    }  # fmt: skip
    assert (
        svc.mails_for(body["sagaId"], timeout_s=0.5) == []
    )  # no e-mail for a sale that went through


def test_deal_rejected_stops_with_nothing_written_and_mails_it(svc):
    svc.sandbox.state.faults.fail("Deals", operation="create", status=400, code="INVALID_DATA",
                                  details={"api_name": "Stage"})  # fmt: skip
    response = svc.create_sales()
    assert response.status_code == 500
    body = response.json()
    assert body == {"status": "failed", "message": "Failed.", "sagaId": body["sagaId"]}
    assert svc.left_in_crm() == NOTHING_LEFT
    assert svc.saga(body["sagaId"])["status"] == "failed"

    [mail] = svc.mails_for(body["sagaId"])
    assert mail["To"] == IT_EMAIL
    text = mail_text(mail)
    assert "INVALID_DATA" in text or "invalid data" in text
    assert "create_deal" in text and body["sagaId"] in text and CONTACT_ID in text
    assert "Deal ID" in text and "Not created" in text


def test_quote_rejected_deletes_the_deal_and_mails_its_id(svc):
    svc.sandbox.state.faults.fail(
        "Quotes", operation="create", status=400, code="MANDATORY_NOT_FOUND",
        details={"api_name": "Subject"},
    )  # fmt: skip
    response = svc.create_sales()
    assert response.status_code == 500
    saga_id = response.json()["sagaId"]
    assert svc.left_in_crm() == NOTHING_LEFT
    [deleted_deal] = svc.sandbox.state.deleted("Deals")
    assert deleted_deal["_meta"]["wf_trigger"] == "false"
    assert svc.sandbox.state.deleted("Quotes") == []

    saga = svc.saga(saga_id)
    assert saga["status"] == "compensated" and saga["failedStep"] == "create_quote"
    [mail] = svc.mails_for(saga_id)
    text = mail_text(mail)
    assert deleted_deal["id"] in text and "Rolled back" in text
    assert "MANDATORY_NOT_FOUND" in text or "required field not found" in text
    assert deleted_deal["id"] in mail_html(mail)


def test_sales_order_rejected_deletes_quote_then_deal(svc):
    svc.sandbox.state.faults.fail("Sales_Orders", operation="create", status=400)
    response = svc.create_sales()
    assert response.status_code == 500
    assert svc.left_in_crm() == NOTHING_LEFT
    [deal] = svc.sandbox.state.deleted("Deals")
    [quote] = svc.sandbox.state.deleted("Quotes")
    events = svc.saga(response.json()["sagaId"])["events"]
    undone = [e["step"] for e in events if e["kind"] == "undo.succeeded"]
    assert undone == ["create_quote", "create_deal"]
    [mail] = svc.mails_for(response.json()["sagaId"])
    text = mail_text(mail)
    assert deal["id"] in text and quote["id"] in text
    assert "Sales Order ID" in text


def test_a_5xx_and_a_429_on_the_quote_are_retried_to_exactly_one_quote(svc):
    faults = svc.sandbox.state.faults
    faults.fail("Quotes", operation="create", status=500)
    faults.fail("Quotes", operation="create", status=429, retry_after="1")
    started = time.monotonic()
    response = svc.create_sales()
    assert response.status_code == 200, response.text
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert svc.left_in_crm() == {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}
    quote_step = svc.saga(response.json()["sagaId"])["steps"][2]
    assert quote_step["name"] == "create_quote" and quote_step["attempts"] == 3


def test_token_revoked_mid_saga_is_refreshed_and_the_sale_completes(svc):
    state = svc.sandbox.state
    assert svc.create_sales().status_code == 200  # warm: a token is cached
    issued = state.tokens_issued
    state.faults.delay(1.0, module="Deals", operation="create")
    threading.Timer(0.4, state.revoke_access_tokens).start()  # while the Deal call waits
    response = svc.create_sales()
    assert response.status_code == 200, response.text
    assert state.tokens_issued == issued + 1  # refreshed exactly once
    assert svc.left_in_crm() == {"Deals": 2, "Quotes": 2, "Sales_Orders": 2}


def test_record_already_deleted_during_rollback_counts_as_rolled_back(svc):
    state = svc.sandbox.state
    state.faults.delay(1.5, module="Sales_Orders", operation="create")

    def delete_deal_by_hand():
        [deal] = svc.live("Deals")
        state.delete("Deals", deal["id"], wf_trigger=None)

    threading.Timer(0.8, delete_deal_by_hand).start()  # someone deletes the Deal meanwhile
    response = svc.create_sales()
    assert response.status_code == 500  # the Sales Order's Deal lookup is now invalid
    saga = svc.saga(response.json()["sagaId"])
    assert saga["status"] == "compensated"
    assert {s["name"]: s["status"] for s in saga["steps"]}["create_deal"] == "compensated"
    assert svc.left_in_crm() == NOTHING_LEFT


def test_rollback_that_cannot_finish_is_flagged_and_names_the_leftover(svc):
    faults = svc.sandbox.state.faults
    faults.fail("Quotes", operation="create", status=400)
    faults.fail("Deals", operation="delete", status=500, times=50)
    response = svc.create_sales()
    assert response.status_code == 500
    saga = svc.saga(response.json()["sagaId"])
    assert saga["status"] == "compensation_failed"
    [deal] = svc.live("Deals")
    assert saga["records"] == [{"record": "Deal", "id": deal["id"], "fate": "left_over"}]
    [mail] = svc.mails_for(saga["id"])
    text = mail_text(mail)
    assert deal["id"] in text and "LEFT OVER" in text
    faults.clear()


def test_slow_sale_answers_202_and_can_be_polled(svc, monkeypatch):
    monkeypatch.setattr(svc.settings, "sync_wait_s", 0.3)
    svc.sandbox.state.faults.delay(1.5, module="Deals", operation="create")
    response = svc.create_sales()
    assert response.status_code == 202
    body = response.json()
    assert body["sagaId"] and response.headers["Location"] == f"/sagas/{body['sagaId']}"
    saga = svc.wait_for_status(body["sagaId"], "succeeded")
    assert saga["status"] == "succeeded"
