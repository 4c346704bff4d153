"""Webhooks in: the Poologics sandbox really POSTs its events to the service's receiver; each is
stored before it is answered, shown on the saga whose lead it is about, stored once however often
it is delivered; a malformed one is answered 4xx and kept; a wrong secret learns nothing."""

from __future__ import annotations

import time

import httpx
import pytest

from orchestrator.backends.base import OpenContext
from orchestrator.backends.poologics.client import open_poologics_crm
from orchestrator.backends.poologics.wire import TRIGGERS
from orchestrator.crm.tokens import InMemoryTokenCache
from tests.e2e.conftest import HOOK_SECRET

LEAD = {"contact": {"name": "Ada Lovelace", "email": "ada@example.com"}, "stage": "Won"}


def hook(svc, trigger: str, secret: str = HOOK_SECRET) -> str:
    return f"{svc.api.base_url}/hooks/poologics/{trigger}/{secret}"


@pytest.fixture
async def subscribed(svc):
    crm = await open_poologics_crm(svc.poologics.settings(), OpenContext(InMemoryTokenCache()))
    for trigger in TRIGGERS:
        await crm.subscribe(trigger, hook(svc, trigger))
    yield svc
    await crm.aclose()


def events(svc, **params) -> list[dict]:
    response = svc.operator.get("/crm-events", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def wait_for(check, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


async def test_events_of_a_saga_s_lead_are_stored_and_shown_on_the_saga(subscribed):
    svc = subscribed
    response = svc.api.post("/sagas", json={"flow": "poologics.opportunity", "input": LEAD})
    assert response.status_code == 200, response.text
    saga_id = response.json()["sagaId"]

    mine = wait_for(lambda: len(events(svc, saga=saga_id)) >= 2 and events(svc, saga=saga_id))
    assert {e["trigger"] for e in mine} == {"new_opportunity", "opportunity_stage_change"}
    lead_id = svc.saga(saga_id)["records"][0]["id"]
    assert {e["recordId"] for e in mine} == {lead_id} and all(e["status"] == "stored" for e in mine)
    kinds = {e["kind"]: e for e in svc.saga(saga_id)["events"] if e["kind"].startswith("crm.")}
    assert kinds["crm.opportunity_stage_change"]["detail"]["stage"] == "Won"
    assert kinds["crm.new_opportunity"]["actor"] == "poologics"


def test_a_redelivered_event_is_stored_once(svc):
    body = {"poologics_id": "777", "name": "X", "stage": "Lead"}
    headers = {"X-Poologics-Delivery": f"d-{time.time_ns()}"}
    first = httpx.post(hook(svc, "opportunity_stage_change"), json=body, headers=headers)
    again = httpx.post(hook(svc, "opportunity_stage_change"), json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert (first.json()["status"], again.json()["status"]) == ("stored", "duplicate")
    assert again.json()["eventId"] == first.json()["eventId"]
    assert [e["recordId"] for e in events(svc) if e["delivery"] == headers[
        "X-Poologics-Delivery"]] == ["777"]  # fmt: skip


@pytest.mark.parametrize(
    ("trigger", "content", "reason"),
    [("new_opportunity", b'{"name": "no id", "stage": "New"}', "poologics_id is required"),
     ("new_opportunity", b"{not json", "the body is not JSON"),
     ("opportunity_stage_change", b'{"poologics_id": "5"}', "stage is required"),
     ("no_such_trigger", b'{"poologics_id": "5"}', "trigger must be one of")],
)  # fmt: skip
def test_a_malformed_event_is_answered_4xx_and_kept_as_rejected(svc, trigger, content, reason):
    response = httpx.post(hook(svc, trigger), content=content,
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 422 and response.json()["message"].startswith(reason)
    (kept,) = [e for e in events(svc, status="rejected") if e["id"] == response.json()["eventId"]]
    assert kept["payload"] == content.decode(errors="replace") and kept["reason"].startswith(reason)


def test_a_wrong_secret_is_a_404_and_stores_nothing(svc):
    before = len(events(svc, limit=500))
    response = httpx.post(hook(svc, "new_opportunity", secret="guess"),
                          json={"poologics_id": "1", "stage": "New"})  # fmt: skip
    assert response.status_code == 404
    assert len(events(svc, limit=500)) == before


def test_events_are_for_operators_only(svc):
    assert svc.api.get("/crm-events").status_code == 403


def test_the_console_lists_the_events_with_their_saga(svc):
    from tests.e2e.test_console import operator_client

    body = {"poologics_id": "888", "name": "Y", "stage": "Won"}
    httpx.post(hook(svc, "opportunity_stage_change"), json=body).raise_for_status()
    with operator_client(svc) as client:
        page = client.get("/console/crm-events")
    assert page.status_code == 200
    assert "opportunity_stage_change" in page.text and "888" in page.text
    assert HOOK_SECRET not in page.text
