"""Events CRMs push to us (webhooks): POST /hooks/{backend}/{trigger}/{secret}, and the operators'
GET /crm-events. An event is stored before it is answered 200; a redelivery is answered 200 and
not stored twice; a malformed one is answered 4xx and kept as rejected. A wrong secret is a 404
(it tells nothing); the secret is redacted from every log line (orchestrator/logging.py)."""

from __future__ import annotations

import hmac
import logging
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from orchestrator.api.deps import ContextDep, OperatorRole
from orchestrator.api.errors import ApiError
from orchestrator.api.openapi import OPERATOR_ONLY
from orchestrator.backends import BACKENDS
from orchestrator.intake import json_body
from orchestrator.messaging.crm_events import Received, list_events, reject_event, take_event
from orchestrator.saga.ports import utc_now

router = APIRouter()
log = logging.getLogger(__name__)
HOOKS = {backend.name: backend.webhooks for backend in BACKENDS if backend.webhooks}
MAX_EVENT_BYTES = 256 * 1024


@router.post("/hooks/{backend}/{trigger}/{secret}", include_in_schema=False)
async def receive(backend: str, trigger: str, secret: str, request: Request,
                  ctx: ContextDep) -> JSONResponse:  # fmt: skip
    expected = ctx.deps.settings.webhook_secret.get_secret_value()
    hooks = HOOKS.get(backend)
    if not expected or hooks is None or not hmac.compare_digest(secret, expected):
        raise ApiError(404, "Not found.")
    raw = await request.body()
    try:
        payload, delivery, record = _read(hooks, trigger, request, raw)
    except ValueError as bad:
        kept = await reject_event(ctx.deps.db, backend=backend, trigger=trigger,
                                  payload=raw[:MAX_EVENT_BYTES].decode(errors="replace"),
                                  reason=str(bad), now=utc_now())  # fmt: skip
        log.warning("rejected %s %s event %d: %s", backend, trigger, kept, bad)
        return JSONResponse({"status": "rejected", "message": str(bad), "eventId": kept}, 422)
    taken = await take_event(ctx.deps.db, Received(backend, trigger, delivery, payload, record),
                             now=utc_now())  # fmt: skip
    status = "duplicate" if taken.duplicate else "stored"
    log.info("%s %s event %s (%s)", backend, trigger, taken.event_id, status)
    return JSONResponse({"status": status, "eventId": taken.event_id,
                         "sagaId": str(taken.saga_id) if taken.saga_id else None})  # fmt: skip


def _read(hooks: Any, trigger: str, request: Request, raw: bytes) -> tuple[Any, Any, Any]:
    if len(raw) > MAX_EVENT_BYTES:
        raise ValueError(f"the event is larger than {MAX_EVENT_BYTES} bytes")
    try:
        payload = json_body.loads(raw)
    except json_body.NotJson:
        raise ValueError("the body is not JSON") from None
    except json_body.Refused as refused:
        raise ValueError(f"the body {refused}") from None
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    delivery, record = hooks.read(trigger, request.headers, payload)
    return payload, delivery, record


@router.get("/crm-events", responses=OPERATOR_ONLY)
async def get_crm_events(
    ctx: ContextDep,
    _who: OperatorRole,
    saga: uuid.UUID | None = None,
    status: Literal["stored", "rejected"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Events the CRMs pushed, newest first; `saga` (an id) and `status` (stored|rejected)."""
    items = await list_events(ctx.deps.db, saga_id=saga, status=status, limit=limit)
    return {"items": items}
