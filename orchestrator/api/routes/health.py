"""Operational endpoints for probes and scrapers, without an API key: GET /readyz (can this
process serve: database and broker reachable) and GET /metrics (Prometheus text format).
GET /healthz (the process is up) stays in api/app.py."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from orchestrator.api.deps import ContextDep
from orchestrator.observability.exposition import render_metrics
from orchestrator.observability.readiness import check_ready

router = APIRouter(include_in_schema=False)


@router.get("/readyz")
async def readyz(ctx: ContextDep) -> JSONResponse:
    """200 when the database answers `SELECT 1` and the broker accepts a connection, else 503;
    the body names the check that failed."""
    report = await check_ready(ctx.deps.db, ctx.deps.settings.broker_url)
    return JSONResponse(report.as_json(), status_code=200 if report.ready else 503)


@router.get("/metrics")
async def metrics(ctx: ContextDep) -> Response:
    body = await render_metrics(
        ctx.deps.db,
        ctx.deps.outbox,
        ctx.deps.engine.flows,
        dead_after_s=ctx.deps.settings.worker_dead_after_s,
        sql=ctx.deps.sql,
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)
