"""ZohoCrm against the Zoho sandbox over real HTTP: reads, writes, rollback deletes, marker lookup
(COQL, unaffected by search index lag), error mapping, token handling, and faults a soak test uses.
Assertions are on the sandbox's end state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from orchestrator.backends.zoho.client import ZohoConfig, ZohoCrm, open_zoho_crm
from orchestrator.backends.zoho.sandbox.data import (
    ACCOUNT_ID,
    CONTACT_ID,
    INACTIVE_PRODUCT_ID,
    NO_ACCOUNT_CONTACT_ID,
    PRODUCT_IDS,
    SandboxState,
)
from orchestrator.crm.errors import (
    NotFound,
    OutcomeUnknown,
    PermanentCrmError,
    RateLimited,
    TransientCrmError,
)
from orchestrator.crm.protocol import OrderLine, PricedOrder, RecordKind, RecordRef, SalesCrm
from orchestrator.crm.tokens import InMemoryTokenCache
from tests.zoho_sandbox import RunningSandbox, running_sandbox

LINES = (OrderLine(PRODUCT_IDS[0], 2), OrderLine(PRODUCT_IDS[1], 5))
SEED_STREET = "Tahtalı Mah. Kiteyol Sok. No: 24"


@pytest.fixture
async def crm(sandbox: RunningSandbox) -> AsyncIterator[ZohoCrm]:
    client = await open_zoho_crm(sandbox.config(), InMemoryTokenCache())
    yield client
    await client.aclose()


def new_marker() -> str:
    return f"salesaga-{uuid.uuid4()}"


async def test_conforms_to_the_port(crm: ZohoCrm) -> None:
    port: SalesCrm = crm
    assert crm.record_url(RecordRef(RecordKind.DEAL, "1")) is None
    assert port is crm


async def test_contact_found_by_email_with_its_account(crm: ZohoCrm) -> None:
    # The seed also has a contact with this address as Secondary_Email, listed first.
    contact = await crm.find_contact_by_email("INFO@poligonmuhendislik.com")
    assert contact is not None
    assert (contact.id, contact.first_name, contact.last_name) == (
        CONTACT_ID,
        "Poligon",
        "Mühendislik",
    )
    assert contact.account_id == ACCOUNT_ID
    account = await crm.get_account(ACCOUNT_ID)
    assert account.name == "Poligon Mühendislik San. ve Tic. Ltd. Şti."
    assert account.shipping.street == SEED_STREET
    assert (account.billing.city, account.billing.state, account.billing.code) == (
        "Bursa",
        "Nilüfer",
        "16110",
    )
    assert account.billing.country == "Türkiye"


async def test_contact_not_found(crm: ZohoCrm) -> None:
    assert await crm.find_contact_by_email("nobody@example.com") is None
    with pytest.raises(NotFound):
        await crm.get_account("550428000099999999")


async def test_price_order_reads_prices_as_decimals(crm: ZohoCrm) -> None:
    order = await crm.price_order(CONTACT_ID, LINES)
    assert [(line.product_id, line.quantity, line.unit_price) for line in order.lines] == [
        (PRODUCT_IDS[0], 2, Decimal("100.0")),
        (PRODUCT_IDS[1], 5, Decimal("40.0")),
    ]
    assert order.total == Decimal("400")
    assert order.account.id == ACCOUNT_ID
    assert order.lines[0].product_name == "Industrial Sensor PX-100"


async def test_price_order_unknown_contact_or_no_account(crm: ZohoCrm) -> None:
    with pytest.raises(NotFound):
        await crm.price_order("550428000099999999", LINES)
    with pytest.raises(NotFound):
        await crm.price_order(NO_ACCOUNT_CONTACT_ID, LINES)


async def test_price_order_unknown_product_names_it(crm: ZohoCrm) -> None:
    with pytest.raises(NotFound) as caught:
        await crm.price_order(CONTACT_ID, (*LINES, OrderLine("550428000077777777", 1)))
    assert "550428000077777777" in str(caught.value)


async def test_price_order_inactive_product(crm: ZohoCrm) -> None:
    with pytest.raises(PermanentCrmError) as caught:
        await crm.price_order(CONTACT_ID, (OrderLine(INACTIVE_PRODUCT_ID, 1),))
    assert not isinstance(caught.value, NotFound)
    assert caught.value.code == "INACTIVE_PRODUCT"
    assert INACTIVE_PRODUCT_ID in str(caught.value)


async def _create_all(crm: ZohoCrm, marker: str) -> tuple[PricedOrder, list[RecordRef]]:
    order = await crm.price_order(CONTACT_ID, LINES)
    deal = await crm.create_deal(order, marker=marker)
    quote = await crm.create_quote(order, deal=deal, marker=marker)
    sales_order = await crm.create_sales_order(order, deal=deal, quote=quote, marker=marker)
    return order, [deal, quote, sales_order]


async def test_create_deal_quote_sales_order_with_links_lines_and_addresses(
    crm: ZohoCrm, sandbox: RunningSandbox
) -> None:
    marker = new_marker()
    _, (deal_ref, quote_ref, so_ref) = await _create_all(crm, marker)
    state = sandbox.state
    [deal], [quote], [sales_order] = (state.records(m) for m in ("Deals", "Quotes", "Sales_Orders"))
    assert (deal["id"], quote["id"], sales_order["id"]) == (deal_ref.id, quote_ref.id, so_ref.id)
    assert all(len(ref.id) == 18 and ref.id.isdigit() for ref in (deal_ref, quote_ref, so_ref))
    assert deal["Deal_Name"] == f"PLG Sale {marker}"
    assert (deal["Stage"], deal["Amount"]) == ("Qualification", 400.0)
    assert deal["Closing_Date"] == (date.today() + timedelta(days=30)).isoformat()
    assert deal["Contact_Name"]["id"] == CONTACT_ID
    assert deal["Account_Name"]["id"] == ACCOUNT_ID
    assert "Pipeline" not in deal
    assert quote["Subject"] == f"PLG Quote {marker}"
    assert quote["Deal_Name"]["id"] == deal_ref.id
    assert sales_order["Subject"] == f"PLG Sales Order {marker}"
    assert (sales_order["Deal_Name"]["id"], sales_order["Quote_Name"]["id"]) == (
        deal_ref.id,
        quote_ref.id,
    )
    for record, items in ((quote, "Quoted_Items"), (sales_order, "Ordered_Items")):
        assert record["Billing_Street"] == record["Shipping_Street"] == SEED_STREET
        assert record["Shipping_Country"] == "Türkiye"
        lines = [(i["Product_Name"]["id"], i["Quantity"], i["List_Price"]) for i in record[items]]
        assert lines == [(PRODUCT_IDS[0], 2, 100.0), (PRODUCT_IDS[1], 5, 40.0)]
    for record in (deal, quote, sales_order):
        assert marker in record["Description"]
        assert record["_meta"]["trigger"] == []  # no workflow fires on our creates


async def test_pipeline_and_api_v8(sandbox: RunningSandbox) -> None:
    config = sandbox.config(api_version="v8", deal_pipeline="Standard (Standard)", closing_days=7)
    crm = await open_zoho_crm(config, InMemoryTokenCache())
    try:
        order = await crm.price_order(CONTACT_ID, LINES)
        await crm.create_deal(order, marker=new_marker())
    finally:
        await crm.aclose()
    [deal] = sandbox.state.records("Deals")
    assert deal["Pipeline"] == "Standard (Standard)"
    assert deal["Closing_Date"] == (date.today() + timedelta(days=7)).isoformat()


async def test_delete_and_delete_again_count_as_done(crm: ZohoCrm, sandbox: RunningSandbox) -> None:
    _, refs = await _create_all(crm, new_marker())
    for ref in reversed(refs):
        await crm.delete_if_present(ref)
        await crm.delete_if_present(ref)  # already gone: confirmed by a read, no error
    await crm.delete_if_present(RecordRef(RecordKind.DEAL, "550428000099999999"))  # never existed
    for module in ("Deals", "Quotes", "Sales_Orders"):
        assert sandbox.state.records(module) == []
        [gone] = sandbox.state.deleted(module)
        assert gone["_meta"]["wf_trigger"] == "false"


async def test_delete_refused_while_the_record_exists_is_permanent(
    crm: ZohoCrm, sandbox: RunningSandbox
) -> None:
    order = await crm.price_order(CONTACT_ID, LINES)
    deal = await crm.create_deal(order, marker=new_marker())
    sandbox.state.faults.fail("Deals", operation="delete", status=400, code="INVALID_DATA")
    with pytest.raises(PermanentCrmError):
        await crm.delete_if_present(deal)
    assert [d["id"] for d in sandbox.state.records("Deals")] == [deal.id]


async def test_find_by_marker(crm: ZohoCrm) -> None:
    marker, other = new_marker(), "salesaga-(odd), it's a marker"
    _, refs = await _create_all(crm, marker)
    for ref in refs:
        assert await crm.find(ref.kind, marker) == ref
    assert await crm.find(RecordKind.QUOTE, new_marker()) is None
    order = await crm.price_order(CONTACT_ID, LINES)
    odd = await crm.create_deal(order, marker=other)  # the quote needs escaping in COQL
    assert await crm.find(RecordKind.DEAL, other) == odd
    await crm.delete_if_present(refs[0])
    assert await crm.find(RecordKind.DEAL, marker) is None


async def test_find_reads_its_own_writes_while_search_lags() -> None:
    with running_sandbox(SandboxState(search_lag_s=5)) as lagging:
        crm = await open_zoho_crm(lagging.config(), InMemoryTokenCache())
        try:
            marker = new_marker()
            _, refs = await _create_all(crm, marker)
            name = f"PLG Sale {marker}"
            assert lagging.state.search("Deals", lambda r: r["Deal_Name"] == name) == []
            for ref in refs:
                assert await crm.find(ref.kind, marker) == ref
        finally:
            await crm.aclose()


async def test_find_is_the_query_operation(crm: ZohoCrm, sandbox: RunningSandbox) -> None:
    order = await crm.price_order(CONTACT_ID, LINES)
    marker = new_marker()
    deal = await crm.create_deal(order, marker=marker)
    sandbox.state.faults.fail("Deals", operation="search", status=500)
    assert await crm.find(RecordKind.DEAL, marker) == deal
    sandbox.state.faults.fail("Deals", operation="query", status=500)
    with pytest.raises(TransientCrmError):
        await crm.find(RecordKind.DEAL, marker)


async def test_create_that_timed_out_lands_later_and_find_sees_it(sandbox: RunningSandbox) -> None:
    tokens = InMemoryTokenCache()
    patient = await open_zoho_crm(sandbox.config(), tokens)  # reads at the normal timeout
    hasty = await open_zoho_crm(sandbox.config(read_timeout_s=1.0), tokens)
    marker = new_marker()
    try:
        order = await patient.price_order(CONTACT_ID, LINES)
        sandbox.state.faults.delay(1.8, module="Deals", operation="create")
        with pytest.raises(TransientCrmError):
            await hasty.create_deal(order, marker=marker)
        assert await patient.find(RecordKind.DEAL, marker) is None  # the delay precedes the insert
        found = None
        for _ in range(200):
            if (found := await patient.find(RecordKind.DEAL, marker)) is not None:
                break
            await asyncio.sleep(0.02)
    finally:
        await hasty.aclose()
        await patient.aclose()
    assert found is not None
    assert [deal["id"] for deal in sandbox.state.records("Deals")] == [found.id]


async def test_every_quote_with_a_given_product_fails(
    crm: ZohoCrm, sandbox: RunningSandbox
) -> None:
    sandbox.state.faults.fail(
        "Quotes",
        operation="create",
        status=400,
        code="INVALID_DATA",
        body_contains=PRODUCT_IDS[2],
        times=1_000_000,
    )
    plain = await crm.price_order(CONTACT_ID, LINES)
    tainted = await crm.price_order(CONTACT_ID, (*LINES, OrderLine(PRODUCT_IDS[2], 1)))
    deal = await crm.create_deal(tainted, marker=new_marker())
    for _ in range(3):
        with pytest.raises(PermanentCrmError):
            await crm.create_quote(tainted, deal=deal, marker=new_marker())
    await crm.create_quote(plain, deal=deal, marker=new_marker())
    [quote] = sandbox.state.records("Quotes")
    assert [line["Product_Name"]["id"] for line in quote["Quoted_Items"]] == list(PRODUCT_IDS[:2])


async def test_server_error_is_transient(crm: ZohoCrm, sandbox: RunningSandbox) -> None:
    order = await crm.price_order(CONTACT_ID, LINES)
    sandbox.state.faults.fail("Deals", operation="create", status=500)
    with pytest.raises(TransientCrmError) as caught:
        await crm.create_deal(order, marker=new_marker())
    assert (caught.value.code, caught.value.status) == ("INTERNAL_ERROR", 500)
    assert sandbox.state.records("Deals") == []
    await crm.create_deal(order, marker=new_marker())  # the fault was for one call only
    assert len(sandbox.state.records("Deals")) == 1


async def test_429_is_rate_limited_with_retry_after(crm: ZohoCrm, sandbox: RunningSandbox) -> None:
    sandbox.state.faults.fail("Contacts", operation="search", status=429, retry_after="7")
    with pytest.raises(RateLimited) as caught:
        await crm.find_contact_by_email("info@poligonmuhendislik.com")
    assert caught.value.retry_after == 7.0
    assert caught.value.code == "TOO_MANY_REQUESTS"


async def test_read_timeout_is_an_unknown_outcome(sandbox: RunningSandbox) -> None:
    crm = await open_zoho_crm(sandbox.config(read_timeout_s=1.0), InMemoryTokenCache())
    sandbox.state.faults.delay(1.6, module="Accounts")
    try:
        with pytest.raises(OutcomeUnknown):  # sent, unanswered: it may still be applied
            await crm.get_account(ACCOUNT_ID)
        assert (await crm.get_account(ACCOUNT_ID)).id == ACCOUNT_ID  # served normally again
    finally:
        await crm.aclose()


async def test_invalid_data_is_permanent_and_names_the_field(crm: ZohoCrm) -> None:
    order = await crm.price_order(CONTACT_ID, LINES)
    missing_deal = RecordRef(RecordKind.DEAL, "550428000099999999")
    with pytest.raises(PermanentCrmError) as caught:
        await crm.create_quote(order, deal=missing_deal, marker=new_marker())
    assert caught.value.code == "INVALID_DATA"
    assert caught.value.status == 400
    assert "Deal_Name" in str(caught.value)


async def test_revoked_token_is_refreshed_once_and_the_call_succeeds(
    crm: ZohoCrm, sandbox: RunningSandbox
) -> None:
    await crm.get_account(ACCOUNT_ID)
    assert sandbox.state.tokens_issued == 1
    sandbox.state.revoke_access_tokens()
    assert (await crm.get_account(ACCOUNT_ID)).id == ACCOUNT_ID
    assert sandbox.state.tokens_issued == 2


async def test_token_rejected_twice_is_transient(crm: ZohoCrm, sandbox: RunningSandbox) -> None:
    sandbox.state.faults.fail("Accounts", status=401, code="INVALID_TOKEN", times=2)
    with pytest.raises(TransientCrmError) as caught:
        await crm.get_account(ACCOUNT_ID)
    assert caught.value.code == "INVALID_TOKEN"
    assert sandbox.state.tokens_issued == 2  # the first token, then exactly one refresh


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"refresh_token": "wrong-refresh"}, "invalid_code"),
        ({"client_secret": "x"}, "invalid_client"),
    ],
)
async def test_bad_credentials_are_permanent(
    sandbox: RunningSandbox, override: dict[str, str], code: str
) -> None:
    crm = await open_zoho_crm(sandbox.config(**override), InMemoryTokenCache())
    try:
        with pytest.raises(PermanentCrmError) as caught:
            await crm.get_account(ACCOUNT_ID)
    finally:
        await crm.aclose()
    assert caught.value.code == code
    assert "wrong-refresh" not in str(caught.value)


async def test_refresh_token_revoked_mid_way_is_permanent(
    crm: ZohoCrm, sandbox: RunningSandbox
) -> None:
    await crm.get_account(ACCOUNT_ID)
    sandbox.state.revoke_refresh_token()
    with pytest.raises(PermanentCrmError) as caught:
        await crm.get_account(ACCOUNT_ID)
    assert caught.value.code == "invalid_code"


async def test_token_throttle_is_transient(crm: ZohoCrm, sandbox: RunningSandbox) -> None:
    sandbox.state.refresh_limit = 1
    try:
        await crm.get_account(ACCOUNT_ID)
        sandbox.state.revoke_access_tokens()
        with pytest.raises(TransientCrmError) as caught:
            await crm.get_account(ACCOUNT_ID)
    finally:
        sandbox.state.refresh_limit = 1000
    assert not isinstance(caught.value, PermanentCrmError)
    assert caught.value.code == "Access Denied"


async def test_token_cache_is_shared_between_instances(sandbox: RunningSandbox) -> None:
    cache = InMemoryTokenCache()
    first = await open_zoho_crm(sandbox.config(), cache)
    second = await open_zoho_crm(sandbox.config(), cache)
    try:
        await asyncio.gather(*(c.get_account(ACCOUNT_ID) for c in (first, second, first, second)))
        assert sandbox.state.tokens_issued == 1
        sandbox.state.revoke_access_tokens()
        await asyncio.gather(*(c.get_account(ACCOUNT_ID) for c in (first, second, first, second)))
        assert sandbox.state.tokens_issued == 2  # four rejections, one refresh
    finally:
        await first.aclose()
        await second.aclose()


async def test_refused_connection_is_transient_but_not_unknown() -> None:
    config = ZohoConfig(accounts_url="http://127.0.0.1:1", api_domain="http://127.0.0.1:1",
                        client_id="c", client_secret="s", refresh_token="r")  # fmt: skip
    crm = await open_zoho_crm(config, InMemoryTokenCache())
    try:
        with pytest.raises(TransientCrmError) as caught:
            await crm.get_account(ACCOUNT_ID)
        assert not isinstance(caught.value, OutcomeUnknown)  # nothing reached the CRM
    finally:
        await crm.aclose()
