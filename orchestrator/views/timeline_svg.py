"""The geometry of a saga's timeline as an SVG picture (templates/console/timeline.html draws
it): one row per lane, a bar per attempt or wait, a mark per moment, the axis with its cuts.

Server-rendered so that it reads without JavaScript; each bar and mark carries a <title>
(its words, as a tooltip) and the same words make the text alternative below the picture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from orchestrator.views.timeline import (
    BAD_BARS,
    Bar,
    BarKind,
    Lane,
    MarkKind,
    Timeline,
    duration_text,
)
from orchestrator.views.timeline_scale import make_scale

WIDTH = 1000
LABEL_W = 200
PLOT_X = LABEL_W + 10
PLOT_W = WIDTH - PLOT_X - 20
AXIS_H = 26
ROW_H = 26
BAR_H = 14
WAIT_H = 6  # thinner: the attempts between the waits stay visible
MIN_BAR_W = 2.0
SYMBOLS = {
    MarkKind.FAILED: "✕",
    MarkKind.TAKEN_OVER: "↻",
    MarkKind.NO_UNDO: "⚠",
    MarkKind.NOTHING_FOUND: "∅",
    MarkKind.OPERATOR: "⚑",
    MarkKind.WEBHOOK: "✉",
    MarkKind.SAGA: "◆",
}


@dataclass(frozen=True, slots=True)
class SvgLane:
    key: str
    y: float
    title: str
    undo: bool
    failed: bool
    href: str | None


@dataclass(frozen=True, slots=True)
class SvgBar:
    lane: str
    kind: str
    x: float
    y: float
    w: float
    h: float
    title: str
    href: str | None


@dataclass(frozen=True, slots=True)
class SvgMark:
    lane: str
    kind: str
    x: float
    y: float
    symbol: str
    title: str


@dataclass(frozen=True, slots=True)
class SvgTimeline:
    width: int
    height: int
    plot_x: float
    plot_w: float
    row_h: int
    bar_h: int
    lanes: tuple[SvgLane, ...]
    bars: tuple[SvgBar, ...]
    marks: tuple[SvgMark, ...]
    ticks: tuple[tuple[float, str, str], ...]  # x, label, text-anchor
    cuts: tuple[tuple[float, float, str], ...]  # x, width, "2 h 1 min later"
    summary: str
    rows: tuple[tuple[str, str, str], ...]  # the text alternative: (+time, lane, words)


def svg_timeline(timeline: Timeline, links: Mapping[str, str] | None = None) -> SvgTimeline:
    """`links`: step name → the page of the record it made in the CRM."""
    links = links or {}
    scale = make_scale(timeline)

    def x(at_s: float) -> float:
        return PLOT_X + PLOT_W * scale.x(at_s)

    ys = {lane.key: AXIS_H + i * ROW_H for i, lane in enumerate(timeline.lanes)}
    lanes = tuple(
        SvgLane(lane.key, ys[lane.key], lane.title, lane.undo, lane.key in timeline.failed_lanes,
                links.get(lane.step) if lane.step and not lane.undo else None)
        for lane in timeline.lanes
    )  # fmt: skip
    by_key = {lane.key: lane for lane in timeline.lanes}
    bars = tuple(_bar(bar, x, ys, links, by_key) for bar in timeline.bars)
    marks = tuple(
        SvgMark(m.lane, m.kind.value, x(m.at_s), ys[m.lane] + ROW_H / 2, SYMBOLS[m.kind], m.text)
        for m in timeline.marks
    )
    cuts = tuple((PLOT_X + PLOT_W * c.x0, PLOT_W * (c.x1 - c.x0), c.label) for c in scale.cuts)
    ticks = tuple(_spaced(scale.ticks()))
    rows = tuple((f"+{duration_text(at)}", lane, words) for at, lane, words in timeline.items())
    height = AXIS_H + ROW_H * len(lanes) + 8
    return SvgTimeline(WIDTH, height, PLOT_X, PLOT_W, ROW_H, BAR_H, lanes, bars, marks, ticks,
                       cuts, summary(timeline), rows)  # fmt: skip


def _bar(
    bar: Bar,
    x: Callable[[float], float],
    ys: Mapping[str, float],
    links: Mapping[str, str],
    lanes: Mapping[str, Lane],
) -> SvgBar:
    x0, x1 = x(bar.start_s), x(bar.end_s)
    lane = lanes[bar.lane]
    href = links.get(lane.step) if lane.step and bar.kind is BarKind.RAN else None
    h = WAIT_H if bar.kind is BarKind.WAIT else BAR_H
    y = ys[bar.lane] + (ROW_H - h) / 2
    title = f"{lane.title}, {bar.text}"
    return SvgBar(bar.lane, bar.kind.value, x0, y, max(x1 - x0, MIN_BAR_W), h, title, href)


def _spaced(
    ticks: list[tuple[float, str, str]], min_gap: float = 0.08
) -> list[tuple[float, str, str]]:
    """Ticks whose labels do not overlap: a label where the time resumes after a cut wins
    over the round moments next to it (it is wider: twice the room after it)."""
    out: list[tuple[float, str, str]] = []
    for at, label, anchor in ticks:
        room = min_gap * (2 if out and out[-1][2] == "start" else 1)
        if anchor == "start":
            while out and at - out[-1][0] < min_gap:
                out.pop()
        elif out and at - out[-1][0] < room:
            continue
        out.append((at, label, anchor))
    return [(PLOT_X + PLOT_W * at, label, anchor) for at, label, anchor in out]


def summary(timeline: Timeline) -> str:
    """One sentence for screen readers and the picture's <desc>."""
    tries = [b for b in timeline.bars if b.kind is not BarKind.WAIT]
    attempts = [b for b in tries if not b.lane.startswith("undo:")]
    undos = [b for b in tries if b.lane.startswith("undo:")]
    waits = [b for b in timeline.bars if b.kind is BarKind.WAIT]
    cut_off = [b for b in timeline.bars if b.kind is BarKind.CUT_OFF]
    failed = sorted({b.lane for b in timeline.bars if b.kind in BAD_BARS} | timeline.failed_lanes)
    titles = {lane.key: lane.title for lane in timeline.lanes}
    words = [f"{len(attempts)} step attempt{'s' * (len(attempts) != 1)}"]
    if waits:
        words.append(f"{len(waits)} backoff wait{'s' * (len(waits) != 1)}")
    if cut_off:
        words.append(f"{len(cut_off)} cut off by a lost worker")
    if undos:
        words.append(f"{len(undos)} undo attempt{'s' * (len(undos) != 1)}")
    failed_words = f"; failed: {', '.join(titles[k] for k in failed)}" if failed else ""
    return f"Over {duration_text(timeline.end_s)}: {', '.join(words)}{failed_words}."
