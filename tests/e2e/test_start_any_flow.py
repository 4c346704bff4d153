"""POST /sagas {flow, input} and GET /flows through the real API, worker and Zoho sandbox:
the same answers as /createSales, the status word beside them, 400 naming the field."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import CONTACT_ID, ORDER, P1

EVERY_FLOW = (
    "flow must be one of: onautomate.opportunity, poologics.opportunity, "
    "rpccrm.opportunity_ticket, zoho.sale"
)


def start(svc, body, **kwargs):
    return svc.api.post("/sagas", json=body, **kwargs)


def test_a_zoho_sale_by_post_sagas_answers_success_with_the_status_word(svc):
    response = start(svc, {"flow": "zoho.sale", "input": ORDER})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"status": "success", "message": "Success.", "sagaId": body["sagaId"],
                    "sagaStatus": "succeeded"}  # fmt: skip
    assert svc.left_in_crm() == {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}


def test_a_failed_sale_answers_500_with_the_status_and_the_error(svc):
    svc.sandbox.state.faults.fail("Quotes", status=400, operation="create")
    response = start(svc, {"flow": "zoho.sale", "input": ORDER})
    assert response.status_code == 500
    body = response.json()
    assert (body["status"], body["message"], body["sagaStatus"]) == (
        "failed", "Failed.", "compensated")  # fmt: skip
    assert body["error"].startswith("create_quote:")
    assert svc.left_in_crm() == {"Deals": 0, "Quotes": 0, "Sales_Orders": 0}


def test_the_same_idempotency_key_and_body_return_the_first_saga(svc):
    headers = {"Idempotency-Key": "sagas-key-1-" + svc.settings.database_url[-6:]}
    first = start(svc, {"flow": "zoho.sale", "input": ORDER}, headers=headers)
    again = start(svc, {"input": ORDER, "flow": "zoho.sale"}, headers=headers)
    other = start(svc, {"flow": "zoho.sale", "input": {**ORDER, "products": [
        {"productId": P1, "quantity": 9}]}}, headers=headers)  # fmt: skip
    assert first.json()["sagaId"] == again.json()["sagaId"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["message"]
    assert svc.left_in_crm()["Deals"] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": ORDER}, "flow is required"),
        ({"flow": "zoho.sale"}, "input is required"),
        ({"flow": "nope", "input": {}}, EVERY_FLOW),
        ({"flow": 3, "input": {}}, EVERY_FLOW),
        ({"flow": "zoho.sale", "input": []}, "input must be a JSON object"),
        ({"flow": "zoho.sale", "input": {"contactId": CONTACT_ID, "products": []}},
         "input.products must contain at least one product"),
        ({"flow": "zoho.sale", "input": {"contactId": CONTACT_ID, "products": [
            {"productId": P1, "quantity": 0}]}}, "input.products[0].quantity must be a positive"),
    ],
)  # fmt: skip
def test_bad_requests_are_400_naming_the_field_with_no_saga_and_no_crm_call(svc, body, message):
    before = svc.operator.get("/sagas").json()["counts"]
    response = start(svc, body)
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert response.json()["message"].startswith(message)
    assert svc.operator.get("/sagas").json()["counts"] == before
    assert svc.left_in_crm() == {"Deals": 0, "Quotes": 0, "Sales_Orders": 0}


def test_body_that_is_not_json_is_400(svc):
    response = svc.api.post(
        "/sagas", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["message"] == "body is not valid JSON."


def test_post_sagas_needs_a_key(svc):
    response = svc.api.post("/sagas", json={"flow": "zoho.sale", "input": ORDER},
                            headers={"x-api-key": "wrong"})  # fmt: skip
    assert response.status_code == 401


def test_get_flows_lists_each_flow_with_its_input_schema(svc):
    flows = {item["flow"]: item for item in svc.api.get("/flows").json()["items"]}
    zoho = flows["zoho.sale"]
    assert zoho["backend"] == "zoho"
    assert zoho["steps"] == ["price_order", "create_deal", "create_quote", "create_sales_order"]
    assert set(zoho["inputSchema"]["required"]) == {"contactId", "products"}


def test_openapi_documents_post_sagas_and_get_flows(svc):
    paths = svc.api.get("/openapi.json").json()["paths"]
    post = paths["/sagas"]["post"]
    assert {"200", "202", "400", "401", "409", "413", "429", "500", "503"} == set(post["responses"])
    variants = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [v["properties"]["flow"]["enum"] for v in variants] == [
        ["onautomate.opportunity"], ["poologics.opportunity"], ["rpccrm.opportunity_ticket"],
        ["zoho.sale"]]  # fmt: skip
    assert all(v["required"] == ["flow", "input"] for v in variants)
    assert {p["name"] for p in post["parameters"]} == {"Idempotency-Key"}
    assert post["security"] == [{"ApiKey": []}]
    assert "get" in paths["/flows"]
