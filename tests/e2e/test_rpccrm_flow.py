"""rpccrm.opportunity_ticket (seed 001) through POST /sagas, the worker and the RPC CRM sandbox
over HTTP: the sale's three kinds of record with their fates; a failing ticket leaves the
opportunity for a person, named in the e-mail, the API and the console; bad inputs are 400
naming the field, with no CRM call."""

from __future__ import annotations

import re

from orchestrator.backends.rpccrm.sandbox import data as seed
from tests.e2e.test_console import operator_client

FLOW = "rpccrm.opportunity_ticket"
SALE = {
    "contactEmail": seed.CONTACT_EMAIL, "title": "Showroom", "stageId": seed.STAGE_PROPOSAL,
    "products": [{"productId": seed.PRODUCT_DESK, "amount": 1},
                 {"sku": "SKU-SOFA", "name": "Sofa", "value": 800, "amount": 2, "tax": 0.16}],
    "ticket": {"title": "Deliver the sofas", "description": "Ground floor"},
}  # fmt: skip


def start(svc, **changes):
    return svc.api.post("/sagas", json={"flow": FLOW, "input": {**SALE, **changes}})


def marked(records, saga_id):
    tag = f"[salesaga-{saga_id}]"
    return [r for r in records if tag in (r.get("title") or "") + (r.get("description") or "")]


def test_a_sale_makes_a_product_an_opportunity_and_a_ticket(svc):
    response = start(svc)
    assert response.status_code == 200, response.text
    saga_id = response.json()["sagaId"]
    [sofa] = marked(svc.rpccrm.state.products(), saga_id)
    [opportunity] = marked(svc.rpccrm.state.opportunities(), saga_id)
    [ticket] = marked(svc.rpccrm.state.tickets(), saga_id)
    assert opportunity["value"] == 450 + 1856  # 1 × 450 + 2 × 800 × 1.16
    assert ticket["description"] == f"Ground floor\n[salesaga-{saga_id}]"
    records = svc.saga(saga_id)["records"]
    assert records == [
        {"record": "Product", "id": str(sofa["id"]), "fate": "kept"},
        {"record": "Opportunity", "id": str(opportunity["id"]), "fate": "kept"},
        {"record": "Ticket", "id": str(ticket["id"]), "fate": "kept"},
    ]


def test_a_failing_ticket_ends_needs_manual_cleanup_naming_the_opportunity(svc):
    svc.rpccrm.state.faults.fail("CreateTicket", error="The selected origin id is invalid.")
    response = start(svc)
    body = response.json()
    assert body["sagaStatus"] == "needs_manual_cleanup", body
    saga_id = body["sagaId"]
    [opportunity] = marked(svc.rpccrm.state.opportunities(), saga_id)
    records = {r["record"]: r for r in svc.saga(saga_id)["records"]}
    assert records["Opportunity"] == {"record": "Opportunity", "id": str(opportunity["id"]),
                                      "fate": "left_in_place"}  # fmt: skip
    (mail,) = svc.mails_for(saga_id)
    text = mail.get_body(("plain",)).get_content()
    assert f"Opportunity ID: {opportunity['id']}: remove it by hand (the CRM's API cannot)" in text
    assert "The selected origin id is invalid." in text
    with operator_client(svc) as client:
        html = client.get(f"/console/sagas/{saga_id}").text
    assert 'id="todo"' in html
    shown = re.sub(r"<[^>]+>", "", html)
    assert f"Opportunity {opportunity['id']}: remove it by hand" in shown


def test_bad_inputs_are_400_naming_the_field_with_no_crm_call(svc):
    cases = [
        ({"contactEmail": "nope"}, "input.contactEmail must be an e-mail"),
        ({"stageId": "abc"}, "input.stageId"),
        ({"products": []}, "input.products must contain at least one"),
        ({"products": [{"sku": "X", "amount": 1}]}, "input.products[0] must name a product"),
        ({"products": [{"productId": 500, "amount": 0}]}, "input.products[0].amount"),
        ({"products": [{"productId": 500, "amount": 1, "discount": 1.5}]},
         "input.products[0].discount"),
        ({"estimatedEndAt": "31/12/26"}, "input.estimatedEndAt must be a date as YYYY-MM-DD"),
        ({"ticket": {"description": "x"}}, "input.ticket.title is required"),
        ({"colour": "red"}, "input.colour is not a field of this flow's input"),
    ]  # fmt: skip
    for changes, message in cases:
        response = start(svc, **changes)
        assert response.status_code == 400, (changes, response.text)
        assert response.json()["message"].startswith(message), response.json()
    assert svc.rpccrm.state.calls == {} and svc.rpccrm.state.logins == 0
