"""The saga timeline built from the event log (views/timeline.py), its scale with cut gaps, the
SVG geometry and the terminal rows: the same picture for the console and the CLI."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from orchestrator.cli_timeline import print_timeline, timeline_rows
from orchestrator.views.timeline import BarKind, MarkKind, build_timeline, duration_text
from orchestrator.views.timeline_scale import make_scale, nice_step
from orchestrator.views.timeline_svg import PLOT_W, PLOT_X, svg_timeline

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
STEPS = ("create_deal", "create_quote", "create_sales_order")


def ev(at_s: float, kind: str, step: str | None = None, attempt: int | None = None,
       actor: str = "engine", **detail: Any) -> dict[str, Any]:  # fmt: skip
    at = (T0 + timedelta(seconds=at_s)).isoformat()
    return {"at": at, "kind": kind, "step": step, "attempt": attempt, "actor": actor,
            "detail": detail}  # fmt: skip


def saga(status: str, events: list[dict[str, Any]], failed_step: str | None = None) -> dict:
    steps = [{"index": i, "name": name, "status": "succeeded"} for i, name in enumerate(STEPS)]
    return {"id": "s-1", "status": status, "createdAt": T0.isoformat(), "failedStep": failed_step,
            "steps": steps, "events": events}  # fmt: skip


RETRIED_THEN_TAKEN_OVER = saga(
    "succeeded",
    [
        ev(0, "saga.created", actor="client:shop"),
        ev(0.01, "saga.started"),
        ev(0.01, "step.claimed", "create_deal", 1),
        ev(0.05, "step.succeeded", "create_deal", 1, record_id="D-1"),
        ev(0.05, "step.claimed", "create_quote", 1),
        ev(0.08, "step.retry", "create_quote", 1, error="503 busy", code="HTTP_503", delay_s=0.5),
        ev(0.58, "step.claimed", "create_quote", 2),
        ev(3.0, "step.taken_over", "create_quote", None, "worker:w2", worker="w1"),
        ev(3.1, "step.claimed", "create_quote", 3),
        ev(3.2, "step.succeeded", "create_quote", 3, adopted=True, record_id="Q-1"),
        ev(3.2, "step.claimed", "create_sales_order", 1),
        ev(3.25, "step.succeeded", "create_sales_order", 1, record_id="SO-1"),
        ev(3.25, "saga.succeeded"),
    ],
)


def test_attempts_retries_waits_and_a_takeover_are_bars_in_their_lanes_in_order():
    tl = build_timeline(RETRIED_THEN_TAKEN_OVER)
    assert [lane.key for lane in tl.lanes] == ["saga", *(f"step:{s}" for s in STEPS)]
    quote = [(b.kind, b.attempt, round(b.start_s, 2), round(b.end_s, 2))
             for b in tl.bars if b.lane == "step:create_quote"]  # fmt: skip
    assert quote == [
        (BarKind.RETRIED, 1, 0.05, 0.08),
        (BarKind.WAIT, 1, 0.08, 0.58),
        (BarKind.CUT_OFF, 2, 0.58, 3.0),
        (BarKind.RAN, 3, 3.1, 3.2),
    ]
    [taken] = [m for m in tl.marks if m.kind is MarkKind.TAKEN_OVER]
    assert taken.lane == "step:create_quote" and "from worker w1 by worker:w2" in taken.text
    words = [text for _, _, text in tl.items()]
    assert "attempt 1: failed, will retry: HTTP_503: 503 busy (30 ms)" in words
    assert any("found the record an earlier try made, record Q-1" in w for w in words)
    assert tl.failed_lanes == frozenset() and not tl.live


def test_the_failed_step_and_its_undos_are_marked_and_a_write_with_no_undo_says_so():
    tl = build_timeline(saga("needs_manual_cleanup", [
        ev(0, "saga.created"),
        ev(0.1, "step.claimed", "create_deal", 1),
        ev(0.2, "step.succeeded", "create_deal", 1, record_id="D-1"),
        ev(0.2, "step.claimed", "create_quote", 1),
        ev(0.3, "step.failed", "create_quote", 1, error="bad price", code="INVALID_DATA"),
        ev(0.3, "saga.compensating"),
        ev(0.4, "undo.left_for_operator", "create_deal", record_id="D-1", undo="none"),
        ev(0.4, "saga.needs_manual_cleanup"),
    ], failed_step="create_quote"))  # fmt: skip
    assert [lane.title for lane in tl.lanes][-1] == "undo create_deal"
    assert tl.failed_lanes == {"step:create_quote"}
    [bad] = [b for b in tl.bars if b.kind is BarKind.FAILED]
    assert bad.lane == "step:create_quote" and "INVALID_DATA: bad price" in bad.text
    [no_undo] = [m for m in tl.marks if m.kind is MarkKind.NO_UNDO]
    assert no_undo.lane == "undo:create_deal"
    assert "cannot be taken back; left for an operator, record D-1" in no_undo.text


def test_a_saga_still_moving_has_its_attempt_running_until_now():
    events = [ev(0, "saga.created"), ev(0.1, "step.claimed", "create_deal", 1)]
    tl = build_timeline(saga("running", events), now=T0 + timedelta(seconds=2))
    [bar] = tl.bars
    assert bar.kind is BarKind.RUNNING and bar.end_s == 2.0 and tl.live and tl.end_s == 2.0


def test_a_long_quiet_gap_is_cut_short_so_short_steps_stay_visible():
    events = [
        ev(0, "saga.created"),
        ev(0.0, "step.claimed", "create_deal", 1),
        ev(0.2, "step.failed", "create_deal", 1, error="down"),
        ev(0.2, "saga.failed"),
        ev(7200, "operator.retry", actor="operator:ab12", comment="CRM is back"),
        ev(7200.0, "step.claimed", "create_deal", 2),
        ev(7200.2, "step.succeeded", "create_deal", 2),
    ]
    tl = build_timeline(saga("running", events), now=T0 + timedelta(seconds=7200.3))
    scale = make_scale(tl)
    [cut] = scale.cuts
    assert cut.label == "1 h 59 min later"  # 7199.8 s
    first, second = (b for b in tl.bars if b.lane == "step:create_deal")
    # each 0.2 s attempt takes a visible share of the page, not 0.2 / 7200 of it
    assert scale.x(first.end_s) - scale.x(first.start_s) > 0.2
    assert scale.x(second.end_s) - scale.x(second.start_s) > 0.2
    assert scale.x(second.start_s) >= cut.x1
    [operator] = [m for m in tl.marks if m.kind is MarkKind.OPERATOR]
    assert operator.text == "retry by operator:ab12: “CRM is back”"
    ticks = scale.ticks()
    assert (cut.x1, "1 h 59 min later", "start") in ticks  # where the time resumes
    assert all(x <= cut.x0 or x >= cut.x1 for x, _, _ in ticks)  # none inside the cut
    after = [label for x, label, anchor in ticks if x > cut.x1]
    assert after and all(label.startswith("+") and "h" not in label for label in after)


def test_svg_geometry_keeps_time_order_and_links_the_records():
    svg = svg_timeline(build_timeline(RETRIED_THEN_TAKEN_OVER),
                       {"create_deal": "https://crm.example/Deals/D-1"})  # fmt: skip
    quote = [b for b in svg.bars if b.lane == "step:create_quote"]
    assert [b.kind for b in quote] == ["retried", "wait", "cut_off", "ran"]
    assert all(a.x <= b.x for a, b in itertools.pairwise(quote))
    assert all(b.x >= PLOT_X and b.x + b.w <= PLOT_X + PLOT_W + 2 for b in svg.bars)
    [deal_lane] = [lane for lane in svg.lanes if lane.key == "step:create_deal"]
    assert deal_lane.href == "https://crm.example/Deals/D-1"
    [deal_bar] = [b for b in svg.bars if b.lane == "step:create_deal"]
    assert deal_bar.href == "https://crm.example/Deals/D-1"
    assert "1 backoff wait" in svg.summary and "1 cut off by a lost worker" in svg.summary
    assert [row[0] for row in svg.rows][:2] == ["+0 ms", "+10 ms"]


def test_the_terminal_draws_the_same_lanes_with_the_failed_one_marked():
    tl = build_timeline(saga("compensated", [
        ev(0, "step.claimed", "create_deal", 1),
        ev(1, "step.succeeded", "create_deal", 1),
        ev(1, "step.claimed", "create_quote", 1),
        ev(2, "step.failed", "create_quote", 1, error="no"),
        ev(2, "undo.claimed", "create_deal", 1),
        ev(3, "undo.succeeded", "create_deal", 1, undo="delete", record_id="D-1"),
    ], failed_step="create_quote"))  # fmt: skip
    rows = dict(timeline_rows(tl, 31))
    assert rows["create_deal"].plain == "█" * 11 + " " * 20
    assert rows["✕ create_quote"].plain.strip() == "█" * 11
    assert rows["undo create_deal"].plain == " " * 20 + "█" * 11
    console = Console(width=100, record=True, color_system=None)
    print_timeline(tl, console)
    out = console.export_text()
    assert "+3.00 s" in out and "deleted, record D-1" in out


def test_durations_and_steps_read_as_people_write_them():
    assert [duration_text(s) for s in (0.004, 2.5, 754, 7300)] == [
        "4 ms", "2.50 s", "12 min 34 s", "2 h 1 min"]  # fmt: skip
    assert [nice_step(x) for x in (0.0, 0.3, 7, 42)] == [0.001, 0.5, 10.0, 50.0]


def test_webhook_events_about_the_saga_are_marks_on_its_own_lane():
    said = "stage changed in Poologics to Lost"
    tl = build_timeline(saga("compensated", [
        ev(0, "saga.created"),
        ev(0.5, "crm.opportunity_stage_change", None, None, recordId="494", said=said),
        ev(0.6, "crm.new_opportunity", None, None, recordId="494"),
    ]))  # fmt: skip
    assert [(m.lane, m.kind, m.text) for m in tl.marks if m.kind is MarkKind.WEBHOOK] == [
        ("saga", MarkKind.WEBHOOK, f"webhook in: {said}"),
        ("saga", MarkKind.WEBHOOK, "webhook in: new opportunity"),
    ]
