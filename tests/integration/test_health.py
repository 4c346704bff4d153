"""The console's health figures (store/health.py, console/health.py) on SQLite and PostgreSQL:
sagas by start bucket and status, outcomes and duration buckets per flow, the sagas waiting
for an operator, the backlogs; then the panel built from them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from orchestrator.console.health import chart, outcome_row, quantile
from orchestrator.store import health
from orchestrator.store.models import CrmEventRow, DeadLetterRow, OutboxRow
from orchestrator.store.sql_store import SAGA

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


async def add_saga(db, flow: str, status: str, started_ago_s: float,
                   took_s: float | None = None) -> uuid.UUID:  # fmt: skip
    saga_id = uuid.uuid4()
    created = NOW - timedelta(seconds=started_ago_s)
    finished = created + timedelta(seconds=took_s) if took_s is not None else None
    async with db.begin() as conn:
        await conn.execute(sa.insert(SAGA).values(
            id=saga_id, flow=flow, status=status, input={}, version=1, created_at=created,
            updated_at=finished or created, finished_at=finished,
            error="create_quote: refused" if status != "succeeded" else None))  # fmt: skip
    return saga_id


async def test_sagas_started_are_counted_per_five_minutes_by_their_status_now(own_db):
    await add_saga(own_db, "zoho.sale", "succeeded", 10, 0.3)
    await add_saga(own_db, "zoho.sale", "succeeded", 290, 0.3)
    await add_saga(own_db, "zoho.sale", "compensated", 310, 1.0)  # the bucket before
    await add_saga(own_db, "rpccrm.opportunity_ticket", "running", 3 * 3600)
    await add_saga(own_db, "zoho.sale", "succeeded", 25 * 3600, 0.3)  # older than a day
    started = await health.started_by_bucket(own_db, NOW)
    assert started == {(0, "succeeded"): 2, (1, "compensated"): 1, (36, "running"): 1}

    hour, day = chart("h", started, NOW, 1), chart("d", started, NOW, 12)
    assert (hour.first, hour.last) == ("11:00", "12:00 UTC")
    assert (day.first, day.last) == ("Dec 01 12:00", "12:00 UTC")  # a day ago: said so
    assert hour.total == 3 and day.total == 4
    assert dict(day.by_status) == {"succeeded": 2, "compensated": 1, "running": 1}
    newest, before = hour.columns[-1], hour.columns[-2]  # drawn oldest (left) to newest
    assert [p[0] for p in newest.parts] == ["succeeded"] and newest.label.endswith("2 succeeded")
    assert newest.label.startswith("11:55–12:00 UTC") and "1 compensated" in before.label
    assert newest.parts[0][2] == pytest.approx(70.0)  # the tallest column fills the chart
    assert before.parts[0][2] == pytest.approx(35.0)
    assert [c.x for c in day.columns] == sorted(c.x for c in day.columns)
    drawn = [(i, [p[0] for p in c.parts]) for i, c in enumerate(day.columns) if c.parts]
    assert drawn == [(20, ["running"]), (23, ["succeeded", "compensated"])]
    assert day.columns[20].label.startswith("08:00–09:00 UTC")


async def test_outcomes_per_flow_and_backend_with_failure_rate_and_duration_quantiles(own_db):
    for took in (0.12, 0.18, 0.25, 0.4, 0.45, 0.6, 0.8, 0.9, 1.2, 9.0):
        await add_saga(own_db, "zoho.sale", "succeeded", 600, took)
    await add_saga(own_db, "zoho.sale", "compensated", 600, 2.5)
    await add_saga(own_db, "zoho.sale", "needs_manual_cleanup", 600, 40.0)
    await add_saga(own_db, "onautomate.opportunity", "failed", 600, 0.05)
    await add_saga(own_db, "onautomate.opportunity", "running", 60)  # not ended: not counted
    await add_saga(own_db, "zoho.sale", "succeeded", 2 * 86400, 0.1)  # started too long ago
    ended = {e.flow: e for e in await health.ended_by_flow(own_db, NOW)}
    assert set(ended) == {"zoho.sale", "onautomate.opportunity"}
    zoho = ended["zoho.sale"]
    assert zoho.by_status == {"succeeded": 10, "compensated": 1, "needs_manual_cleanup": 1}
    assert sum(zoho.buckets) == 12
    assert zoho.buckets[health.DURATION_BOUNDS.index(0.15)] == 1  # 0.12 s in (0.1, 0.15]
    assert zoho.buckets[health.DURATION_BOUNDS.index(45.0)] == 1  # 40 s in (30, 45]

    row = outcome_row("zoho.sale", [zoho])
    assert (row["ended"], row["not_succeeded"], row["rate"]) == (12, 2, "16.7 %")
    assert row["p50"] == "≈ 750 ms"  # the 6th of 12 is 0.6 s, in (0.5, 0.75]: read at its end
    p95 = quantile(0.95, zoho.buckets)
    assert p95 is not None and 30.0 < p95 <= 45.0
    backend = outcome_row("onautomate", [ended["onautomate.opportunity"]])
    assert (backend["ended"], backend["rate"]) == (1, "100.0 %")
    assert quantile(0.5, [0] * len(zoho.buckets)) is None


async def test_the_sagas_waiting_for_an_operator_come_longest_waiting_first(own_db):
    await add_saga(own_db, "zoho.sale", "compensated", 100, 1)
    newer = await add_saga(own_db, "poologics.opportunity", "compensation_failed", 100, 50)
    older = await add_saga(own_db, "rpccrm.opportunity_ticket", "needs_manual_cleanup", 100, 5)
    count, oldest = await health.waiting_for_operator(own_db, limit=1)
    assert count == 2 and [w.id for w in oldest] == [older]
    count, both = await health.waiting_for_operator(own_db)
    assert [w.id for w in both] == [older, newer] and both[0].error == "create_quote: refused"


async def test_backlogs_dead_letters_webhooks_and_unsent_mail(own_db):
    saga_id = await add_saga(own_db, "poologics.opportunity", "succeeded", 100, 1)
    letters, events = DeadLetterRow.__table__, CrmEventRow.__table__  # type: ignore[attr-defined]
    outbox = OutboxRow.__table__  # type: ignore[attr-defined]
    async with own_db.begin() as conn:
        await conn.execute(sa.insert(letters), [
            {"received_at": NOW, "source": "celery", "payload": "{}", "reason": "bad", "status": s}
            for s in ("new", "new", "replayed")])  # fmt: skip
        await conn.execute(sa.insert(events), [
            {"received_at": NOW - timedelta(seconds=ago), "backend": "poologics", "trigger": "t",
             "delivery": f"d{i}", "payload": "{}", "status": status, "saga_id": saga}
            for i, (ago, status, saga) in enumerate([
                (60, "stored", saga_id), (60, "stored", None), (60, "rejected", None),
                (2 * 86400, "rejected", None)])])  # fmt: skip
        await conn.execute(sa.insert(outbox), [
            {"saga_id": saga_id, "kind": "sale_failed", "status": s, "created_at": NOW}
            for s in ("pending", "sent")])  # fmt: skip
    assert await health.backlog(own_db, NOW) == {
        "dead_letters": 2, "unsent": 1,
        "webhooks_tied": 1, "webhooks_untied": 1, "webhooks_rejected": 1}  # fmt: skip
