"""OnAutomateCrm against the OnAutomate sandbox over real HTTP: the marker in `source` and finding
it again (across pages, among others' opportunities), the duplicate rule, error mapping (422,
401, 5xx, 429, lost answers, refused connections), deletes confirmed by a read (DELETE answers
200 for everything), moves, updates, links, and the plug-in. Assertions are on the sandbox's end
state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest

from orchestrator.backends.base import CrmAdapter, OpenContext
from orchestrator.backends.onautomate.backend import ONAUTOMATE
from orchestrator.backends.onautomate.client import OnAutomateCrm, open_onautomate_crm
from orchestrator.backends.onautomate.sandbox.data import (
    CONTACT_EMAIL,
    CONTACT_ID,
    EXISTING_OPPORTUNITY_ID,
    PIPELINE_ID,
    SANDBOX_TOKEN,
    STAGE_CLOSED,
    STAGE_NEW,
    STAGE_PROPOSAL,
    TAKEN_CONTACT_EMAIL,
    SandboxState,
)
from orchestrator.backends.onautomate.settings import OnAutomateSettings
from orchestrator.crm.errors import (
    CrmError,
    DuplicateRecord,
    NotFound,
    OutcomeUnknown,
    PermanentCrmError,
    RateLimited,
    TransientCrmError,
)
from orchestrator.crm.opportunities import OPPORTUNITY, NewOpportunity, OpportunityPipelines
from orchestrator.crm.records import RecordRef, ScopedRef
from orchestrator.crm.tokens import InMemoryTokenCache
from tests.onautomate_sandbox import RunningOnAutomateSandbox, running_onautomate_sandbox

Call = tuple[str, str, int | None]
ONE = "/v1/pipelines/{p}/opportunities/{id}"
LIST = "/v1/pipelines/{p}/opportunities"


@pytest.fixture
def calls() -> list[Call]:
    return []


async def opened(
    sandbox: RunningOnAutomateSandbox, calls: list[Call] | None = None, **overrides: Any
) -> OnAutomateCrm:
    def seen(method: str, path: str, status: int | None, seconds: float) -> None:
        assert seconds >= 0
        if calls is not None:
            calls.append((method, path, status))

    ctx = OpenContext(tokens=InMemoryTokenCache(), on_call=seen)
    return await open_onautomate_crm(sandbox.settings(**overrides), ctx)


@pytest.fixture
async def crm(
    onautomate: RunningOnAutomateSandbox, calls: list[Call]
) -> AsyncIterator[OnAutomateCrm]:
    client = await opened(onautomate, calls)
    yield client
    await client.aclose()


def new_marker() -> str:
    return f"salesaga-{uuid.uuid4()}"


def new(title: str = "Website deal", **fields: Any) -> NewOpportunity:
    values: dict[str, Any] = {"pipeline_id": "", "title": title, "stage_id": STAGE_NEW,
                              "status": "open", "email": "buyer@example.com"}  # fmt: skip
    return NewOpportunity(**(values | fields))


def live(sandbox: RunningOnAutomateSandbox) -> list[dict[str, Any]]:
    return sandbox.state.opportunities(deleted=False)


def stored(sandbox: RunningOnAutomateSandbox, opportunity_id: str) -> dict[str, Any]:
    [found] = [o for o in sandbox.state.opportunities() if o["id"] == opportunity_id]
    return found


async def test_conforms_to_the_port_and_links_to_the_sandbox_ui(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    port: OpportunityPipelines = crm
    adapter: CrmAdapter = crm
    assert port is crm
    assert adapter is crm
    ref = await crm.create_opportunity(new(), marker=new_marker())
    url = crm.record_url(ref)
    assert url == f"{onautomate.url}/ui/pipelines/{PIPELINE_ID}/opportunities/{ref.id}"
    async with httpx.AsyncClient() as browser:
        page = await browser.get(url)
    assert page.status_code == 200
    assert "Website deal" in page.text
    plain = RecordRef(OPPORTUNITY, "abc")  # no scope: the default pipeline
    assert crm.record_url(plain) == f"{onautomate.url}/ui/pipelines/{PIPELINE_ID}/opportunities/abc"
    unlinked = await opened(onautomate, record_url="")
    try:
        assert unlinked.record_url(ref) is None
    finally:
        await unlinked.aclose()


# --- create and find by marker ------------------------------------------------------------------


async def test_create_stamps_the_marker_and_find_finds_it(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox, calls: list[Call]
) -> None:
    marker, other = new_marker(), new_marker()
    wanted = new(source="website", monetary_value=Decimal("1250.50"), tags=("vip",), name="Ann")
    ref = await crm.create_opportunity(wanted, marker=marker)
    assert ref == ScopedRef(OPPORTUNITY, ref.id, scope=PIPELINE_ID)
    record = stored(onautomate, ref.id)
    assert record["source"] == f"website [{marker}]"
    assert (record["name"], record["monetaryValue"], record["pipelineStageId"]) == (
        "Website deal",
        1250.5,
        STAGE_NEW,
    )
    assert (record["contact"]["email"], record["contact"]["tags"]) == ("buyer@example.com", ["vip"])
    assert await crm.find_opportunity(wanted, marker=marker) == ref
    assert await crm.find_opportunity(wanted, marker=other) is None
    unsourced = await crm.create_opportunity(new("Other", email="b@example.com"), marker=other)
    assert stored(onautomate, unsourced.id)["source"] == f"[{other}]"
    assert calls[0] == ("POST", "/v1/pipelines/{p}/opportunities/", 200)
    assert calls[1] == ("GET", LIST, 200)


async def test_find_ignores_others_opportunities_with_the_same_title(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    onautomate.state.allow_duplicates = True
    mine, marker = new(contact_id=CONTACT_ID, email=None), new_marker()
    await crm.create_opportunity(new(email="someone@else.com"), marker=marker)  # other contact
    await crm.create_opportunity(mine, marker=new_marker())  # same contact, another saga
    await crm.create_opportunity(replace(mine, source=None), marker="salesaga-other")
    assert await crm.find_opportunity(mine, marker=marker) is None
    ours = await crm.create_opportunity(mine, marker=marker)
    assert await crm.find_opportunity(mine, marker=marker) == ours


async def test_find_pages_through_the_listing(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox, calls: list[Call]
) -> None:
    onautomate.state.allow_duplicates = True
    wanted, marker = new(email=CONTACT_EMAIL), new_marker()
    for _ in range(22):
        await crm.create_opportunity(wanted, marker=new_marker())
    ours = await crm.create_opportunity(wanted, marker=marker)
    await crm.create_opportunity(wanted, marker=new_marker())
    calls.clear()
    assert await crm.find_opportunity(wanted, marker=marker) == ours
    assert calls == [("GET", LIST, 200), ("GET", LIST, 200)]  # found on page 2
    second = await crm.list_opportunities(PIPELINE_ID, page=2, title=wanted.title)
    assert (second.total, second.page, second.next_page, second.prev_page) == (24, 2, None, 1)
    assert [item.id for item in second.items][2] == ours.id


async def test_find_by_phone_when_no_email_or_contact_id(crm: OnAutomateCrm) -> None:
    wanted, marker = new(email=None, phone="+90 224 000 00 00"), new_marker()
    ref = await crm.create_opportunity(wanted, marker=marker)
    assert await crm.find_opportunity(wanted, marker=marker) == ref


async def test_input_pipeline_wins_over_the_default(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    with pytest.raises(PermanentCrmError) as caught:
        await crm.create_opportunity(new(pipeline_id="OtherPipeline0000000"), marker=new_marker())
    assert (caught.value.code, caught.value.status) == ("BAD_REQUEST", 400)
    assert len(live(onautomate)) == 1


async def test_no_pipeline_fails_without_a_call(
    onautomate: RunningOnAutomateSandbox, calls: list[Call]
) -> None:
    crm = await opened(onautomate, calls, pipeline_id="")
    try:
        for attempt in (crm.create_opportunity, crm.find_opportunity):
            with pytest.raises(PermanentCrmError) as caught:
                await attempt(new(), marker=new_marker())
            assert caught.value.code == "NO_PIPELINE"
            assert "ONAUTOMATE_PIPELINE_ID" in caught.value.message
    finally:
        await crm.aclose()
    assert calls == []
    assert len(live(onautomate)) == 1


# --- the CRM's refusals -------------------------------------------------------------------------


async def test_duplicate_rule_is_a_readable_duplicate_record(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    with pytest.raises(DuplicateRecord) as caught:
        await crm.create_opportunity(new(email=TAKEN_CONTACT_EMAIL), marker=new_marker())
    error = caught.value
    assert (error.code, error.status) == ("DUPLICATE_OPPORTUNITY", 422)
    assert error.message == (
        f"contact {TAKEN_CONTACT_EMAIL} already has an opportunity in pipeline {PIPELINE_ID}; "
        "OnAutomate refused a second opportunity for this contact: "
        "The contact already has an opportunity in this pipeline."
    )
    assert [o["id"] for o in live(onautomate)] == [EXISTING_OPPORTUNITY_ID]


async def test_validation_422_is_permanent_and_names_every_field(crm: OnAutomateCrm) -> None:
    with pytest.raises(PermanentCrmError) as caught:
        await crm.create_opportunity(new("", status="closed", stage_id="x"), marker=new_marker())
    error = caught.value
    assert not isinstance(error, DuplicateRecord)
    assert (error.code, error.status) == ("VALIDATION", 422)
    assert error.message == (
        "OnAutomate rejected the opportunity: title: The title field is mandatory.; "
        "status: The status field is invalid.; stageId: The stage id field is invalid."
    )
    with pytest.raises(PermanentCrmError, match="contactId: The contact id field is invalid"):
        await crm.create_opportunity(new(contact_id="NoSuchContact0000000"), marker=new_marker())


async def test_unauthorized_is_permanent_and_the_token_never_shows(
    onautomate: RunningOnAutomateSandbox,
) -> None:
    secret = "wrong-secret-token-7d1f"
    crm = await opened(onautomate, token=secret)
    ref = ScopedRef(OPPORTUNITY, EXISTING_OPPORTUNITY_ID, scope=PIPELINE_ID)
    errors: list[CrmError] = []
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: crm.create_opportunity(new(), marker=new_marker()),
        lambda: crm.find_opportunity(new(), marker=new_marker()),
        lambda: crm.get_opportunity(ref),
        lambda: crm.move_opportunity(ref, stage_id=STAGE_CLOSED, status="won"),
        lambda: crm.update_opportunity(ref, new()),  # the seed answers this one with 400
        lambda: crm.delete_if_present(ref),  # and this one with 200
    ]
    try:
        for attempt in attempts:
            with pytest.raises(PermanentCrmError) as caught:
                await attempt()
            errors.append(caught.value)
    finally:
        await crm.aclose()
    assert {(e.code, e.status) for e in errors} == {
        ("UNAUTHORIZED", 401),
        ("UNAUTHORIZED", 400),
        ("UNAUTHORIZED", 200),
    }
    for text in [repr(crm), str(crm.__dict__), *(f"{e} {e!r}" for e in errors)]:
        assert secret not in text
    good = await opened(onautomate)
    await good.aclose()
    assert SANDBOX_TOKEN not in repr(good)
    assert SANDBOX_TOKEN not in repr(onautomate.settings())
    assert not stored(onautomate, EXISTING_OPPORTUNITY_ID)["deleted"]


async def test_server_errors_are_transient_and_429_is_rate_limited(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    onautomate.state.faults.fail("create", status=503)
    with pytest.raises(TransientCrmError) as caught:
        await crm.create_opportunity(new(), marker=new_marker())
    assert not isinstance(caught.value, OutcomeUnknown)
    assert (caught.value.code, caught.value.status) == ("SERVER_ERROR", 503)
    assert len(live(onautomate)) == 1
    onautomate.state.faults.fail("list", status=429, retry_after="7")
    with pytest.raises(RateLimited) as limited:
        await crm.find_opportunity(new(), marker=new_marker())
    assert (limited.value.retry_after, limited.value.status) == (7.0, 429)
    onautomate.state.faults.fail("get", status=429)
    with pytest.raises(RateLimited) as bare:
        await crm.get_opportunity(ScopedRef(OPPORTUNITY, EXISTING_OPPORTUNITY_ID, PIPELINE_ID))
    assert bare.value.retry_after is None


async def test_a_lost_create_is_an_unknown_outcome_and_find_sees_it_land(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    hasty = await opened(onautomate, read_timeout_s=1.0)
    wanted, marker = new(), new_marker()
    onautomate.state.faults.delay(1.5, operation="create")
    try:
        with pytest.raises(OutcomeUnknown):
            await hasty.create_opportunity(wanted, marker=marker)
    finally:
        await hasty.aclose()
    assert await crm.find_opportunity(wanted, marker=marker) is None  # the delay precedes it
    found = None
    for _ in range(250):
        if (found := await crm.find_opportunity(wanted, marker=marker)) is not None:
            break
        await asyncio.sleep(0.02)
    assert found is not None
    assert [o["id"] for o in live(onautomate) if marker in (o["source"] or "")] == [found.id]
    assert len(live(onautomate)) == 2  # the seed's and exactly one of ours


async def test_a_lost_read_is_transient_and_a_refused_connection_is_not_unknown(
    onautomate: RunningOnAutomateSandbox,
) -> None:
    ref = ScopedRef(OPPORTUNITY, EXISTING_OPPORTUNITY_ID, scope=PIPELINE_ID)
    hasty = await opened(onautomate, read_timeout_s=1.0)
    nowhere = await opened(onautomate, url="http://127.0.0.1:1")
    onautomate.state.faults.delay(1.5, operation="get")
    try:
        with pytest.raises(TransientCrmError) as lost:
            await hasty.get_opportunity(ref)
        with pytest.raises(TransientCrmError) as refused:
            await nowhere.create_opportunity(new(), marker=new_marker())
    finally:
        await hasty.aclose()
        await nowhere.aclose()
    assert not isinstance(lost.value, OutcomeUnknown)  # nothing to be unknown about a read
    assert not isinstance(refused.value, OutcomeUnknown)  # nothing reached the CRM


# --- delete, confirmed by a read ----------------------------------------------------------------


async def test_delete_if_present_deletes_and_confirms(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox, calls: list[Call]
) -> None:
    ref = await crm.create_opportunity(new(), marker=new_marker())
    assert len(live(onautomate)) == 2
    calls.clear()
    await crm.delete_if_present(ref)
    assert calls == [("DELETE", ONE, 200), ("GET", ONE, 404)]
    assert [o["id"] for o in live(onautomate)] == [EXISTING_OPPORTUNITY_ID]
    assert stored(onautomate, ref.id)["deleted"] is True
    with pytest.raises(NotFound):
        await crm.get_opportunity(ref)


async def test_delete_of_a_gone_record_succeeds(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    ref = await crm.create_opportunity(new(), marker=new_marker())
    await crm.delete_if_present(ref)
    await crm.delete_if_present(ref)  # DELETE answers 200 {"msg": "Bad Request"}; GET 404
    await crm.delete_if_present(ScopedRef(OPPORTUNITY, "NeverExisted00000000", PIPELINE_ID))
    await crm.delete_if_present(RecordRef(OPPORTUNITY, ref.id))  # unscoped: default pipeline
    assert len(live(onautomate)) == 1


async def test_delete_answering_200_bad_request_is_not_taken_as_deleted(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    ref = await crm.create_opportunity(new(), marker=new_marker())
    onautomate.state.faults.refuse("delete")
    with pytest.raises(PermanentCrmError) as caught:
        await crm.delete_if_present(ref)
    assert (caught.value.code, caught.value.status) == ("BAD_REQUEST", 200)
    assert ref.id in caught.value.message and "not deleted" in caught.value.message
    assert stored(onautomate, ref.id)["deleted"] is False
    assert (await crm.get_opportunity(ref)).id == ref.id
    onautomate.state.faults.refuse("delete", message="Unauthorized")
    with pytest.raises(PermanentCrmError) as unauthorized:
        await crm.delete_if_present(ref)
    assert unauthorized.value.code == "UNAUTHORIZED"
    assert stored(onautomate, ref.id)["deleted"] is False
    await crm.delete_if_present(ref)  # the faults are spent: deleted now
    assert stored(onautomate, ref.id)["deleted"] is True


async def test_still_there_after_an_acknowledged_delete_is_transient(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    ref = await crm.create_opportunity(new(), marker=new_marker())
    onautomate.state.faults.ignore("delete")
    with pytest.raises(TransientCrmError) as caught:
        await crm.delete_if_present(ref)
    assert caught.value.code == "STILL_THERE"
    assert stored(onautomate, ref.id)["deleted"] is False
    await crm.delete_if_present(ref)  # the engine's retry
    assert stored(onautomate, ref.id)["deleted"] is True


# --- move, get, update, list --------------------------------------------------------------------


async def test_move_then_get_reads_it_back(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    wanted, marker = new(monetary_value=Decimal("99.90")), new_marker()
    ref = await crm.create_opportunity(wanted, marker=marker)
    await crm.move_opportunity(ref, stage_id=STAGE_CLOSED, status="won")
    seen = await crm.get_opportunity(ref)
    assert (seen.id, seen.pipeline_id, seen.title) == (ref.id, PIPELINE_ID, "Website deal")
    assert (seen.stage_id, seen.status, seen.monetary_value) == (
        STAGE_CLOSED,
        "won",
        Decimal("99.9"),
    )
    assert seen.source == f"[{marker}]"
    assert seen.contact_id == stored(onautomate, ref.id)["contact"]["id"]
    with pytest.raises(PermanentCrmError) as caught:
        await crm.move_opportunity(ref, stage_id="nowhere", status="done")
    assert caught.value.code == "VALIDATION"
    assert "stageId: The stage id field is invalid." in caught.value.message
    assert "status: The status field is invalid." in caught.value.message
    with pytest.raises(NotFound):
        await crm.move_opportunity(
            ScopedRef(OPPORTUNITY, "NeverExisted00000000", PIPELINE_ID), stage_id=STAGE_NEW,
            status="open",
        )  # fmt: skip


async def test_move_answered_200_with_an_error_body_raises(
    crm: OnAutomateCrm, onautomate: RunningOnAutomateSandbox
) -> None:
    ref = await crm.create_opportunity(new(), marker=new_marker())
    onautomate.state.faults.refuse("status")
    with pytest.raises(PermanentCrmError) as caught:
        await crm.move_opportunity(ref, stage_id=STAGE_CLOSED, status="won")
    assert (caught.value.code, caught.value.status) == ("BAD_REQUEST", 200)
    assert (await crm.get_opportunity(ref)).status == "open"


async def test_update_keeps_the_marker_so_find_still_works(crm: OnAutomateCrm) -> None:
    wanted, marker = new(source="web"), new_marker()
    ref = await crm.create_opportunity(wanted, marker=marker)
    renamed = replace(wanted, title="Renamed deal", stage_id=STAGE_PROPOSAL, source=None)
    updated = await crm.update_opportunity(ref, renamed)
    assert (updated.title, updated.stage_id, updated.source) == (
        "Renamed deal",
        STAGE_PROPOSAL,
        f"web [{marker}]",
    )
    assert await crm.find_opportunity(renamed, marker=marker) == ref
    restamped = await crm.update_opportunity(ref, replace(renamed, source="phone"), marker=marker)
    assert restamped.source == f"phone [{marker}]"
    with pytest.raises(DuplicateRecord):
        await crm.update_opportunity(ref, replace(renamed, email=TAKEN_CONTACT_EMAIL))


async def test_list_opportunities_with_filters(crm: OnAutomateCrm) -> None:
    ref = await crm.create_opportunity(new(email=CONTACT_EMAIL), marker=new_marker())
    found = await crm.list_opportunities(PIPELINE_ID, title="Website deal", contactId=CONTACT_ID)
    assert [item.id for item in found.items] == [ref.id]
    assert (found.total, found.page, found.next_page, found.prev_page) == (1, 1, None, None)
    everything = await crm.list_opportunities(PIPELINE_ID)
    assert {item.id for item in everything.items} == {ref.id, EXISTING_OPPORTUNITY_ID}


# --- the plug-in --------------------------------------------------------------------------------


async def test_backend_opens_on_its_sandbox_settings() -> None:
    assert (ONAUTOMATE.name, ONAUTOMATE.title, ONAUTOMATE.sandbox_path) == (
        "onautomate",
        "OnAutomate",
        "/onautomate-sandbox",
    )
    with running_onautomate_sandbox(SandboxState()) as sandbox:
        settings = ONAUTOMATE.sandbox_settings(sandbox.url + "/")
        assert (settings.url, settings.pipeline_id) == (sandbox.url, PIPELINE_ID)
        assert settings.token.get_secret_value() == SANDBOX_TOKEN
        assert settings.missing() == []
        adapter = await ONAUTOMATE.open(settings, OpenContext(tokens=InMemoryTokenCache()))
        try:
            assert isinstance(adapter, OnAutomateCrm)
            ref = await adapter.create_opportunity(new(), marker=new_marker())
            assert adapter.record_url(ref) == (
                f"{sandbox.url}/ui/pipelines/{PIPELINE_ID}/opportunities/{ref.id}"
            )
        finally:
            await adapter.aclose()
    assert ONAUTOMATE.sandbox_app().state.sandbox.has_pipeline(PIPELINE_ID)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("URL", "TOKEN", "PIPELINE_ID", "RECORD_URL"):
        monkeypatch.delenv(f"ONAUTOMATE_{name}", raising=False)
    assert OnAutomateSettings().missing() == ["ONAUTOMATE_TOKEN"]
    assert not OnAutomateSettings().touched()
    monkeypatch.setenv("ONAUTOMATE_TOKEN", "env-secret")
    monkeypatch.setenv("ONAUTOMATE_PIPELINE_ID", "P1")
    settings = OnAutomateSettings()
    assert (settings.url, settings.pipeline_id, settings.missing()) == (
        "https://link.amtssl.com",
        "P1",
        [],
    )
    assert settings.touched()
    assert "env-secret" not in repr(settings)
