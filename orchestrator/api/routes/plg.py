"""The PLG API of seed 002: GET /getContact and POST /createSales, in the seed's exact shapes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from orchestrator.api.deps import ClientRole, ContextDep
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import (
    BAD_EMAIL,
    EMAIL,
    KEY_REUSED,
    CreateSalesRequest,
    contact_body,
    describe_validation,
    idempotency_key,
    request_digest,
)
from orchestrator.crm.errors import CrmError, NotFound
from orchestrator.crm.protocol import Account, SalesCrm
from orchestrator.flows.zoho_sale import FLOW_NAME
from orchestrator.saga.ports import DuplicateIdempotencyKey
from orchestrator.saga.state import SagaStatus
from orchestrator.store.queries import saga_status

router = APIRouter()
log = logging.getLogger(__name__)
POLL_S = 0.02


@router.get("/getContact")
async def get_contact(ctx: ContextDep, _role: ClientRole, email: str | None = None) -> JSONResponse:
    if not email or len(email) > 254 or not EMAIL.match(email):
        raise ApiError(400, BAD_EMAIL, field="email")
    crm = ctx.deps.crm
    try:
        contact = await crm.find_contact_by_email(email)
        if contact is None:
            return JSONResponse({"status": "not_found", "message": "No record found."}, 404)
        account = await _account_or_none(crm, contact.account_id)
    except CrmError as exc:
        log.warning("getContact: CRM error %s (%s)", exc.code, exc.message)
        raise ApiError(502, "The CRM could not be reached; try again later.") from exc
    return JSONResponse(contact_body(contact, account))


async def _account_or_none(crm: SalesCrm, account_id: str | None) -> Account | None:
    if not account_id:
        return None
    try:
        return await crm.get_account(account_id)
    except NotFound:
        return None  # the contact points at an account that no longer exists


@router.post("/createSales")
async def create_sales(request: Request, ctx: ContextDep, role: ClientRole) -> JSONResponse:
    key = idempotency_key(request.headers.get("Idempotency-Key"))
    order = await _parse_order(request)
    saga_id, replayed = await _start_once(ctx, order, key, actor=role.actor)
    status = await _wait_for_end(ctx, saga_id)
    response = sale_response(saga_id, status)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


async def _start_once(
    ctx: ContextDep, order: CreateSalesRequest, key: str | None, *, actor: str
) -> tuple[uuid.UUID, bool]:
    """Start the saga, or with a key already used for the same body, return that saga."""
    digest = request_digest(order)
    try:
        started = await ctx.deps.engine.start(
            FLOW_NAME, order.to_sale(), subject=order.contactId, actor=actor,
            idempotency_key=key, request_hash=digest,
        )  # fmt: skip
    except DuplicateIdempotencyKey as duplicate:
        earlier = await ctx.deps.store.load(duplicate.saga_id)
        if earlier is None or earlier.request_hash != digest:
            raise ApiError(409, KEY_REUSED, field="Idempotency-Key") from None
        return duplicate.saga_id, True
    try:
        ctx.dispatch(started.id)
    except Exception as exc:  # the saga is in the table: the recovery sweep dispatches it later
        log.warning("broker unavailable for saga %s: %s", started.id, type(exc).__name__)
    return started.id, False


async def _parse_order(request: Request) -> CreateSalesRequest:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "body is not valid JSON.", field="body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object.", field="body")
    try:
        return CreateSalesRequest.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, describe_validation(exc), field="body") from None


async def _wait_for_end(ctx: ContextDep, saga_id: uuid.UUID) -> SagaStatus | None:
    """The saga's terminal status, or None if it is still running after SYNC_WAIT_S."""
    deadline = time.monotonic() + ctx.deps.settings.sync_wait_s
    while True:
        try:
            value = await saga_status(ctx.deps.db, saga_id)
        except (DBAPIError, OSError):  # the saga exists; the database will be back
            value = None
        status = SagaStatus(value) if value else None
        if status is not None and status.terminal:
            return status
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(POLL_S)


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
