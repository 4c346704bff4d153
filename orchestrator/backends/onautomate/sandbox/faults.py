"""Fault injection for the OnAutomate sandbox: "the next N calls of operation O fail / are
delayed / answer 200 with an error body".

Used from Python (`state.faults.fail("create", status=500)`) or over HTTP (`POST
/__sandbox__/faults` with a `Fault` as JSON). Operations: list, get, create, update (PUT …/{id}),
status (PUT …/{id}/status), delete. A fault is checked after the token and the pipeline.

A fault matches a call by operation and (`body_contains`) a substring of the raw request body or
of the request's path and query string (so a GET or DELETE of one id can be picked); a matching
call then triggers it with `probability`. Only triggered calls count against `times` (use a large
`times`, e.g. 1_000_000, for "always"). `delay_s` waits before the call is served or fails, i.e.
before anything is stored. Failure bodies are OnAutomate's: `{"msg": …}` for 400/401/404/429/5xx,
`{field: {"message", "rule"}}` for 422, and with `error_body` HTTP 200 `{"msg": …}` (DELETE's way
of failing, seed 003) without doing the call. `noop` (delete and status only) answers the success
body `""` without doing the call: an acknowledged write that did not happen.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from orchestrator.backends.sandbox_faults import FaultQueue, SandboxFault

Operation = Literal["list", "get", "create", "update", "status", "delete"]

DEFAULT_MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


class Fault(SandboxFault):
    """One scripted misbehaviour. Without `status` or `error_body` it only delays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    operation: Operation | None = None  # None: any operation
    status: int | None = Field(default=None, ge=400, le=599)
    message: str | None = None  # the `msg`, or the 422 entry's message
    field: str = "title"  # 422: the field the entry is under
    rule: str = "invalid"  # 422: the entry's rule
    retry_after: str | None = None  # sent as the Retry-After header
    error_body: bool = False  # answer HTTP 200 {"msg": message or "Bad Request"}
    noop: bool = False  # delete / status only: answer 200 "" (success) and change nothing

    @model_validator(mode="after")
    def _does_something(self) -> Fault:
        answers = (self.status is not None) + self.error_body + self.noop
        if answers == 0 and self.delay_s == 0.0:
            raise ValueError("a fault needs a status, error_body, noop or a delay_s")
        if answers > 1:
            raise ValueError("give one of status, error_body and noop")
        if self.noop and self.operation not in ("delete", "status"):
            raise ValueError('noop is for the operations "delete" and "status" (answered "")')
        return self

    @property
    def fails(self) -> bool:
        return self.status is not None or self.error_body or self.noop

    def matches(self, operation: Operation, seen: bytes = b"") -> bool:
        """`seen`: the raw body, path and query of the call (body_contains looks in all)."""
        return (self.operation is None or self.operation == operation) and self.matches_body(seen)


class FaultPlan(FaultQueue[Fault]):
    """The pending faults of the OnAutomate sandbox, with shortcuts for the usual ones."""

    def fail(self, operation: Operation | None, *, status: int, **fields: Any) -> None:
        """The next triggered call(s) of `operation` answer `status` (other Fault fields by
        keyword: times, message, field, rule, retry_after, probability, body_contains)."""
        self.add(Fault(operation=operation, status=status, **fields))

    def ignore(self, operation: Operation = "delete", **fields: Any) -> None:
        """The next triggered call(s) answer 200 `""` as if done, and change nothing."""
        self.add(Fault(operation=operation, noop=True, **fields))

    def refuse(self, operation: Operation | None = "delete", **fields: Any) -> None:
        """The next triggered call(s) answer HTTP 200 `{"msg": message or "Bad Request"}`."""
        self.add(Fault(operation=operation, error_body=True, **fields))

    def delay(self, seconds: float, *, operation: Operation | None = None, **fields: Any) -> None:
        """The next triggered call(s) wait `seconds`, then are served normally."""
        self.add(Fault(operation=operation, delay_s=seconds, **fields))

    def take(self, operation: Operation, seen: bytes = b"") -> Fault | None:
        """The first pending fault that matches this call and triggers (counted)."""
        return self.take_first(lambda fault: fault.matches(operation, seen))


def fault_reply(fault: Fault) -> tuple[int, object, dict[str, str]]:
    """Status, OnAutomate body and headers of a failing fault."""
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    if fault.noop:
        return 200, "", headers
    if fault.error_body:
        return 200, {"msg": fault.message or "Bad Request"}, headers
    status = fault.status or 500
    if status == 422:
        words = fault.field.replace("Id", " id").lower()
        message = fault.message or f"The {words} field is invalid."
        return status, {fault.field: {"message": message, "rule": fault.rule}}, headers
    return status, {"msg": fault.message or _phrase(status)}, headers


def _phrase(status: int) -> str:
    if status in DEFAULT_MESSAGES:
        return DEFAULT_MESSAGES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
