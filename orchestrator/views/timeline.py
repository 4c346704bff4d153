"""A saga's history as a timeline: one lane per step and per undo step, bars for each attempt,
the backoff waits between them, takeovers, the failed step marked.

Built from the saga's JSON (views/sagas.saga_json, or GET /sagas/{id} for a remote CLI): the
event log is the history, so the console's SVG (views/timeline_svg.py) and the terminal
(cli_timeline.py) draw the same thing. Pure: no HTTP, no SQL, no rendering.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class BarKind(enum.StrEnum):
    RAN = "ran"  # an attempt that succeeded
    RETRIED = "retried"  # an attempt that failed and was tried again
    FAILED = "failed"  # the attempt that failed for good: the step is the failed step
    CUT_OFF = "cut_off"  # its worker died or stopped mid-call: taken over, tried again
    WAIT = "wait"  # backoff before the next attempt (of a step or of its undo)
    RUNNING = "running"  # in progress now
    UNDONE = "undone"  # an undo attempt that succeeded (or found nothing to undo)
    UNDO_RETRIED = "undo_retried"
    UNDO_FAILED = "undo_failed"  # the undo gave up: a record is left for an operator


class MarkKind(enum.StrEnum):
    FAILED = "failed"  # a step failed without an attempt of its own (its deadline passed)
    TAKEN_OVER = "taken_over"
    NO_UNDO = "no_undo"  # a write with no undo: left for an operator, in those words
    NOTHING_FOUND = "nothing_found"
    OPERATOR = "operator"
    WEBHOOK = "webhook"  # an event the CRM pushed about this saga's record
    SAGA = "saga"  # created, started, compensating, finished


BAD_BARS = frozenset({BarKind.FAILED, BarKind.UNDO_FAILED})


@dataclass(frozen=True, slots=True)
class Lane:
    key: str  # "saga", "step:<name>" or "undo:<name>"
    title: str
    step: str | None = None
    undo: bool = False


@dataclass(frozen=True, slots=True)
class Bar:
    lane: str
    kind: BarKind
    start_s: float  # seconds since the timeline's origin
    end_s: float
    attempt: int | None
    text: str  # what happened, in words (the text alternative and the tooltip)


@dataclass(frozen=True, slots=True)
class Mark:
    lane: str
    kind: MarkKind
    at_s: float
    text: str


@dataclass(frozen=True, slots=True)
class Timeline:
    origin: datetime
    end_s: float  # the last thing that happened (now, for a saga still moving)
    lanes: tuple[Lane, ...]
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    failed_lanes: frozenset[str]
    live: bool  # not terminal: open bars end at `now`

    def items(self) -> list[tuple[float, str, str]]:
        """Every bar and mark in time order as (seconds, lane title, words): the text
        alternative of the picture."""
        titles = {lane.key: lane.title for lane in self.lanes}
        rows = [(b.start_s, titles[b.lane], b.text) for b in self.bars]
        rows += [(m.at_s, titles[m.lane], m.text) for m in self.marks]
        return sorted(rows, key=lambda row: row[0])


@dataclass(slots=True)
class _Open:
    start_s: float
    attempt: int | None


@dataclass(slots=True)
class _Builder:
    origin: datetime
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    runs: dict[str, _Open] = field(default_factory=dict)  # lane key → the attempt in flight
    waits: dict[str, _Open] = field(default_factory=dict)  # lane key → the backoff under way
    undo_lanes: list[str] = field(default_factory=list)  # in the order the undos began
    failed: set[str] = field(default_factory=set)

    def close_run(self, lane: str, at: float, kind: BarKind, text: str) -> bool:
        run = self.runs.pop(lane, None)
        if run is None:
            return False
        what = f"attempt {run.attempt}: " if run.attempt is not None else ""
        took = duration_text(at - run.start_s)
        self.bars.append(Bar(lane, kind, run.start_s, at, run.attempt, f"{what}{text} ({took})"))
        return True

    def close_wait(self, lane: str, at: float) -> None:
        wait = self.waits.pop(lane, None)
        if wait is not None:
            words = f"waited {duration_text(at - wait.start_s)} before trying again"
            self.bars.append(Bar(lane, BarKind.WAIT, wait.start_s, at, wait.attempt, words))

    def undo_lane(self, step: str) -> str:
        key = f"undo:{step}"
        if key not in self.undo_lanes:
            self.undo_lanes.append(key)
        return key


def build_timeline(saga: Mapping[str, Any], now: datetime | None = None) -> Timeline:
    """The timeline of one saga as saga_json() (or GET /sagas/{id}) gives it."""
    now = now or datetime.now(UTC)
    events = sorted(_events(saga.get("events") or ()), key=lambda e: e[0])
    origin = _time(saga.get("createdAt")) or (events[0][0] if events else now)
    b = _Builder(origin)
    for at, event in events:
        _apply(b, (at - origin).total_seconds(), event)
    live = str(saga.get("status")) not in _TERMINAL
    last = max([0.0, *(bar.end_s for bar in b.bars), *(m.at_s for m in b.marks)])
    end = max(last, (now - origin).total_seconds()) if live else last
    for lane in list(b.runs):  # attempts in flight (or cut off with no word of it yet)
        kind = BarKind.RUNNING if live else BarKind.CUT_OFF
        b.close_run(lane, end, kind, "in progress" if live else "no outcome recorded")
    for lane in list(b.waits):
        b.close_wait(lane, end)
    steps = sorted(saga.get("steps") or (), key=lambda s: int(s.get("index", 0)))
    lanes = [Lane("saga", "saga")]
    lanes += [Lane(f"step:{s['name']}", str(s["name"]), str(s["name"])) for s in steps]
    lanes += [Lane(key, f"undo {key[5:]}", key[5:], True) for key in b.undo_lanes]
    failed_step = saga.get("failedStep")
    if failed_step:
        b.failed.add(f"step:{failed_step}")
    bars = tuple(sorted(b.bars, key=lambda bar: (bar.start_s, bar.end_s)))
    return Timeline(origin, end, tuple(lanes), bars, tuple(b.marks), frozenset(b.failed), live)


_TERMINAL = frozenset(
    {"succeeded", "compensated", "failed", "compensation_failed", "needs_manual_cleanup"}
)


def _apply(b: _Builder, at: float, event: Mapping[str, Any]) -> None:
    kind, step = str(event.get("kind")), event.get("step")
    raw = event.get("detail")
    detail: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    handler = _HANDLERS.get(kind)
    if step is None or handler is None:
        _saga_mark(b, at, kind, event, detail)
        return
    lane = f"step:{step}"
    if kind.startswith("undo.") or (kind == "step.taken_over" and f"undo:{step}" in b.runs):
        lane = b.undo_lane(str(step))
    attempt = event.get("attempt")
    handler(b, _Seen(lane, at, kind, attempt if isinstance(attempt, int) else None, detail,
                     str(event.get("actor") or "engine")))  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Seen:
    lane: str
    at: float
    kind: str
    attempt: int | None
    detail: Mapping[str, Any]
    actor: str


def _claimed(b: _Builder, e: _Seen) -> None:
    b.close_wait(e.lane, e.at)
    b.close_run(e.lane, e.at, BarKind.CUT_OFF, "no outcome recorded: its claim lapsed")
    b.runs[e.lane] = _Open(e.at, e.attempt)


def _succeeded(b: _Builder, e: _Seen) -> None:
    found = "found the record an earlier try made" if e.detail.get("adopted") else "succeeded"
    b.close_run(e.lane, e.at, BarKind.RAN, _with_record(found, e.detail))


def _retry(b: _Builder, e: _Seen) -> None:
    retried = BarKind.RETRIED if e.kind == "step.retry" else BarKind.UNDO_RETRIED
    b.close_run(e.lane, e.at, retried, f"failed, will retry: {_error(e.detail)}")
    b.waits[e.lane] = _Open(e.at, e.attempt)


def _failed(b: _Builder, e: _Seen) -> None:
    b.failed.add(e.lane)
    bad = BarKind.FAILED if e.kind == "step.failed" else BarKind.UNDO_FAILED
    b.close_wait(e.lane, e.at)
    if not b.close_run(e.lane, e.at, bad, f"failed for good: {_error(e.detail)}"):
        b.marks.append(Mark(e.lane, MarkKind.FAILED, e.at, f"failed: {_error(e.detail)}"))


def _cut_off(b: _Builder, e: _Seen) -> None:
    why = "taken over" if e.kind == "step.taken_over" else "released"
    words = f"{why} from worker {e.detail.get('worker', '?')} by {e.actor}"
    b.close_run(e.lane, e.at, BarKind.CUT_OFF, f"cut off: {words}")
    b.marks.append(Mark(e.lane, MarkKind.TAKEN_OVER, e.at, words))


def _undone(b: _Builder, e: _Seen) -> None:
    words = _undo_words(e.kind, e.detail)
    if not b.close_run(e.lane, e.at, BarKind.UNDONE, words):
        b.marks.append(Mark(e.lane, MarkKind.NOTHING_FOUND, e.at, words))


def _no_undo(b: _Builder, e: _Seen) -> None:
    words = "no undo: this write cannot be taken back; left for an operator"
    b.marks.append(Mark(e.lane, MarkKind.NO_UNDO, e.at, _with_record(words, e.detail)))


_HANDLERS: dict[str, Callable[[_Builder, _Seen], None]] = {
    "step.claimed": _claimed,
    "undo.claimed": _claimed,
    "step.succeeded": _succeeded,
    "step.retry": _retry,
    "undo.retry": _retry,
    "step.failed": _failed,
    "undo.failed": _failed,
    "step.taken_over": _cut_off,
    "step.released": _cut_off,
    "undo.succeeded": _undone,
    "undo.nothing_found": _undone,
    "undo.left_for_operator": _no_undo,
}


def _saga_mark(
    b: _Builder, at: float, kind: str, event: Mapping[str, Any], detail: Mapping[str, Any]
) -> None:
    actor = str(event.get("actor") or "engine")
    if kind.startswith("operator."):
        comment = f": “{detail['comment']}”" if detail.get("comment") else ""
        b.marks.append(Mark("saga", MarkKind.OPERATOR, at, f"{kind[9:]} by {actor}{comment}"))
    elif kind.startswith("crm."):
        said = detail.get("said") or kind[4:].replace("_", " ")
        b.marks.append(Mark("saga", MarkKind.WEBHOOK, at, f"webhook in: {said}"))
    elif kind.startswith("saga."):
        by = f" by {actor}" if actor != "engine" else ""
        b.marks.append(Mark("saga", MarkKind.SAGA, at, f"{kind[5:]}{by}"))


def _undo_words(kind: str, detail: Mapping[str, Any]) -> str:
    if kind == "undo.nothing_found":
        return "nothing to undo: no record was found"
    says = {"delete": "deleted", "cancel_stage": "moved to a cancel stage (the record stays, "
            "hidden)"}.get(str(detail.get("undo")), "undone")  # fmt: skip
    return _with_record(says, detail)


def _with_record(words: str, detail: Mapping[str, Any]) -> str:
    record = detail.get("record_id") or detail.get("recordId")
    return f"{words}, record {record}" if record else words


def _error(detail: Mapping[str, Any]) -> str:
    code, error = detail.get("code"), str(detail.get("error") or "unknown error")
    return f"{code}: {error}" if code and str(code) not in error else error


def _events(rows: Iterable[Mapping[str, Any]]) -> list[tuple[datetime, Mapping[str, Any]]]:
    out = []
    for row in rows:
        at = _time(row.get("at"))
        if at is not None:
            out.append((at, row))
    return out


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def duration_text(seconds: float) -> str:
    """0.004 → `4 ms`, 2.5 → `2.50 s`, 754 → `12 min 34 s`, 7_300 → `2 h 1 min`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
