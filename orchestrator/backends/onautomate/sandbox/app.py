"""OnAutomate sandbox: a FastAPI app speaking OnAutomate's API V1.1.1 (seed 003), exactly as
orchestrator/backends/onautomate/wire.py pins it (the seed's shapes, and its assumptions).

Works mounted anywhere (`app.mount("/onautomate-sandbox", create_sandbox_app())`).

API (Bearer SANDBOX_TOKEN; bodies `application/json`):
  GET    /v1/pipelines/{p}/opportunities?page=N&<filter>=…   20 a page, {"opportunities", "meta"}
  POST   /v1/pipelines/{p}/opportunities/                    create → the read shape
  GET    /v1/pipelines/{p}/opportunities/{id}                the read shape; 404 {"msg":"Not Found"}
  PUT    /v1/pipelines/{p}/opportunities/{id}                update → the read shape
  PUT    /v1/pipelines/{p}/opportunities/{id}/status         {"status", "stageId"} → 200 ""
  DELETE /v1/pipelines/{p}/opportunities/{id}                200 "" / 200 {"msg": …} (always 200)
A wrong token answers 401 {"msg": "Unauthorized"} (400 on PUT update and 200 on DELETE, as the
seed shows); an unknown pipeline 400 {"msg": "Bad Request"} (200 on DELETE); validation 422
{field: {"message", "rule"}}. Fault operations: list, get, create, update, status, delete.

Not OnAutomate (for tests and dev, unauthenticated):
  POST /__sandbox__/faults   a Fault as JSON: {"operation": "create", "status": 500, "times": 1,
                             "message": null, "field": "title", "rule": "invalid",
                             "retry_after": null, "error_body": false, "noop": false,
                             "delay_s": 0, "probability": 1.0, "body_contains": null}
  POST /__sandbox__/reset    back to seed; optional {"allow_duplicates": true}
  GET  /__sandbox__/records  {"opportunities": [read shape + "deleted", "deletedAt"],
                             "contacts": [...], "faults": [...]}
  GET  /ui/pipelines/{p}/opportunities/{id}   an HTML page of the opportunity (record_url)
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.backends.onautomate.sandbox.data import (
    SANDBOX_TOKEN,
    Record,
    Rejected,
    SandboxState,
)
from orchestrator.backends.onautomate.sandbox.faults import Fault, Operation, fault_reply
from orchestrator.backends.sandbox_app import control_routes, sandbox_app
from orchestrator.backends.sandbox_pages import html_document, record_page

JSON_TYPE = "application/json"
PAGE_SIZE = 20
API = "/v1/pipelines/{pipeline_id}/opportunities"
UNAUTHORIZED = {"msg": "Unauthorized"}
BAD_REQUEST = {"msg": "Bad Request"}


def reply(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    """OnAutomate's framing: a JSON body (`""` is the JSON string of an empty success)."""
    content = json.dumps(body, ensure_ascii=False).encode()
    return Response(content, status_code=status, media_type=JSON_TYPE, headers=headers)


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _token_ok(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        token.strip().encode(), SANDBOX_TOKEN.encode()
    )


async def _admit(
    request: Request,
    pipeline_id: str,
    operation: Operation,
    *,
    unauthorized: int = 401,
    bad_request: int = 400,
) -> SandboxState:
    """Token, pipeline, then the next matching fault (delay and/or failure). The body is read
    first, so a client that gives up during a delay does not stop the call being served."""
    state = _state(request)
    if not _token_ok(request):
        raise Rejected(unauthorized, UNAUTHORIZED)
    if not state.has_pipeline(pipeline_id):
        raise Rejected(bad_request, BAD_REQUEST)
    target = f"{request.url.path}?{request.url.query}".encode()
    fault = state.faults.take(operation, await request.body() + b"\n" + target)
    if fault is not None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.fails:
            raise Rejected(*fault_reply(fault))
    return state


async def _json(request: Request) -> object:
    try:
        return await request.json()
    except ValueError:
        raise Rejected(400, BAD_REQUEST) from None


def _page(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise Rejected(400, BAD_REQUEST)
    return int(value)


def _meta(total: int, page: int) -> Record:
    return {
        "total": total,
        "currentPage": page,
        "nextPage": page + 1 if page * PAGE_SIZE < total else None,
        "prevPage": page - 1 if page > 1 else None,
    }


# --- listing filters: the seed's names, exact matches ---------------------------------------------

_OPPORTUNITY_FILTERS = {
    "title": "name",
    "stageId": "pipelineStageId",
    "status": "status",
    "assignedTo": "assignedTo",
}
_CONTACT_FILTERS = {
    "contactId": "id",
    "name": "name",
    "phone": "phone",
    "companyName": "companyName",
}
FILTERS = (*_OPPORTUNITY_FILTERS, *_CONTACT_FILTERS, "email", "tags", "monetaryValue")


def _matches(view: Record, filters: Mapping[str, list[str]]) -> bool:
    return all(_match(view, key, value) for key, values in filters.items() for value in values)


def _match(view: Record, key: str, value: str) -> bool:
    contact = view.get("contact") or {}
    if key in _OPPORTUNITY_FILTERS:
        return bool(view.get(_OPPORTUNITY_FILTERS[key]) == value)
    if key in _CONTACT_FILTERS:
        return bool(contact.get(_CONTACT_FILTERS[key]) == value)
    if key == "email":
        return str(contact.get("email") or "").casefold() == value.casefold()
    if key == "tags":
        return value in (contact.get("tags") or [])
    if key == "monetaryValue":
        return _same_number(view.get("monetaryValue"), value)
    return True  # an unknown parameter filters nothing


def _same_number(stored: object, wanted: str) -> bool:
    try:
        return stored is not None and float(str(stored)) == float(wanted)
    except ValueError:
        return False


# --- the API ------------------------------------------------------------------------------------

api = APIRouter()


@api.get(API)
@api.get(API + "/")
async def list_opportunities(request: Request, pipeline_id: str) -> Response:
    state = await _admit(request, pipeline_id, "list")
    page = _page(request.query_params.get("page", "1"))
    params = request.query_params
    filters = {key: params.getlist(key) for key in FILTERS}
    found = [view for view in state.listing(pipeline_id) if _matches(view, filters)]
    items = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return reply(200, {"opportunities": items, "meta": _meta(len(found), page)})


@api.post(API)
@api.post(API + "/")
async def create_opportunity(request: Request, pipeline_id: str) -> Response:
    state = await _admit(request, pipeline_id, "create")
    return reply(200, state.create(pipeline_id, await _json(request)))


@api.get(API + "/{opportunity_id}")
async def get_opportunity(request: Request, pipeline_id: str, opportunity_id: str) -> Response:
    state = await _admit(request, pipeline_id, "get")
    return reply(200, state.get(pipeline_id, opportunity_id))


@api.put(API + "/{opportunity_id}")
async def update_opportunity(request: Request, pipeline_id: str, opportunity_id: str) -> Response:
    """The seed shows this call's Unauthorized as HTTP 400 (body {"msg": "Unauthorized"})."""
    state = await _admit(request, pipeline_id, "update", unauthorized=400)
    return reply(200, state.update(pipeline_id, opportunity_id, await _json(request)))


@api.put(API + "/{opportunity_id}/status")
async def move_opportunity(request: Request, pipeline_id: str, opportunity_id: str) -> Response:
    state = await _admit(request, pipeline_id, "status")
    state.move(pipeline_id, opportunity_id, await _json(request))
    return reply(200, "")


@api.delete(API + "/{opportunity_id}")
async def delete_opportunity(request: Request, pipeline_id: str, opportunity_id: str) -> Response:
    """HTTP 200 for everything (seed): `""` deleted, `{"msg": …}` not (unknown or gone: Bad
    Request)."""
    state = await _admit(request, pipeline_id, "delete", unauthorized=200, bad_request=200)
    deleted = state.delete(pipeline_id, opportunity_id)
    return reply(200, "" if deleted else BAD_REQUEST)


# --- the UI page record_url links to (not OnAutomate's) -----------------------------------------

ui = APIRouter()


@ui.get("/ui/pipelines/{pipeline_id}/opportunities/{opportunity_id}")
async def opportunity_page(request: Request, pipeline_id: str, opportunity_id: str) -> Response:
    state = _state(request)
    for found in state.opportunities():
        if (found["pipelineId"], found["id"]) == (pipeline_id, opportunity_id):
            stage = state.stage_name(pipeline_id, found["pipelineStageId"])
            return HTMLResponse(_page_html(found, stage))
    body = "<h1>Not found</h1><p>No such opportunity in this pipeline.</p>"
    return HTMLResponse(html_document("OnAutomate", "Not found", body), status_code=404)


def _page_html(found: Record, stage: str | None) -> str:
    contact = found.get("contact") or {}
    rows: list[tuple[str, Any]] = [
        ("Stage", stage or found["pipelineStageId"]),
        ("Status", found["status"]),
        ("Value", found.get("monetaryValue")),
        ("Contact", f"{contact.get('name') or ''} <{contact.get('email') or ''}>"),
        ("Source", found.get("source")),
        ("Created", found.get("createdAt")),
        ("Updated", found.get("updatedAt")),
        ("Deleted", found.get("deletedAt") if found["deleted"] else "no"),
    ]
    return record_page("OnAutomate", str(found["name"]), f"Opportunity {found['id']}", rows)


# --- control routes (not OnAutomate) ------------------------------------------------------------

control = control_routes(Fault, reply)  # + POST /faults, GET /records


class ResetOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow_duplicates: bool = False


@control.post("/reset")
async def reset(request: Request, options: ResetOptions | None = None) -> Response:
    allow = options is not None and options.allow_duplicates
    _state(request).reset(allow_duplicates=allow)
    return reply(200, {"reset": True, "allow_duplicates": allow})


# --- the app ------------------------------------------------------------------------------------


async def _rejected(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Rejected)
    return reply(exc.status, exc.body, exc.headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    """Unknown path → 404 {"msg": "Not Found"}; anything else (405 …) → 400 Bad Request."""
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    if status == 404:
        return reply(404, {"msg": "Not Found"})
    return reply(400, BAD_REQUEST)


def create_sandbox_app(state: SandboxState | None = None) -> FastAPI:
    """The sandbox app; its state is `app.state.sandbox` (a fresh seeded one by default)."""
    return sandbox_app(
        "OnAutomate sandbox",
        state if state is not None else SandboxState(),
        [(api, ""), (ui, "")],
        control,
        {Rejected: _rejected, StarletteHTTPException: _http_error},
    )
