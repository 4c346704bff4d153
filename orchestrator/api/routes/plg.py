"""The PLG API of seed 002: GET /getContact and POST /createSales, in the seed's exact shapes."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from orchestrator.api.deps import ClientRole, ContextDep
from orchestrator.api.errors import ApiError
from orchestrator.api.openapi import IDEMPOTENCY_KEY, error, start_answers
from orchestrator.api.schemas import BAD_EMAIL, EMAIL, contact_body
from orchestrator.api.starting import json_object, start_and_wait
from orchestrator.crm.errors import CrmError, NotFound
from orchestrator.crm.protocol import Account, ContactDirectory
from orchestrator.flows import PLG_FLOW
from orchestrator.intake import FlowUnavailable, InvalidInput
from orchestrator.saga.state import SagaStatus

router = APIRouter()
EMAIL_SCHEMA = {"type": "string", "maxLength": 254, "pattern": EMAIL.pattern}
EMAIL_PARAM = {"name": "email", "in": "query", "required": True, "schema": EMAIL_SCHEMA}
_STRING = {"type": "string"}
_CONTACT = {"type": "object", "required": ["status", "data"], "properties": {
    "status": {"type": "string", "enum": ["success"]},
    "data": {"type": "object", "required": ["id", "Email", "Account_Info"], "properties": {
        "id": _STRING, "First_Name": {"type": ["string", "null"]}, "Last_Name": _STRING,
        "Email": _STRING, "Account_Info": {"type": ["object", "null"]}}}}}  # fmt: skip
_NOT_FOUND = {"type": "object", "required": ["status", "message"], "properties": {
    "status": {"type": "string", "enum": ["not_found"]}, "message": _STRING}}  # fmt: skip
CONTACT_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "the contact and its account", "content": {
        "application/json": {"schema": _CONTACT}}},
    400: error("Invalid or missing email format."),
    404: {"description": "No record found.", "content": {
        "application/json": {"schema": _NOT_FOUND}}},
    502: error("the CRM could not be reached"),
    503: error("the Zoho backend is not configured here, or the database is down"),
}  # fmt: skip
log = logging.getLogger(__name__)


@router.get("/getContact", responses=CONTACT_ANSWERS, openapi_extra={"parameters": [EMAIL_PARAM]})
async def get_contact(
    ctx: ContextDep,
    _role: ClientRole,
    email: Annotated[str | None, Query(include_in_schema=False)] = None,  # the seed's 400
) -> JSONResponse:
    if not email or len(email) > 254 or not EMAIL.match(email):
        raise ApiError(400, BAD_EMAIL, field="email")
    crm = ctx.deps.adapter_for(PLG_FLOW)
    if not isinstance(crm, ContactDirectory):
        raise ApiError(503, "The CRM of this API is not configured on this service.")
    try:
        contact = await crm.find_contact_by_email(email)
        if contact is None:
            return JSONResponse({"status": "not_found", "message": "No record found."}, 404)
        account = await _account_or_none(crm, contact.account_id)
    except CrmError as exc:
        log.warning("getContact: CRM error %s (%s)", exc.code, exc.message)
        raise ApiError(502, "The CRM could not be reached; try again later.") from exc
    return JSONResponse(contact_body(contact, account))


async def _account_or_none(crm: ContactDirectory, account_id: str | None) -> Account | None:
    if not account_id:
        return None
    try:
        return await crm.get_account(account_id)
    except NotFound:
        return None  # the contact points at an account that no longer exists


@router.post(  # its body's schema: the zoho.sale input (api/openapi.py)
    "/createSales", responses=start_answers(), openapi_extra={"parameters": [IDEMPOTENCY_KEY]}
)
async def create_sales(request: Request, ctx: ContextDep, role: ClientRole) -> JSONResponse:
    try:
        parsed = ctx.intake.parse(PLG_FLOW, await json_object(request), where="")
    except FlowUnavailable as unavailable:  # the Zoho backend is off here
        raise ApiError(503, unavailable.message) from None
    except InvalidInput as invalid:
        raise ApiError(400, invalid.message, field="body") from None
    outcome = await start_and_wait(ctx, request, parsed, caller=role)
    response = sale_response(outcome.saga_id, outcome.status)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def sale_response(saga_id: uuid.UUID, status: SagaStatus | None) -> JSONResponse:
    headers = {"X-Saga-Id": str(saga_id)}
    body: dict[str, Any]
    if status is None:
        headers["Location"] = f"/sagas/{saga_id}"
        body = {"status": "accepted", "message": "Accepted; still running.", "sagaId": str(saga_id)}
        return JSONResponse(body, 202, headers=headers)
    if status is SagaStatus.SUCCEEDED:
        return JSONResponse({"status": "success", "message": "Success.", "sagaId": str(saga_id)},
                            200, headers=headers)  # fmt: skip
    body = {"status": "failed", "message": "Failed.", "sagaId": str(saga_id)}
    return JSONResponse(body, 500, headers=headers)
