"""The RPC CRM sandbox's wire format over real HTTP, as seed 001 documents it and
orchestrator/backends/rpccrm/wire.py pins it: Login and Bearer tokens (401, expiry), the
envelope, groups and methods (every one answers), bodies that are not calls, the profile check,
Laravel's validation messages of the creates, date formats, the products' total, the sku rule,
the lists' search and pagination, not-found reads, faults (the lost create too), the control
routes and the UI page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrator.backends.rpccrm.sandbox.data import (
    CASE_INSTALLATION,
    CHAIR_SKU,
    COMPANY_ID,
    COMPANY_TYPE_CLIENT,
    CONTACT_EMAIL,
    CONTACT_ID,
    CONTACT_ORIGIN_WEBSITE,
    INDUSTRY_LOGISTICS,
    NO_COMPANY_CONTACT_ID,
    OPPORTUNITY_ID,
    OTHER_COMPANY_ID,
    OTHER_CONTACT_ID,
    OTHER_PROFILE_ID,
    OTHER_USER_EMAIL,
    OTHER_USER_ID,
    PRIORITY_NORMAL,
    PRODUCT_CHAIR,
    PRODUCT_DESK,
    PROFILE_ID,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_USER_ID,
    STAGE_PROPOSAL,
    STAGE_PROSPECTING,
    TAX_IVA,
    TICKET_ID,
    TICKET_ORIGIN_EMAIL,
    SandboxState,
)
from orchestrator.backends.rpccrm.wire import GROUPS, RESULT_KEYS
from tests.rpccrm_sandbox import RunningRpcCrmSandbox, running_rpccrm_sandbox

# The seed's and wire.py's texts, typed out (not imported from the code under test).
UNAUTHENTICATED = {"success": False, "response": {}, "error": "Unauthenticated."}
BAD_REQUEST = {"success": False, "response": {}, "error": "Bad Request."}
NOT_FOUND = {"success": False, "response": {}, "error": "Not Found."}
BAD_CREDENTIALS = "These credentials do not match our records."
SKU_TAKEN = "The sku has already been taken."
MISMATCH = "The value must match the products' total."
P = {"profile_id": PROFILE_ID}
LINE = {"product_id": PRODUCT_CHAIR, "amount": 2, "price": 120.0, "discount": 0.0, "tax": 0.16,
        "total": 278.4}  # fmt: skip
OPPORTUNITY = P | {
    "user_id": SANDBOX_USER_ID, "title": "Chairs for Acme [saga-7]", "value": 278.4,
    "estimated_end_at": "31/12/26", "prospect_type": "existing", "operation_type": "new",
    "stage_id": STAGE_PROSPECTING, "company_id": COMPANY_ID, "contact_id": CONTACT_ID,
    "want_products": True, "want_tax": True, "products": [LINE], "notify": False,
}  # fmt: skip
TICKET = P | {
    "title": "Install the chairs", "description": "Two chairs\n[saga-7]",
    "company_id": COMPANY_ID, "contact_id": CONTACT_ID, "opportunity_id": OPPORTUNITY_ID,
    "user_id": SANDBOX_USER_ID, "origin_id": TICKET_ORIGIN_EMAIL, "case_id": CASE_INSTALLATION,
    "priority_id": PRIORITY_NORMAL, "estimated_end_at": "2026-12-31", "notify": False,
}  # fmt: skip
VALID: dict[str, dict[str, Any]] = {
    "Login": {"email": SANDBOX_EMAIL, "password": SANDBOX_PASSWORD},
    "GetProfiles": {}, "GetCountries": {}, "GetStates": {"country": "MX"},
    "CreateCompany": P | {"name": "Initech", "type_id": COMPANY_TYPE_CLIENT,
                          "industry_id": INDUSTRY_LOGISTICS,
                          "shipping_address": {"country": "MX", "state": "JAL", "city": "GDL"}},
    "GetCompany": P | {"search_by": "id", "search_value": str(COMPANY_ID)},
    "CreateContact": P | {"company_id": COMPANY_ID, "name": "Luis", "surname": "Diaz",
                          "origin_id": CONTACT_ORIGIN_WEBSITE, "email": "luis@acme.example"},
    "GetContact": P | {"search_by": "email", "search_value": CONTACT_EMAIL},
    "CreateProduct": P | {"name": "Monitor arm", "value": 75.5, "sku": "SKU-ARM",
                          "taxes": [TAX_IVA], "description": "[saga-7]"},
    "EditProduct": P | {"product_id": PRODUCT_CHAIR, "name": "Office chair", "value": 130.0},
    "CreateOpportunity": OPPORTUNITY,
    "GetOpportunity": P | {"opportunity_id": OPPORTUNITY_ID},
    "CreateTicket": TICKET,
}  # fmt: skip
PAIRS = [(group, method) for group, methods in GROUPS.items() for method in methods]


@pytest.fixture(scope="module")
def rpccrm_server() -> Iterator[RunningRpcCrmSandbox]:
    with running_rpccrm_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def rpccrm(rpccrm_server: RunningRpcCrmSandbox) -> RunningRpcCrmSandbox:
    rpccrm_server.state.reset()
    return rpccrm_server


@pytest.fixture
def anon(rpccrm: RunningRpcCrmSandbox) -> Iterator[httpx.Client]:
    """No token: Login, the control routes, the UI page."""
    with httpx.Client(base_url=rpccrm.url) as client:
        yield client


@pytest.fixture
def token(anon: httpx.Client) -> str:
    value: str = ok(call(anon, "auth", "Login", **VALID["Login"]))["token"]
    return value


@pytest.fixture
def api(rpccrm: RunningRpcCrmSandbox, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rpccrm.url, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def call(client: httpx.Client, group: str, method: str, **params: Any) -> httpx.Response:
    return client.post(f"/{group}", json={"method": method, "parameters": params})


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["error"]) == (True, ""), body
    data: dict[str, Any] = body["response"]
    return data


def refused(response: httpx.Response) -> str:
    """The error of an HTTP 200 `success: false` answer."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert (set(body), body["success"], body["response"]) == (
        {"success", "response", "error"}, False, {}), body  # fmt: skip
    error: str = body["error"]
    return error


def answered(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


def integer_ids(value: object) -> bool:
    """Every `id` and `*_id` in the answer is an integer (or null)."""
    if isinstance(value, list):
        return all(integer_ids(item) for item in value)
    if not isinstance(value, dict):
        return True
    for key, item in value.items():
        if (key == "id" or key.endswith("_id")) and key != "profile_currency_type_id":
            if item is not None and (isinstance(item, bool) or not isinstance(item, int)):
                return False
        elif not integer_ids(item):
            return False
    return True


def without(params: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in params.items() if name != key}


# --- Login and tokens ---------------------------------------------------------------------------


def test_login_and_bad_credentials(rpccrm: RunningRpcCrmSandbox, anon: httpx.Client) -> None:
    first = ok(call(anon, "auth", "Login", email=SANDBOX_EMAIL, password=SANDBOX_PASSWORD))
    assert first["user"] == {"id": 10, "name": "Sandbox Sales", "email": "sales@rpccrm.example"}
    assert isinstance(first["token"], str) and len(first["token"]) >= 20
    second = ok(call(anon, "auth", "Login", email="SALES@rpccrm.example",
                     password=SANDBOX_PASSWORD))  # fmt: skip
    assert second["token"] != first["token"]
    for token in (first["token"], second["token"]):
        headers = {"Authorization": f"Bearer {token}"}
        answer = anon.post("/profiles", json={"method": "GetProfiles"}, headers=headers)
        assert [p["id"] for p in ok(answer)["profiles"]] == [1, 2]
    cases = [
        ({"email": SANDBOX_EMAIL, "password": "wrong"}, BAD_CREDENTIALS),
        ({"email": "nobody@rpccrm.example", "password": SANDBOX_PASSWORD}, BAD_CREDENTIALS),
        ({"email": OTHER_USER_EMAIL, "password": SANDBOX_PASSWORD}, BAD_CREDENTIALS),
        ({"password": SANDBOX_PASSWORD}, "The email field is required."),
        ({"email": SANDBOX_EMAIL, "password": ""}, "The password field is required."),
        ({"email": "sales", "password": "x"}, "The email must be a valid email address."),
    ]
    for params, message in cases:
        assert refused(call(anon, "auth", "Login", **params)) == message, params
    assert rpccrm.state.logins == 2
    assert rpccrm.state.calls["Login"] == 2 + len(cases)


def test_401_without_a_good_token(
    rpccrm: RunningRpcCrmSandbox, anon: httpx.Client, token: str
) -> None:
    body = {"method": "GetStages", "parameters": P}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"},
                    {"Authorization": "Bearer"}, {"Authorization": token}):  # fmt: skip
        assert answered(anon.post("/profiles", json=body, headers=headers)) == (
            401, UNAUTHENTICATED), headers  # fmt: skip
    for group, methods in GROUPS.items():
        if group != "auth":
            response = call(anon, group, methods[0], **P)
            assert answered(response) == (401, UNAUTHENTICATED), group
    good = {"Authorization": f"bearer {token}"}  # the scheme in any case
    assert ok(anon.post("/profiles", json=body, headers=good))["stages"]
    assert dict(rpccrm.state.calls) == {"Login": 1, "GetStages": 1}  # 401s are not calls


def test_expired_tokens_answer_401_until_the_next_login(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    assert ok(call(api, "profiles", "GetStages", **P))
    rpccrm.state.expire_tokens()
    assert answered(call(api, "profiles", "GetStages", **P)) == (401, UNAUTHENTICATED)
    fresh = ok(call(anon, "auth", "Login", **VALID["Login"]))["token"]
    headers = {"Authorization": f"Bearer {fresh}"}
    body = {"method": "GetStages", "parameters": P}
    assert ok(anon.post("/profiles", json=body, headers=headers))
    assert answered(anon.post("/__sandbox__/expire-tokens")) == (200, {"expired": True})
    assert answered(anon.post("/profiles", json=body, headers=headers)) == (401, UNAUTHENTICATED)


def test_tokens_expire_after_their_ttl() -> None:
    with (
        running_rpccrm_sandbox(SandboxState(token_ttl_s=0.4)) as sandbox,
        httpx.Client(base_url=sandbox.url) as client,
    ):
        token = ok(call(client, "auth", "Login", **VALID["Login"]))["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        assert ok(call(client, "profiles", "GetStages", **P))
        time.sleep(0.5)
        assert answered(call(client, "profiles", "GetStages", **P)) == (401, UNAUTHENTICATED)


# --- groups, methods and bodies -----------------------------------------------------------------


@pytest.mark.parametrize(("group", "method"), PAIRS, ids=[f"{g}.{m}" for g, m in PAIRS])
def test_every_method_answers_success(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, group: str, method: str
) -> None:
    data = ok(call(api, group, method, **VALID.get(method, P)))
    key = "token" if method == "Login" else RESULT_KEYS[method]
    assert data[key], data
    assert integer_ids(data), data
    writes = method.startswith(("Create", "Edit"))
    assert rpccrm.state.writes() == ([method] if writes else [])


def test_a_method_of_another_group_does_not_exist(api: httpx.Client, anon: httpx.Client) -> None:
    assert refused(call(api, "opportunities", "GetTickets", **P)) == (
        "Method GetTickets does not exist.")  # fmt: skip
    assert refused(call(api, "tickets", "GetInputs", **P)) == "Method GetInputs does not exist."
    assert refused(call(api, "profiles", "Login", **VALID["Login"])) == (
        "Method Login does not exist.")  # fmt: skip
    assert refused(call(api, "tickets", "DeleteTicket", **P)) == (
        "Method DeleteTicket does not exist.")  # fmt: skip
    assert refused(call(anon, "auth", "GetProfiles")) == "Method GetProfiles does not exist."
    contact_origins = ok(call(api, "contacts", "GetOrigins", **P))["origins"]
    ticket_origins = ok(call(api, "tickets", "GetOrigins", **P))["origins"]
    assert [o["name"] for o in ticket_origins] == ["Email", "Phone"]
    assert [o["id"] for o in ticket_origins] == [601, 602] != [o["id"] for o in contact_origins]


def test_bodies_that_are_not_calls_answer_400(api: httpx.Client, anon: httpx.Client) -> None:
    contents = [b"{", b"[]", b'"GetStages"', b"", b"\xff", b'{"parameters": {}}',
                b'{"method": 5}', b'{"method": null}', b'{"method": "GetStages", "parameters": 3}',
                b'{"method": "GetStages", "parameters": [1]}']  # fmt: skip
    for client, group in ((api, "profiles"), (anon, "auth")):
        for content in contents:
            response = client.post(
                f"/{group}", content=content, headers={"Content-Type": "application/json"}
            )
            assert answered(response) == (400, BAD_REQUEST), (group, content)
    for parameters in ("", ', "parameters": null', ', "parameters": []'):
        content = f'{{"method": "GetProfiles"{parameters}}}'.encode()
        assert ok(api.post("/profiles", content=content))["profiles"]


def test_unknown_groups_and_paths(api: httpx.Client, anon: httpx.Client) -> None:
    for client in (api, anon):
        assert answered(call(client, "leads", "GetLeads", **P)) == (404, NOT_FOUND)
        assert answered(call(client, "opportunities/extra", "GetInputs", **P)) == (404, NOT_FOUND)
    wrong_verb = api.get("/opportunities")
    assert answered(wrong_verb) == (
        405, {"success": False, "response": {}, "error": "Method Not Allowed."})  # fmt: skip


def test_profile_id_and_the_methods_without_it(api: httpx.Client) -> None:
    assert refused(call(api, "profiles", "GetStages")) == "The profile id field is required."
    assert refused(call(api, "profiles", "GetStages", profile_id=99)) == (
        "The selected profile id is invalid.")  # fmt: skip
    assert refused(call(api, "products", "GetTaxes", profile_id="abc")) == (
        "The profile id must be an integer.")  # fmt: skip
    assert ok(call(api, "profiles", "GetStages", profile_id="1"))["stages"][0] == {
        "id": 101, "name": "Prospecting", "position": 1}  # fmt: skip
    other = ok(call(api, "profiles", "GetStages", profile_id=OTHER_PROFILE_ID))["stages"]
    assert [stage["id"] for stage in other] == [105, 106]
    users = ok(call(api, "profiles", "GetUsers", **P))["users"]
    assert [(u["id"], u["name"]) for u in users] == [(10, "Sandbox Sales"), (11, "Ana Ortega")]
    assert ok(call(api, "profiles", "GetProfiles"))["profiles"][0] == {
        "id": 1, "name": "Sandbox Sales MX"}  # fmt: skip
    assert [c["code"] for c in ok(call(api, "profiles", "GetCountries"))["countries"]] == [
        "MX", "US"]  # fmt: skip
    states = ok(call(api, "profiles", "GetStates", country="US"))
    assert states["country"] == "US" and "CA" in [s["code"] for s in states["states"]]
    assert refused(call(api, "profiles", "GetStates")) == "The country field is required."
    assert refused(call(api, "profiles", "GetStates", country="FR")) == (
        "The selected country is invalid.")  # fmt: skip


# --- CreateOpportunity --------------------------------------------------------------------------


def test_create_opportunity_stores_it_active(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client
) -> None:
    created = ok(call(api, "opportunities", "CreateOpportunity", **OPPORTUNITY))["opportunity"]
    assert created["id"] == OPPORTUNITY_ID + 1
    expected = {"title": "Chairs for Acme [saga-7]", "value": 278.4, "status": "active",
                "estimated_end_at": "31/12/26", "stage_id": 101, "user_id": 10,
                "company_id": 300, "contact_id": 400}  # fmt: skip
    assert {key: created[key] for key in expected} == expected
    assert created["products"] == [LINE | {"name": "Office chair"}]
    got = call(api, "opportunities", "GetOpportunity", opportunity_id=created["id"],
               with_products=True, **P)  # fmt: skip
    assert ok(got)["opportunity"] == created
    assert rpccrm.state.opportunities()[-1] == created
    plain = OPPORTUNITY | {"want_products": False, "want_tax": False, "value": 1000}
    bare = ok(call(api, "opportunities", "CreateOpportunity", **without(plain, "products")))
    assert (bare["opportunity"]["value"], bare["opportunity"]["products"]) == (1000.0, [])
    assert rpccrm.state.writes() == ["CreateOpportunity", "CreateOpportunity"]


REQUIRED_OPPORTUNITY = ["user_id", "title", "value", "estimated_end_at", "prospect_type",
                        "operation_type", "stage_id", "company_id", "contact_id",
                        "want_products", "want_tax", "notify"]  # fmt: skip


@pytest.mark.parametrize("field", REQUIRED_OPPORTUNITY)
def test_create_opportunity_required_fields(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, field: str
) -> None:
    message = f"The {field.replace('_', ' ')} field is required."
    assert refused(call(api, "opportunities", "CreateOpportunity",
                        **(OPPORTUNITY | {field: None}))) == message  # fmt: skip
    assert refused(call(api, "opportunities", "CreateOpportunity",
                        **without(OPPORTUNITY, field))) == message  # fmt: skip
    assert [o["id"] for o in rpccrm.state.opportunities()] == [OPPORTUNITY_ID]


INVALID_OPPORTUNITY: list[tuple[dict[str, Any], str]] = [
    ({"user_id": 999}, "The selected user id is invalid."),
    ({"user_id": "ten"}, "The user id must be an integer."),
    ({"stage_id": 999}, "The selected stage id is invalid."),
    ({"stage_id": 105}, "The selected stage id is invalid."),  # profile 2's
    ({"company_id": 999}, "The selected company id is invalid."),
    ({"contact_id": 999}, "The selected contact id is invalid."),
    ({"contact_id": OTHER_CONTACT_ID}, "The selected contact id is invalid."),  # Globex's
    ({"contact_id": NO_COMPANY_CONTACT_ID}, "The selected contact id is invalid."),
    ({"prospect_type": "old"}, "The selected prospect type is invalid."),
    ({"operation_type": "upgrade"}, "The selected operation type is invalid."),
    ({"value": "lots"}, "The value must be a number."),
    ({"value": -1}, "The value must be at least 0."),
    ({"want_products": "yes"}, "The want products field must be true or false."),
    ({"notify": 2}, "The notify field must be true or false."),
    ({"products": []}, "The products field is required when want products is true."),
    ({"products": "chairs"}, "The products must be an array."),
    ({"products": ["chair"]}, "The products.0 must be an array."),
    ({"products": [LINE | {"product_id": 999}]}, "The selected products.0.product id is invalid."),
    ({"products": [LINE | {"amount": 0}]}, "The products.0.amount must be greater than 0."),
    ({"products": [LINE | {"amount": 1.5}]}, "The products.0.amount must be an integer."),
    ({"products": [LINE | {"price": -1}]}, "The products.0.price must be at least 0."),
    ({"products": [LINE | {"discount": 1.5}]}, "The products.0.discount must be between 0 and 1."),
    ({"products": [LINE | {"tax": -0.1}]}, "The products.0.tax must be between 0 and 1."),
    ({"products": [without(LINE, "total")]}, "The products.0.total field is required."),
    ({"products": [LINE, LINE | {"amount": -2}]}, "The products.1.amount must be greater than 0."),
    ({"user_id": 999, "stage_id": 999}, "The selected user id is invalid."),  # the seed's order
]  # fmt: skip


@pytest.mark.parametrize(("changes", "message"), INVALID_OPPORTUNITY)
def test_create_opportunity_invalid_values(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, changes: dict[str, Any], message: str
) -> None:
    response = call(api, "opportunities", "CreateOpportunity", **(OPPORTUNITY | changes))
    assert refused(response) == message
    assert len(rpccrm.state.opportunities()) == 1


@pytest.mark.parametrize(
    "value", ["2026-12-31", "31/12/2026", "1/1/26", "31/02/26", "31-12-26", " 31/12/26", 311226]
)
def test_opportunity_dates_are_strictly_dd_mm_yy(api: httpx.Client, value: object) -> None:
    response = call(api, "opportunities", "CreateOpportunity",
                    **(OPPORTUNITY | {"estimated_end_at": value}))  # fmt: skip
    assert refused(response) == "The estimated end at does not match the format d/m/y."


def test_the_value_must_match_the_products_total(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client
) -> None:
    def create(value: float, *lines: dict[str, Any]) -> httpx.Response:
        params = OPPORTUNITY | {"value": value, "products": list(lines)}
        return call(api, "opportunities", "CreateOpportunity", **params)

    assert refused(create(250, LINE)) == MISMATCH
    assert refused(create(278.42, LINE)) == MISMATCH
    desk = {"product_id": PRODUCT_DESK, "amount": 1, "price": 450.0, "discount": 0.1, "tax": 0.0,
            "total": 405.0}  # fmt: skip
    assert refused(create(278.4, LINE, desk)) == MISMATCH
    assert ok(create(278.405, LINE))["opportunity"]["value"] == 278.405  # within 0.01
    assert ok(create(683.4, LINE, desk))["opportunity"]["products"][1]["total"] == 405.0
    leap = OPPORTUNITY | {"estimated_end_at": "29/02/28"}
    assert ok(call(api, "opportunities", "CreateOpportunity", **leap))["opportunity"][
        "estimated_end_at"] == "29/02/28"  # fmt: skip
    assert len(rpccrm.state.opportunities()) == 4


# --- CreateTicket -------------------------------------------------------------------------------


def test_create_ticket_stores_it(rpccrm: RunningRpcCrmSandbox, api: httpx.Client) -> None:
    ticket = ok(call(api, "tickets", "CreateTicket", **TICKET))["ticket"]
    expected = {"id": TICKET_ID + 1, "title": "Install the chairs",
                "description": "Two chairs\n[saga-7]", "company_id": 300, "contact_id": 400,
                "opportunity_id": 900, "user_id": 10, "origin_id": 601, "case_id": 701,
                "priority_id": 802, "estimated_end_at": "2026-12-31"}  # fmt: skip
    assert {key: ticket[key] for key in expected} == expected
    listed = ok(call(api, "tickets", "GetTickets", **P))["tickets"]
    assert [t["id"] for t in listed] == [TICKET_ID, TICKET_ID + 1]
    assert listed[-1] == ticket == rpccrm.state.tickets()[-1]
    optional = without(without(TICKET, "contact_id"), "opportunity_id")
    alone = ok(call(api, "tickets", "CreateTicket", **(optional | {"contact_id": ""})))["ticket"]
    assert (alone["contact_id"], alone["opportunity_id"]) == (None, None)
    assert ok(call(api, "tickets", "GetTickets", profile_id=OTHER_PROFILE_ID))["tickets"] == []


REQUIRED_TICKET = ["title", "description", "company_id", "user_id", "origin_id", "case_id",
                   "priority_id", "estimated_end_at", "notify"]  # fmt: skip


@pytest.mark.parametrize("field", REQUIRED_TICKET)
def test_create_ticket_required_fields(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, field: str
) -> None:
    message = f"The {field.replace('_', ' ')} field is required."
    assert refused(call(api, "tickets", "CreateTicket", **without(TICKET, field))) == message
    assert len(rpccrm.state.tickets()) == 1


INVALID_TICKET: list[tuple[dict[str, Any], str]] = [
    ({"priority_id": 999}, "The selected priority id is invalid."),
    ({"origin_id": CONTACT_ORIGIN_WEBSITE}, "The selected origin id is invalid."),  # a contact's
    ({"case_id": 999}, "The selected case id is invalid."),
    ({"company_id": 999}, "The selected company id is invalid."),
    ({"contact_id": OTHER_CONTACT_ID}, "The selected contact id is invalid."),
    ({"company_id": OTHER_COMPANY_ID}, "The selected contact id is invalid."),  # Maria's not
    ({"opportunity_id": 999}, "The selected opportunity id is invalid."),
    ({"user_id": 999}, "The selected user id is invalid."),
    ({"notify": "maybe"}, "The notify field must be true or false."),
    ({"title": 5}, "The title must be a string."),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "message"), INVALID_TICKET)
def test_create_ticket_invalid_values(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, changes: dict[str, Any], message: str
) -> None:
    assert refused(call(api, "tickets", "CreateTicket", **(TICKET | changes))) == message
    assert len(rpccrm.state.tickets()) == 1


@pytest.mark.parametrize(
    "value", ["31/12/26", "2026-2-3", "2026-02-30", "20261231", "2026-12-31T00:00:00", 2026]
)
def test_ticket_dates_are_strictly_yyyy_mm_dd(api: httpx.Client, value: object) -> None:
    response = call(api, "tickets", "CreateTicket", **(TICKET | {"estimated_end_at": value}))
    assert refused(response) == "The estimated end at does not match the format Y-m-d."


# --- products -----------------------------------------------------------------------------------


def test_create_and_edit_products_and_the_sku_rule(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client
) -> None:
    def create(**params: Any) -> httpx.Response:
        return call(api, "products", "CreateProduct", **(P | params))

    def edit(**params: Any) -> httpx.Response:
        return call(api, "products", "EditProduct", **(P | params))

    made = ok(create(name="Lamp", value=30, sku="SKU-LAMP", taxes=[TAX_IVA]))["product"]
    assert (made["id"], made["sku"], made["value"]) == (503, "SKU-LAMP", 30.0)
    assert made["taxes"] == [{"id": 551, "name": "IVA 16%", "value": 0.16}]
    assert refused(create(name="Chair", value=1, sku=CHAIR_SKU)) == SKU_TAKEN
    assert refused(create(name="Chair", value=1, sku="sku-chair")) == SKU_TAKEN
    assert refused(create(name="Lamp 2", value=1, sku="SKU-LAMP")) == SKU_TAKEN
    other = call(api, "products", "CreateProduct", profile_id=OTHER_PROFILE_ID, name="Chair",
                 value=1, sku=CHAIR_SKU)  # fmt: skip
    assert ok(other)["product"]["sku"] == CHAIR_SKU  # a sku is unique within its profile
    assert refused(create(value=1)) == "The name field is required."
    assert refused(create(name="X")) == "The value field is required."
    assert refused(create(name="X", value=-5)) == "The value must be at least 0."
    assert refused(create(name="X", value="cheap")) == "The value must be a number."
    assert refused(create(name="X", value=1, taxes=[999])) == "The selected taxes.0 is invalid."
    assert refused(create(name="X", value=1, product_category_id=999)) == (
        "The selected product category id is invalid.")  # fmt: skip
    assert refused(edit(product_id=999, name="X", value=1)) == (
        "The selected product id is invalid.")  # fmt: skip
    assert refused(edit(name="X", value=1)) == "The product id field is required."
    assert refused(edit(product_id=PRODUCT_DESK, name="Desk", value=1, sku=CHAIR_SKU)) == SKU_TAKEN
    kept = ok(edit(product_id=PRODUCT_CHAIR, name="Chair v2", value=125, sku=CHAIR_SKU))
    assert (kept["product"]["name"], kept["product"]["value"]) == ("Chair v2", 125.0)
    listed = ok(call(api, "products", "GetProducts", **P))["products"]
    assert [(p["id"], p["sku"]) for p in listed] == [
        (500, "SKU-CHAIR"), (501, "SKU-DESK"), (502, None), (503, "SKU-LAMP")]  # fmt: skip
    assert listed[0]["name"] == "Chair v2"
    assert rpccrm.state.products()[:4] == listed


# --- lists and single reads ---------------------------------------------------------------------


def test_get_opportunities_query_filters_and_pagination(api: httpx.Client) -> None:
    made = [("Chairs [saga-a]", STAGE_PROSPECTING, SANDBOX_USER_ID),
            ("Desks [saga-b]", STAGE_PROPOSAL, OTHER_USER_ID),
            ("More chairs [SAGA-C]", STAGE_PROSPECTING, OTHER_USER_ID)]  # fmt: skip
    for title, stage, user in made:
        params = OPPORTUNITY | {"title": title, "stage_id": stage, "user_id": user}
        ok(call(api, "opportunities", "CreateOpportunity", **params))

    def listed(**params: Any) -> dict[str, Any]:
        return ok(call(api, "opportunities", "GetOpportunities", **(P | params)))

    def titles(**params: Any) -> list[str]:
        return [o["title"] for o in listed(**params)["opportunities"]]

    assert titles(query="[saga-a]") == ["Chairs [saga-a]"]
    assert titles(query="saga-") == ["Chairs [saga-a]", "Desks [saga-b]", "More chairs [SAGA-C]"]
    assert titles(query="CHAIRS") == ["Chairs [saga-a]", "More chairs [SAGA-C]"]
    assert listed(query="nothing") == {"total": 0, "current_page": 1, "last_page": 1,
                                       "opportunities": []}  # fmt: skip
    second = listed(pagination=3, page=2)
    assert (second["total"], second["current_page"], second["last_page"]) == (4, 2, 2)
    assert [o["title"] for o in second["opportunities"]] == ["More chairs [SAGA-C]"]
    assert titles(stage=[STAGE_PROPOSAL]) == ["Acme office refit", "Desks [saga-b]"]
    assert titles(user_id=SANDBOX_USER_ID) == ["Chairs [saga-a]"]
    assert titles(status="won") == []
    assert len(titles(status="active")) == 4
    assert refused(call(api, "opportunities", "GetOpportunities", status="closed", **P)) == (
        "The selected status is invalid.")  # fmt: skip
    assert refused(call(api, "opportunities", "GetOpportunities", stage=101, **P)) == (
        "The stage must be an array.")  # fmt: skip
    plain = listed(query="saga-a")["opportunities"][0]
    assert "products" not in plain and "user" not in plain
    full = listed(query="saga-a", with_products=True, with_user=True, with_company=True,
                  with_contact=True)["opportunities"][0]  # fmt: skip
    assert full["products"] == [LINE | {"name": "Office chair"}]
    assert (full["user"]["id"], full["company"]["name"], full["contact"]["email"]) == (
        SANDBOX_USER_ID, "Acme Logistics", CONTACT_EMAIL)  # fmt: skip


def test_single_reads_and_not_found(api: httpx.Client) -> None:
    def contact(**params: Any) -> httpx.Response:
        return call(api, "contacts", "GetContact", **(P | params))

    maria = ok(contact(search_by="email", search_value="MARIA@acme.example"))["contact"]
    assert (maria["id"], maria["name"], maria["surname"], maria["company_id"]) == (
        400, "Maria", "Lopez", 300)  # fmt: skip
    assert maria["company"] == {"id": 300, "name": "Acme Logistics"}
    assert ok(contact(search_by="id", search_value=400))["contact"] == maria
    solo = ok(contact(search_by="email", search_value="solo@example.com"))["contact"]
    assert (solo["id"], solo["company_id"], solo["company"]) == (402, None, None)
    assert refused(contact(search_by="email", search_value="nobody@x.example")) == (
        "Contact not found.")  # fmt: skip
    assert refused(contact(search_by="id", search_value="999")) == "Contact not found."
    assert refused(contact(search_by="email", search_value=CONTACT_EMAIL,
                           company_id=OTHER_COMPANY_ID)) == "Contact not found."  # fmt: skip
    assert refused(contact(search_by="phone", search_value="1")) == (
        "The selected search by is invalid.")  # fmt: skip
    assert refused(contact(search_by="id")) == "The search value field is required."

    def company(**params: Any) -> httpx.Response:
        return call(api, "companies", "GetCompany", **(P | params))

    assert ok(company(search_by="id", search_value="300"))["company"]["name"] == "Acme Logistics"
    assert ok(company(search_by="client_number", search_value="C00301"))["company"]["id"] == 301
    assert refused(company(search_by="id", search_value="999")) == "Company not found."
    assert refused(call(api, "opportunities", "GetOpportunity", opportunity_id=999, **P)) == (
        "Opportunity not found.")  # fmt: skip
    assert refused(call(api, "opportunities", "GetOpportunity", opportunity_id="x", **P)) == (
        "The opportunity id must be an integer.")  # fmt: skip
    elsewhere = call(api, "opportunities", "GetOpportunity", opportunity_id=OPPORTUNITY_ID,
                     profile_id=OTHER_PROFILE_ID)  # fmt: skip
    assert refused(elsewhere) == "Opportunity not found."


def test_companies_and_contacts(rpccrm: RunningRpcCrmSandbox, api: httpx.Client) -> None:
    def create_company(**params: Any) -> httpx.Response:
        return call(api, "companies", "CreateCompany", **(VALID["CreateCompany"] | params))

    assert refused(create_company(name="")) == "The name field is required."
    assert refused(create_company(type_id=999)) == "The selected type id is invalid."
    assert refused(create_company(industry_id=None)) == "The industry id field is required."
    assert refused(create_company(shipping_address={"country": "FR"})) == (
        "The selected shipping address.country is invalid.")  # fmt: skip
    assert refused(create_company(billing_address={"country": "MX", "state": "CA"})) == (
        "The selected billing address.state is invalid.")  # fmt: skip
    initech = ok(create_company())["company"]
    assert (initech["id"], initech["client_number"], initech["name"]) == (302, "C00302", "Initech")
    assert initech["shipping_address"]["state"] == "JAL"

    def create_contact(**params: Any) -> httpx.Response:
        return call(api, "contacts", "CreateContact", **(VALID["CreateContact"] | params))

    for field in ("company_id", "name", "surname", "origin_id"):
        message = f"The {field.replace('_', ' ')} field is required."
        assert refused(create_contact(**{field: None})) == message
    assert refused(create_contact(email="luis")) == "The email must be a valid email address."
    assert refused(create_contact(title_id=999)) == "The selected title id is invalid."
    luis = ok(create_contact(company_id=302))["contact"]
    assert (luis["id"], luis["company"]) == (403, {"id": 302, "name": "Initech"})

    def contacts(**params: Any) -> list[int]:
        found = ok(call(api, "contacts", "GetContacts", **(P | params)))
        return [c["id"] for c in found["contacts"]]

    assert contacts(company_id=COMPANY_ID) == [400]
    assert contacts(query="lopez") == [400]
    assert contacts(query="globex.example") == [401]
    assert contacts(query="Maria Lopez") == [400]
    assert contacts() == [400, 401, 402, 403]
    found = ok(call(api, "companies", "GetCompanies", query="ACME", with_contacts=True, **P))
    assert [c["id"] for c in found["companies"]] == [300]
    assert [c["id"] for c in found["companies"][0]["contacts"]] == [400]
    assert [c["id"] for c in rpccrm.state.companies()] == [300, 301, 302]


# --- faults -------------------------------------------------------------------------------------


def add_fault(anon: httpx.Client, **fault: Any) -> httpx.Response:
    return anon.post("/__sandbox__/faults", json=fault)


def test_fault_error_status_and_retry_after(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    rpccrm.state.faults.fail("CreateTicket", error="The server is busy.")
    assert refused(call(api, "tickets", "CreateTicket", **TICKET)) == "The server is busy."
    assert len(rpccrm.state.tickets()) == 1  # nothing stored
    assert ok(call(api, "tickets", "CreateTicket", **TICKET))["ticket"]["id"] == TICKET_ID + 1
    assert rpccrm.state.writes() == ["CreateTicket", "CreateTicket"]
    assert add_fault(anon, method="GetStages", status=500).status_code == 200
    assert answered(call(api, "profiles", "GetStages", **P)) == (
        500, {"success": False, "response": {}, "error": "Internal Server Error."})  # fmt: skip
    assert ok(call(api, "profiles", "GetStages", **P))
    add_fault(anon, method="GetProducts", status=429, retry_after="3")
    limited = call(api, "products", "GetProducts", **P)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert limited.json()["error"] == "Too Many Requests."
    add_fault(anon, method="GetUsers", status=401)
    assert answered(call(api, "profiles", "GetUsers", **P)) == (401, UNAUTHENTICATED)
    rpccrm.state.faults.fail("Login", error="Too many attempts.")
    assert refused(call(anon, "auth", "Login", **VALID["Login"])) == "Too many attempts."
    assert rpccrm.state.logins == 1


def test_faults_come_after_the_token_and_match_method_and_body(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    rpccrm.state.faults.fail("CreateProduct", status=503)
    assert call(anon, "products", "CreateProduct", **VALID["CreateProduct"]).status_code == 401
    assert len(rpccrm.state.faults.pending()) == 1
    assert call(api, "products", "GetProducts", **P).status_code == 200  # another method
    assert call(api, "products", "CreateProduct", **VALID["CreateProduct"]).status_code == 503
    assert [p["id"] for p in rpccrm.state.products()] == [500, 501, 502]
    rpccrm.state.faults.fail(None, error="Poisoned.", body_contains="Poison", times=2)
    for _ in range(2):
        poisoned = call(api, "tickets", "CreateTicket", **(TICKET | {"title": "Poison"}))
        assert refused(poisoned) == "Poisoned."
    assert ok(call(api, "tickets", "CreateTicket", **(TICKET | {"title": "Poison"})))
    assert rpccrm.state.faults.pending() == []


def test_fault_delay_and_the_lost_create(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, token: str
) -> None:
    rpccrm.state.faults.delay(0.3, method="GetStages")
    started = time.monotonic()
    assert ok(call(api, "profiles", "GetStages", **P))
    assert time.monotonic() - started >= 0.3
    rpccrm.state.faults.delay(0.8, method="CreateProduct")
    params = P | {"name": "Lost lamp", "value": 10, "sku": "SKU-LOST"}
    impatient = httpx.Client(base_url=rpccrm.url, headers={"Authorization": f"Bearer {token}"},
                             timeout=httpx.Timeout(5.0, read=0.2))  # fmt: skip
    with impatient, pytest.raises(httpx.ReadTimeout):
        call(impatient, "products", "CreateProduct", **params)
    deadline = time.monotonic() + 5
    while not any(p["sku"] == "SKU-LOST" for p in rpccrm.state.products()):
        assert time.monotonic() < deadline, "the delayed create was never stored"
        time.sleep(0.05)
    assert refused(call(api, "products", "CreateProduct", **params)) == SKU_TAKEN


def test_fault_validation_and_listing(anon: httpx.Client) -> None:
    bad_faults: list[dict[str, Any]] = [
        {}, {"status": 200}, {"status": 600}, {"method": "DeleteTicket", "status": 500},
        {"error": "x", "status": 500}, {"error": ""}, {"error": "x", "retry_after": "1"},
        {"delay_s": 0.1, "probability": 0}, {"status": 500, "operation": "create"},
    ]  # fmt: skip
    for bad in bad_faults:
        assert add_fault(anon, **bad).status_code == 422, bad
    added = add_fault(anon, method="CreateOpportunity", error="Nope.", times=2)
    [pending] = added.json()["pending"]
    assert (pending["method"], pending["error"], pending["remaining"]) == (
        "CreateOpportunity", "Nope.", 2)  # fmt: skip
    assert anon.get("/__sandbox__/records").json()["faults"] == [pending]


# --- control routes, counters, UI ---------------------------------------------------------------


def test_reset_goes_back_to_the_seed(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client, anon: httpx.Client
) -> None:
    ok(call(api, "products", "CreateProduct", **VALID["CreateProduct"]))
    ok(call(api, "tickets", "CreateTicket", **TICKET))
    add_fault(anon, status=500, times=5)
    records = anon.get("/__sandbox__/records").json()
    assert set(records) == {"products", "opportunities", "tickets", "companies", "contacts",
                            "logins", "calls", "faults"}  # fmt: skip
    assert (records["logins"], records["calls"]) == (1, {"Login": 1, "CreateProduct": 1,
                                                         "CreateTicket": 1})  # fmt: skip
    assert answered(anon.post("/__sandbox__/reset")) == (200, {"reset": True})
    records = anon.get("/__sandbox__/records").json()
    tables = ("products", "opportunities", "tickets", "companies", "contacts")
    ids = {table: [r["id"] for r in records[table]] for table in tables}
    assert ids == {"products": [500, 501, 502], "opportunities": [900], "tickets": [1000],
                   "companies": [300, 301], "contacts": [400, 401, 402]}  # fmt: skip
    assert (records["logins"], records["calls"], records["faults"]) == (0, {}, [])
    assert answered(call(api, "profiles", "GetStages", **P)) == (401, UNAUTHENTICATED)
    assert rpccrm.state.writes() == []


def test_reads_are_counted_and_no_write_happens(
    rpccrm: RunningRpcCrmSandbox, api: httpx.Client
) -> None:
    for group, method in (("profiles", "GetStages"), ("profiles", "GetUsers"),
                          ("products", "GetProducts"), ("tickets", "GetOrigins"),
                          ("profiles", "GetStages")):  # fmt: skip
        ok(call(api, group, method, **P))
    assert rpccrm.state.writes() == []
    calls = rpccrm.state.calls
    assert (calls["GetStages"], calls["GetUsers"], calls["CreateProduct"]) == (2, 1, 0)
    refused(call(api, "products", "EditProduct", product_id=999, name="X", value=1, **P))
    assert rpccrm.state.writes() == ["EditProduct"]  # a refused write is still a write call


def test_ui_pages(api: httpx.Client, anon: httpx.Client) -> None:
    made = ok(call(api, "products", "CreateProduct", name="<b>Bold</b> chair", value=1, **P))
    page = anon.get(f"/ui/product/{made['product']['id']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "&lt;b&gt;Bold&lt;/b&gt; chair" in page.text and "<b>Bold" not in page.text
    for path, text in ((f"/ui/opportunity/{OPPORTUNITY_ID}", "Acme office refit"),
                       (f"/ui/ticket/{TICKET_ID}", "Chair assembly"),
                       (f"/ui/company/{COMPANY_ID}", "Acme Logistics"),
                       (f"/ui/contact/{CONTACT_ID}", "Maria Lopez")):  # fmt: skip
        shown = anon.get(path)
        assert shown.status_code == 200 and text in shown.text, path
    for missing in ("/ui/product/999", "/ui/lead/1", "/ui/product/x"):
        assert anon.get(missing).status_code == 404, missing


def test_without_a_prefix() -> None:
    with running_rpccrm_sandbox(prefix="") as bare:
        answer = httpx.post(f"{bare.url}/auth", json={"method": "Login",
                                                      "parameters": VALID["Login"]})  # fmt: skip
    assert ok(answer)["user"]["id"] == SANDBOX_USER_ID
