"""Fault injection for the Zoho sandbox: "the next N calls to module M fail / are delayed".

Used from Python (`state.faults.fail("Quotes", status=500)`) or over HTTP
(`POST /__sandbox__/faults` with a `Fault` as JSON). Only record-API calls (`/crm/v7|v8/…`) count;
COQL (`POST /crm/v7|v8/coql`) is the operation "query", on the module named in its FROM.

A fault matches a call by module, operation and (`body_contains`) a substring of the raw request
body; a matching call then triggers it with `probability`. Only triggered calls count against
`times` (use a large `times`, e.g. 1_000_000, for "always"). A fault with `delay_s` waits before
the call is served or fails, i.e. before a record would be stored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from orchestrator.backends.sandbox_faults import FaultQueue, SandboxFault

Operation = Literal["create", "get", "delete", "search", "query"]

DEFAULT_CODES = {
    400: "INVALID_DATA",
    401: "INVALID_TOKEN",
    403: "NO_PERMISSION",
    404: "INVALID_URL_PATTERN",
    429: "TOO_MANY_REQUESTS",
}
DEFAULT_MESSAGES = {
    "INVALID_DATA": "invalid data",
    "MANDATORY_NOT_FOUND": "required field not found",
    "DUPLICATE_DATA": "duplicate data",
    "INTERNAL_ERROR": "Internal Server Error",
    "TOO_MANY_REQUESTS": "too many requests",
    "INVALID_TOKEN": "invalid oauth token",
    "NO_PERMISSION": "permission denied",
}


class Fault(SandboxFault):
    """One scripted misbehaviour. `status` None means "delay only, then serve normally"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    module: str | None = None  # None: any module
    operation: Operation | None = None  # None: any operation
    status: int | None = Field(default=None, ge=400, le=599)
    code: str | None = None  # default from the status: 500 INTERNAL_ERROR, 429 TOO_MANY_REQUESTS …
    message: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    retry_after: str | None = None  # sent as the Retry-After header (429)
    # create/delete: the change is stored at once, the answer comes this much later (a write that
    # landed while its caller died or gave up)
    answer_delay_s: float = Field(default=0.0, ge=0.0, le=120.0)

    @model_validator(mode="after")
    def _does_something(self) -> Fault:
        if self.status is None and self.delay_s == 0.0 and self.answer_delay_s == 0.0:
            raise ValueError("a fault needs a status, a delay_s or an answer_delay_s")
        return self

    def matches(self, module: str, operation: Operation, body: bytes = b"") -> bool:
        return (
            (self.module is None or self.module == module)
            and (self.operation is None or self.operation == operation)
            and self.matches_body(body)
        )


class FaultPlan(FaultQueue[Fault]):
    """The pending faults of the Zoho sandbox, with shortcuts for the usual ones."""

    def fail(
        self,
        module: str | None,
        *,
        status: int,
        code: str | None = None,
        operation: Operation | None = None,
        times: int = 1,
        retry_after: str | None = None,
        details: dict[str, Any] | None = None,
        probability: float = 1.0,
        body_contains: str | None = None,
    ) -> None:
        """The next `times` triggered calls to `module` (and `operation`, and with
        `body_contains` in the body) answer `status` with `code`."""
        self.add(
            Fault(
                module=module,
                operation=operation,
                times=times,
                status=status,
                code=code,
                retry_after=retry_after,
                details=details or {},
                probability=probability,
                body_contains=body_contains,
            )
        )

    def delay(
        self,
        seconds: float,
        *,
        module: str | None = None,
        operation: Operation | None = None,
        times: int = 1,
        probability: float = 1.0,
        body_contains: str | None = None,
    ) -> None:
        """The next `times` triggered calls wait `seconds`, then are served normally."""
        self.add(
            Fault(
                module=module,
                operation=operation,
                times=times,
                delay_s=seconds,
                probability=probability,
                body_contains=body_contains,
            )
        )

    def take(self, module: str, operation: Operation, body: bytes = b"") -> Fault | None:
        """The first pending fault that matches this call and triggers (counted)."""
        return self.take_first(lambda fault: fault.matches(module, operation, body))


def fault_reply(fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, Zoho body and headers for a failing fault: per-record envelope for 400,
    top-level envelope otherwise."""
    status = fault.status or 500
    code = fault.code or DEFAULT_CODES.get(status, "INTERNAL_ERROR")
    message = fault.message or DEFAULT_MESSAGES.get(code, code.lower().replace("_", " "))
    entry = {"code": code, "details": dict(fault.details), "message": message, "status": "error"}
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    body: dict[str, Any] = {"data": [entry]} if status == 400 else entry
    return status, body, headers
