"""wire.py against recorded Zoho bodies (shared/reference/zoho-crm.md), and ZohoAuth on
httpx.MockTransport: bodies we send, records we parse, every failure mapped to our error tree."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from orchestrator.backends.zoho import wire
from orchestrator.backends.zoho.auth import ZohoAuth
from orchestrator.backends.zoho.client import ZohoConfig
from orchestrator.crm.errors import PermanentCrmError, RateLimited, TransientCrmError
from orchestrator.crm.protocol import (
    Account,
    Address,
    Contact,
    PricedLine,
    PricedOrder,
    RecordKind,
)
from orchestrator.crm.tokens import CachedToken, InMemoryTokenCache

MARKER = "salesaga-0b7e6f52-9a0c-4c1e-8d35-6a8f2f7f1c11"
ADDRESS = Address("Tahtalı Mah. Kiteyol Sok. No: 24", "Bursa", "Nilüfer", "16110", "Türkiye")
ORDER = PricedOrder(
    contact=Contact("550428000008877665", "Poligon", "Mühendislik", "info@x.com", "5504280002"),
    account=Account(
        "550428000002233445", "Poligon", shipping=ADDRESS, billing=Address(city="İzmir")
    ),
    lines=(
        PricedLine("550428000000111222", "Sensor", 2, Decimal("100.0")),
        PricedLine("550428000000333444", "Bracket", 5, Decimal("40.5")),
    ),
)


def test_names_carry_the_marker_deterministically() -> None:
    assert wire.record_name(RecordKind.DEAL, MARKER) == f"PLG Sale {MARKER}"
    assert wire.record_name(RecordKind.QUOTE, MARKER) == f"PLG Quote {MARKER}"
    assert wire.record_name(RecordKind.SALES_ORDER, MARKER) == f"PLG Sales Order {MARKER}"


def test_deal_body() -> None:
    closing = date(2025, 1, 31)
    record = wire.deal_record(
        ORDER, MARKER, stage="Qualification", pipeline="", closing_date=closing
    )
    assert record == {
        "Deal_Name": f"PLG Sale {MARKER}",
        "Stage": "Qualification",
        "Closing_Date": "2025-01-31",
        "Amount": 402.5,
        "Contact_Name": {"id": "550428000008877665"},
        "Account_Name": {"id": "550428000002233445"},
        "Description": f"Created by salesaga. Saga marker: {MARKER}",
    }
    with_pipeline = wire.deal_record(
        ORDER, MARKER, stage="Qualification", pipeline="Standard (Standard)", closing_date=closing
    )
    assert with_pipeline["Pipeline"] == "Standard (Standard)"


def test_quote_body_has_lookups_addresses_and_lines() -> None:
    record = wire.quote_record(ORDER, MARKER, deal_id="1")
    assert record["Subject"] == f"PLG Quote {MARKER}"
    assert record["Deal_Name"] == {"id": "1"}
    assert record["Quote_Stage"] == "Draft"
    assert record["Shipping_Street"] == "Tahtalı Mah. Kiteyol Sok. No: 24"
    assert record["Shipping_Code"] == "16110"
    assert record["Billing_City"] == "İzmir"
    assert "Billing_Street" not in record  # unknown parts are left out, not sent as null
    assert record["Quoted_Items"] == [
        {"Product_Name": {"id": "550428000000111222"}, "Quantity": 2, "List_Price": 100.0},
        {"Product_Name": {"id": "550428000000333444"}, "Quantity": 5, "List_Price": 40.5},
    ]
    assert MARKER in record["Description"]


def test_sales_order_body() -> None:
    record = wire.sales_order_record(ORDER, MARKER, deal_id="1", quote_id="2")
    assert record["Subject"] == f"PLG Sales Order {MARKER}"
    assert (record["Deal_Name"], record["Quote_Name"]) == ({"id": "1"}, {"id": "2"})
    assert record["Contact_Name"] == {"id": "550428000008877665"}
    assert len(record["Ordered_Items"]) == 2
    assert "Quoted_Items" not in record
    assert wire.insert_body(record) == {"data": [record], "trigger": []}


def test_find_query_is_coql_on_the_exact_name_with_quotes_escaped() -> None:
    assert wire.find_query(RecordKind.DEAL, MARKER) == {
        "select_query": f"select id, Deal_Name from Deals where Deal_Name = 'PLG Sale {MARKER}'"
        " limit 2"
    }
    odd = wire.find_query(RecordKind.SALES_ORDER, "it's (a), b")["select_query"]
    assert odd == (
        "select id, Subject from Sales_Orders where Subject = 'PLG Sales Order it\\'s (a), b'"
        " limit 2"
    )
    assert wire.coql_string("a\\'") == r"'a\\\''"  # a backslash cannot end the literal


def test_found_id_wants_the_exact_name_and_204_is_none() -> None:
    name = f"PLG Quote {MARKER}"
    data = [{"id": "1", "Subject": name.upper()}, {"id": "2", "Subject": name}]
    answer = httpx.Response(200, json={"data": data, "info": {"count": 2, "more_records": False}})
    assert wire.found_id(answer, RecordKind.QUOTE, MARKER) == "2"
    other_case = httpx.Response(200, json={"data": data[:1]})  # COQL `=` may ignore case
    assert wire.found_id(other_case, RecordKind.QUOTE, MARKER) is None
    assert wire.found_id(httpx.Response(204), RecordKind.QUOTE, MARKER) is None


def test_coql_syntax_error_is_permanent() -> None:
    body = _top("SYNTAX_ERROR", "error occured while parsing the query")
    error = _error(400, body)
    assert type(error) is PermanentCrmError
    assert (error.code, error.status) == ("SYNTAX_ERROR", 400)
    assert "parsing the query" in str(error)


def test_parse_contact_account_product() -> None:
    contact = wire.contact(
        {
            "id": "1",
            "First_Name": None,
            "Last_Name": "Test",
            "Email": "a@b.com",
            "Account_Name": {"name": "Acme", "id": "111111000000087057"},
        }
    )
    assert contact == Contact("1", None, "Test", "a@b.com", "111111000000087057")
    account = wire.account(
        {"id": "2", "Account_Name": "Acme", "Billing_Code": 16110, "Shipping_City": "Bursa"}
    )
    assert account.billing.code == "16110"
    assert account.shipping == Address(city="Bursa")
    product = wire.product({"id": "3", "Product_Name": "P", "Unit_Price": 0.1})
    assert product.unit_price == Decimal("0.1")  # from str(0.1), not the binary float
    assert product.active  # Product_Active absent: active
    assert not wire.product({"id": "3", "Product_Active": False, "Unit_Price": 1}).active


def test_204_is_never_decoded() -> None:
    response = httpx.Response(204, content=b"not json", headers={"Content-Type": wire_type()})
    assert wire.payload(response) is None
    assert wire.records(response) == []
    assert wire.first_record(response) is None


def wire_type() -> str:
    return "application/json;charset=utf-8"


def test_pick_by_email_prefers_the_primary_email() -> None:
    found = [{"id": "1", "Email": "x@y.com"}, {"id": "2", "Email": "Info@Y.com"}]
    assert wire.pick_by_email(found, "info@y.com") == found[1]
    assert wire.pick_by_email(found, "other@y.com") == found[0]
    assert wire.pick_by_email([], "a@b.c") is None


def test_written_id_reads_per_record_status_even_on_2xx() -> None:
    ok = {"code": "SUCCESS", "details": {"id": "9"}, "message": "record added", "status": "success"}
    assert wire.written_id(httpx.Response(201, json={"data": [ok]})) == "9"
    failed = {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Deal_Name", "json_path": "$.data[0].Deal_Name"},
        "message": "required field not found",
        "status": "error",
    }
    with pytest.raises(PermanentCrmError) as caught:
        wire.written_id(httpx.Response(207, json={"data": [failed, ok]}))
    assert caught.value.code == "MANDATORY_NOT_FOUND"
    assert "Deal_Name" in str(caught.value)


def _error(status: int, body: object, headers: dict[str, str] | None = None) -> Exception:
    return wire.crm_error(httpx.Response(status, json=body, headers=headers))


def _top(code: str, message: str = "m") -> dict[str, object]:
    return {"code": code, "details": {}, "message": message, "status": "error"}


def test_server_errors_are_transient() -> None:
    error = _error(500, _top("INTERNAL_ERROR", "Internal Server Error"))
    assert type(error) is TransientCrmError
    assert (error.code, error.status) == ("INTERNAL_ERROR", 500)
    html = wire.crm_error(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert type(html) is TransientCrmError


def test_429_is_rate_limited_with_retry_after_seconds_or_date() -> None:
    error = _error(429, _top("TOO_MANY_REQUESTS"), {"Retry-After": "7"})
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    dated = _error(429, _top("TOO_MANY_REQUESTS"), {"Retry-After": later})
    assert isinstance(dated, RateLimited)
    assert dated.retry_after is not None and 25 <= dated.retry_after <= 30
    assert isinstance(bare := _error(429, {}), RateLimited) and bare.retry_after is None


def test_per_record_4xx_is_permanent_and_names_the_field() -> None:
    body = {
        "data": [
            {
                "code": "INVALID_DATA",
                "details": {"expected_data_type": "phone", "api_name": "Phone"},
                "message": "invalid data",
                "status": "error",
            }
        ]
    }
    error = _error(400, body)
    assert type(error) is PermanentCrmError
    assert error.code == "INVALID_DATA"
    assert "Phone" in str(error)
    assert type(_error(400, {"data": [_top("DUPLICATE_DATA")]})) is PermanentCrmError
    assert type(_error(403, _top("NO_PERMISSION"))) is PermanentCrmError


def test_401_token_rejection_is_transient_but_scope_mismatch_is_permanent() -> None:
    assert type(_error(401, _top("INVALID_TOKEN", "invalid oauth token"))) is TransientCrmError
    assert type(_error(401, _top("OAUTH_SCOPE_MISMATCH"))) is PermanentCrmError


def test_token_endpoint_errors() -> None:
    for code in ("invalid_code", "invalid_client"):
        with pytest.raises(PermanentCrmError) as caught:
            wire.cached_token(httpx.Response(200, json={"error": code}))
        assert caught.value.code == code
    throttled = {
        "error": "Access Denied",
        "error_description": "You have made too many requests continuously.",
    }
    with pytest.raises(TransientCrmError):
        wire.cached_token(httpx.Response(200, json=throttled))


def test_token_lifetimes_modern_and_legacy() -> None:
    modern = {"access_token": "t", "api_domain": "x", "token_type": "Bearer", "expires_in": 3600}
    assert wire.cached_token(httpx.Response(200, json=modern), now=1000.0).expires_at == 4600.0
    legacy = {"access_token": "t", "expires_in_sec": 3600, "expires_in": 3600000}
    assert wire.cached_token(httpx.Response(200, json=legacy), now=1000.0).expires_at == 4600.0


# --- ZohoAuth on httpx.MockTransport ------------------------------------------------------------


class FakeZoho:
    """Token endpoint + one API route; the API rejects every token but the latest."""

    def __init__(self, token_answer: dict[str, object] | None = None) -> None:
        self.issued: list[str] = []
        self.token_answer = token_answer
        self.seen_auth: list[str] = []

    def token(self, request: httpx.Request) -> httpx.Response:
        if self.token_answer is not None:
            return httpx.Response(200, json=self.token_answer)
        self.issued.append(f"tok-{len(self.issued) + 1}")
        return httpx.Response(200, json={"access_token": self.issued[-1], "expires_in": 3600})

    def api(self, request: httpx.Request) -> httpx.Response:
        self.seen_auth.append(request.headers["Authorization"])
        if request.headers["Authorization"] != f"Zoho-oauthtoken {self.issued[-1]}":
            return httpx.Response(401, json=_top("INVALID_TOKEN", "invalid oauth token"))
        return httpx.Response(200, json={"data": [{"id": "1"}]})


def _clients(fake: FakeZoho, cache: InMemoryTokenCache) -> tuple[httpx.AsyncClient, ZohoAuth]:
    token_http = httpx.AsyncClient(transport=httpx.MockTransport(fake.token))
    auth = ZohoAuth(
        accounts_url="https://accounts.example",
        client_id="cid",
        client_secret="very-secret",
        refresh_token="refresh-secret",
        cache=cache,
        http=token_http,
    )
    api = httpx.AsyncClient(transport=httpx.MockTransport(fake.api), auth=auth)
    return api, auth


async def test_auth_refreshes_once_on_invalid_token_and_retries() -> None:
    fake, cache = FakeZoho(), InMemoryTokenCache()
    api, auth = _clients(fake, cache)
    assert (await api.get("https://api.example/crm/v7/Deals/1")).status_code == 200
    fake.issued.append("tok-elsewhere")  # tok-1 is revoked: Zoho now rejects it
    response = await api.get("https://api.example/crm/v7/Deals/1")
    assert response.status_code == 200
    assert fake.seen_auth == [
        "Zoho-oauthtoken tok-1",
        "Zoho-oauthtoken tok-1",
        "Zoho-oauthtoken tok-3",
    ]
    cached = await cache.get(auth.cache_key)
    assert cached is not None and cached.value == "tok-3"
    assert "secret" not in auth.cache_key


async def test_auth_refreshes_a_token_close_to_expiry_before_using_it() -> None:
    fake, cache = FakeZoho(), InMemoryTokenCache()
    api, auth = _clients(fake, cache)
    await cache.refresh(
        auth.cache_key, _token("old", expires_in=30), stale=None
    )  # inside REFRESH_MARGIN_S
    assert (await api.get("https://api.example/crm/v7/Deals/1")).status_code == 200
    assert fake.seen_auth == ["Zoho-oauthtoken tok-1"]  # never sent the dying token


def _token(value: str, *, expires_in: float) -> Callable[[], Awaitable[CachedToken]]:
    async def fetch() -> CachedToken:
        return CachedToken(value, time.time() + expires_in)

    return fetch


async def test_bad_refresh_token_is_permanent_and_leaks_no_secret() -> None:
    fake = FakeZoho(token_answer={"error": "invalid_code"})
    api, _ = _clients(fake, InMemoryTokenCache())
    with pytest.raises(PermanentCrmError) as caught:
        await api.get("https://api.example/crm/v7/Deals/1")
    assert caught.value.code == "invalid_code"
    assert "secret" not in str(caught.value)


def test_secrets_stay_out_of_reprs() -> None:
    config = ZohoConfig(
        accounts_url="a",
        api_domain="b",
        client_id="cid",
        client_secret="very-secret",
        refresh_token="refresh-secret",
    )
    assert "secret" not in repr(config)
    assert config.base_url == "b/crm/v7"
