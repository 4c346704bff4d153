"""Fault injection for the RPC CRM sandbox: "the next N calls of method M fail / are delayed".

Used from Python (`state.faults.fail("CreateTicket", status=500)`) or over HTTP (`POST
/__sandbox__/faults` with a `Fault` as JSON). `method` is a method name ("CreateTicket",
"Login" …; None: any). A fault is checked after the token (Login has none) and before
anything is stored.

A fault answers one of: `error`, a business error: HTTP 200 `{"success": false, "response":
{}, "error": <error>}`; `status`, an HTTP status 400–599: `{"success": false, "response": {},
"error": <its reason phrase>.}` ("Unauthenticated." for 401), with `retry_after` as the
Retry-After header. A fault with neither only delays: `delay_s` waits, then the call is served
normally, so a client whose read timeout is shorter loses the answer of a create that is
stored all the same (the "lost create"). `times`, `probability` and `body_contains` (a substring
of the raw request body) are SandboxFault's.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from orchestrator.backends.rpccrm.wire import LOGIN, RESULT_KEYS, UNAUTHENTICATED
from orchestrator.backends.sandbox_faults import FaultQueue, SandboxFault

METHODS = frozenset({LOGIN, *RESULT_KEYS})


class Fault(SandboxFault):
    """One scripted misbehaviour. Without `error` or `status` it only delays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str | None = None  # None: any method
    error: str | None = Field(default=None, min_length=1)  # HTTP 200, this error text
    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: str | None = None  # with `status`: sent as the Retry-After header

    @field_validator("method")
    @classmethod
    def _known(cls, method: str | None) -> str | None:
        if method is not None and method not in METHODS:
            raise ValueError(f"{method!r} is not a method of the seed")
        return method

    @model_validator(mode="after")
    def _does_something(self) -> Fault:
        if self.error is None and self.status is None and self.delay_s == 0.0:
            raise ValueError("a fault needs an error, a status or a delay_s")
        if self.error is not None and self.status is not None:
            raise ValueError("give one of error and status")
        if self.retry_after is not None and self.status is None:
            raise ValueError("retry_after goes with a status")
        return self

    @property
    def fails(self) -> bool:
        return self.error is not None or self.status is not None

    def matches(self, method: str, seen: bytes = b"") -> bool:
        return (self.method is None or self.method == method) and self.matches_body(seen)


class FaultPlan(FaultQueue[Fault]):
    """The pending faults of the RPC CRM sandbox, with shortcuts for the usual ones."""

    def fail(self, method: str | None, **fields: Any) -> None:
        """The next triggered call(s) of `method` fail: `error="…"` or `status=500`, other Fault
        fields by keyword (times, retry_after, body_contains, probability, delay_s)."""
        self.add(Fault(method=method, **fields))

    def delay(self, seconds: float, *, method: str | None = None, **fields: Any) -> None:
        """The next triggered call(s) wait `seconds`, then are served normally."""
        self.add(Fault(method=method, delay_s=seconds, **fields))

    def take(self, method: str, seen: bytes = b"") -> Fault | None:
        """The first pending fault that matches this call and triggers (counted)."""
        return self.take_first(lambda fault: fault.matches(method, seen))


def http_message(status: int) -> str:
    """The `error` of an HTTP failure: "Unauthenticated." for 401, else the reason phrase."""
    if status == 401:
        return UNAUTHENTICATED
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:
        return "Error."


def fault_reply(fault: Fault) -> tuple[int, str, dict[str, str]]:
    """Status, error text and headers of a failing fault."""
    if fault.error is not None:
        return 200, fault.error, {}
    status = fault.status or 500
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    return status, http_message(status), headers
