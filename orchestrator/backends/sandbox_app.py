"""What every CRM sandbox's app shares: the FastAPI app around its routers (no docs pages, its
state in `app.state.sandbox`, its CRM's own error shapes) and the control routes under
/__sandbox__ that tests and `salesaga dev` drive, which are not part of any CRM's API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from orchestrator.backends.sandbox_faults import FaultQueue, SandboxFault

Reply = Callable[[int, object], Response]  # the sandbox's JSON framing: status, body
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]
CONTROL_PREFIX = "/__sandbox__"


class ControlledState(Protocol):
    """What the shared control routes need of a sandbox's state."""

    @property
    def faults(self) -> FaultQueue[Any]: ...

    def snapshot(self) -> dict[str, Any]: ...


def control_routes(fault_model: type[SandboxFault], reply: Reply) -> APIRouter:
    """POST /faults (a `fault_model` as JSON, else 422 naming the field) and GET /records (every
    record and the pending faults). The sandbox adds /reset and its own on the router."""
    control = APIRouter()

    @control.post("/faults")
    async def add_fault(request: Request) -> Response:
        # validated here, not as a typed body parameter: the model is this factory's argument
        try:
            fault = fault_model.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            located = [{**e, "loc": ("body", *e["loc"])} for e in errors]
            raise RequestValidationError(located) from None
        state = _state(request)
        state.faults.add(fault)
        return reply(200, {"pending": state.faults.pending()})

    @control.get("/records")
    async def all_records(request: Request) -> Response:
        state = _state(request)
        return reply(200, state.snapshot() | {"faults": state.faults.pending()})

    return control


def sandbox_app(
    title: str,
    state: object,
    routers: Iterable[tuple[APIRouter, str]],
    control: APIRouter,
    errors: Mapping[type[Exception], ErrorHandler],
) -> FastAPI:
    """The app: `routers` (router, prefix) are the CRM's own, `control` goes under
    /__sandbox__, `errors` answer the CRM's failures in its shapes."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state
    for kind, handler in errors.items():
        app.add_exception_handler(kind, handler)
    for router, prefix in routers:
        app.include_router(router, prefix=prefix)
    app.include_router(control, prefix=CONTROL_PREFIX)
    return app


def _state(request: Request) -> ControlledState:
    state: ControlledState = request.app.state.sandbox
    return state
