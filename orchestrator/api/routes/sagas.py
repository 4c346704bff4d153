"""Saga state over HTTP: GET /sagas/{id} (any key: poll after a 202), GET /sagas (operators)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from orchestrator.api.deps import ClientRole, ContextDep, OperatorRole
from orchestrator.api.errors import ApiError
from orchestrator.flows import FLOWS
from orchestrator.notify.build import failure_report
from orchestrator.saga.state import SagaState, SagaStatus
from orchestrator.store.queries import SagaDetail, SagaFilter, SagaPage, list_sagas, saga_detail

router = APIRouter()


@router.get("/sagas/{saga_id}")
async def get_saga(saga_id: str, ctx: ContextDep, _role: ClientRole) -> dict[str, Any]:
    try:
        key = uuid.UUID(saga_id)
    except ValueError:
        raise ApiError(400, "saga id must be a UUID", field="saga_id") from None
    detail = await saga_detail(ctx.deps.db, key)
    if detail is None:
        raise ApiError(404, f"No saga {saga_id}.")
    return saga_json(detail)


@router.get("/sagas")
async def get_sagas(
    ctx: ContextDep,
    _role: OperatorRole,
    status: str | None = None,
    flow: str | None = None,
    contact: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    if status is not None and status not in SagaStatus.__members__.values():
        raise ApiError(400, f"status must be one of {', '.join(SagaStatus)}", field="status")
    if not 1 <= limit <= 200:
        raise ApiError(400, "limit must be between 1 and 200", field="limit")
    try:
        page = await list_sagas(ctx.deps.db, SagaFilter(status, flow, contact, limit, cursor))
    except ValueError:
        raise ApiError(400, "cursor is not valid", field="cursor") from None
    return page_json(page)


def page_json(page: SagaPage) -> dict[str, Any]:
    items = [{**_camel(row), "id": str(row["id"])} for row in page.items]
    return {"items": items, "nextCursor": page.next_cursor}


def saga_json(detail: SagaDetail) -> dict[str, Any]:
    saga = detail.saga
    return {
        "id": str(saga.id),
        "flow": saga.flow,
        "status": saga.status.value,
        "error": saga.error,
        "failedStep": saga.failed_step,
        "contactId": saga.subject,
        "createdAt": _iso(saga.created_at),
        "updatedAt": _iso(saga.updated_at),
        "finishedAt": _iso(saga.finished_at),
        "records": _records(saga),
        "steps": [_step(step) for step in saga.steps],
        "events": [_camel(event, drop=("saga_id",)) for event in detail.events],
        "notifications": [
            _camel(mail, drop=("saga_id", "body_text")) for mail in detail.notifications
        ],
    }


def _records(saga: SagaState) -> list[dict[str, Any]]:
    flow = FLOWS.get(saga.flow)
    if flow is None:
        return []
    report = failure_report(saga, flow)
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
        "recordId": output.get("id") if "kind" in output else None,
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
