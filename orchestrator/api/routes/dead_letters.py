"""Dead letters over HTTP, for operators (operator key): list, one, replay after a fix — the same
as `salesaga messages dead-letters | show | replay` (orchestrator/messaging/intake.py)."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from orchestrator.api.deps import ContextDep, OperatorRole
from orchestrator.api.errors import ApiError
from orchestrator.api.openapi import OPERATOR_ONLY, error
from orchestrator.api.schemas import RowId
from orchestrator.intake import json_body
from orchestrator.messaging.intake import ReplayRefused, replay
from orchestrator.messaging.store import DeadLetterStatus, list_dead_letters, load_dead_letter

router = APIRouter(responses=OPERATOR_ONLY)  # operator keys only
log = logging.getLogger(__name__)


@router.get("/dead-letters")
async def get_dead_letters(
    ctx: ContextDep,
    _who: OperatorRole,
    status: DeadLetterStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Newest first; `status` new or replayed."""
    letters = await list_dead_letters(ctx.deps.db, status=status, limit=limit)
    return {"items": [letter.to_json() for letter in letters]}


@router.get("/dead-letters/{dead_letter_id}", responses={404: error("no dead letter with this id")})
async def get_dead_letter(dead_letter_id: RowId, ctx: ContextDep, _who: OperatorRole) -> Any:
    letter = await load_dead_letter(ctx.deps.db, dead_letter_id)
    if letter is None:
        raise ApiError(404, f"No dead letter {dead_letter_id}.")
    return letter.to_json()


@router.post(
    "/dead-letters/{dead_letter_id}/replay",
    responses={404: error("no dead letter with this id"),
               409: error("still invalid (the message names the field), or replayed already")},
    openapi_extra={"requestBody": {"required": False, "content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": False, "properties": {
            "payload": {"description": "the fixed message, as the producer should have sent it"},
        }}}}}},
)  # fmt: skip
async def replay_dead_letter(
    dead_letter_id: RowId, request: Request, ctx: ContextDep, who: OperatorRole
) -> dict[str, Any]:
    """Validate the stored payload again (or `{"payload": …}`, a fixed one) and start the saga.
    409 with the reason when it is still invalid or was replayed already."""
    fixed = await _fixed_payload(request)
    try:
        started = await replay(ctx.inbox, dead_letter_id, actor=who.actor, fixed_payload=fixed)
    except ReplayRefused as refused:
        status = 404 if str(refused).startswith("no dead letter") else 409
        raise ApiError(status, str(refused)) from None
    log.info("dead letter %d replayed by %s: saga %s", dead_letter_id, who.actor, started.saga_id)
    return {"deadLetterId": dead_letter_id, **started.body()}


async def _fixed_payload(request: Request) -> str | None:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        body = json_body.loads(raw)
    except json_body.NotJson:
        raise ApiError(400, 'the body must be JSON: {"payload": …}', field="payload") from None
    except json_body.Refused as refused:
        raise ApiError(400, f"the body {refused}", field="payload") from None
    if not isinstance(body, dict) or set(body) - {"payload"}:
        raise ApiError(400, "the body may hold only payload, the fixed message", field="payload")
    return json.dumps(body["payload"]) if "payload" in body else None
