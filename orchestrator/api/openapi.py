"""The API's OpenAPI document, complete: the key scheme, every body (each flow's input, from its
model), the headers, and every answer that can really happen in the error shape the handlers
write. FastAPI builds it from the routes; this adds what routes that read their own body
cannot declare, and drops FastAPI's 422 (a validation failure here is a 400 naming the field).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from orchestrator.saga.definition import Flow

KEY_SCHEME: Final = "ApiKey"
ERROR: Final = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "message": {"type": "string", "description": "what is wrong, naming the field"},
    },
}
# What a route that needs an operator key answers a client key (routes say so themselves).
OPERATOR_ONLY: Final[dict[int | str, dict[str, Any]]] = {403: {
    "description": "a client key: this route needs an operator key",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}}  # fmt: skip
# Every keyed route can answer these, whatever it does.
COMMON: Final = {
    "400": "a parameter, header or the body is invalid: the message names it",
    "401": "no x-api-key, or one this service does not know",
    "413": "the body is larger than MAX_BODY_BYTES",
    "429": "this key is over its request limit (Retry-After: seconds)",
    "503": "the service's database is unavailable or busy (Retry-After on overload)",
}
RETRY_AFTER: Final = {"description": "seconds to wait", "schema": {"type": "integer"}}


def error(description: str) -> dict[str, Any]:
    """An answer in the error shape `{"status": "error", "message"}`."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def install_openapi(
    app: FastAPI, flows: Callable[[], Mapping[str, Flow[Any, Any]]], max_lookups: int
) -> None:
    """Replace app.openapi: `flows` are the flows this service runs, known once it has started."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, routes=app.routes,
                               description=app.description)  # fmt: skip
            complete(spec, flows(), max_lookups)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(spec: dict[str, Any], flows: Mapping[str, Flow[Any, Any]], max_lookups: int) -> None:
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = {
        KEY_SCHEME: {"type": "apiKey", "in": "header", "name": "x-api-key",
                     "description": "a client key (API_KEYS) or an operator key"},
    }  # fmt: skip
    inputs = {name: flow_input_schema(flow, schemas, max_lookups) for name, flow in flows.items()}
    for operations in spec["paths"].values():
        for operation in operations.values():
            _answers(operation)
    start = spec["paths"].get("/sagas", {}).get("post")
    if start is not None:
        start["requestBody"] = _json_body(_start_body(inputs))
    plg = spec["paths"].get("/createSales", {}).get("post")
    if plg is not None and "zoho.sale" in inputs:
        plg["requestBody"] = _json_body(inputs["zoho.sale"])


def _answers(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    if operation.get("security") is None:
        return  # an open route (health, metrics): none of the key's answers
    for code, text in COMMON.items():
        responses.setdefault(code, error(text))
    for code in ("429", "503"):
        responses[code].setdefault("headers", {})["Retry-After"] = RETRY_AFTER


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _start_body(inputs: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    variants = [
        {"type": "object", "required": ["flow", "input"], "additionalProperties": False,
         "properties": {"flow": {"type": "string", "enum": [name]}, "input": schema}}
        for name, schema in sorted(inputs.items())
    ]  # fmt: skip
    return {"oneOf": variants} if variants else {"type": "object"}


def flow_input_schema(
    flow: Flow[Any, Any], schemas: dict[str, Any], max_lookups: int
) -> dict[str, Any]:
    """The flow's input model as JSON Schema; its sub-models go to components.schemas under
    the flow's name (two flows may both have a ProductLine). A list whose items are each a CRM
    lookup (FlowInput.crm_lookups) holds at most MAX_CRM_LOOKUPS items."""
    model = flow.input_model
    if model is None:
        return {"type": "object"}
    prefix = "".join(part.title() for part in flow.name.replace("_", ".").split("."))
    schema = model.model_json_schema(ref_template=f"#/components/schemas/{prefix}{{model}}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[f"{prefix}{name}"] = sub
    for field in getattr(model, "LOOKUP_FIELDS", ()):
        prop = schema.get("properties", {}).get(field)
        if prop is not None:
            prop["maxItems"] = min(prop.get("maxItems", max_lookups), max_lookups)
    return dict(schema)


def _answer(description: str, schema: dict[str, Any], **headers: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        "headers": {name.replace("_", "-"): {"description": text, "schema": {"type": "string"}}
                    for name, text in headers.items()},
    }  # fmt: skip


def _shape(status: str, *extra: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "status": {"type": "string", "enum": [status]},
        "message": {"type": "string"},
        "sagaId": {"type": "string", "format": "uuid"},
    }
    for name in extra:
        props[name] = {"type": ["string", "null"]}
    return {"type": "object", "required": ["status", "sagaId"], "properties": props}


IDEMPOTENCY_KEY: Final = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "the same key and body (from the same API key) start one saga, once",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}
SAGA_HEADERS: Final = {"X_Saga_Id": "the saga's id", "Idempotent_Replayed": "`true` when the "
                       "Idempotency-Key had started this saga before"}  # fmt: skip


def start_answers(*extra: str) -> dict[int | str, dict[str, Any]]:
    """The answers of a request that starts a saga and waits up to SYNC_WAIT_S for its end."""
    return {
        200: _answer("the saga succeeded", _shape("success", *extra), **SAGA_HEADERS),
        202: _answer("still running after SYNC_WAIT_S: follow Location (GET /sagas/{id})",
                     _shape("accepted", *extra), Location="/sagas/{id}", **SAGA_HEADERS),
        409: error("the Idempotency-Key was used with another body"),
        500: _answer("the saga failed: rolled back, or left for an operator (GET /sagas/{id})",
                     _shape("failed", *extra), **SAGA_HEADERS),
        503: error("the flow's CRM backend is not configured here, or the database is down"),
    }  # fmt: skip
