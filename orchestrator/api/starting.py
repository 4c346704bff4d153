"""Starting a saga over HTTP, shared by POST /createSales and POST /sagas: read the JSON body,
start through the intake with the Idempotency-Key, wait up to SYNC_WAIT_S for the end."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.exc import DBAPIError

from orchestrator.api.deps import ApiContext
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import KEY_REUSED, idempotency_key
from orchestrator.intake import KeyReused, Parsed
from orchestrator.saga.state import SagaStatus
from orchestrator.store.queries import saga_status

POLL_S = 0.02


@dataclass(frozen=True, slots=True)
class Outcome:
    saga_id: uuid.UUID
    status: SagaStatus | None  # terminal status, or None: still running after SYNC_WAIT_S
    replayed: bool  # the Idempotency-Key had started this saga before


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "body is not valid JSON.", field="body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object.", field="body")
    return body


async def start_and_wait(
    ctx: ApiContext, request: Request, parsed: Parsed, *, actor: str
) -> Outcome:
    """Start once per Idempotency-Key (same key and body → the first saga; another → 409)."""
    key = idempotency_key(request.headers.get("Idempotency-Key"))
    started = await ctx.intake.start(parsed, actor=actor, key=key)
    if isinstance(started, KeyReused):
        raise ApiError(409, KEY_REUSED, field="Idempotency-Key")
    status = await wait_for_end(ctx, started.saga_id)
    return Outcome(started.saga_id, status, started.duplicate)


async def wait_for_end(ctx: ApiContext, saga_id: uuid.UUID) -> SagaStatus | None:
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
