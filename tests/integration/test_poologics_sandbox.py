"""The Poologics sandbox's wire format over real HTTP, as seed 000 shows it and
orchestrator/backends/poologics/wire.py pins it: the two-step key, 401 on a bad key, create /
write / get and every documented error body, the Zapier subscriptions, webhook delivery to a
real receiver (headers, retries after a 500, giving up), faults, and the control routes."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrator.backends.poologics.sandbox.data import (
    CONTACT_ID,
    LEAD_ID,
    NO_KEY_LOGIN,
    NO_KEY_PASSWORD,
    SANDBOX_API_KEY,
    SANDBOX_LOGIN,
    SANDBOX_PASSWORD,
    STAGES,
)
from orchestrator.backends.poologics.sandbox.faults import ERRORS
from tests.poologics_sandbox import (
    DELIVERY,
    EVENT,
    RunningPoologicsSandbox,
    WebhookReceiver,
    running_poologics_sandbox,
    running_webhook_receiver,
)

SUPPORT = "please try again or contact support@poologics.com"
# The seed's error bodies, typed out from the seed (not imported from the code under test).
INVALID_USER = {"success": False, "error": f"Invalid User, {SUPPORT}"}
INVALID_PASSWORD = {"success": False, "error": f"Invalid password, {SUPPORT}"}
NO_API_KEY = {"success": False, "error": f"No Api Key found, {SUPPORT}"}
UNEXPECTED = {
    "success": False,
    "error": "An unexpected error occurred. Please contact support@poologics.com",
}
WRONG_TRIGGER = {"success": False,
                 "error": f"Subscription failed, Wrong trigger integration, {SUPPORT}"}  # fmt: skip
UNKNOWN_ACTION = {"success": False, "error": f"Unknown Error, {SUPPORT}"}
SUBSCRIPTION_FAILED = {"success": False, "error": f"Subscription failed, {SUPPORT}"}
UNSUBSCRIBE_FAILED = {"success": False, "error": f"Unsubscribe request failed, {SUPPORT}"}
REQUIRED = {
    "success": False,
    "error": "Required fields are missing. Please ensure all necessary data is provided.",
}
INVALID = {
    "success": False,
    "error": "Invalid field values provided. Please check the input and try again.",
}
RECORD_ID_REQUIRED = {
    "success": False,
    "error": f'Unable to edit opportunity ("poologics_id is Required."), {SUPPORT}',
    "err_msg": "poologics_id is Required.",
}
WRITE_NOT_FOUND = {
    "success": False,
    "error": f'Unable to edit opportunity ("No record found."), {SUPPORT}',
    "err_msg": "No record found!",
}
GET_NOT_FOUND = {
    "success": False,
    "error": "No record found with the given ID. Please verify the ID and try again.",
}
RETRIEVE_FAILED = {
    "success": False,
    "error": "An error occurred while retrieving records. Please try again or contact "
    "support@poologics.com",
}
LEAD_KEYS = ["poologics_id", "name", "contact_name", "email", "description", "street", "city",
             "zip", "state", "country", "phone", "mobile", "stage"]  # fmt: skip
CONTACT_KEYS = ["poologics_id", "name", "email", "phone", "mobile", "street", "city", "zip",
                "state", "country"]  # fmt: skip
SEED_LEAD = {"contact_name": "John Doe", "email": "john@example.com", "mobile": "0987654321",
             "city": "City", "stage_id": "Lead"}  # fmt: skip


@pytest.fixture(scope="module")
def clients(
    poologics_server: RunningPoologicsSandbox,
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """One client with the sandbox's key, one without."""
    with (
        httpx.Client(base_url=poologics_server.url, headers={"API-KEY": SANDBOX_API_KEY}) as api,
        httpx.Client(base_url=poologics_server.url) as anon,
    ):
        yield api, anon


@pytest.fixture
def api(
    poologics: RunningPoologicsSandbox, clients: tuple[httpx.Client, httpx.Client]
) -> httpx.Client:
    return clients[0]


@pytest.fixture
def anon(
    poologics: RunningPoologicsSandbox, clients: tuple[httpx.Client, httpx.Client]
) -> httpx.Client:
    """No key: /web/get/key, the control routes, the UI page."""
    return clients[1]


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[WebhookReceiver]:
    with running_webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(
    receiver_server: WebhookReceiver, poologics: RunningPoologicsSandbox
) -> WebhookReceiver:
    receiver_server.clear()
    return receiver_server


def call(client: httpx.Client, route: str, **params: Any) -> httpx.Response:
    return client.post(route, json={"params": params})


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body.get("success") is not False, body
    return body


def answered(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


def create_lead(api: httpx.Client, **values: Any) -> dict[str, Any]:
    return ok(call(api, "/web/dataset/create", model="crm.lead", values=SEED_LEAD | values))


# --- the key ------------------------------------------------------------------------------------


def test_get_key_and_its_errors(poologics: RunningPoologicsSandbox, anon: httpx.Client) -> None:
    good = call(anon, "/web/get/key", login=SANDBOX_LOGIN, password=SANDBOX_PASSWORD)
    assert answered(good) == (200, {"success": True, "api_key": SANDBOX_API_KEY})
    assert poologics.state.logins == 1
    cases = [
        ({"login": "nobody@poologics.test", "password": SANDBOX_PASSWORD}, INVALID_USER),
        ({"password": SANDBOX_PASSWORD}, INVALID_USER),
        ({"login": SANDBOX_LOGIN, "password": "wrong"}, INVALID_PASSWORD),
        ({"login": SANDBOX_LOGIN}, INVALID_PASSWORD),
        ({"login": NO_KEY_LOGIN, "password": NO_KEY_PASSWORD}, NO_API_KEY),
    ]
    for params, expected in cases:
        assert answered(call(anon, "/web/get/key", **params)) == (200, expected), params
    poologics.state.faults.fail("get_key", error="unexpected")
    failed = call(anon, "/web/get/key", login=SANDBOX_LOGIN, password=SANDBOX_PASSWORD)
    assert answered(failed) == (200, UNEXPECTED)
    assert poologics.state.logins == 1


def test_check_key_and_401_on_every_route(api: httpx.Client, anon: httpx.Client) -> None:
    assert answered(call(api, "/check_key")) == (200, {"success": True})
    routes = ["/check_key", "/web/dataset/create", "/web/dataset/write", "/web/dataset/get",
              "/zapier/integration"]  # fmt: skip
    for headers in ({}, {"API-KEY": "wrong"}, {"API-KEY": ""}, {"Authorization": SANDBOX_API_KEY}):
        for route in routes:
            response = anon.post(route, json={"params": {}}, headers=headers)
            assert response.status_code == 401, (route, headers)
            assert response.headers["content-type"].startswith("text/html")
            assert "<title>401 Unauthorized</title>" in response.text
    lower = anon.post("/check_key", json={"params": {}}, headers={"api-key": SANDBOX_API_KEY})
    assert answered(lower) == (200, {"success": True})


def test_revoked_key_stops_working_and_a_login_issues_a_new_one(
    poologics: RunningPoologicsSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    assert ok(anon.post("/__sandbox__/revoke-key")) == {"revoked": True}
    assert call(api, "/check_key").status_code == 401
    fresh = ok(call(anon, "/web/get/key", login=SANDBOX_LOGIN, password=SANDBOX_PASSWORD))
    assert fresh["api_key"] not in ("", SANDBOX_API_KEY)
    again = ok(call(anon, "/web/get/key", login=SANDBOX_LOGIN, password=SANDBOX_PASSWORD))
    assert again["api_key"] == fresh["api_key"]  # the user's key, until revoked again
    checked = anon.post("/check_key", json={"params": {}}, headers={"API-KEY": fresh["api_key"]})
    assert answered(checked) == (200, {"success": True})
    assert (poologics.state.logins, poologics.state.key_checks) == (2, 1)
    assert call(api, "/check_key").status_code == 401


def test_bodies_that_are_not_params_and_unknown_routes(api: httpx.Client) -> None:
    bad = {"success": False, "error": "Bad Request"}
    for content in (b"{", b"[]", b'{"values": {}}', b'{"params": []}', b""):
        response = api.post(
            "/check_key", content=content, headers={"Content-Type": "application/json"}
        )
        assert answered(response) == (400, bad), content
    assert answered(call(api, "/web/nothing")) == (404, {"success": False, "error": "Not Found"})
    assert api.get("/check_key").status_code == 405


# --- create, write, get -------------------------------------------------------------------------


def test_create_as_the_seed_shows(poologics: RunningPoologicsSandbox, api: httpx.Client) -> None:
    created = call(api, "/web/dataset/create", model="crm.lead", values=SEED_LEAD)
    assert answered(created) == (
        200,
        {"model": "crm.lead", "id": 493, "name": "John Doe's Opportunity"},
    )
    contact = call(api, "/web/dataset/create", model="res.partner",
                   values={"name": "John Doe", "email": "john@example.com", "city": "City",
                           "mobile": "0987654321"})  # fmt: skip
    assert answered(contact) == (200, {"model": "res.partner", "id": 4304, "name": "John Doe"})
    got = ok(call(api, "/web/dataset/get", model="crm.lead", record_id=493))
    assert list(got) == LEAD_KEYS
    assert got == {"poologics_id": "493", "name": "John Doe's Opportunity",
                   "contact_name": "John Doe", "email": "john@example.com", "description": None,
                   "street": None, "city": "City", "zip": None, "state": None, "country": None,
                   "phone": None, "mobile": "0987654321", "stage": "Lead"}  # fmt: skip
    plain = create_lead(api, stage_id=None, description="Details", name="Named")
    assert (
        ok(call(api, "/web/dataset/get", model="crm.lead", record_id=str(plain["id"])))["stage"]
        == "New"
    )
    assert plain["name"] == "Named"
    [stored] = [c for c in poologics.state.contacts() if c["poologics_id"] == "4304"]
    assert list(stored) == CONTACT_KEYS


def test_create_errors(api: httpx.Client, poologics: RunningPoologicsSandbox) -> None:
    def create(model: str, **values: Any) -> tuple[int, Any]:
        return answered(call(api, "/web/dataset/create", model=model, values=values))

    assert create("crm.lead", email="john@example.com") == (200, REQUIRED)
    assert create("crm.lead", contact_name="", stage_id="Won") == (200, REQUIRED)
    assert create("res.partner", email="john@example.com") == (200, REQUIRED)
    assert answered(call(api, "/web/dataset/create", model="crm.lead")) == (200, REQUIRED)
    assert create("crm.lead", contact_name="A", email="not-an-email") == (200, INVALID)
    assert create("res.partner", name="A", email="a@b") == (200, INVALID)
    assert create("crm.lead", contact_name="A", stage_id="Nowhere") == (200, INVALID)
    assert create("crm.lead", contact_name="A", phone=12345) == (200, INVALID)
    assert create("sale.order", contact_name="A") == (200, INVALID)
    assert create("crm.lead", contact_name="A", color="red") == (200, {
        "success": False, "error": f"Unable to create opportunity, {SUPPORT}",
        "err_msg": "Invalid field 'color' on model 'crm.lead'"})  # fmt: skip
    assert create("res.partner", name="A", stage_id="New") == (200, {
        "success": False, "error": f"Unable to create contact, {SUPPORT}",
        "err_msg": "Invalid field 'stage_id' on model 'res.partner'"})  # fmt: skip
    assert len(poologics.state.leads()) == 1
    assert len(poologics.state.contacts()) == 3


def test_write_the_stage_and_its_errors(api: httpx.Client) -> None:
    lead = create_lead(api)
    moved = call(api, "/web/dataset/write", model="crm.lead",
                 values={"record_id": lead["id"], "stage_id": "Won"})  # fmt: skip
    assert answered(moved) == (200, {"model": "crm.lead", "id": lead["id"], "name": lead["name"]})
    assert (
        ok(call(api, "/web/dataset/get", model="crm.lead", record_id=lead["id"]))["stage"] == "Won"
    )
    values = {"record_id": str(lead["id"]), "stage_id": "Lost", "city": "Paris"}
    as_text = call(api, "/web/dataset/write", model="crm.lead", values=values)
    assert ok(as_text)["id"] == lead["id"]
    seen = ok(call(api, "/web/dataset/get", model="crm.lead", record_id=lead["id"]))
    assert (seen["stage"], seen["city"]) == ("Lost", "Paris")

    def write(model: str = "crm.lead", **values: Any) -> tuple[int, Any]:
        return answered(call(api, "/web/dataset/write", model=model, values=values))

    assert write(stage_id="Won") == (200, RECORD_ID_REQUIRED)
    assert write(record_id="", stage_id="Won") == (200, RECORD_ID_REQUIRED)
    assert answered(call(api, "/web/dataset/write", model="crm.lead")) == (200, RECORD_ID_REQUIRED)
    assert write(record_id=999999, stage_id="Won") == (200, WRITE_NOT_FOUND)
    assert write(record_id="abc", stage_id="Won") == (200, WRITE_NOT_FOUND)
    update_failed = {"success": False, "error": f"Unable to update opportunity, {SUPPORT}"}
    assert write(record_id=lead["id"]) == (
        200,
        update_failed | {"err_msg": "stage_id is Required."},
    )
    assert write("res.partner", record_id=CONTACT_ID, stage_id="Won") == (
        200, update_failed | {"err_msg": "Model 'res.partner' cannot be edited"})  # fmt: skip
    assert write(record_id=lead["id"], stage_id="Nowhere") == (200, INVALID)
    assert write(record_id=lead["id"], stage_id="Won", email="bad") == (200, INVALID)
    assert write(record_id=lead["id"], stage_id="Won", color="red") == (
        200, update_failed | {"err_msg": "Invalid field 'color' on model 'crm.lead'"})  # fmt: skip
    assert (
        ok(call(api, "/web/dataset/get", model="crm.lead", record_id=lead["id"]))["stage"] == "Lost"
    )


def test_get_errors(api: httpx.Client) -> None:
    for params in ({"model": "crm.lead", "record_id": 999999}, {"model": "crm.lead"},
                   {"model": "crm.lead", "record_id": "x"},
                   {"model": "res.partner", "record_id": CONTACT_ID}):  # fmt: skip
        assert answered(call(api, "/web/dataset/get", **params)) == (200, GET_NOT_FOUND), params
    seeded = ok(call(api, "/web/dataset/get", model="crm.lead", record_id=LEAD_ID))
    assert (seeded["name"], seeded["stage"]) == ("Azure Interior's Opportunity", "Qualified")


# --- the Zapier subscriptions -------------------------------------------------------------------


def test_zapier_start_stop_and_errors(
    poologics: RunningPoologicsSandbox, api: httpx.Client
) -> None:
    def zapier(**params: Any) -> tuple[int, Any]:
        return answered(call(api, "/zapier/integration", **params))

    success = (200, {"success": True})
    url = "https://hooks.example.com/catch/1"
    assert zapier(trigger="new_opportunity", action="start", url=url) == success
    assert zapier(trigger="new_opportunity", action="start", url=url) == success  # idempotent
    assert zapier(trigger="new_contact", action="start", url=url) == success
    assert poologics.state.subscriptions() == {"new_opportunity": [url], "new_contact": [url],
                                               "opportunity_stage_change": []}  # fmt: skip
    assert zapier(trigger="new_lead", action="start", url=url) == (200, WRONG_TRIGGER)
    assert zapier(action="stop", url=url) == (200, WRONG_TRIGGER)
    assert zapier(trigger="new_contact", action="pause", url=url) == (200, UNKNOWN_ACTION)
    assert zapier(trigger="new_contact", url=url) == (200, UNKNOWN_ACTION)
    assert zapier(trigger="new_contact", action="start", url="ftp://x") == (
        200,
        SUBSCRIPTION_FAILED,
    )
    assert zapier(trigger="new_contact", action="start") == (200, SUBSCRIPTION_FAILED)
    assert zapier(trigger="new_contact", action="stop") == (200, UNSUBSCRIBE_FAILED)
    assert zapier(trigger="new_contact", action="stop", url=url) == success
    assert zapier(trigger="new_contact", action="stop", url=url) == success  # already gone
    stopped = api.request("DELETE", "/zapier/integration",
                          json={"params": {"trigger": "new_opportunity", "url": url}})  # fmt: skip
    assert answered(stopped) == success
    triggers = ("new_opportunity", "new_contact", "opportunity_stage_change")
    assert poologics.state.subscriptions() == {trigger: [] for trigger in triggers}
    poologics.state.faults.fail("zapier", error="unsubscribe_failed")
    assert zapier(trigger="new_contact", action="stop", url=url) == (200, UNSUBSCRIBE_FAILED)
    poologics.state.faults.fail("zapier", error="unexpected")
    assert zapier(trigger="new_contact", action="start", url=url) == (200, UNEXPECTED)


# --- webhooks -----------------------------------------------------------------------------------


def subscribe(api: httpx.Client, receiver: WebhookReceiver, *triggers: str) -> None:
    for trigger in triggers:
        ok(call(api, "/zapier/integration", trigger=trigger, action="start",
                url=f"{receiver.url}/hooks/{trigger}"))  # fmt: skip


def test_events_are_posted_with_the_seed_s_fields_and_headers(
    poologics: RunningPoologicsSandbox, api: httpx.Client, receiver: WebhookReceiver
) -> None:
    subscribe(api, receiver, "new_opportunity", "new_contact", "opportunity_stage_change")
    lead = create_lead(api, description="Details\n[salesaga-1]")
    contact = ok(call(api, "/web/dataset/create", model="res.partner", values={"name": "Ann"}))
    call(
        api,
        "/web/dataset/write",
        model="crm.lead",
        values={"record_id": lead["id"], "stage_id": "Won"},
    )
    call(
        api,
        "/web/dataset/write",
        model="crm.lead",
        values={"record_id": lead["id"], "stage_id": "Won"},
    )
    assert poologics.state.webhooks.drain(5)
    events = receiver.events()
    assert [(e.path, e.headers[EVENT]) for e in events] == [
        ("/hooks/new_opportunity", "new_opportunity"),
        ("/hooks/new_contact", "new_contact"),
        ("/hooks/opportunity_stage_change", "opportunity_stage_change"),
    ]  # the second write does not change the stage: no event
    opportunity, partner, stage = (e.body for e in events)
    assert list(opportunity) == LEAD_KEYS
    assert opportunity == {"poologics_id": str(lead["id"]), "name": "John Doe's Opportunity",
                           "contact_name": "John Doe", "email": "john@example.com",
                           "description": "Details\n[salesaga-1]", "street": None, "city": "City",
                           "zip": None, "state": None, "country": None, "phone": None,
                           "mobile": "0987654321", "stage": "Lead"}  # fmt: skip
    assert list(partner) == CONTACT_KEYS
    assert (partner["poologics_id"], partner["name"]) == (str(contact["id"]), "Ann")
    assert stage == opportunity | {"stage": "Won"}
    assert all(e.headers["content-type"] == "application/json" for e in events)
    assert len({e.headers[DELIVERY] for e in events}) == 3  # one id per event
    attempts = poologics.state.deliveries()
    assert [(a["trigger"], a["attempt"], a["status"]) for a in attempts] == [
        ("new_opportunity", 1, 200), ("new_contact", 1, 200), ("opportunity_stage_change", 1, 200),
    ]  # fmt: skip


def test_a_failed_delivery_is_retried_with_the_same_id(
    poologics: RunningPoologicsSandbox, api: httpx.Client, receiver: WebhookReceiver
) -> None:
    subscribe(api, receiver, "new_opportunity")
    receiver.answer(500, 503)
    lead = create_lead(api)
    assert poologics.state.webhooks.drain(5)
    events = receiver.events("new_opportunity")
    assert len(events) == 3
    assert len({e.headers[DELIVERY] for e in events}) == 1
    assert all(e.body["poologics_id"] == str(lead["id"]) for e in events)
    attempts = poologics.state.deliveries()
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert attempts[0]["at"] <= attempts[1]["at"] <= attempts[2]["at"]
    records = httpx.get(f"{poologics.url}/__sandbox__/records").json()
    assert [a["status"] for a in records["deliveries"]] == [500, 503, 200]


def test_delivery_gives_up_after_five_tries_and_reaches_unreachable_urls_too(
    poologics: RunningPoologicsSandbox, api: httpx.Client, receiver: WebhookReceiver
) -> None:
    subscribe(api, receiver, "new_contact")
    ok(call(api, "/zapier/integration", trigger="new_contact", action="start",
            url="http://127.0.0.1:1/hooks/nowhere"))  # fmt: skip
    receiver.answer(*[500] * 10)
    started = time.monotonic()
    ok(call(api, "/web/dataset/create", model="res.partner", values={"name": "Ann"}))
    assert poologics.state.webhooks.drain(5)
    assert time.monotonic() - started >= 0.02 + 0.04 + 0.08 + 0.16  # the backoff
    attempts = poologics.state.deliveries()
    mine = [a for a in attempts if a["url"].startswith(receiver.url)]
    nowhere = [a for a in attempts if a["url"].startswith("http://127.0.0.1:1")]
    assert [(a["attempt"], a["status"]) for a in mine] == [(n, 500) for n in range(1, 6)]
    assert [(a["attempt"], a["status"]) for a in nowhere] == [(n, None) for n in range(1, 6)]
    assert all(a["error"] for a in nowhere)
    assert len(receiver.events()) == 5
    assert len({a["delivery"] for a in attempts}) == 1


def test_reset_drops_queued_deliveries(
    poologics: RunningPoologicsSandbox, api: httpx.Client, receiver: WebhookReceiver
) -> None:
    subscribe(api, receiver, "new_contact")
    receiver.answer(*[500] * 10)
    ok(call(api, "/web/dataset/create", model="res.partner", values={"name": "Ann"}))
    poologics.state.reset()
    assert poologics.state.webhooks.drain(2)
    assert poologics.state.deliveries() == []
    assert poologics.state.subscriptions()["new_contact"] == []


# --- faults -------------------------------------------------------------------------------------


def add_fault(anon: httpx.Client, **fault: Any) -> httpx.Response:
    return anon.post("/__sandbox__/faults", json=fault)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_a_fault_answers_every_documented_error_by_name(
    api: httpx.Client, anon: httpx.Client, name: str
) -> None:
    assert add_fault(anon, operation="get", error=name).status_code == 200
    response = call(api, "/web/dataset/get", model="crm.lead", record_id=LEAD_ID)
    error, detail = ERRORS[name]
    expected = {"success": False, "error": error} | ({"err_msg": detail} if detail else {})
    assert answered(response) == (200, expected)
    assert ok(call(api, "/web/dataset/get", model="crm.lead", record_id=LEAD_ID))["stage"]


def test_the_named_errors_are_the_seed_s(api: httpx.Client) -> None:
    seed = [INVALID_USER, INVALID_PASSWORD, NO_API_KEY, UNEXPECTED, WRONG_TRIGGER, UNKNOWN_ACTION,
            SUBSCRIPTION_FAILED, UNSUBSCRIBE_FAILED, REQUIRED, INVALID, RECORD_ID_REQUIRED,
            WRITE_NOT_FOUND, GET_NOT_FOUND, RETRIEVE_FAILED]  # fmt: skip
    texts = {error for error, _ in ERRORS.values()}
    assert {body["error"] for body in seed} <= texts
    assert texts - {body["error"] for body in seed} == {
        f"Unable to create contact, {SUPPORT}", f"Unable to create opportunity, {SUPPORT}",
        f"Unable to update opportunity, {SUPPORT}"}  # fmt: skip


def test_fault_text_status_retry_after_and_401(
    poologics: RunningPoologicsSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    add_fault(anon, operation="create_lead", error="Something else", err_msg="why")
    assert answered(call(api, "/web/dataset/create", model="crm.lead", values=SEED_LEAD)) == (
        200, {"success": False, "error": "Something else", "err_msg": "why"})  # fmt: skip
    add_fault(anon, operation="create_contact", status=503, times=2)
    for _ in range(2):
        failed = call(api, "/web/dataset/create", model="res.partner", values={"name": "A"})
        assert answered(failed) == (503, {"success": False, "error": "Service Unavailable"})
    assert ok(call(api, "/web/dataset/create", model="crm.lead", values=SEED_LEAD))["id"] == 493
    add_fault(anon, operation="check_key", status=429, retry_after="7")
    limited = call(api, "/check_key")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    add_fault(anon, operation="get", status=401)
    assert call(api, "/web/dataset/get", model="crm.lead", record_id=LEAD_ID).status_code == 401
    assert [lead["poologics_id"] for lead in poologics.state.leads()] == [str(LEAD_ID), "493"]


def test_fault_noop_write_answers_success_and_writes_nothing(
    poologics: RunningPoologicsSandbox, api: httpx.Client, receiver: WebhookReceiver
) -> None:
    subscribe(api, receiver, "opportunity_stage_change")
    poologics.state.faults.ignore()
    values = {"record_id": LEAD_ID, "stage_id": "Lost"}
    ignored = call(api, "/web/dataset/write", model="crm.lead", values=values)
    assert answered(ignored) == (200, {"model": "crm.lead", "id": LEAD_ID,
                                       "name": "Azure Interior's Opportunity"})  # fmt: skip
    assert (
        ok(call(api, "/web/dataset/get", model="crm.lead", record_id=LEAD_ID))["stage"]
        == "Qualified"
    )
    assert poologics.state.webhooks.drain(2)
    assert receiver.events() == []


def test_fault_delay_body_contains_and_probability(
    poologics: RunningPoologicsSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    poologics.state.faults.delay(0.3, operation="get")
    started = time.monotonic()
    assert ok(call(api, "/web/dataset/get", model="crm.lead", record_id=LEAD_ID))
    assert time.monotonic() - started >= 0.3
    add_fault(
        anon, operation="create_lead", error="unexpected", body_contains="Poison", times=1_000_000
    )
    for _ in range(2):
        poisoned = call(
            api, "/web/dataset/create", model="crm.lead", values={"contact_name": "Poison"}
        )
        assert answered(poisoned) == (200, UNEXPECTED)
    assert ok(call(api, "/web/dataset/create", model="crm.lead", values={"contact_name": "Fine"}))
    random.seed(3)
    add_fault(anon, operation="check_key", status=500, probability=0.5, times=1_000_000)
    assert {call(api, "/check_key").status_code for _ in range(30)} == {200, 500}


def test_fault_validation_and_listing(anon: httpx.Client) -> None:
    bad_faults: list[dict[str, Any]] = [
        {},
        {"status": 200},
        {"operation": "delete", "status": 500},
        {"status": 500, "error": "unexpected"},
        {"operation": "get", "noop": True},
        {"delay_s": 0.1, "probability": 0},
        {"error": ""},
    ]
    for bad in bad_faults:
        assert add_fault(anon, **bad).status_code == 422, bad
    added = add_fault(anon, operation="write", error="update_failed", times=2)
    [pending] = added.json()["pending"]
    assert (pending["operation"], pending["error"], pending["remaining"]) == (
        "write",
        "update_failed",
        2,
    )
    records = anon.get("/__sandbox__/records").json()
    assert set(records) == {"leads", "contacts", "subscriptions", "deliveries", "logins",
                            "key_checks", "faults"}  # fmt: skip
    assert records["faults"] == [pending]


def test_reset_goes_back_to_the_seed(
    poologics: RunningPoologicsSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    create_lead(api)
    anon.post("/__sandbox__/revoke-key")
    add_fault(anon, status=500, times=5)
    assert ok(anon.post("/__sandbox__/reset")) == {"reset": True}
    records = anon.get("/__sandbox__/records").json()
    assert [lead["poologics_id"] for lead in records["leads"]] == [str(LEAD_ID)]
    assert [c["poologics_id"] for c in records["contacts"]] == ["4301", "4302", "4303"]
    assert (records["faults"], records["logins"], records["deliveries"]) == ([], 0, [])
    assert answered(call(api, "/check_key")) == (200, {"success": True})  # the seed's key again
    assert create_lead(api)["id"] == 493


# --- the UI page and mounting -------------------------------------------------------------------


def test_ui_pages_without_a_key(api: httpx.Client, anon: httpx.Client) -> None:
    lead = create_lead(api, contact_name="<Big> buyer")
    page = anon.get(f"/ui/crm.lead/{lead['id']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "&lt;Big&gt; buyer" in page.text and "Lead" in page.text
    assert "John Doe" in anon.get(f"/ui/res.partner/{CONTACT_ID}").text
    for missing in ("/ui/crm.lead/999999", "/ui/sale.order/1", "/ui/crm.lead/x"):
        assert anon.get(missing).status_code == 404


def test_seeded_stages_and_without_a_prefix() -> None:
    assert STAGES == ("New", "Lead", "Qualified", "Proposition", "Won", "Lost")
    with running_poologics_sandbox(prefix="") as bare:
        params = {"model": "crm.lead", "record_id": LEAD_ID}
        headers = {"API-KEY": SANDBOX_API_KEY}
        response = httpx.post(
            f"{bare.url}/web/dataset/get", headers=headers, json={"params": params}
        )
    assert response.json()["poologics_id"] == str(LEAD_ID)
