"""Any flow over HTTP: POST /sagas {flow, input} and GET /flows (client key).

POST /sagas answers as POST /createSales does, with the saga's status word beside it:
200 success, 500 failed (after the rollback), 202 still running after SYNC_WAIT_S, 400 naming
the bad field (no CRM call, no e-mail), 409 for an Idempotency-Key used with another body, 503
for a flow whose backend this service does not run.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from orchestrator.api.deps import ClientRole, ContextDep
from orchestrator.api.errors import ApiError
from orchestrator.api.openapi import IDEMPOTENCY_KEY, start_answers
from orchestrator.api.starting import json_object, start_and_wait
from orchestrator.intake import FlowUnavailable, InvalidInput
from orchestrator.saga.state import SagaStatus

router = APIRouter()


@router.post(  # its body's schema: each flow's input (api/openapi.py)
    "/sagas",
    responses=start_answers("sagaStatus", "error"),
    openapi_extra={"parameters": [IDEMPOTENCY_KEY]},
)
async def start_saga(request: Request, ctx: ContextDep, role: ClientRole) -> JSONResponse:
    """Start a saga of any flow this service runs; optional header Idempotency-Key."""
    body = await json_object(request)
    if "flow" not in body:
        raise ApiError(400, "flow is required", field="flow")
    if "input" not in body:
        raise ApiError(400, "input is required", field="input")
    try:
        parsed = ctx.intake.parse(body["flow"], body["input"], where="input.")
    except FlowUnavailable as unavailable:  # known, but its CRM is not configured here
        raise ApiError(503, unavailable.message, field="flow") from None
    except InvalidInput as invalid:
        raise ApiError(400, invalid.message, field=invalid.field) from None
    outcome = await start_and_wait(ctx, request, parsed, caller=role)
    response = saga_response(outcome.saga_id, outcome.status, outcome.error, running=outcome.last)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def saga_response(
    saga_id: uuid.UUID, status: SagaStatus | None, error: str | None = None, *, running: str = ""
) -> JSONResponse:
    headers = {"X-Saga-Id": str(saga_id)}
    if status is None:
        headers["Location"] = f"/sagas/{saga_id}"
        body = {"status": "accepted", "sagaId": str(saga_id), "sagaStatus": running}
        return JSONResponse(body, 202, headers=headers)
    if status is SagaStatus.SUCCEEDED:
        body = {"status": "success", "message": "Success.", "sagaId": str(saga_id),
                "sagaStatus": status.value}  # fmt: skip
        return JSONResponse(body, 200, headers=headers)
    failed = {"status": "failed", "message": "Failed.", "sagaId": str(saga_id),
              "sagaStatus": status.value, "error": error}  # fmt: skip
    return JSONResponse(failed, 500, headers=headers)


@router.get("/flows")
async def list_flows(ctx: ContextDep, _who: ClientRole) -> dict[str, Any]:
    """The flows this service runs, each with its backend and its input's JSON Schema."""
    items = []
    for name, flow in sorted(ctx.deps.flows.items()):
        model = flow.input_model
        items.append({
            "flow": name,
            "backend": flow.backend,
            "title": flow.title,
            "steps": [step.name for step in flow.steps],
            "inputSchema": model.model_json_schema() if model is not None else None,
        })  # fmt: skip
    return {"items": items}
