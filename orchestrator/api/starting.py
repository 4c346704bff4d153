"""Starting a saga over HTTP, shared by POST /createSales and POST /sagas: read the JSON body,
start through the intake with the Idempotency-Key, wait up to SYNC_WAIT_S for the end."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from orchestrator.api.auth import Caller
from orchestrator.api.deps import ApiContext
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import KEY_REUSED, idempotency_key
from orchestrator.intake import KeyReused, Parsed, json_body
from orchestrator.saga.state import SagaStatus
from orchestrator.store.endings import Outcome, Watch
from orchestrator.store.queries import saga_outcome


@dataclass(frozen=True, slots=True)
class Waited:
    """What waiting for a started saga gave: its end, or what it was doing at the deadline."""

    saga_id: uuid.UUID
    status: SagaStatus | None  # terminal status, or None: still running after SYNC_WAIT_S
    replayed: bool  # the Idempotency-Key had started this saga before
    last: str = "pending"  # the last status word read (what a 202 says)
    error: str | None = None  # the error that started the rollback, for a failed saga


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json_body.loads(raw)
    except json_body.NotJson:
        raise ApiError(400, "body is not valid JSON.", field="body") from None
    except json_body.Refused as refused:
        raise ApiError(400, f"body {refused}.", field="body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object.", field="body")
    return body


async def start_and_wait(
    ctx: ApiContext, request: Request, parsed: Parsed, *, caller: Caller
) -> Waited:
    """Start once per Idempotency-Key and caller (same key and body → the first saga; another
    → 409). Another caller's same key is another key."""
    key = idempotency_key(request.headers.get("Idempotency-Key"), caller.name)
    with ctx.endings.before_dispatch() as (watch, follow):
        started = await ctx.intake.start(parsed, actor=caller.actor, key=key, on_new=follow)
        if isinstance(started, KeyReused):
            raise ApiError(409, KEY_REUSED, field="Idempotency-Key")
        if started.duplicate:  # an earlier request's saga: it may have ended long ago
            return await wait_for_end(ctx, started.saga_id, replayed=True)
        return await _wait(ctx, started.saga_id, watch, replayed=False)


async def wait_for_end(ctx: ApiContext, saga_id: uuid.UUID, *, replayed: bool) -> Waited:
    """The saga's end (status and error), or what it was doing when SYNC_WAIT_S ran out."""
    with ctx.endings.watch(saga_id) as watch:
        return await _wait(ctx, saga_id, watch, replayed=replayed)


async def _wait(ctx: ApiContext, saga_id: uuid.UUID, watch: Watch, *, replayed: bool) -> Waited:
    """Learn the end from the notification that its commit sends (orchestrator/store/endings.py),
    not by polling: the row is read first unless the watch began before the saga could end,
    when woken without the outcome, and every 5 s as the fallback. The saga exists already: a
    database that is down meanwhile is waited for, never an error."""
    deadline = time.monotonic() + ctx.deps.settings.sync_wait_s
    last, error = "pending", None
    read = not watch.early
    while True:
        watch.event.clear()
        seen = await _outcome(ctx, saga_id) if read else watch.outcome
        if seen is not None:
            last, error = seen
            if SagaStatus(last).terminal:
                return Waited(saga_id, SagaStatus(last), replayed, last, error)
        left = deadline - time.monotonic()
        if left <= 0:
            return Waited(saga_id, None, replayed, last, error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.event.wait(), min(left, ctx.endings.interval_s))
        read = watch.outcome is None  # woken by the fallback or a new listening connection


async def _outcome(ctx: ApiContext, saga_id: uuid.UUID) -> Outcome | None:
    try:
        return await saga_outcome(ctx.deps.db, saga_id)
    except (DBAPIError, PoolTimeout, OSError):  # the database will be back, or free
        return None
