"""The Zoho sandbox's wire shapes over real HTTP: token endpoint, envelopes, status codes,
204 without a body, 207 batches, COQL, search index lag, and the /__sandbox__ control routes
(faults with probability, body_contains and delays)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrator.backends.zoho.sandbox.data import (
    ACCOUNT_ID,
    CONTACT_ID,
    PRODUCT_IDS,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
)
from tests.zoho_sandbox import RunningSandbox, running_sandbox

JSON_TYPE = "application/json;charset=utf-8"
GRANT = {
    "grant_type": "refresh_token",
    "client_id": SANDBOX_CLIENT_ID,
    "client_secret": SANDBOX_CLIENT_SECRET,
    "refresh_token": SANDBOX_REFRESH_TOKEN,
}
INVALID_TOKEN = {
    "code": "INVALID_TOKEN",
    "details": {},
    "message": "invalid oauth token",
    "status": "error",
}
MISSING_ID = "550428000099999999"


@pytest.fixture
def api(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """A client on {url}/crm/v7 with a fresh access token."""
    token = httpx.post(f"{sandbox.url}/oauth/v2/token", data=GRANT).json()["access_token"]
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    with httpx.Client(base_url=f"{sandbox.url}/crm/v7", headers=headers) as client:
        yield client


def quote(subject: str = "Q", **fields: Any) -> dict[str, Any]:
    line = {"Product_Name": {"id": PRODUCT_IDS[0]}, "Quantity": 1, "List_Price": 100.0}
    return {"Subject": subject, "Quoted_Items": [line], **fields}


def created_id(response: httpx.Response) -> str:
    return str(response.json()["data"][0]["details"]["id"])


def select(api: httpx.Client, query: str) -> httpx.Response:
    return api.post("/coql", json={"select_query": query})


# --- token endpoint -----------------------------------------------------------------------------


def test_token_by_form_or_query_string(sandbox: RunningSandbox) -> None:
    by_form = httpx.post(f"{sandbox.url}/oauth/v2/token", data=GRANT)
    by_query = httpx.post(f"{sandbox.url}/oauth/v2/token", params=GRANT)
    for response in (by_form, by_query):
        assert response.status_code == 200
        assert response.headers["content-type"] == JSON_TYPE
        body = response.json()
        assert set(body) == {"access_token", "api_domain", "token_type", "expires_in"}
        assert body["api_domain"] == sandbox.url  # mount prefix included
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert by_form.json()["access_token"] != by_query.json()["access_token"]
    assert sandbox.state.tokens_issued == 2


def test_token_errors_come_as_http_200(sandbox: RunningSandbox) -> None:
    url = f"{sandbox.url}/oauth/v2/token"
    wrong_secret = httpx.post(url, data=GRANT | {"client_secret": "nope"})
    assert (wrong_secret.status_code, wrong_secret.json()) == (200, {"error": "invalid_client"})
    wrong_refresh = httpx.post(url, data=GRANT | {"refresh_token": "nope"})
    assert (wrong_refresh.status_code, wrong_refresh.json()) == (200, {"error": "invalid_code"})
    sandbox.state.revoke_refresh_token()
    assert httpx.post(url, data=GRANT).json() == {"error": "invalid_code"}


def test_token_throttle(sandbox: RunningSandbox) -> None:
    url = f"{sandbox.url}/oauth/v2/token"
    httpx.post(f"{sandbox.url}/__sandbox__/reset", json={"refresh_limit": 2})
    try:
        assert all("access_token" in httpx.post(url, data=GRANT).json() for _ in range(2))
        denied = httpx.post(url, data=GRANT)
    finally:
        sandbox.state.refresh_limit = 1000
    assert denied.status_code == 200
    assert denied.json() == {
        "error": "Access Denied",
        "error_description": "You have made too many requests continuously. "
        "Please try again after some time.",
    }


# --- records API --------------------------------------------------------------------------------


def test_401_envelope(sandbox: RunningSandbox, api: httpx.Client) -> None:
    url = f"{sandbox.url}/crm/v7/Contacts/{CONTACT_ID}"
    no_header = httpx.get(url)
    bearer = httpx.get(url, headers={"Authorization": "Bearer whatever"})
    for response in (no_header, bearer):
        assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    assert api.get(f"/Contacts/{CONTACT_ID}").status_code == 200
    sandbox.state.revoke_access_tokens()
    revoked = api.get(f"/Contacts/{CONTACT_ID}")
    assert (revoked.status_code, revoked.json()) == (401, INVALID_TOKEN)


def test_get_record_and_204_without_body(api: httpx.Client) -> None:
    found = api.get(f"/Accounts/{ACCOUNT_ID}")
    assert found.status_code == 200
    [account] = found.json()["data"]
    assert account["Billing_Code"] == account["Shipping_Code"] == "16110"
    assert "_meta" not in account
    missing = api.get(f"/Accounts/{MISSING_ID}")
    assert (missing.status_code, missing.content) == (204, b"")
    assert missing.headers["content-type"] == JSON_TYPE


def test_v8_paths_work(sandbox: RunningSandbox, api: httpx.Client) -> None:
    url = f"{sandbox.url}/crm/v8/Products/{PRODUCT_IDS[1]}"
    response = httpx.get(url, headers=api.headers)
    assert response.json()["data"][0]["Unit_Price"] == 40.0


def test_search_by_email_and_criteria(api: httpx.Client) -> None:
    by_email = api.get("/Contacts/search", params={"email": "INFO@poligonmuhendislik.com"})
    body = by_email.json()
    assert {c["id"] for c in body["data"]} == {CONTACT_ID, "550428000008877002"}  # + Secondary
    assert body["info"] == {"per_page": 200, "count": 2, "page": 1, "more_records": False}
    starts = api.get("/Products/search", params={"criteria": "(Product_Name:starts_with:cable)"})
    assert [p["id"] for p in starts.json()["data"]] == [PRODUCT_IDS[3]]
    none = api.get("/Contacts/search", params={"email": "nobody@example.com"})
    assert (none.status_code, none.content) == (204, b"")
    bad = api.get("/Deals/search", params={"criteria": "Deal_Name=x"})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_QUERY")


def test_search_criteria_escapes(api: httpx.Client) -> None:
    created = api.post("/Quotes", json={"data": [quote("PLG (a), b")], "trigger": []})
    quote_id = created.json()["data"][0]["details"]["id"]
    found = api.get("/Quotes/search", params={"criteria": r"(Subject:equals:PLG \(a\)\, b)"})
    [record] = found.json()["data"]
    assert record["id"] == quote_id
    assert "Quoted_Items" not in record  # subforms only come with a single-record GET
    assert "Quoted_Items" in api.get(f"/Quotes/{quote_id}").json()["data"][0]


def test_insert_201_with_details(sandbox: RunningSandbox, api: httpx.Client) -> None:
    response = api.post("/Quotes", json={"data": [quote()], "trigger": []})
    assert response.status_code == 201
    [entry] = response.json()["data"]
    assert (entry["code"], entry["message"], entry["status"]) == (
        "SUCCESS",
        "record added",
        "success",
    )
    record_id = entry["details"]["id"]
    assert len(record_id) == 18 and record_id.isdigit()
    assert {"Created_Time", "Modified_Time", "Created_By"} <= set(entry["details"])
    [stored] = sandbox.state.records("Quotes")
    assert stored["_meta"]["trigger"] == []
    assert stored["Quoted_Items"][0]["Product_Name"]["name"] == "Industrial Sensor PX-100"


def test_insert_without_trigger_is_recorded(sandbox: RunningSandbox, api: httpx.Client) -> None:
    api.post("/Deals", json={"data": [{"Deal_Name": "D", "Stage": "Qualification"}]})
    [deal] = sandbox.state.records("Deals")
    assert deal["_meta"]["trigger"] is None  # absent: Zoho would run every automation


def test_insert_mandatory_missing_is_400(api: httpx.Client) -> None:
    response = api.post("/Quotes", json={"data": [quote(Subject=None)], "trigger": []})
    assert response.status_code == 400
    assert response.json() == {
        "data": [
            {
                "code": "MANDATORY_NOT_FOUND",
                "details": {"api_name": "Subject", "json_path": "$.data[0].Subject"},
                "message": "required field not found",
                "status": "error",
            }
        ]
    }
    no_lines = api.post("/Sales_Orders", json={"data": [{"Subject": "S", "Ordered_Items": []}]})
    assert no_lines.json()["data"][0]["details"]["api_name"] == "Ordered_Items"


def test_insert_bad_lookups_are_invalid_data(api: httpx.Client) -> None:
    bad_deal = quote(Deal_Name={"id": MISSING_ID})
    bad_product = quote()
    bad_product["Quoted_Items"][0]["Product_Name"] = {"id": MISSING_ID}
    response = api.post("/Quotes", json={"data": [bad_deal, bad_product]})
    assert response.status_code == 400
    first, second = response.json()["data"]
    assert (first["code"], first["message"]) == ("INVALID_DATA", "invalid data")
    assert first["details"] == {"api_name": "Deal_Name", "json_path": "$.data[0].Deal_Name"}
    assert second["details"]["json_path"] == "$.data[1].Quoted_Items[0].Product_Name"


def test_mixed_batch_is_207(sandbox: RunningSandbox, api: httpx.Client) -> None:
    batch = [{"Deal_Name": "ok", "Stage": "Qualification"}, {"Stage": "Qualification"}]
    response = api.post("/Deals", json={"data": batch, "trigger": []})
    assert response.status_code == 207
    ok, failed = response.json()["data"]
    assert ok["status"] == "success"
    assert failed["code"] == "MANDATORY_NOT_FOUND"
    assert failed["details"]["json_path"] == "$.data[1].Deal_Name"
    assert [d["Deal_Name"] for d in sandbox.state.records("Deals")] == ["ok"]


def test_more_than_100_records_and_unknown_module(api: httpx.Client) -> None:
    deals = [{"Deal_Name": str(i), "Stage": "Qualification"} for i in range(101)]
    too_many = api.post("/Deals", json={"data": deals})
    assert (too_many.status_code, too_many.json()["code"]) == (400, "LIMIT_EXCEEDED")
    unknown = api.get(f"/Widgets/{MISSING_ID}")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "INVALID_MODULE")


def test_delete_then_delete_again(sandbox: RunningSandbox, api: httpx.Client) -> None:
    created = api.post("/Deals", json={"data": [{"Deal_Name": "D", "Stage": "S"}]})
    deal_id = created.json()["data"][0]["details"]["id"]
    deleted = api.delete(f"/Deals/{deal_id}", params={"wf_trigger": "false"})
    assert (deleted.status_code, deleted.json()) == (
        200,
        {
            "data": [
                {
                    "code": "SUCCESS",
                    "details": {"id": deal_id},
                    "message": "record deleted",
                    "status": "success",
                }
            ]
        },
    )
    not_deleted = {
        "code": "INVALID_DATA",
        "details": {"id": deal_id},
        "message": "record not deleted",
        "status": "error",
    }
    again = api.delete(f"/Deals/{deal_id}", params={"wf_trigger": "false"})
    assert (again.status_code, again.json()) == (400, {"data": [not_deleted]})
    never = api.delete(f"/Deals/{MISSING_ID}")
    assert (never.status_code, never.json()["data"][0]["message"]) == (400, "record not deleted")
    assert api.get(f"/Deals/{deal_id}").status_code == 204
    [gone] = sandbox.state.deleted("Deals")
    assert gone["_meta"]["wf_trigger"] == "false"


def test_unknown_path_is_invalid_url_pattern(sandbox: RunningSandbox, api: httpx.Client) -> None:
    expected = {
        "code": "INVALID_URL_PATTERN",
        "details": {},
        "message": "Please check if the URL trying to access is a correct one",
        "status": "error",
    }
    for url in (f"{sandbox.url}/crm/v6/Deals/1", f"{sandbox.url}/crm/v7/Deals/1/x"):
        response = httpx.get(url, headers=api.headers)
        assert (response.status_code, response.json()) == (404, expected)
    assert api.put("/Deals/1").json()["code"] == "INVALID_REQUEST_METHOD"


# --- COQL ---------------------------------------------------------------------------------------


def test_coql_select_where_with_escaped_quote(sandbox: RunningSandbox, api: httpx.Client) -> None:
    quote_id = created_id(api.post("/Quotes", json={"data": [quote("It's (a), b")]}))
    api.post("/Quotes", json={"data": [quote("It's (a), c")]})
    found = select(api, r"SELECT Subject, Quote_Stage From Quotes WHERE Subject = 'it\'s (a), b'")
    assert (found.status_code, found.headers["content-type"]) == (200, JSON_TYPE)
    assert found.json() == {
        "data": [{"id": quote_id, "Subject": "It's (a), b", "Quote_Stage": None}],
        "info": {"count": 1, "more_records": False},
    }
    v8 = httpx.post(
        f"{sandbox.url}/crm/v8/coql",
        json={"select_query": "select id from Quotes where Subject = 'nothing like it'"},
        headers=api.headers,
    )
    assert (v8.status_code, v8.content) == (204, b"")


def test_coql_and_lookup_limit_and_id_order(api: httpx.Client) -> None:
    deal_ids = [
        created_id(api.post("/Deals", json={"data": [{"Deal_Name": "Same", "Stage": "S"}]}))
        for _ in range(3)
    ]
    page = select(api, "select Deal_Name from Deals where Deal_Name = 'Same' limit 2").json()
    assert [d["id"] for d in page["data"]] == deal_ids[:2]
    assert page["info"] == {"count": 2, "more_records": True}
    quote_id = created_id(
        api.post("/Quotes", json={"data": [quote(Deal_Name={"id": deal_ids[1]})]})
    )
    api.post("/Quotes", json={"data": [quote(Deal_Name={"id": deal_ids[2]})]})
    both = f"select Subject from Quotes where Subject = 'Q' and Deal_Name.id = '{deal_ids[1]}'"
    assert [q["id"] for q in select(api, both).json()["data"]] == [quote_id]


@pytest.mark.parametrize(
    "query",
    [
        "select id from Deals",  # no where
        "select id from Deals where Deal_Name like 'x%'",
        "select id from Deals where Deal_Name = 'open",
        "select id from Deals where Deal_Name = 'a' or Stage = 'b'",
        "select id from Deals where Deal_Name = 'a' limit 0",
        "delete from Deals where id = '1'",
        5,
    ],
)
def test_coql_outside_the_subset_is_a_syntax_error(api: httpx.Client, query: object) -> None:
    response = api.post("/coql", json={"select_query": query})
    assert (response.status_code, response.json()) == (
        400,
        {
            "code": "SYNTAX_ERROR",
            "details": {},
            "message": "error occured while parsing the query",
            "status": "error",
        },
    )


def test_coql_unknown_module_and_no_token(sandbox: RunningSandbox, api: httpx.Client) -> None:
    unknown = select(api, "select id from Widgets where id = '1'")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "INVALID_QUERY")
    anonymous = httpx.post(f"{sandbox.url}/crm/v7/coql", json={"select_query": "select"})
    assert (anonymous.status_code, anonymous.json()) == (401, INVALID_TOKEN)


def test_search_lags_writes_but_get_and_coql_do_not(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    criteria = {"criteria": "(Deal_Name:equals:Lagging)"}
    assert httpx.post(f"{sandbox.url}/__sandbox__/reset", json={"search_lag_s": 5}).is_success
    token = httpx.post(f"{sandbox.url}/oauth/v2/token", data=GRANT).json()["access_token"]
    api.headers["Authorization"] = f"Zoho-oauthtoken {token}"  # the reset revoked the old one
    try:
        deal = {"Deal_Name": "Lagging", "Stage": "S"}
        deal_id = created_id(api.post("/Deals", json={"data": [deal]}))
        missed = api.get("/Deals/search", params=criteria)
        assert (missed.status_code, missed.content) == (204, b"")
        assert api.get(f"/Deals/{deal_id}").status_code == 200
        coql = select(api, "select Deal_Name from Deals where Deal_Name = 'Lagging'")
        assert coql.json()["data"] == [{"id": deal_id, "Deal_Name": "Lagging"}]
        seeded = api.get("/Contacts/search", params={"email": "walkin@example.com"})
        assert seeded.status_code == 200  # the seed is indexed
        sandbox.state.search_lag_s = 0.3  # a plain attribute, read at every search
        time.sleep(0.35)
        assert [d["id"] for d in api.get("/Deals/search", params=criteria).json()["data"]] == [
            deal_id
        ]
    finally:
        sandbox.state.search_lag_s = 0.0


# --- faults and control routes ------------------------------------------------------------------


def test_fault_routes(sandbox: RunningSandbox, api: httpx.Client) -> None:
    control = f"{sandbox.url}/__sandbox__"
    faults = [
        {"module": "Deals", "operation": "create", "status": 500},
        {"module": "Deals", "status": 429, "retry_after": "3"},
        {"module": "Deals", "status": 400, "code": "DUPLICATE_DATA", "details": {"api_name": "X"}},
    ]
    for fault in faults:
        assert httpx.post(f"{control}/faults", json=fault).status_code == 200
    body = {"data": [{"Deal_Name": "D", "Stage": "S"}]}
    server_error = api.post("/Deals", json=body)
    assert (server_error.status_code, server_error.json()) == (
        500,
        {
            "code": "INTERNAL_ERROR",
            "details": {},
            "message": "Internal Server Error",
            "status": "error",
        },
    )
    limited = api.get(f"/Deals/{MISSING_ID}")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert limited.json()["code"] == "TOO_MANY_REQUESTS"
    duplicate = api.post("/Deals", json=body)
    assert duplicate.status_code == 400
    assert duplicate.json()["data"][0]["code"] == "DUPLICATE_DATA"
    assert api.post("/Deals", json=body).status_code == 201  # all faults used up
    assert httpx.post(f"{control}/faults", json={"module": "Deals"}).status_code == 422


def test_query_is_its_own_fault_operation(sandbox: RunningSandbox, api: httpx.Client) -> None:
    faults = sandbox.state.faults
    faults.fail("Deals", operation="search", status=500)
    faults.fail("Quotes", operation="query", status=500)
    faults.fail("Deals", operation="query", status=429, retry_after="2")
    query = "select id from Deals where Deal_Name = 'x'"
    limited = select(api, query)
    assert (limited.status_code, limited.json()["code"]) == (429, "TOO_MANY_REQUESTS")
    assert select(api, query).status_code == 204
    assert [(f["module"], f["operation"]) for f in faults.pending()] == [
        ("Deals", "search"),
        ("Quotes", "query"),
    ]


def test_fault_probability_counts_only_triggered_calls(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    random.seed(20240601)  # the sandbox draws with random.random() in this process
    sandbox.state.faults.fail("Accounts", status=500, probability=0.5, times=1_000_000)
    codes = [api.get(f"/Accounts/{ACCOUNT_ID}").status_code for _ in range(400)]
    failed = codes.count(500)
    assert set(codes) == {200, 500}
    assert 140 <= failed <= 260  # Binomial(400, 0.5): mean 200, sd 10
    [pending] = sandbox.state.faults.pending()
    assert (pending["probability"], pending["remaining"]) == (0.5, 1_000_000 - failed)
    control = f"{sandbox.url}/__sandbox__/faults"
    for probability in (0, 1.5):
        bad = {"status": 500, "probability": probability}
        assert httpx.post(control, json=bad).status_code == 422


def test_fault_body_contains(sandbox: RunningSandbox, api: httpx.Client) -> None:
    fault = {
        "module": "Quotes",
        "operation": "create",
        "status": 400,
        "code": "INVALID_DATA",
        "body_contains": PRODUCT_IDS[2],
        "times": 1_000_000,
    }
    assert httpx.post(f"{sandbox.url}/__sandbox__/faults", json=fault).status_code == 200
    with_product = quote("tainted")
    with_product["Quoted_Items"].append({"Product_Name": {"id": PRODUCT_IDS[2]}, "Quantity": 1})
    for _ in range(3):
        refused = api.post("/Quotes", json={"data": [with_product]})
        assert (refused.status_code, refused.json()["data"][0]["code"]) == (400, "INVALID_DATA")
    assert api.post("/Quotes", json={"data": [quote("clean")]}).status_code == 201
    assert [q["Subject"] for q in sandbox.state.records("Quotes")] == ["clean"]
    [pending] = httpx.get(f"{sandbox.url}/__sandbox__/records").json()["faults"]
    assert (pending["body_contains"], pending["remaining"]) == (PRODUCT_IDS[2], 999_997)


def test_record_lands_after_the_client_gave_up(sandbox: RunningSandbox, api: httpx.Client) -> None:
    sandbox.state.faults.delay(0.5, module="Deals", operation="create", body_contains="Slow")
    with pytest.raises(httpx.ReadTimeout):  # httpx drops the connection: a client disconnect
        api.post("/Deals", json={"data": [{"Deal_Name": "Slow", "Stage": "S"}]}, timeout=0.1)
    assert sandbox.state.records("Deals") == []  # the delay comes before the insert
    deadline = time.monotonic() + 5.0
    while not sandbox.state.records("Deals") and time.monotonic() < deadline:
        time.sleep(0.02)
    [deal] = sandbox.state.records("Deals")
    assert deal["Deal_Name"] == "Slow"


def test_delay_fault_then_served(sandbox: RunningSandbox, api: httpx.Client) -> None:
    httpx.post(f"{sandbox.url}/__sandbox__/faults", json={"module": "Accounts", "delay_s": 0.5})
    with pytest.raises(httpx.ReadTimeout):
        api.get(f"/Accounts/{ACCOUNT_ID}", timeout=0.1)
    assert api.get(f"/Accounts/{ACCOUNT_ID}", timeout=5).status_code == 200


def test_control_revoke_reset_and_records(sandbox: RunningSandbox, api: httpx.Client) -> None:
    control = f"{sandbox.url}/__sandbox__"
    created = api.post("/Deals", json={"data": [{"Deal_Name": "D", "Stage": "S"}], "trigger": []})
    deal_id = created.json()["data"][0]["details"]["id"]
    api.delete(f"/Deals/{deal_id}", params={"wf_trigger": "false"})
    snapshot = httpx.get(f"{control}/records").json()
    deals = snapshot["modules"]["Deals"]
    assert (deals["count"], deals["deleted_count"]) == (0, 1)
    assert deals["deleted"][0]["_meta"] == {
        "trigger": [],
        "wf_trigger": "false",
        "deleted_time": deals["deleted"][0]["_meta"]["deleted_time"],
    }
    assert snapshot["modules"]["Products"]["count"] == 5
    assert snapshot["tokens_issued"] == 1
    httpx.post(f"{control}/revoke-tokens")
    assert api.get(f"/Contacts/{CONTACT_ID}").status_code == 401
    assert "access_token" in httpx.post(f"{sandbox.url}/oauth/v2/token", data=GRANT).json()
    httpx.post(f"{control}/revoke-tokens", json={"refresh_token": True})
    assert httpx.post(f"{sandbox.url}/oauth/v2/token", data=GRANT).json() == {
        "error": "invalid_code"
    }
    assert httpx.post(f"{control}/reset").status_code == 200
    after = httpx.get(f"{control}/records").json()
    assert after["modules"]["Deals"]["deleted_count"] == 0
    assert "access_token" in httpx.post(f"{sandbox.url}/oauth/v2/token", data=GRANT).json()


def test_works_without_a_mount_prefix() -> None:
    with running_sandbox(prefix="") as bare:
        token = httpx.post(f"{bare.url}/oauth/v2/token", data=GRANT).json()
        assert token["api_domain"] == bare.url
        headers = {"Authorization": f"Zoho-oauthtoken {token['access_token']}"}
        response = httpx.get(f"{bare.url}/crm/v7/Contacts/{CONTACT_ID}", headers=headers)
        assert response.json()["data"][0]["Email"] == "info@poligonmuhendislik.com"
