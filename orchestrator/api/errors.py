"""API errors and the handlers that turn every failure into a JSON body (never a stack trace)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.routing import Match

from orchestrator.api.auth import AuthError
from orchestrator.saga.ports import StoreUnavailable

log = logging.getLogger("orchestrator.api")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers


def error_body(message: str) -> dict[str, str]:
    return {"status": "error", "message": message}


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    if exc.status < 500:
        log.warning("rejected %s %s: %s", request.method, request.url.path, exc.message)
    return JSONResponse(error_body(exc.message), exc.status, headers=exc.headers)


async def _auth_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    log.warning("refused %s %s: %s", request.method, request.url.path, exc.message)
    return JSONResponse(error_body(exc.message), exc.status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": ("request",), "msg": "invalid"}
    field = ".".join(str(part) for part in first["loc"][1:]) or str(first["loc"][0])
    message = f"{field}: {first['msg']}"
    log.warning("rejected %s %s: %s", request.method, request.url.path, message)
    return JSONResponse(error_body(message), 400)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 413:  # api/body_limit.py: the rest of the body is not read
        return JSONResponse(error_body(str(exc.detail)), 413, headers={"connection": "close"})
    if exc.status_code == 405:  # Starlette names the methods of the first route of the path only
        allow = ", ".join(sorted(_methods(request)))
        return JSONResponse(error_body(str(exc.detail)), 405, headers={"Allow": allow})
    # the exception's headers go along: a 405's Allow, a 401's WWW-Authenticate
    return JSONResponse(error_body(str(exc.detail)), exc.status_code, headers=exc.headers)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _methods(request: Request) -> set[str]:
    """Every method some route takes on this path (GET /sagas and POST /sagas are two routes),
    asked of the router itself: a full match for the path with that method."""
    routes = request.app.router.routes
    return {method for method in METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                   for route in routes)}  # fmt: skip


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable during %s %s: %s", request.method, request.url.path,
              type(exc).__name__)  # fmt: skip
    return JSONResponse(error_body("The service's database is unavailable; try again."), 503)


async def _too_busy(request: Request, _exc: Exception) -> JSONResponse:
    """Every database connection of this process stayed busy past the pool's timeout: an
    overload, not a fault; the client is told to come back (with the same Idempotency-Key a
    retry cannot start a second sale)."""
    log.error("database pool exhausted during %s %s", request.method, request.url.path)
    body = error_body("The service is overloaded; try again shortly.")
    return JSONResponse(body, 503, headers={"Retry-After": "1"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("Internal error."), 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(DBAPIError, _database_down)
    app.add_exception_handler(StoreUnavailable, _database_down)
    app.add_exception_handler(PoolTimeout, _too_busy)
    app.add_exception_handler(Exception, _unexpected)
