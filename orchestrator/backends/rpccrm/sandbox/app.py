"""RPC CRM sandbox: a FastAPI app speaking the method-RPC CRM's API (seed 001), exactly as
orchestrator/backends/rpccrm/wire.py pins it (its groups, methods, messages and date formats).

Works mounted anywhere (`app.mount("/rpccrm-sandbox", create_sandbox_app())`).

API (every call `POST /{group}` with `{"method": "<Name>", "parameters": {…}}`, header
`Authorization: Bearer <token>` except Login; every method but Login, GetProfiles, GetCountries
and GetStates takes `profile_id`):
  /auth           Login {email, password} → {token, user: {id, name, email}}
  /profiles       GetProfiles, GetStages, GetCountries, GetStates {country}, GetUsers
  /companies      GetCompanies, GetTypes, GetIndustries, GetInputs, CreateCompany, GetCompany
  /contacts       GetContacts, GetOrigins, GetTitles, GetDepartments, GetPositions, GetInputs,
                  CreateContact, GetContact
  /products       GetProducts, GetCategories, GetValidities, GetDiscounts, GetMeasures,
                  GetTaxes, GetInputs, CreateProduct, EditProduct
  /opportunities  GetInputs, GetOpportunities, CreateOpportunity, GetOpportunity
  /tickets        GetTickets, GetOrigins, GetCases, GetPriorities, CreateTicket
Answers `{"success": true, "response": {<RESULT_KEYS[method]>: …}, "error": ""}`; refusals
HTTP 200 `{"success": false, "response": {}, "error": "<Laravel's message>"}` (a method of
another group: "Method <Name> does not exist."). A missing, unknown or expired token HTTP 401
"Unauthenticated."; an unknown group (or path) HTTP 404 "Not Found."; a body that is not such
an object HTTP 400 "Bad Request." (`parameters` may be left out, null or []). Fault methods:
the method names ("CreateTicket" …).

Not the CRM (for tests and dev, unauthenticated):
  POST /__sandbox__/faults         a Fault as JSON: {"method": "CreateTicket", "error": null,
                                   "status": 500, "retry_after": null, "times": 1,
                                   "delay_s": 0, "probability": 1.0, "body_contains": null}
  POST /__sandbox__/reset          back to the seed (tokens, counters and faults too)
  POST /__sandbox__/expire-tokens  every token issued so far stops working
  GET  /__sandbox__/records        {"products", "opportunities", "tickets", "companies",
                                   "contacts", "logins", "calls": {method: count}, "faults"}
  GET  /ui/{kind}/{id}             an HTML page of a product, opportunity, ticket, company or
                                   contact (record_url)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.backends.rpccrm.sandbox.data import Record, Refused, SandboxState
from orchestrator.backends.rpccrm.sandbox.faults import Fault, fault_reply, http_message
from orchestrator.backends.rpccrm.wire import AUTH_GROUP, GROUPS, UNAUTHENTICATED
from orchestrator.backends.sandbox_app import control_routes, sandbox_app
from orchestrator.backends.sandbox_pages import html_document, record_page

JSON_TYPE = "application/json"
CRM = "RPC CRM"


def reply(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False).encode()
    return Response(content, status_code=status, media_type=JSON_TYPE, headers=headers)


def envelope(response: Record) -> Response:
    return reply(200, {"success": True, "response": response, "error": ""})


def refusal(error: str) -> Record:
    return {"success": False, "response": {}, "error": error}


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _parsed(raw: bytes) -> tuple[str, Record]:
    """The body's method and parameters; HTTP 400 for anything else."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        body = None
    method = body.get("method") if isinstance(body, dict) else None
    params = body.get("parameters") if isinstance(body, dict) else None
    params = {} if params is None or params == [] else params
    if not isinstance(method, str) or not isinstance(params, dict):
        raise Refused(http_message(400), 400)
    return method, params


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _fault(state: SandboxState, method: str, raw: bytes) -> None:
    """The next matching fault: its delay waited (the body is read already, so a client that
    gives up meanwhile does not stop the call being served), its failure raised."""
    fault = state.faults.take(method, raw)
    if fault is None:
        return
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.fails:
        status, error, headers = fault_reply(fault)
        raise Refused(error, status, headers)


# --- the API ------------------------------------------------------------------------------------

api = APIRouter()


@api.post("/{group}")
async def rpc(request: Request, group: str) -> Response:
    """Group, body, token (not for the auth group), method, fault, then the call."""
    state = _state(request)
    if group not in GROUPS:
        raise Refused(http_message(404), 404)
    raw = await request.body()
    method, params = _parsed(raw)
    user_id = None if group == AUTH_GROUP else state.user_of(_bearer(request))
    if group != AUTH_GROUP and user_id is None:
        raise Refused(UNAUTHENTICATED, 401)
    if method not in GROUPS[group]:
        raise Refused(f"Method {method} does not exist.")
    state.count(method)
    await _fault(state, method, raw)
    if user_id is None:
        return envelope(state.login(params))
    return envelope(state.call(group, method, params, user_id))


# --- the UI page record_url links to (not the CRM's) --------------------------------------------

ui = APIRouter()


@ui.get("/ui/{kind}/{record_id}")
async def ui_page(request: Request, kind: str, record_id: str) -> Response:
    found = _state(request).record(kind, record_id)
    if found is None:
        body = "<h1>Not found</h1><p>No such record.</p>"
        return HTMLResponse(html_document(CRM, "Not found", body), status_code=404)
    title = found.get("title") or " ".join(
        str(found[key]) for key in ("name", "surname") if found.get(key)
    )
    fields = [(key, value) for key, value in found.items() if key != "id"]
    what = f"{kind.capitalize()} {found['id']}"
    return HTMLResponse(record_page(CRM, str(title), what, fields))


# --- control routes (not the CRM) ---------------------------------------------------------------

control = control_routes(Fault, reply)  # + POST /faults, GET /records


@control.post("/reset")
async def reset(request: Request) -> Response:
    _state(request).reset()
    return reply(200, {"reset": True})


@control.post("/expire-tokens")
async def expire_tokens(request: Request) -> Response:
    _state(request).expire_tokens()
    return reply(200, {"expired": True})


# --- the app ------------------------------------------------------------------------------------


async def _refused(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return reply(exc.status, refusal(exc.message), exc.headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    """An unknown path → 404 "Not Found.", a wrong HTTP method → 405, in the CRM's envelope."""
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    return reply(status, refusal(http_message(status)))


def create_sandbox_app(state: SandboxState | None = None) -> FastAPI:
    """The sandbox app; its state is `app.state.sandbox` (a fresh seeded one by default)."""
    return sandbox_app(
        "RPC CRM sandbox",
        state if state is not None else SandboxState(),
        [(api, ""), (ui, "")],
        control,
        {Refused: _refused, StarletteHTTPException: _http_error},
    )
