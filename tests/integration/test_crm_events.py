"""The CRM event inbox on SQLite and PostgreSQL: once per delivery, tied to the saga whose
marker (or whose record) it carries, found again by what it holds."""

from __future__ import annotations

import uuid

import pytest

from orchestrator.crm.protocol import OrderLine
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.logging import redact_text
from orchestrator.messaging.crm_events import (
    Received,
    SqlEventLookup,
    list_events,
    reject_event,
    take_event,
)
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.ports import utc_now
from orchestrator.store.queries import saga_detail
from orchestrator.store.sql_store import SqlSagaStore


@pytest.fixture
def db(any_db):
    return any_db


async def a_saga(db) -> uuid.UUID:
    engine = Engine(SqlSagaStore(db), {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, None)})
    saga = await engine.start(ZOHO_SALE.name, SaleRequest("C-1", (OrderLine("P-1", 1),)))
    return saga.id


async def test_an_event_carrying_a_marker_goes_to_that_saga_and_later_ones_follow_its_record(db):
    saga_id = await a_saga(db)
    created = Received("poologics", "new_opportunity", "d-1",
                       {"poologics_id": "493", "description": f"x\n[salesaga-{saga_id}]",
                        "stage": "New"}, "493")  # fmt: skip
    moved = Received("poologics", "opportunity_stage_change", "d-2",
                     {"poologics_id": "493", "stage": "Won"}, "493")  # fmt: skip
    first = await take_event(db, created, now=utc_now())
    second = await take_event(db, moved, now=utc_now())
    assert (first.saga_id, second.saga_id) == (saga_id, saga_id)
    again = await take_event(db, moved, now=utc_now())
    assert again.duplicate and again.event_id == second.event_id
    assert len(await list_events(db, saga_id=saga_id)) == 2

    kinds = [
        (e["kind"], e["actor"], e["detail"].get("stage"))
        for e in (await saga_detail(db, saga_id)).events
        if e["kind"].startswith("crm.")
    ]
    assert kinds == [("crm.new_opportunity", "poologics", "New"),
                     ("crm.opportunity_stage_change", "poologics", "Won")]  # fmt: skip
    said = [e["detail"]["said"] for e in (await saga_detail(db, saga_id)).events
            if e["kind"].startswith("crm.")]  # fmt: skip
    assert said == ["new opportunity in Poologics (stage New)", "stage changed in Poologics to Won"]


async def test_an_event_about_no_saga_is_kept_without_one(db):
    taken = await take_event(db, Received("poologics", "new_contact", None,
                                          {"poologics_id": "9", "name": "N"}, "9"),
                             now=utc_now())  # fmt: skip
    assert taken.saga_id is None and not taken.duplicate
    unknown = uuid.uuid4()  # a marker of no saga here ties to nothing
    other = await take_event(db, Received("poologics", "new_opportunity", None,
                                          {"poologics_id": "10", "stage": "New",
                                           "description": f"[salesaga-{unknown}]"}, "10"),
                             now=utc_now())  # fmt: skip
    assert other.saga_id is None


async def test_the_lookup_finds_what_a_lost_answer_created(db):
    marker = f"salesaga-{uuid.uuid4()}"
    await take_event(db, Received("poologics", "new_opportunity", "d-9",
                                  {"poologics_id": "501", "description": f"[{marker}]",
                                   "stage": "New"}, "501"), now=utc_now())  # fmt: skip
    lookup = SqlEventLookup(db)
    assert (await lookup.find_event("poologics", "new_opportunity", marker))["poologics_id"] == (
        "501")  # fmt: skip
    assert await lookup.find_event("poologics", "new_opportunity", "salesaga-nope") is None
    assert await lookup.find_event("poologics", "new_opportunity", "%") is None  # escaped


async def test_a_rejected_event_is_kept_with_its_reason(db):
    kept = await reject_event(
        db, backend="poologics", trigger="new_opportunity", payload="{oops",
        reason="the body is not JSON", now=utc_now(),
    )  # fmt: skip
    (row,) = [e for e in await list_events(db, status="rejected") if e["id"] == kept]
    assert (row["payload"], row["reason"]) == ("{oops", "the body is not JSON")


def test_the_receiver_secret_is_redacted_from_log_lines():
    line = '127.0.0.1 - "POST /hooks/poologics/new_opportunity/s3cr3t HTTP/1.1" 200'
    assert "s3cr3t" not in redact_text(line) and "/hooks/poologics/new_opportunity/" in line
