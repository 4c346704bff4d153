"""Sagas as JSON, the same for GET /sagas, GET /sagas/{id}, GET /events and the CLI."""

from __future__ import annotations

import uuid
from typing import Any

from orchestrator.flows import FLOWS
from orchestrator.notify.build import RecordUrl, failure_report
from orchestrator.saga.definition import record_ids
from orchestrator.saga.state import SagaState
from orchestrator.store.queries import SagaDetail, SagaPage


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    return _camel(row)


def page_json(page: SagaPage) -> dict[str, Any]:
    items = [{**_camel(row), "id": str(row["id"])} for row in page.items]
    return {"items": items, "nextCursor": page.next_cursor}


def saga_json(
    detail: SagaDetail, links: RecordUrl | None = None, *, records: bool = True
) -> dict[str, Any]:
    """GET /sagas/{id}'s body; `records=False` leaves out the records' fates (the timeline
    does not read them, and the console page has them from its own report)."""
    saga = detail.saga
    return {
        "id": str(saga.id),
        "flow": saga.flow,
        "status": saga.status.value,
        "error": saga.error,
        "failedStep": saga.failed_step,
        "contactId": saga.subject,
        "messageId": saga.message_id,
        "replyTo": saga.reply_to,
        "createdAt": _iso(saga.created_at),
        "updatedAt": _iso(saga.updated_at),
        "finishedAt": _iso(saga.finished_at),
        "records": _records(saga, links) if records else [],
        "steps": [_step(step) for step in saga.steps],
        "events": [_camel(event, drop=("saga_id",)) for event in detail.events],
        "notifications": [
            _camel(mail, drop=("saga_id", "body_text")) for mail in detail.notifications
        ],
    }


def _records(saga: SagaState, links: RecordUrl | None) -> list[dict[str, Any]]:
    """Every record the saga made with its fate (a RecordFate value: deleted = rolled_back,
    cancelled, left_in_place, left_over, kept, resolved_by_hand)."""
    flow = FLOWS.get(saga.flow)
    if flow is None:
        return []
    report = failure_report(saga, flow, links)
    return [
        {"record": line.label.removesuffix(" ID"), "id": line.record_id, "fate": line.fate.value}
        for line in report.records
        if line.record_id is not None
    ]


def _step(step: Any) -> dict[str, Any]:
    output = step.output if isinstance(step.output, dict) else {}
    return {
        "index": step.index,
        "name": step.name,
        "status": step.status.value,
        "attempts": step.attempts,
        "undoAttempts": step.undo_attempts,
        "heldBy": step.holder,  # the worker inside this step's call now, if any
        "recordId": ", ".join(record_ids(output)) or None if "kind" in output else None,
        "error": step.error,
        "errorCode": step.error_code,
        "startedAt": _iso(step.started_at),
        "finishedAt": _iso(step.finished_at),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _camel(row: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in drop:
            continue
        head, *rest = key.split("_")
        name = head + "".join(part.title() for part in rest)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
        if isinstance(value, uuid.UUID):
            out[name] = str(value)
    return out
