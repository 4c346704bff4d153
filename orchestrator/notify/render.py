"""Turns a FailureReport into the IT team's failure e-mail (subject, text part, HTML part).

One jinja2 Environment per templates directory: autoescape for `.html`, StrictUndefined everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from orchestrator.notify.report import (
    NEEDS_HANDS,
    FailureReport,
    OutgoingEmail,
    RecordFate,
    RecordLine,
)

__all__ = ["DEFAULT_TEMPLATES_DIR", "FATE_TEXT", "fate_text", "render_failure"]

DEFAULT_TEMPLATES_DIR: Final = Path(__file__).resolve().parents[2] / "templates"

FATE_TEXT: Final[Mapping[RecordFate, str]] = {
    RecordFate.NOT_CREATED: "Not created",
    RecordFate.ROLLED_BACK: "Rolled back (deleted from the CRM)",
    RecordFate.CANCELLED: "Rolled back by moving it to a cancel stage: still in the CRM, "
    "marked cancelled",
    RecordFate.LEFT_IN_PLACE: "LEFT IN PLACE: the CRM's API cannot remove it; "
    "it must be removed by hand",
    RecordFate.LEFT_OVER: "LEFT OVER: still in the CRM, must be removed by hand",
    RecordFate.KEPT: "Kept (still in the CRM, not rolled back)",
    RecordFate.RESOLVED: "Cleaned up by hand (an operator said so)",
}

_SUBJECT_ERROR_MAX = 80


def fate_text(line: RecordLine) -> str:
    """The record's fate for people, naming the cancel stage when it is known."""
    if line.fate is RecordFate.CANCELLED and line.cancel_stage:
        return (f"Rolled back by moving it to stage {line.cancel_stage}: still in the CRM, "
                "marked cancelled (not deleted)")  # fmt: skip
    return FATE_TEXT[line.fate]


@dataclass(frozen=True, slots=True)
class _Row:
    """One record line as the templates show it."""

    label: str
    record_id: str | None
    fate: str  # RecordFate value, used as a CSS/test hook
    fate_text: str
    url: str | None  # only http(s) links: the href is the one place autoescape does not protect
    todo: str  # what an operator must do with it by hand ("" when nothing)


def render_failure(
    report: FailureReport, *, to: str, templates_dir: Path | None = None
) -> OutgoingEmail:
    """Render the failure e-mail for `report`, addressed to `to`. Pure: same report, same e-mail."""
    env = _environment(templates_dir or DEFAULT_TEMPLATES_DIR)
    rows = tuple(_row(line) for line in report.records)
    # Clean up in reverse creation order: children (Sales Order) before parents (Deal).
    cleanup = tuple(row for row in reversed(rows) if RecordFate(row.fate) in NEEDS_HANDS)
    subject = _subject(report)
    context = {
        "report": report,
        "subject": subject,
        "occurred_at": _utc_iso(report.occurred_at),
        "rows": rows,
        "cleanup": cleanup,
    }
    return OutgoingEmail(
        to=to,
        subject=subject,
        text=env.get_template("email/sale_failed.txt").render(context),
        html=env.get_template("email/sale_failed.html").render(context),
    )


@functools.cache
def _environment(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _row(line: RecordLine) -> _Row:
    url = line.url if line.url and line.url.startswith(("https://", "http://")) else None
    todo = line.todo or ""
    return _Row(line.label, line.record_id, line.fate.value, fate_text(line), url, todo)


def _subject(report: FailureReport) -> str:
    short = " ".join(report.error.split())  # one line: a newline in a header would break it
    if len(short) > _SUBJECT_ERROR_MAX:
        short = short[: _SUBJECT_ERROR_MAX - 1].rstrip() + "…"
    what = "Sale failed, CRM cleanup needed" if report.left_over else "Sale failed"
    return f"[salesaga] {what}: {short or 'unknown error'} (saga {report.saga_id})"


def _utc_iso(moment: datetime) -> str:
    # A naive datetime is taken as UTC: the saga store records UTC.
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.isoformat(timespec="seconds").replace("+00:00", "Z")
