"""The OnAutomate sandbox's wire format over real HTTP, as seed 003 shows it and
orchestrator/backends/onautomate/wire.py pins it: 401/400 `{"msg"}` bodies, 422 shapes and
messages, the read shape, 20-a-page listing with meta and filters, PUT status answering `""`,
DELETE answering 200 for everything, 404 after a delete, the duplicate rule, and the
/__sandbox__ control routes (faults, reset)."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrator.backends.onautomate.sandbox.data import (
    CONTACT_EMAIL,
    CONTACT_ID,
    EXISTING_OPPORTUNITY_ID,
    PIPELINE_ID,
    SANDBOX_TOKEN,
    STAGE_CLOSED,
    STAGE_NEW,
    STAGE_QUALIFIED,
    TAKEN_CONTACT_EMAIL,
    TAKEN_CONTACT_ID,
)
from tests.onautomate_sandbox import RunningOnAutomateSandbox, running_onautomate_sandbox

BASE = f"/v1/pipelines/{PIPELINE_ID}/opportunities"
UNAUTHORIZED = {"msg": "Unauthorized"}
BAD_REQUEST = {"msg": "Bad Request"}
NOT_FOUND = {"msg": "Not Found"}
MANDATORY = {
    "title": {"message": "The title field is mandatory.", "rule": "required"},
    "status": {"message": "The status field is mandatory.", "rule": "required"},
    "stageId": {"message": "The stage id field is mandatory.", "rule": "required"},
    "contactId or email": {"message": "The contactId or email field is mandatory.",
                           "rule": "required"},
}  # fmt: skip
INVALID_MOVE = {
    "status": {"message": "The status field is invalid.", "rule": "invalid"},
    "stageId": {"message": "The stage id field is invalid.", "rule": "invalid"},
}
DUPLICATE = {
    "opportunity": {
        "message": "The contact already has an opportunity in this pipeline.",
        "rule": "duplicate",
    }
}
# fmt: off
READ_KEYS = {"id", "name", "monetaryValue", "pipelineId", "pipelineStageId", "assignedTo",
             "status", "source", "lastStatusChangeAt", "createdAt", "updatedAt", "contact"}
# fmt: on
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def clients(
    onautomate_server: RunningOnAutomateSandbox,
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """One client with the sandbox's token, one without (a client costs ~80 ms to make)."""
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    with (
        httpx.Client(base_url=onautomate_server.url, headers=headers) as api,
        httpx.Client(base_url=onautomate_server.url) as anon,
    ):
        yield api, anon


@pytest.fixture
def api(
    onautomate: RunningOnAutomateSandbox, clients: tuple[httpx.Client, httpx.Client]
) -> httpx.Client:
    return clients[0]


@pytest.fixture
def anon(
    onautomate: RunningOnAutomateSandbox, clients: tuple[httpx.Client, httpx.Client]
) -> httpx.Client:
    """No token: the control routes, the UI page, and calls made with headers of their own."""
    return clients[1]


def opportunity(title: str = "First Opp", **fields: Any) -> dict[str, Any]:
    body = {"title": title, "status": "open", "stageId": STAGE_NEW, "email": "elon2@musk.com"}
    return body | fields


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post(f"{BASE}/", json=opportunity(**fields))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- authorization and pipelines ----------------------------------------------------------------


def test_401_shape_and_the_seed_s_other_statuses(api: httpx.Client, anon: httpx.Client) -> None:
    one = f"{BASE}/{EXISTING_OPPORTUNITY_ID}"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SANDBOX_TOKEN}):
        calls = [
            anon.get(BASE, headers=headers),
            anon.get(one, headers=headers),
            anon.post(f"{BASE}/", json=opportunity(), headers=headers),
            anon.put(f"{one}/status", json={"status": "won"}, headers=headers),
        ]
        for response in calls:
            assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
            assert response.headers["content-type"] == "application/json"
        update = anon.put(one, json=opportunity(), headers=headers)  # the seed shows 400 here
        assert (update.status_code, update.json()) == (400, UNAUTHORIZED)
        delete = anon.delete(one, headers=headers)  # DELETE answers 200 for everything
        assert (delete.status_code, delete.json()) == (200, UNAUTHORIZED)
    assert api.get(f"{BASE}/{EXISTING_OPPORTUNITY_ID}").status_code == 200  # not deleted
    lower = anon.get(one, headers={"Authorization": f"bearer {SANDBOX_TOKEN}"})
    assert lower.status_code == 200


def test_unknown_pipeline_is_bad_request(api: httpx.Client) -> None:
    other = "/v1/pipelines/NoSuchPipeline000000/opportunities"
    for response in (api.get(other), api.post(f"{other}/", json=opportunity())):
        assert (response.status_code, response.json()) == (400, BAD_REQUEST)
    deleted = api.delete(f"{other}/{EXISTING_OPPORTUNITY_ID}")
    assert (deleted.status_code, deleted.json()) == (200, BAD_REQUEST)


def test_unknown_route_bad_page_and_bad_json(api: httpx.Client) -> None:
    assert (api.get("/v2/nothing").status_code, api.get("/v2/nothing").json()) == (404, NOT_FOUND)
    for page in ("0", "x", "-1"):
        response = api.get(BASE, params={"page": page})
        assert (response.status_code, response.json()) == (400, BAD_REQUEST)
    not_json = api.post(f"{BASE}/", content=b"{", headers={"Content-Type": "application/json"})
    assert (not_json.status_code, not_json.json()) == (400, BAD_REQUEST)
    a_list = api.post(f"{BASE}/", json=[opportunity()])
    assert (a_list.status_code, a_list.json()) == (400, BAD_REQUEST)


# --- create, read, validation -------------------------------------------------------------------


def test_422_mandatory_fields_as_the_seed_shows(api: httpx.Client) -> None:
    for path in (f"{BASE}/", BASE):
        response = api.post(path, json={})
        assert response.status_code == 422
        assert response.json() == MANDATORY
        assert list(response.json()) == list(MANDATORY)  # the seed's order
    update = api.put(f"{BASE}/{EXISTING_OPPORTUNITY_ID}", json={"title": ""})
    assert (update.status_code, update.json()) == (422, MANDATORY)


def test_422_invalid_values(api: httpx.Client) -> None:
    bad = opportunity(status="closed", stageId="not-a-stage", contactId="NoSuchContact0000000")
    response = api.post(f"{BASE}/", json=bad)
    assert response.status_code == 422
    assert response.json() == INVALID_MOVE | {
        "contactId": {"message": "The contact id field is invalid.", "rule": "invalid"}
    }
    typed = api.post(f"{BASE}/", json=opportunity(monetaryValue="lots", tags="x", email="nope"))
    assert set(typed.json()) == {"monetaryValue", "tags", "email"}
    assert {entry["rule"] for entry in typed.json().values()} == {"invalid"}


def test_create_answers_the_read_shape_and_get_reads_it(
    onautomate: RunningOnAutomateSandbox, api: httpx.Client
) -> None:
    fields = {"monetaryValue": 122.22, "assignedTo": "082goXVW3lIExEQPOnd3", "source": "api",
              "name": "Elon Two", "companyName": "Tesla", "tags": ["a", "b"],
              "phone": "+1202-555-0000"}  # fmt: skip
    created = create(api, **fields)
    assert set(created) == READ_KEYS
    assert re.fullmatch(r"[A-Za-z0-9]{20}", created["id"])
    assert (created["name"], created["status"], created["pipelineStageId"]) == (
        "First Opp",
        "open",
        STAGE_NEW,
    )
    assert (created["pipelineId"], created["monetaryValue"], created["source"]) == (
        PIPELINE_ID,
        122.22,
        "api",
    )
    assert all(ISO.match(created[key]) for key in ("createdAt", "updatedAt", "lastStatusChangeAt"))
    contact = created["contact"]
    assert (contact["name"], contact["email"], contact["tags"]) == (
        "Elon Two",
        "elon2@musk.com",
        ["a", "b"],
    )
    got = api.get(f"{BASE}/{created['id']}")
    assert (got.status_code, got.json()) == (200, created)
    assert len(onautomate.state.contacts()) == 3  # the new contact, by its e-mail


def test_contact_found_by_email_contact_id_or_phone(api: httpx.Client) -> None:
    by_email = create(api, title="A", email=CONTACT_EMAIL.upper())
    assert by_email["contact"]["id"] == CONTACT_ID
    api.delete(f"{BASE}/{by_email['id']}")
    by_id = create(api, title="B", email=None, contactId=CONTACT_ID)
    assert by_id["contact"]["email"] == CONTACT_EMAIL
    api.delete(f"{BASE}/{by_id['id']}")
    by_phone = create(api, title="C", email=None, phone="+1202-555-0107")
    assert by_phone["contact"]["id"] == CONTACT_ID
    new_phone = create(api, title="D", email=None, phone="+90 555 000 00 00")
    assert new_phone["contact"]["id"] not in (CONTACT_ID, TAKEN_CONTACT_ID)


def test_unknown_opportunity_is_404(api: httpx.Client) -> None:
    path = f"{BASE}/NoSuchOpportunity000"
    calls = [
        api.get(path),
        api.put(path, json=opportunity()),
        api.put(f"{path}/status", json={"status": "won", "stageId": STAGE_CLOSED}),
    ]
    for response in calls:
        assert (response.status_code, response.json()) == (404, NOT_FOUND)


# --- listing ------------------------------------------------------------------------------------


def test_listing_20_a_page_with_meta(api: httpx.Client) -> None:
    ids = [create(api, title="Bulk", email=f"bulk{n}@example.com")["id"] for n in range(25)]
    first = api.get(BASE, params={"page": 1, "title": "Bulk"}).json()
    assert [o["id"] for o in first["opportunities"]] == ids[:20]
    assert first["meta"] == {"total": 25, "currentPage": 1, "nextPage": 2, "prevPage": None}
    second = api.get(BASE, params={"page": 2, "title": "Bulk"}).json()
    assert [o["id"] for o in second["opportunities"]] == ids[20:]
    assert second["meta"] == {"total": 25, "currentPage": 2, "nextPage": None, "prevPage": 1}
    beyond = api.get(BASE, params={"page": 3, "title": "Bulk"}).json()
    assert beyond == {
        "opportunities": [],
        "meta": {"total": 25, "currentPage": 3, "nextPage": None, "prevPage": 2},
    }
    everything = api.get(BASE).json()  # page 1 by default, the seed's opportunity first
    assert everything["meta"]["total"] == 26
    assert everything["opportunities"][0]["id"] == EXISTING_OPPORTUNITY_ID
    assert set(everything["opportunities"][0]) == READ_KEYS


def test_listing_filters_match_exactly(api: httpx.Client) -> None:
    mine = create(api, title="Deal", email=CONTACT_EMAIL, monetaryValue=50, assignedTo="u1")
    create(api, title="Deal", email="other@example.com", stageId=STAGE_QUALIFIED)
    create(api, title="Deal 2", email="third@example.com", status="won")

    def ids(**params: Any) -> list[str]:
        return [o["id"] for o in api.get(BASE, params=params).json()["opportunities"]]

    assert len(ids(title="Deal")) == 2
    assert ids(title="deal") == ids(title="Dea") == []
    assert ids(title="Deal", email="JOHN@deo.com") == [mine["id"]]
    assert ids(title="Deal", contactId=CONTACT_ID) == [mine["id"]]
    assert ids(phone="+1202-555-0107") == [mine["id"]]
    assert ids(name="John Deo", companyName="Tesla Inc", tags="ea") == [mine["id"]]
    assert ids(monetaryValue="50.0", assignedTo="u1") == [mine["id"]]
    assert len(ids(stageId=STAGE_QUALIFIED)) == 2  # with the seed's First Opp
    assert len(ids(status="won")) == 1
    assert ids(title="Deal", contactId=TAKEN_CONTACT_ID) == []
    assert len(ids(title="Deal", unknown="x")) == 2  # an unknown parameter filters nothing


# --- status, update, delete ---------------------------------------------------------------------


def test_status_move_answers_an_empty_string(api: httpx.Client) -> None:
    created = create(api)
    path = f"{BASE}/{created['id']}"
    moved = api.put(f"{path}/status", json={"status": "won", "stageId": STAGE_CLOSED})
    assert (moved.status_code, moved.content, moved.json()) == (200, b'""', "")
    after = api.get(path).json()
    assert (after["status"], after["pipelineStageId"]) == ("won", STAGE_CLOSED)
    assert after["lastStatusChangeAt"] >= created["lastStatusChangeAt"]
    missing = api.put(f"{path}/status", json={})
    assert missing.status_code == 422
    assert missing.json() == {key: MANDATORY[key] for key in ("status", "stageId")}
    invalid = api.put(f"{path}/status", json={"status": "done", "stageId": "x"})
    assert (invalid.status_code, invalid.json()) == (422, INVALID_MOVE)


def test_update_answers_the_read_shape_and_keeps_omitted_fields(api: httpx.Client) -> None:
    created = create(api, source="form [salesaga-x]", monetaryValue=10)
    body = opportunity(title="Renamed", status="lost", stageId=STAGE_QUALIFIED)
    updated = api.put(f"{BASE}/{created['id']}", json=body)
    assert updated.status_code == 200
    assert set(updated.json()) == READ_KEYS
    after = updated.json()
    assert (after["name"], after["status"], after["pipelineStageId"]) == (
        "Renamed",
        "lost",
        STAGE_QUALIFIED,
    )
    assert (after["source"], after["monetaryValue"]) == ("form [salesaga-x]", 10)
    assert api.get(f"{BASE}/{created['id']}").json() == after


def test_delete_answers_200_for_everything(api: httpx.Client, anon: httpx.Client) -> None:
    created = create(api)
    path = f"{BASE}/{created['id']}"
    deleted = api.delete(path)
    assert (deleted.status_code, deleted.content) == (200, b'""')
    assert deleted.headers["content-type"] == "application/json"
    gone = api.get(path)
    assert (gone.status_code, gone.json()) == (404, NOT_FOUND)
    again = api.delete(path)  # already deleted: 200 with an error body
    assert (again.status_code, again.json()) == (200, BAD_REQUEST)
    never = api.delete(f"{BASE}/NoSuchOpportunity000")
    assert (never.status_code, never.json()) == (200, BAD_REQUEST)
    assert created["id"] not in [o["id"] for o in api.get(BASE).json()["opportunities"]]
    update = api.put(path, json=opportunity())
    assert (update.status_code, update.json()) == (404, NOT_FOUND)
    records = anon.get("/__sandbox__/records").json()
    [kept] = [o for o in records["opportunities"] if o["id"] == created["id"]]
    assert kept["deleted"] is True
    assert ISO.match(kept["deletedAt"])


# --- the duplicate rule -------------------------------------------------------------------------


def test_one_opportunity_per_contact_and_pipeline(
    onautomate: RunningOnAutomateSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    seed_example = {"title": "First Opp", "status": "open", "stageId": STAGE_NEW,
                    "email": TAKEN_CONTACT_EMAIL, "contactId": TAKEN_CONTACT_ID,
                    "monetaryValue": 122.22, "source": "public api"}  # fmt: skip
    for body in (seed_example, opportunity(email=TAKEN_CONTACT_EMAIL.upper())):
        response = api.post(f"{BASE}/", json=body)
        assert (response.status_code, response.json()) == (422, DUPLICATE)
    first = create(api, email=CONTACT_EMAIL)
    second = api.post(f"{BASE}/", json=opportunity(title="Other", contactId=CONTACT_ID))
    assert (second.status_code, second.json()) == (422, DUPLICATE)
    other = create(api, title="Other", email="x@example.com")
    moved_to_john = api.put(f"{BASE}/{other['id']}", json=opportunity(email=CONTACT_EMAIL))
    assert (moved_to_john.status_code, moved_to_john.json()) == (422, DUPLICATE)
    same = api.put(f"{BASE}/{first['id']}", json=opportunity(title="Mine", email=CONTACT_EMAIL))
    assert same.status_code == 200  # updating the contact's own opportunity is no duplicate
    api.delete(f"{BASE}/{first['id']}")
    assert create(api, email=CONTACT_EMAIL)["contact"]["id"] == CONTACT_ID  # free again
    anon.post("/__sandbox__/reset", json={"allow_duplicates": True})
    assert onautomate.state.allow_duplicates
    assert create(api, email=TAKEN_CONTACT_EMAIL)["contact"]["id"] == TAKEN_CONTACT_ID


# --- faults -------------------------------------------------------------------------------------


def add_fault(anon: httpx.Client, **fault: Any) -> httpx.Response:
    return anon.post("/__sandbox__/faults", json=fault)


def test_fault_status_times_and_retry_after(
    onautomate: RunningOnAutomateSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    assert add_fault(anon, operation="create", status=503, times=2).status_code == 200
    for _ in range(2):
        failed = api.post(f"{BASE}/", json=opportunity())
        assert (failed.status_code, failed.json()) == (503, {"msg": "Service Unavailable"})
    assert api.post(f"{BASE}/", json=opportunity()).status_code == 200
    add_fault(anon, operation="list", status=429, retry_after="7", message="Slow down")
    limited = api.get(BASE)
    assert (limited.status_code, limited.json()) == (429, {"msg": "Slow down"})
    assert limited.headers["retry-after"] == "7"
    assert api.get(f"{BASE}/{EXISTING_OPPORTUNITY_ID}").status_code == 200  # other operations
    assert api.get(BASE).status_code == 200
    assert len(onautomate.state.opportunities()) == 2  # the failed creates stored nothing


def test_fault_422_with_a_chosen_field_and_rule(api: httpx.Client, anon: httpx.Client) -> None:
    add_fault(anon, operation="create", status=422)
    default = api.post(f"{BASE}/", json=opportunity())
    assert default.json() == {
        "title": {"message": "The title field is invalid.", "rule": "invalid"}
    }
    add_fault(anon, operation="create", status=422, field="opportunity", rule="duplicate",
              message="The contact already has an opportunity in this pipeline.")  # fmt: skip
    assert api.post(f"{BASE}/", json=opportunity()).json() == DUPLICATE


def test_fault_delay_then_served(onautomate: RunningOnAutomateSandbox, api: httpx.Client) -> None:
    onautomate.state.faults.delay(0.3, operation="get")
    started = time.monotonic()
    response = api.get(f"{BASE}/{EXISTING_OPPORTUNITY_ID}")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    started = time.monotonic()
    api.get(f"{BASE}/{EXISTING_OPPORTUNITY_ID}")
    assert time.monotonic() - started < 0.3


def test_fault_body_contains_picks_the_call(api: httpx.Client, anon: httpx.Client) -> None:
    add_fault(anon, operation="create", status=500, body_contains="Poison", times=1_000_000)
    for _ in range(3):
        assert api.post(f"{BASE}/", json=opportunity(title="Poison pill")).status_code == 500
    assert api.post(f"{BASE}/", json=opportunity(title="Fine")).status_code == 200
    kept = create(api, title="Kept", email="kept@example.com")
    add_fault(anon, operation="get", status=500, body_contains=kept["id"])  # in the path
    assert api.get(f"{BASE}/{EXISTING_OPPORTUNITY_ID}").status_code == 200
    assert api.get(f"{BASE}/{kept['id']}").status_code == 500


def test_fault_probability(api: httpx.Client, anon: httpx.Client) -> None:
    add_fault(anon, operation="get", status=500, probability=1.0, times=3)
    assert [api.get(BASE + f"/{EXISTING_OPPORTUNITY_ID}").status_code for _ in range(4)] == [
        500,
        500,
        500,
        200,
    ]
    random.seed(3)
    add_fault(anon, operation="list", status=500, probability=0.5, times=1_000_000)
    statuses = {api.get(BASE).status_code for _ in range(30)}
    assert statuses == {200, 500}


def test_fault_error_body_on_delete_deletes_nothing(
    onautomate: RunningOnAutomateSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    created = create(api)
    add_fault(anon, operation="delete", error_body=True)
    refused = api.delete(f"{BASE}/{created['id']}")
    assert (refused.status_code, refused.json()) == (200, BAD_REQUEST)
    assert api.get(f"{BASE}/{created['id']}").status_code == 200
    onautomate.state.faults.refuse(message="Unauthorized")
    assert api.delete(f"{BASE}/{created['id']}").json() == UNAUTHORIZED
    assert api.delete(f"{BASE}/{created['id']}").content == b'""'


def test_fault_validation_and_listing(anon: httpx.Client) -> None:
    bad_faults: list[dict[str, Any]] = [
        {},
        {"status": 200},
        {"operation": "search", "status": 500},
        {"status": 500, "error_body": True},
        {"delay_s": 0.1, "probability": 0},
        {"operation": "create", "noop": True},  # noop answers "": delete and status only
    ]
    for bad in bad_faults:
        assert add_fault(anon, **bad).status_code == 422, bad
    added = add_fault(anon, operation="delete", error_body=True, times=2)
    [pending] = added.json()["pending"]
    assert (pending["operation"], pending["error_body"], pending["remaining"]) == (
        "delete",
        True,
        2,
    )
    records = anon.get("/__sandbox__/records").json()
    assert set(records) == {"opportunities", "contacts", "faults"}
    assert records["faults"] == [pending]


def test_reset_goes_back_to_the_seed(api: httpx.Client, anon: httpx.Client) -> None:
    created = create(api)
    api.delete(f"{BASE}/{EXISTING_OPPORTUNITY_ID}")
    add_fault(anon, status=500, times=5)
    response = anon.post("/__sandbox__/reset")
    assert response.json() == {"reset": True, "allow_duplicates": False}
    records = anon.get("/__sandbox__/records").json()
    assert [o["id"] for o in records["opportunities"]] == [EXISTING_OPPORTUNITY_ID]
    assert records["opportunities"][0]["deleted"] is False
    assert {c["id"] for c in records["contacts"]} == {CONTACT_ID, TAKEN_CONTACT_ID}
    assert records["faults"] == []
    assert api.get(f"{BASE}/{created['id']}").status_code == 404


# --- the UI page and mounting -------------------------------------------------------------------


def test_ui_page_shows_the_opportunity_without_a_token(
    api: httpx.Client, anon: httpx.Client
) -> None:
    created = create(api, title="<Big> deal")
    page = anon.get(f"/ui/pipelines/{PIPELINE_ID}/opportunities/{created['id']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "&lt;Big&gt; deal" in page.text
    assert "New" in page.text  # the stage's name
    missing = anon.get(f"/ui/pipelines/{PIPELINE_ID}/opportunities/nope")
    assert missing.status_code == 404


def test_works_without_a_prefix() -> None:
    with running_onautomate_sandbox(prefix="") as bare:
        headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
        response = httpx.get(f"{bare.url}{BASE}/{EXISTING_OPPORTUNITY_ID}", headers=headers)
    assert response.json()["name"] == "First Opp"
