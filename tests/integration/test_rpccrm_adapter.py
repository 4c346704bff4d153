"""The RPC CRM adapter against its sandbox over HTTP: every method of the seed callable, the
envelope judged by `success` (never by the status), one login shared through the token cache
and repeated once on a 401, catalogues cached for their TTL, markers found again, and no
password in any error."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from orchestrator.backends.base import OpenContext
from orchestrator.backends.rpccrm import wire
from orchestrator.backends.rpccrm.client import open_rpccrm
from orchestrator.backends.rpccrm.sandbox import data as seed
from orchestrator.crm.errors import (
    NotFound,
    OutcomeUnknown,
    PermanentCrmError,
    RateLimited,
    TransientCrmError,
)
from orchestrator.crm.opportunity_tickets import NewProduct
from orchestrator.crm.records import RecordRef
from orchestrator.crm.tokens import InMemoryTokenCache
from tests.integration.test_rpccrm_sandbox import VALID

P_FREE = {name: {k: v for k, v in params.items() if k != "profile_id"}
          for name, params in VALID.items()}  # fmt: skip
PAIRS = [(group, method) for group, methods in wire.GROUPS.items() for method in methods]


@pytest.fixture(scope="module")
def server():
    from tests.rpccrm_sandbox import running_rpccrm_sandbox

    with running_rpccrm_sandbox() as running:
        yield running


@pytest.fixture
def sandbox(server):
    server.state.reset()
    return server


async def adapter(sandbox, tokens=None, **overrides):
    return await open_rpccrm(
        sandbox.settings(**overrides), OpenContext(tokens or InMemoryTokenCache())
    )


@pytest.mark.parametrize(("group", "method"), PAIRS, ids=[f"{g}.{m}" for g, m in PAIRS])
async def test_every_method_of_the_seed_is_callable(sandbox, group, method):
    crm = await adapter(sandbox)
    try:
        data = await crm.call(method, P_FREE.get(method, {}), group=group)
    finally:
        await crm.aclose()
    key = "token" if method == wire.LOGIN else wire.RESULT_KEYS[method]
    assert data[key]


async def test_success_false_under_http_200_raises_with_the_crms_message(sandbox):
    crm = await adapter(sandbox)
    with pytest.raises(PermanentCrmError) as refused:
        await crm.call("CreateTicket", {"title": "no company"})
    await crm.aclose()
    assert refused.value.status == 200 and refused.value.code == "REFUSED"
    assert "field is required" in refused.value.message


async def test_an_unknown_contact_is_not_found_and_a_bad_profile_is_not(sandbox):
    crm = await adapter(sandbox)
    with pytest.raises(NotFound, match=r"Contact not found\."):
        await crm.contact_by_email("nobody@example.com")
    with pytest.raises(PermanentCrmError) as refused:
        await crm.call("GetContact", {"profile_id": 99, "search_by": "id", "search_value": "1"})
    await crm.aclose()
    assert not isinstance(refused.value, NotFound)


async def test_workers_share_one_login_and_an_expired_token_logs_in_once_more(sandbox):
    tokens = InMemoryTokenCache()
    one, two = await adapter(sandbox, tokens), await adapter(sandbox, tokens)
    await one.stages()
    await two.users()
    assert sandbox.state.logins == 1
    sandbox.state.expire_tokens()
    await one.call("GetCases")
    await two.call("GetPriorities")
    await one.aclose()
    await two.aclose()
    assert sandbox.state.logins == 2


async def test_wrong_credentials_fail_for_good_without_the_password(sandbox):
    crm = await adapter(sandbox, password="not-the-password-42")
    with pytest.raises(PermanentCrmError) as refused:
        await crm.stages()
    await crm.aclose()
    assert refused.value.code == "LOGIN_FAILED"
    assert "RPCCRM_PASSWORD" in refused.value.message
    assert "not-the-password-42" not in repr(refused.value) + str(crm)


async def test_catalogues_are_cached_for_their_ttl(sandbox):
    crm = await adapter(sandbox)
    await crm.stages()
    await crm.stages()
    assert sandbox.state.calls["GetStages"] == 1
    await crm.aclose()
    fresh = await adapter(sandbox, catalogue_ttl_s=0)
    await fresh.stages()
    await fresh.stages()
    await fresh.aclose()
    assert sandbox.state.calls["GetStages"] == 3


async def test_the_logged_in_user_is_found_among_the_users(sandbox):
    crm = await adapter(sandbox)
    me = await crm.me()
    await crm.aclose()
    assert (me.id, me.email) == (str(seed.SANDBOX_USER_ID), seed.SANDBOX_EMAIL)


async def test_a_created_product_is_found_by_its_marker_and_a_taken_sku_refused(sandbox):
    crm = await adapter(sandbox)
    made = await crm.create_product(NewProduct("SKU-NEW", "New", Decimal("9.99")), marker="m-1")
    assert [p.id for p in await crm.find_products("m-1")] == [made.id]
    assert await crm.find_products("m-2") == ()
    with pytest.raises(PermanentCrmError, match=re.escape(wire.SKU_TAKEN)):
        await crm.create_product(NewProduct("SKU-NEW", "Again", Decimal(1)), marker="m-3")
    await crm.aclose()


@pytest.mark.parametrize(
    ("fault", "error"),
    [({"status": 500}, TransientCrmError), ({"status": 503}, TransientCrmError),
     ({"status": 429, "retry_after": "7"}, RateLimited), ({"status": 400}, PermanentCrmError)],
)  # fmt: skip
async def test_http_failures_map_onto_the_error_tree(sandbox, fault, error):
    sandbox.state.faults.fail("GetTickets", **fault)
    crm = await adapter(sandbox)
    with pytest.raises(error) as raised:
        await crm.find_ticket("m")
    await crm.aclose()
    assert type(raised.value) is error
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after == 7.0


async def test_a_write_whose_answer_is_lost_is_outcome_unknown(sandbox):
    sandbox.state.faults.delay(1.5, method="CreateProduct")
    crm = await adapter(sandbox, read_timeout_s=1.0)
    with pytest.raises(OutcomeUnknown):
        await crm.create_product(NewProduct("SKU-LATE", "Late", Decimal(1)), marker="m-late")
    await crm.aclose()


def test_record_links_fill_the_template(sandbox):
    from orchestrator.backends.rpccrm.backend import sandbox_settings
    from orchestrator.backends.rpccrm.client import RpcCrm

    settings = sandbox_settings("http://crm.example/sb")
    crm = RpcCrm(settings, http=None, tokens=InMemoryTokenCache())  # type: ignore[arg-type]
    assert crm.record_url(RecordRef("ticket", "1001")) == "http://crm.example/sb/ui/ticket/1001"
