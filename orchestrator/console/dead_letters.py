"""The console's dead-letters page: queue messages that started no saga, with the reason and
the payload as sent, and a replay (as stored, or with a payload fixed in the page).

GET  /console/dead-letters                 newest first; ?status=new|replayed
POST /console/dead-letters/{id}/replay     CSRF token required; `payload`: the (fixed) JSON
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from orchestrator.api.deps import ContextDep
from orchestrator.api.schemas import RowId
from orchestrator.console import views, web
from orchestrator.console.session import csrf_ok, session_secret
from orchestrator.messaging.intake import ReplayRefused, replay
from orchestrator.messaging.store import (
    DeadLetterStatus,
    list_dead_letters,
    load_dead_letter,
    pretty_payload,
)

log = logging.getLogger("orchestrator.console")
router = APIRouter(include_in_schema=False)  # included under /console by routes.router
PAGE = f"{web.PREFIX}/dead-letters"


@router.get("/dead-letters")
async def dead_letters_page(request: Request, ctx: ContextDep) -> Response:
    session = await web.current_session(request, ctx)
    if session is None:
        return web.to_login(request)
    chosen = request.query_params.get("status") or ""
    status = DeadLetterStatus(chosen) if chosen in DeadLetterStatus.__members__.values() else None
    letters = await list_dead_letters(ctx.deps.db, status=status, limit=100)
    items = [{**letter.to_json(), "pretty": pretty_payload(letter.payload),
              "received": views.when(letter.received_at)} for letter in letters]  # fmt: skip
    context = {"letters": items, "chosen": status.value if status else "",
               "title": "dead letters"}  # fmt: skip
    return web.signed_in_page(request, ctx, session, "dead_letters.html", context)


@router.post("/dead-letters/{dead_letter_id}/replay")
async def replay_from_console(dead_letter_id: RowId, request: Request, ctx: ContextDep) -> Response:
    session = await web.current_session(request, ctx)
    if session is None:
        return web.to_login(request)
    fields = await web.form(request)
    secret = session_secret(ctx.deps.settings)
    if not csrf_ok(session, fields.get("csrf")):
        log.warning("console: refused a replay of dead letter %d without a CSRF token",
                    dead_letter_id)  # fmt: skip
        response = RedirectResponse(PAGE, status_code=303)
        web.set_flash(response, request, "error", "This form has expired: reload and retry.",
                      secret)  # fmt: skip
        return response
    letter = await load_dead_letter(ctx.deps.db, dead_letter_id)
    edited = (fields.get("payload") or "").strip()
    unchanged = letter is not None and edited in ("", pretty_payload(letter.payload).strip())
    try:
        started = await replay(ctx.inbox, dead_letter_id, actor=session.actor,
                               fixed_payload=None if unchanged else edited)  # fmt: skip
    except ReplayRefused as refused:
        response = RedirectResponse(PAGE, status_code=303)
        web.set_flash(response, request, "error", f"Dead letter {dead_letter_id}: {refused}",
                      secret)  # fmt: skip
        return response
    log.info("console: dead letter %d replayed by %s", dead_letter_id, session.actor)
    response = RedirectResponse(f"{web.PREFIX}/sagas/{started.saga_id}", status_code=303)
    web.set_flash(response, request, "ok", f"Dead letter {dead_letter_id} replayed: this saga.",
                  secret)  # fmt: skip
    return response
