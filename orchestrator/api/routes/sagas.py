"""Saga state over HTTP: GET /sagas/{id} (any key: poll after a 202), GET /sagas (operators)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError

from orchestrator.api.deps import ClientRole, ContextDep, OperatorRole
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import AfterId
from orchestrator.saga.actions import Action, ActionRefused
from orchestrator.saga.errors import SagaNotFound
from orchestrator.saga.state import SagaStatus
from orchestrator.store.queries import (
    SagaFilter,
    events_after,
    last_event_id,
    list_sagas,
    saga_counts,
    saga_detail,
)
from orchestrator.views.sagas import event_json, page_json, saga_json

router = APIRouter()


@router.get("/sagas/{saga_id}")
async def get_saga(saga_id: str, ctx: ContextDep, _who: ClientRole) -> dict[str, Any]:
    detail = await saga_detail(ctx.deps.db, _saga_key(saga_id))
    if detail is None:
        raise ApiError(404, f"No saga {saga_id}.")
    return saga_json(detail, ctx.deps.links(detail.saga.flow))


@router.get("/sagas")
async def get_sagas(
    ctx: ContextDep,
    _who: OperatorRole,
    status: str | None = None,
    flow: str | None = None,
    contact: str | None = None,
    q: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Newest first, filtered; `counts` are over all sagas, per status and per flow."""
    if status is not None and status not in SagaStatus.__members__.values():
        raise ApiError(400, f"status must be one of {', '.join(SagaStatus)}", field="status")
    if not 1 <= limit <= 200:
        raise ApiError(400, "limit must be between 1 and 200", field="limit")
    where = SagaFilter(
        status, flow, contact, limit, cursor, _when(created_from, "created_from"),
        _when(created_to, "created_to"), q,
    )  # fmt: skip
    try:
        page = await list_sagas(ctx.deps.db, where)
    except ValueError:
        raise ApiError(400, "cursor is not valid", field="cursor") from None
    return {**page_json(page), "counts": await saga_counts(ctx.deps.db)}


@router.get("/events")
async def get_events(
    ctx: ContextDep,
    _who: OperatorRole,
    after: AfterId = 0,
    saga: str | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    """Saga events newer than `after` (an event id), oldest first; `latest` is the newest id."""
    if not 1 <= limit <= 500:
        raise ApiError(400, "limit must be between 1 and 500", field="limit")
    saga_key = _saga_key(saga) if saga else None
    rows = await events_after(ctx.deps.db, after, saga_key, limit)
    return {"items": [event_json(r) for r in rows], "latest": await last_event_id(ctx.deps.db)}


class ActionBody(BaseModel):
    comment: Annotated[str | None, Field(max_length=2000)] = None


@router.post("/sagas/{saga_id}/{action}")
async def act_on_saga(
    saga_id: str, action: str, request: Request, ctx: ContextDep, who: OperatorRole
) -> dict[str, Any]:
    """retry | compensate | resolve; 409 with the reason when the saga's state forbids it."""
    if action not in Action.__members__.values():
        raise ApiError(404, f"No action {action}: use retry, compensate or resolve.")
    comment = await _comment(request)
    key = _saga_key(saga_id)
    try:
        await ctx.deps.engine.act(key, Action(action), actor=who.actor, comment=comment)
    except SagaNotFound:
        raise ApiError(404, f"No saga {saga_id}.") from None
    except ActionRefused as refused:
        raise ApiError(409, refused.reason) from None
    if action != Action.RESOLVE:
        ctx.dispatch(key)
    detail = await saga_detail(ctx.deps.db, key)
    assert detail is not None
    return saga_json(detail, ctx.deps.links(detail.saga.flow))


async def _comment(request: Request) -> str | None:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return ActionBody.model_validate_json(raw).comment
    except ValidationError:
        raise ApiError(400, "comment must be a string of at most 2000 characters",
                       field="comment") from None  # fmt: skip


def _saga_key(saga_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(saga_id)
    except ValueError:
        raise ApiError(400, "saga id must be a UUID", field="saga_id") from None


def _when(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{field} must be an ISO 8601 date or time", field=field) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
