"""The console's CRM events page: what the CRMs pushed to us (webhooks), newest first, each
with the saga whose record it is about; rejected ones with the reason.

GET /console/crm-events    ?status=stored|rejected
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from orchestrator.api.deps import ContextDep
from orchestrator.console import web
from orchestrator.messaging.crm_events import list_events

router = APIRouter(include_in_schema=False)  # included under /console by routes.router


@router.get("/crm-events")
async def crm_events_page(request: Request, ctx: ContextDep) -> Response:
    session = await web.current_session(request, ctx)
    if session is None:
        return web.to_login(request)
    chosen = request.query_params.get("status") or ""
    status = chosen if chosen in ("stored", "rejected") else None
    items = await list_events(ctx.deps.db, status=status, limit=200)
    context = {"events": items, "chosen": status or "", "title": "CRM events"}
    return web.signed_in_page(request, ctx, session, "crm_events.html", context)
