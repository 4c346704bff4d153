"""Poologics sandbox: a FastAPI app speaking Poologics' API 1.0.0 (seed 000), exactly as
orchestrator/backends/poologics/wire.py pins it (the seed's shapes, and its assumptions).

Works mounted anywhere (`app.mount("/poologics-sandbox", create_sandbox_app())`).

API (every route POST `{"params": {…}}`, header API-KEY except /web/get/key):
  /web/get/key         {"login", "password"} → {"success": true, "api_key"}
  /check_key           {} → {"success": true}
  /web/dataset/create  {"model": "crm.lead" | "res.partner", "values"} → {"model", "id", "name"}
  /web/dataset/write   {"model": "crm.lead", "values": {"record_id", "stage_id", …}} → the same
  /web/dataset/get     {"model": "crm.lead", "record_id"} → the lead (the webhook's fields)
  /zapier/integration  {"trigger", "action": "start" | "stop", "url"} → {"success": true}
                       (also DELETE with {"trigger", "url"}: action "stop")
Errors: HTTP 200 {"success": false, "error", "err_msg"?} with the seed's messages; a missing or
bad key HTTP 401 (Odoo's HTML page); a body that is not {"params": {…}} HTTP 400. Fault
operations: get_key, check_key, create_lead, create_contact, write, get, zapier.

Not Poologics (for tests and dev, unauthenticated):
  POST /__sandbox__/faults      a Fault as JSON: {"operation": "write", "error": "unexpected",
                                "err_msg": null, "status": null, "retry_after": null,
                                "noop": false, "times": 1, "delay_s": 0, "probability": 1.0,
                                "body_contains": null}
  POST /__sandbox__/reset       back to the seed
  POST /__sandbox__/revoke-key  the sandbox user's key stops working (a login issues a new one)
  GET  /__sandbox__/records     {"leads", "contacts", "subscriptions", "deliveries", "logins",
                                "key_checks", "faults"}
  GET  /ui/{model}/{id}         an HTML page of a crm.lead or res.partner (record_url)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.backends.poologics.sandbox.data import (
    LEAD_MODEL,
    Record,
    Rejected,
    SandboxState,
)
from orchestrator.backends.poologics.sandbox.faults import Fault, Operation, fault_reply
from orchestrator.backends.sandbox_app import control_routes, sandbox_app
from orchestrator.backends.sandbox_pages import html_document, record_page

JSON_TYPE = "application/json"
KEY_HEADER = "API-KEY"
BAD_REQUEST = {"success": False, "error": "Bad Request"}
UNAUTHORIZED_PAGE = (  # werkzeug's 401 page, as Odoo answers it
    "<!doctype html>\n<html lang=en>\n<title>401 Unauthorized</title>\n<h1>Unauthorized</h1>\n"
    "<p>The server could not verify that you are authorized to access the URL requested. You "
    "either supplied the wrong credentials (e.g. a bad password), or your browser doesn&#x27;t "
    "understand how to supply the credentials required.</p>\n"
)


def reply(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False).encode()
    return Response(content, status_code=status, media_type=JSON_TYPE, headers=headers)


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _key_ok(request: Request, state: SandboxState) -> bool:
    key = request.headers.get(KEY_HEADER, "").strip()
    return bool(key) and state.key_valid(key)


async def _params(request: Request) -> Record:
    """The request's `params` object; HTTP 400 for any other body."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise Rejected(400, BAD_REQUEST) from None
    params = body.get("params") if isinstance(body, dict) else None
    if not isinstance(params, dict):
        raise Rejected(400, BAD_REQUEST)
    return params


async def _admit(request: Request, *, auth: bool = True) -> tuple[SandboxState, Record]:
    """The key (unless `auth` is off), then the params."""
    state = _state(request)
    if auth and not _key_ok(request, state):
        raise Rejected(401, None)
    return state, await _params(request)


async def _fault(request: Request, state: SandboxState, operation: Operation) -> Fault | None:
    """The next matching fault: its delay waited, its failure raised; a noop is returned."""
    fault = state.faults.take(operation, await request.body())
    if fault is None:
        return None
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.fails:
        raise Rejected(*fault_reply(fault))
    return fault if fault.noop else None


# --- the API ------------------------------------------------------------------------------------

api = APIRouter()


@api.post("/web/get/key")
async def get_key(request: Request) -> Response:
    state, params = await _admit(request, auth=False)
    await _fault(request, state, "get_key")
    return reply(200, state.get_key(params))


@api.post("/check_key")
async def check_key(request: Request) -> Response:
    state, _ = await _admit(request)
    await _fault(request, state, "check_key")
    return reply(200, state.check_key())


@api.post("/web/dataset/create")
async def create(request: Request) -> Response:
    state, params = await _admit(request)
    lead = params.get("model") == LEAD_MODEL
    await _fault(request, state, "create_lead" if lead else "create_contact")
    return reply(200, state.create(params))


@api.post("/web/dataset/write")
async def write(request: Request) -> Response:
    state, params = await _admit(request)
    if await _fault(request, state, "write") is not None:
        return reply(200, _ignored_write(state, params))
    return reply(200, state.write(params))


@api.post("/web/dataset/get")
async def get(request: Request) -> Response:
    state, params = await _admit(request)
    await _fault(request, state, "get")
    return reply(200, state.get(params))


@api.post("/zapier/integration")
async def zapier(request: Request) -> Response:
    state, params = await _admit(request)
    await _fault(request, state, "zapier")
    return reply(200, state.zapier(params))


@api.delete("/zapier/integration")
async def zapier_stop(request: Request) -> Response:
    """The seed's "Unsubscribe: performs a DELETE request": action "stop"."""
    state, params = await _admit(request)
    await _fault(request, state, "zapier")
    return reply(200, state.zapier(params, action="stop"))


def _ignored_write(state: SandboxState, params: Record) -> Record:
    """A noop fault's answer: the write's success body, nothing written."""
    values = params.get("values")
    record_id = values.get("record_id") if isinstance(values, dict) else None
    found = state.record(LEAD_MODEL, str(record_id))
    lead_id = int(found["poologics_id"]) if found else record_id
    return {"model": LEAD_MODEL, "id": lead_id, "name": found["name"] if found else ""}


# --- the UI page record_url links to (not Poologics') -------------------------------------------

ui = APIRouter()


@ui.get("/ui/{model}/{record_id}")
async def ui_page(request: Request, model: str, record_id: str) -> Response:
    found = _state(request).record(model, record_id)
    if found is None:
        body = "<h1>Not found</h1><p>No such record.</p>"
        return HTMLResponse(html_document("Poologics", "Not found", body), status_code=404)
    kind = "Opportunity" if model == LEAD_MODEL else "Contact"
    fields = [(key, value) for key, value in found.items() if key != "poologics_id"]
    what = f"{kind} {found['poologics_id']}"
    return HTMLResponse(record_page("Poologics", str(found.get("name") or ""), what, fields))


# --- control routes (not Poologics) -------------------------------------------------------------

control = control_routes(Fault, reply)  # + POST /faults, GET /records


@control.post("/reset")
async def reset(request: Request) -> Response:
    _state(request).reset()
    return reply(200, {"reset": True})


@control.post("/revoke-key")
async def revoke_key(request: Request) -> Response:
    _state(request).revoke_key()
    return reply(200, {"revoked": True})


# --- the app ------------------------------------------------------------------------------------


async def _rejected(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Rejected)
    if exc.body is None:
        return HTMLResponse(UNAUTHORIZED_PAGE, status_code=exc.status, headers=exc.headers)
    return reply(exc.status, exc.body, exc.headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    """Unknown path → 404, wrong method → 405, in Poologics' failure shape."""
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail: Any = exc.detail if isinstance(exc, StarletteHTTPException) else "Error"
    return reply(status, {"success": False, "error": str(detail)})


def create_sandbox_app(state: SandboxState | None = None) -> FastAPI:
    """The sandbox app; its state is `app.state.sandbox` (a fresh seeded one by default)."""
    return sandbox_app(
        "Poologics sandbox",
        state if state is not None else SandboxState(),
        [(api, ""), (ui, "")],
        control,
        {Rejected: _rejected, StarletteHTTPException: _http_error},
    )
