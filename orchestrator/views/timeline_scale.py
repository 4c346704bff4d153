"""Where a moment of a timeline goes across the page (0 … 1), for the SVG and the terminal.

Linear, except that a long stretch in which nothing happened at all (an operator's retry a
day later, a saga parked for hours) is cut down to a short break marked with its length;
otherwise 30 ms steps would vanish beside it. Waits between attempts are things that happened
(they are drawn), so they are never cut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from orchestrator.views.timeline import Timeline, duration_text

CUT_SHARE = 0.2  # a gap longer than this share of the time that is kept gets cut
BREAK_WIDTH = 0.03  # of the page, per cut
MIN_GAP_S = 1.0  # never cut less than this


@dataclass(frozen=True, slots=True)
class Stretch:
    start_s: float
    end_s: float
    x0: float
    x1: float


@dataclass(frozen=True, slots=True)
class Cut:
    x0: float
    x1: float
    seconds: float

    @property
    def label(self) -> str:
        return f"{duration_text(self.seconds)} later"


@dataclass(frozen=True, slots=True)
class Scale:
    stretches: tuple[Stretch, ...]
    cuts: tuple[Cut, ...]

    def x(self, at_s: float) -> float:
        for s in self.stretches:
            if at_s <= s.end_s:
                if at_s < s.start_s:  # inside a cut: its start
                    return s.x0
                span = s.end_s - s.start_s
                return s.x0 if span <= 0 else s.x0 + (s.x1 - s.x0) * (at_s - s.start_s) / span
        return 1.0

    def ticks(self, count: int = 6) -> list[tuple[float, str, str]]:
        """About `count` round moments as (x, label, text anchor), none inside a cut: `+1.50 s`
        from the start; after a cut, `6 min 59 s later` where it resumes, then `+50 ms` from
        there."""
        kept = sum(s.end_s - s.start_s for s in self.stretches)
        step = nice_step(kept / max(count, 1))
        out: list[tuple[float, str, str]] = []
        for i, s in enumerate(self.stretches):
            if i:
                out.append((s.x0, self.cuts[i - 1].label, "start"))
            t = step if i else 0.0
            while s.start_s + t <= s.end_s + 1e-9:
                out.append((self.x(s.start_s + t), f"+{duration_text(t)}" if t else "0", "middle"))
                t += step
        return out


def nice_step(raw: float) -> float:
    """1, 2 or 5 × a power of ten, at least `raw` (raw ≤ 0: 1 ms)."""
    if raw <= 0:
        return 0.001
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return float(factor * power)
    return float(10 * power)


def make_scale(timeline: Timeline) -> Scale:
    busy = sorted(
        [(b.start_s, b.end_s) for b in timeline.bars] + [(m.at_s, m.at_s) for m in timeline.marks]
    )
    gaps = _gaps(busy, timeline.end_s)
    total = max(timeline.end_s, 0.0)
    cut: list[tuple[float, float]] = []
    for start, end in sorted(gaps, key=lambda g: g[0] - g[1]):  # longest first
        kept = total - sum(e - s for s, e in cut)
        if end - start >= MIN_GAP_S and end - start > CUT_SHARE * (kept - (end - start)):
            cut.append((start, end))
    cut.sort()
    return _layout(total, cut)


def _gaps(busy: list[tuple[float, float]], end_s: float) -> list[tuple[float, float]]:
    gaps, reach = [], 0.0
    for start, end in busy:
        if start > reach:
            gaps.append((reach, start))
        reach = max(reach, end)
    if end_s > reach:
        gaps.append((reach, end_s))
    return gaps


def _layout(total: float, cut: list[tuple[float, float]]) -> Scale:
    kept = total - sum(e - s for s, e in cut)
    room = 1.0 - BREAK_WIDTH * len(cut)
    rate = room / kept if kept > 1e-9 else 0.0
    stretches, cuts, at, x = [], [], 0.0, 0.0
    for start, end in cut:
        x1 = x + (start - at) * rate
        stretches.append(Stretch(at, start, x, x1))
        cuts.append(Cut(x1, x1 + BREAK_WIDTH, end - start))
        at, x = end, x1 + BREAK_WIDTH
    stretches.append(Stretch(at, total, x, 1.0 if rate or not cut else x))
    return Scale(tuple(stretches), tuple(cuts))
