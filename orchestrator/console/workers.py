"""The console's workers page: each worker process, its last heartbeat and what it holds now.

GET  /console/workers
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from orchestrator.api.deps import ContextDep
from orchestrator.console import views, web
from orchestrator.store.liveness import WorkerRegistry

router = APIRouter(include_in_schema=False)  # included under /console by routes.router


@router.get("/workers")
async def workers_page(request: Request, ctx: ContextDep) -> Response:
    session = await web.current_session(request, ctx)
    if session is None:
        return web.to_login(request)
    dead_after_s = ctx.deps.settings.worker_dead_after_s
    workers = await WorkerRegistry(ctx.deps.db).workers(dead_after_s)
    now = datetime.now(UTC)
    items = [{
        "id": w.id, "host": w.host, "pid": w.pid, "state": w.state,
        "started": views.when(w.started_at), "beat": views.when(w.beat_at),
        "beat_ago": f"{max(0.0, (now - w.beat_at).total_seconds()):.1f} s ago",
        "ended": views.when(w.ended_at) if w.ended_at else None,
        "taken_over_by": w.taken_over_by,
        "holding": [{"saga_id": str(saga_id), "step": step} for saga_id, step in w.holding],
    } for w in workers]  # fmt: skip
    context = {"workers": items, "dead_after_s": dead_after_s, "title": "workers",
               "alive": sum(1 for w in workers if w.state in ("alive", "stopping"))}  # fmt: skip
    return web.signed_in_page(request, ctx, session, "workers.html", context)
