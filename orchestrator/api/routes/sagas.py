"""Saga state over HTTP: GET /sagas/{id} (any key: poll after a 202), GET /sagas (operators)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from orchestrator.api.deps import ClientRole, ContextDep, OperatorRole
from orchestrator.api.errors import ApiError
from orchestrator.api.openapi import OPERATOR_ONLY, error
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


def _iso(value: object) -> object:
    """An ISO 8601 date or date and time only (pydantic alone would take Unix seconds too)."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 date or date and time") from None
    return value


When = Annotated[datetime, BeforeValidator(_iso), WithJsonSchema({"anyOf": [
    {"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]})]  # fmt: skip
CURSOR = "`nextCursor` of the page before (opaque; one this service did not make is a 400)"


@router.get("/sagas/{saga_id}", responses={404: error("no saga with this id")})
async def get_saga(saga_id: uuid.UUID, ctx: ContextDep, _who: ClientRole) -> dict[str, Any]:
    detail = await saga_detail(ctx.deps.db, saga_id)
    if detail is None:
        raise ApiError(404, f"No saga {saga_id}.")
    return saga_json(detail, ctx.deps.links(detail.saga.flow))


@router.get("/sagas", responses=OPERATOR_ONLY)
async def get_sagas(
    ctx: ContextDep,
    _who: OperatorRole,
    status: SagaStatus | None = None,
    flow: str | None = None,
    contact: str | None = None,
    q: str | None = None,
    created_from: When | None = None,
    created_to: When | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description=CURSOR)] = None,
) -> dict[str, Any]:
    """Newest first, filtered; `counts` are over all sagas, per status and per flow."""
    where = SagaFilter(
        status, flow, contact, limit, cursor, _utc(created_from), _utc(created_to), q,
    )  # fmt: skip
    try:
        page = await list_sagas(ctx.deps.db, where)
    except ValueError:
        raise ApiError(400, "cursor is not valid", field="cursor") from None
    return {**page_json(page), "counts": await saga_counts(ctx.deps.db)}


@router.get("/events", responses=OPERATOR_ONLY)
async def get_events(
    ctx: ContextDep,
    _who: OperatorRole,
    after: AfterId = 0,
    saga: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> dict[str, Any]:
    """Saga events newer than `after` (an event id), oldest first; `latest` is the newest id."""
    rows = await events_after(ctx.deps.db, after, saga, limit)
    return {"items": [event_json(r) for r in rows], "latest": await last_event_id(ctx.deps.db)}


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str | None, Field(max_length=2000)] = None


@router.post(
    "/sagas/{saga_id}/{action}",
    responses={**OPERATOR_ONLY, 404: error("no saga with this id"),
               409: error("the saga's state forbids this action now: the message says why")},
    openapi_extra={"requestBody": {"required": False, "content": {
        "application/json": {"schema": ActionBody.model_json_schema()}}}},
)  # fmt: skip
async def act_on_saga(
    saga_id: uuid.UUID, action: Action, request: Request, ctx: ContextDep, who: OperatorRole
) -> dict[str, Any]:
    """retry | compensate | resolve (optional body `{"comment": …}`); 409 with the reason when
    the saga's state forbids it."""
    comment = await _comment(request)
    key = saga_id
    try:
        await ctx.deps.engine.act(key, action, actor=who.actor, comment=comment)
    except SagaNotFound:
        raise ApiError(404, f"No saga {saga_id}.") from None
    except ActionRefused as refused:
        raise ApiError(409, refused.reason) from None
    if action is not Action.RESOLVE:
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


def _utc(when: datetime | None) -> datetime | None:
    return when if when is None or when.tzinfo else when.replace(tzinfo=UTC)
