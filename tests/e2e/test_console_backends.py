"""The console shows any backend's records in the undo's own words, links them to the backend's
UI, and lists what is left to do by hand — here an OnAutomate opportunity whose DELETE the CRM
refused (HTTP 200 with an error body)."""

from __future__ import annotations

from playwright.sync_api import expect

from orchestrator.backends.onautomate.sandbox.data import CONTACT_ID, PIPELINE_ID, STAGE_NEW
from tests.e2e.test_console import browser, login, operator_client, page  # noqa: F401

OPPORTUNITY = {"title": "Console press", "stageId": STAGE_NEW, "status": "open",
               "contactId": CONTACT_ID, "finalStatus": "won"}  # fmt: skip


def stuck_opportunity(svc) -> tuple[str, str]:
    svc.onautomate.state.faults.fail("status", status=422, field="status", rule="invalid")
    svc.onautomate.state.faults.refuse("delete", times=1_000)
    response = svc.api.post("/sagas", json={"flow": "onautomate.opportunity", "input": OPPORTUNITY})
    body = response.json()
    assert body["sagaStatus"] == "compensation_failed", body
    (left,) = [o for o in svc.onautomate.state.opportunities() if o["name"] == "Console press"]
    return body["sagaId"], left["id"]


def test_the_saga_page_lists_the_opportunity_to_delete_by_hand_with_its_link(svc, page):  # noqa: F811
    saga_id, opportunity_id = stuck_opportunity(svc)
    login(page, start=f"/console/sagas/{saga_id}")
    expect(page.locator("#saga-status")).to_have_text("compensation_failed")

    todo = page.locator("#todo")
    expect(todo).to_contain_text(f"Opportunity {opportunity_id}: delete it by hand")
    ui = f"{svc.onautomate.url}/ui/pipelines/{PIPELINE_ID}/opportunities/{opportunity_id}"
    expect(todo.locator("a")).to_have_attribute("href", ui)
    row = page.locator("#records tr[data-record='Opportunity']")
    expect(row.locator(".badge")).to_have_text("left_over")
    expect(row.locator("a")).to_have_attribute("href", ui)


def test_a_rolled_back_opportunity_leaves_nothing_to_do(svc):
    svc.onautomate.state.faults.fail("status", status=422, field="status", rule="invalid")
    response = svc.api.post("/sagas", json={"flow": "onautomate.opportunity", "input": OPPORTUNITY})
    saga_id = response.json()["sagaId"]
    with operator_client(svc) as client:
        html = client.get(f"/console/sagas/{saga_id}").text
    assert 'id="todo"' not in html
    assert "Rolled back (deleted from the CRM)" in html
