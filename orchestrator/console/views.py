"""What the console's pages show, as plain data shaped from the read-side queries.

No HTTP here: routes.py fetches, these functions shape, the templates in templates/console/ render.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from orchestrator.flows import FLOWS
from orchestrator.notify.build import failure_report, record_lines
from orchestrator.notify.render import fate_text
from orchestrator.notify.report import RecordLine
from orchestrator.saga.state import SagaStatus, StepState
from orchestrator.store.queries import SagaDetail
from orchestrator.views.sagas import saga_json
from orchestrator.views.timeline import build_timeline
from orchestrator.views.timeline_svg import SvgTimeline, svg_timeline

EXCERPT_CHARS = 90

# Which buttons to highlight for a saga in each status: a hint only, the engine decides
# (orchestrator/saga/actions.py says when each action is refused).
SUGGESTED: Mapping[SagaStatus, frozenset[str]] = {
    SagaStatus.PENDING: frozenset({"compensate"}),
    SagaStatus.RUNNING: frozenset({"compensate"}),
    SagaStatus.FAILED: frozenset({"retry"}),
    SagaStatus.COMPENSATED: frozenset({"retry"}),
    SagaStatus.COMPENSATION_FAILED: frozenset({"compensate", "resolve"}),
    SagaStatus.NEEDS_MANUAL_CLEANUP: frozenset({"resolve"}),
}


@dataclass(frozen=True, slots=True)
class StepView:
    index: int
    name: str
    status: str
    attempts: int
    undo_attempts: int
    started: str
    finished: str
    duration: str
    error: str | None


@dataclass(frozen=True, slots=True)
class RecordView:
    label: str
    record_id: str | None
    fate: str  # RecordFate value: a CSS and test hook
    fate_text: str
    url: str | None  # http(s) only
    todo: str | None = None  # what an operator must still do with it by hand


@dataclass(frozen=True, slots=True)
class EventView:
    at: str
    kind: str
    step: str | None
    attempt: int | None
    actor: str
    comment: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class SagaView:
    id: str
    flow: str
    status: str
    terminal: bool
    contact: str | None
    error: str | None
    failed_step: str | None
    created: str
    updated: str
    finished: str
    steps: list[StepView]
    records: list[RecordView]
    events: list[EventView]
    mails: list[dict[str, Any]]
    suggested: frozenset[str]


def when(value: datetime | None, *, ms: bool = False) -> str:
    """A stored time as `2026-05-03 12:34:56 UTC` (naive times are UTC: the store writes UTC);
    `ms` adds milliseconds (the event log, where many events share a second)."""
    if value is None:
        return "—"
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    seconds = utc.strftime("%Y-%m-%d %H:%M:%S")
    return f"{seconds}.{utc.microsecond // 1000:03d} UTC" if ms else f"{seconds} UTC"


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    seconds = (end - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    short = " ".join((text or "").split())
    return short if len(short) <= limit else short[: limit - 1].rstrip() + "…"


def list_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One saga of the list page, from a list_sagas() row."""
    return {
        "id": str(row["id"]),
        "status": str(row["status"]),
        "flow": row["flow"],
        "contact": row["subject"],
        "created": when(row["created_at"]),
        "error": excerpt(row["error"]),
    }


def saga_view(
    detail: SagaDetail,
    record_url: Callable[[Any], str | None] | None,
    cancel_stage: str | None = None,
) -> SagaView:
    saga = detail.saga
    return SagaView(
        id=str(saga.id),
        flow=saga.flow,
        status=saga.status.value,
        terminal=saga.status.terminal,
        contact=saga.subject,
        error=saga.error,
        failed_step=saga.failed_step,
        created=when(saga.created_at),
        updated=when(saga.updated_at),
        finished=when(saga.finished_at),
        steps=[_step(step) for step in saga.steps],
        records=_records(detail, record_url, cancel_stage),
        events=[_event(row) for row in detail.events],
        mails=[_mail(row) for row in detail.notifications],
        suggested=SUGGESTED.get(saga.status, frozenset()),
    )


def timeline_view(
    detail: SagaDetail, record_url: Callable[[Any], str | None] | None
) -> SvgTimeline:
    """The saga page's timeline; a step's lane and its successful attempt link to the record
    it made in the CRM (the first, for a step that makes several)."""
    timeline = build_timeline(saga_json(detail, records=False))
    return svg_timeline(timeline, step_links(detail, record_url))


def step_links(
    detail: SagaDetail, record_url: Callable[[Any], str | None] | None
) -> dict[str, str]:
    flow = FLOWS.get(detail.saga.flow)
    if flow is None or record_url is None:
        return {}
    links: dict[str, str] = {}
    for step_def, row in zip(flow.steps, detail.saga.steps, strict=True):
        if step_def.record is None:
            continue
        for line in record_lines(step_def.record, step_def.output, row, record_url):
            if line.url and line.url.startswith(("https://", "http://")):
                links.setdefault(row.name, line.url)
    return links


def _step(step: StepState) -> StepView:
    error = step.error
    if step.error_code and error and step.error_code not in error:
        error = f"{step.error_code}: {error}"
    return StepView(
        step.index,
        step.name,
        step.status.value,
        step.attempts,
        step.undo_attempts,
        when(step.started_at),
        when(step.finished_at),
        duration(step.started_at, step.finished_at),
        error,
    )


def _records(
    detail: SagaDetail, record_url: Callable[[Any], str | None] | None, cancel_stage: str | None
) -> list[RecordView]:
    flow = FLOWS.get(detail.saga.flow)
    if flow is None:
        return []
    report = failure_report(detail.saga, flow, record_url, cancel_stage=cancel_stage)
    return [_record(line) for line in report.records]


def _record(line: RecordLine) -> RecordView:
    url = line.url if line.url and line.url.startswith(("https://", "http://")) else None
    label = line.label.removesuffix(" ID")
    return RecordView(label, line.record_id, line.fate.value, fate_text(line), url, line.todo)


def _event(row: Mapping[str, Any]) -> EventView:
    detail = row.get("detail")
    fields = dict(detail) if isinstance(detail, dict) else {}
    comment = fields.pop("comment", None)
    text = ", ".join(f"{key}={_short(value)}" for key, value in fields.items())
    return EventView(
        when(row.get("at"), ms=True),
        str(row.get("kind")),
        row.get("step"),
        row.get("attempt"),
        str(row.get("actor") or "engine"),
        str(comment) if comment else None,
        text,
    )


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _mail(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "created": when(row.get("created_at")),
        "sent": when(row.get("sent_at")),
        "body_text": row.get("body_text") or "",
    }


def parse_day(value: str | None, *, end: bool = False) -> datetime | None:
    """A filter date (`2026-05-03` or an ISO time) as UTC; a plain `to` date includes that day.
    Raises ValueError for anything else."""
    if not value:
        return None
    if len(value) == 10:
        day = date.fromisoformat(value)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
