"""Zoho CRM sandbox: a FastAPI app speaking Zoho's wire format (token endpoint, records API v7/v8).

Works mounted anywhere (`app.mount("/zoho-sandbox", create_sandbox_app())`); the same app is both
the accounts server and the API domain. Wire facts: shared/reference/zoho-crm.md.

Records API: GET /{M}/{id}, GET /{M}/search (criteria= or email=; misses records younger than
`search_lag_s`), POST /{M}, DELETE /{M}/{id}, and POST /coql for the subset
`select F[, F…] from M where F = '<v>' [and F = '<v>'] [limit N]` (keywords in any case, `\\'`
escapes a quote; answered from live records at once; 204 when nothing matches; any other query is
400 SYNTAX_ERROR). Fault operations: create, get, delete, search, query (COQL).

Control routes (not Zoho; for tests, which may run the sandbox in another process):
  POST /__sandbox__/faults         a Fault as JSON: {"module": "Quotes", "operation": "create",
                                   "status": 500, "code": null, "times": 1, "retry_after": null,
                                   "details": {}, "delay_s": 0, "probability": 1.0,
                                   "body_contains": null, "answer_delay_s": 0}; a fault without
                                   status only delays (delay_s: before anything is stored;
                                   answer_delay_s: create/delete store at once, answer late)
  POST /__sandbox__/revoke-tokens  optional {"refresh_token": true}: also revoke the refresh token
  POST /__sandbox__/reset          back to seed; optional {"refresh_limit": 9, "token_ttl_s": 60,
                                   "search_lag_s": 5} (kept until changed again)
  GET  /__sandbox__/records        {"modules": {M: {"count", "deleted_count", "records",
                                   "deleted"}}, "tokens_issued": n, "faults": [...]}; with `_meta`
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.backends.sandbox_app import control_routes, sandbox_app
from orchestrator.backends.zoho.sandbox.coql import (
    CoqlError,
    comparable,
    coql_filter,
    field_of,
    parse_coql,
)
from orchestrator.backends.zoho.sandbox.data import MODULES, Record, SandboxState
from orchestrator.backends.zoho.sandbox.faults import Fault, Operation, fault_reply

JSON_TYPE = "application/json;charset=utf-8"
MAX_RECORDS = 100


def _top(code: str, message: str, **details: Any) -> Record:
    return {"code": code, "details": details, "message": message, "status": "error"}


INVALID_TOKEN = _top("INVALID_TOKEN", "invalid oauth token")
INVALID_URL = _top(
    "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
)


class ZohoReply(Exception):
    """Raised by a handler to answer at once with a Zoho-shaped body."""

    def __init__(self, status: int, body: Record, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def reply(
    status: int, body: object | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """Zoho's framing: `application/json;charset=utf-8`, and no body at all for 204."""
    content = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    return Response(content, status_code=status, media_type=JSON_TYPE, headers=headers)


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _authenticated(request: Request) -> SandboxState:
    state = _state(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme != "Zoho-oauthtoken" or not state.token_valid(token.strip()):
        raise ZohoReply(401, INVALID_TOKEN)
    return state


async def _misbehave(
    request: Request, state: SandboxState, module: str, operation: Operation
) -> None:
    """The next triggered fault for this call: delay and/or failure. The body is read first,
    so a client that gives up during a delay does not stop the call being served afterwards."""
    fault = state.faults.take(module, operation, await request.body())
    if fault is None:
        return
    request.state.answer_delay_s = fault.answer_delay_s
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.status is not None:
        raise ZohoReply(*fault_reply(fault))


async def _answer_late(request: Request) -> None:
    """A fault's answer_delay_s: the change is stored, the answer waits."""
    await asyncio.sleep(getattr(request.state, "answer_delay_s", 0.0))


async def _admit(request: Request, module: str, operation: Operation) -> SandboxState:
    """Auth, module check, then the next matching fault (delay and/or failure)."""
    state = _authenticated(request)
    if module not in MODULES:
        raise ZohoReply(400, _top("INVALID_MODULE", "the module name given seems to be invalid"))
    await _misbehave(request, state, module, operation)
    return state


# --- OAuth --------------------------------------------------------------------------------------

oauth = APIRouter()


def _api_domain(request: Request) -> str:
    """The base URL the request came in on, mount prefix included."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"


@oauth.post("/oauth/v2/token")
async def token(request: Request) -> Response:
    """Refresh-token grant; params as query string or urlencoded form body (not multipart).
    Errors come as HTTP 200 with an `error` key, as Zoho's do."""
    params = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params |= dict(parse_qsl((await request.body()).decode()))
    if params.get("grant_type") != "refresh_token":
        return reply(200, {"error": "unsupported_grant_type"})
    body = _state(request).grant(
        params.get("client_id", ""),
        params.get("client_secret", ""),
        params.get("refresh_token", ""),
    )
    if "access_token" in body:
        body = {"access_token": body["access_token"], "api_domain": _api_domain(request)} | body
    return reply(200, body)


# --- records API --------------------------------------------------------------------------------

records = APIRouter()

_CRITERION = re.compile(
    r"\((?P<field>[A-Za-z0-9_$.]+):(?P<op>[a-z_]+):(?P<value>(?:\\.|[^\\()])+)\)"
)
_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "equals": lambda actual, wanted: actual == wanted,
    "starts_with": lambda actual, wanted: actual.startswith(wanted),
}


def _criteria(text: str) -> Callable[[Record], bool]:
    """One `(Field:operator:value)`; `\\(` `\\)` `\\,` are escapes; bare commas separate values."""
    match = _CRITERION.fullmatch(text.strip())
    if match is None or match["op"] not in _OPERATORS:
        raise ZohoReply(400, _top("INVALID_QUERY", "invalid query formed", criteria=text))
    field, test = match["field"], _OPERATORS[match["op"]]
    values = [
        re.sub(r"\\(.)", r"\1", part).casefold() for part in re.split(r"(?<!\\),", match["value"])
    ]
    return lambda record: any(test(comparable(record.get(field)), value) for value in values)


def _search_filter(params: Mapping[str, str]) -> Callable[[Record], bool]:
    """criteria wins over email, as in Zoho; email= looks at every e-mail field."""
    if "criteria" in params:
        return _criteria(params["criteria"])
    if "email" in params:
        email = params["email"].casefold()
        return lambda record: any(
            key.endswith("Email") and comparable(value) == email for key, value in record.items()
        )
    raise ZohoReply(
        400,
        _top(
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            param_name="criteria",
        ),
    )


@records.get("/{module}/search")
async def search_records(request: Request, module: str) -> Response:
    state = await _admit(request, module, "search")
    found = state.search(module, _search_filter(request.query_params))
    if not found:
        return reply(204)
    info = {"per_page": 200, "count": len(found), "page": 1, "more_records": False}
    return reply(200, {"data": found, "info": info})


# --- COQL ---------------------------------------------------------------------------------------


@records.post("/coql")
async def coql(request: Request) -> Response:
    """200 `{"data": [{id, selected fields}], "info": {"count", "more_records"}}`, 204 if none."""
    state = _authenticated(request)
    try:
        query = parse_coql(await request.body())
    except CoqlError as exc:
        raise ZohoReply(400, exc.body) from None
    if query.module not in MODULES:
        raise ZohoReply(
            400, _top("INVALID_QUERY", "invalid query formed", reason="invalid module given")
        )
    await _misbehave(request, state, query.module, "query")
    found = state.query(query.module, coql_filter(query.equals))
    if not found:
        return reply(204)
    page = [
        {"id": r["id"]} | {field: field_of(r, field) for field in query.fields}
        for r in found[: query.limit]
    ]
    info = {"count": len(page), "more_records": len(found) > query.limit}
    return reply(200, {"data": page, "info": info})


@records.get("/{module}/{record_id}")
async def get_record(request: Request, module: str, record_id: str) -> Response:
    state = await _admit(request, module, "get")
    record = state.get(module, record_id)
    return reply(204) if record is None else reply(200, {"data": [record]})


async def _insert_body(request: Request) -> tuple[list[Record], object]:
    """The `data` records and the `trigger` value (None when absent) of an insert request."""
    try:
        body = await request.json()
    except ValueError:
        raise ZohoReply(400, _top("INVALID_DATA", "the input json is invalid")) from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise ZohoReply(
            400,
            _top(
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                param_name="data",
            ),
        )
    if len(data) > MAX_RECORDS:
        raise ZohoReply(
            400,
            _top(
                "LIMIT_EXCEEDED",
                "Cannot process more than 100 records at a time.",
                limit=MAX_RECORDS,
            ),
        )
    return data, body.get("trigger")


@records.post("/{module}")
async def insert_records(request: Request, module: str) -> Response:
    """201 when all records are added, 400 when none is, 207 for a mixed batch."""
    state = await _admit(request, module, "create")
    data, trigger = await _insert_body(request)
    results = [state.insert(module, r, index=i, trigger=trigger) for i, r in enumerate(data)]
    await _answer_late(request)
    added = sum(result["status"] == "success" for result in results)
    status = 201 if added == len(results) else 400 if added == 0 else 207
    return reply(status, {"data": results})


@records.delete("/{module}/{record_id}")
async def delete_record(request: Request, module: str, record_id: str) -> Response:
    state = await _admit(request, module, "delete")
    entry = state.delete(module, record_id, wf_trigger=request.query_params.get("wf_trigger"))
    await _answer_late(request)
    return reply(200 if entry["status"] == "success" else 400, {"data": [entry]})


# --- control routes (not Zoho) ------------------------------------------------------------------

control = control_routes(Fault, reply)  # + POST /faults, GET /records


class RevokeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: bool = False


class ResetOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_limit: int | None = Field(default=None, ge=0)
    token_ttl_s: int | None = Field(default=None, ge=1)
    search_lag_s: float | None = Field(default=None, ge=0.0)


@control.post("/revoke-tokens")
async def revoke_tokens(request: Request, options: RevokeOptions | None = None) -> Response:
    state = _state(request)
    if options is not None and options.refresh_token:
        state.revoke_refresh_token()
    else:
        state.revoke_access_tokens()
    return reply(200, {"revoked": True})


@control.post("/reset")
async def reset(request: Request, options: ResetOptions | None = None) -> Response:
    state = _state(request)
    if options is not None and options.refresh_limit is not None:
        state.refresh_limit = options.refresh_limit
    if options is not None and options.token_ttl_s is not None:
        state.token_ttl_s = options.token_ttl_s
    if options is not None and options.search_lag_s is not None:
        state.search_lag_s = options.search_lag_s
    state.reset()
    return reply(200, {"reset": True})


# --- the app ------------------------------------------------------------------------------------


async def _zoho_reply(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ZohoReply)
    return reply(exc.status, exc.body, exc.headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    """Unknown path → 404 INVALID_URL_PATTERN; wrong method → 400 INVALID_REQUEST_METHOD."""
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    if status == 404:
        return reply(404, INVALID_URL)
    if status == 405:
        return reply(
            400, _top("INVALID_REQUEST_METHOD", "The http request method type is not a valid one")
        )
    return reply(status, _top("INTERNAL_ERROR", "Internal Server Error"))


def create_sandbox_app(state: SandboxState | None = None) -> FastAPI:
    """The sandbox app; its state is `app.state.sandbox` (a fresh seeded one by default)."""
    return sandbox_app(
        "Zoho CRM sandbox",
        state if state is not None else SandboxState(),
        [(oauth, ""), (records, "/crm/v7"), (records, "/crm/v8")],
        control,
        {ZohoReply: _zoho_reply, StarletteHTTPException: _http_error},
    )
