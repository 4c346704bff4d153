"""Fault injection for the Poologics sandbox, and the seed's error bodies by name.

Used from Python (`state.faults.fail("write", error="unexpected")`) or over HTTP (`POST
/__sandbox__/faults` with a `Fault` as JSON). Operations: get_key, check_key, create_lead
(/web/dataset/create of crm.lead), create_contact (any other model), write, get, zapier. A fault
is checked after the API key (get_key has none) and before anything is stored.

A fault answers one of: `error`, a documented error by name (ERRORS: "unexpected",
"not_found" …) or by its text, as Poologics does (HTTP 200 `{"success": false, "error",
"err_msg"?}`; `err_msg` overrides the detail); `status`, an HTTP status (401: Odoo's 401 page;
otherwise `{"success": false, "error": <reason phrase>}`, with `retry_after` as Retry-After);
`noop` (write only), the write's success body while nothing is written: an acknowledged write
that did not happen. `delay_s`, `times`, `probability` and `body_contains` (a substring of the
raw request body) are SandboxFault's.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from orchestrator.backends.sandbox_faults import FaultQueue, SandboxFault

Operation = Literal[
    "get_key", "check_key", "create_lead", "create_contact", "write", "get", "zapier"
]

_SUPPORT = "please try again or contact support@poologics.com"
_DETAIL = "Detailed error message"  # the seed's placeholder for Odoo's exception text
ERRORS: dict[str, tuple[str, str | None]] = {  # name → the seed's error, err_msg
    "invalid_user": (f"Invalid User, {_SUPPORT}", None),
    "invalid_password": (f"Invalid password, {_SUPPORT}", None),
    "no_api_key": (f"No Api Key found, {_SUPPORT}", None),
    "unexpected": ("An unexpected error occurred. Please contact support@poologics.com", None),
    "wrong_trigger": (f"Subscription failed, Wrong trigger integration, {_SUPPORT}", None),
    "unknown_action": (f"Unknown Error, {_SUPPORT}", None),
    "subscription_failed": (f"Subscription failed, {_SUPPORT}", None),
    "unsubscribe_failed": (f"Unsubscribe request failed, {_SUPPORT}", None),
    "required_fields": (
        "Required fields are missing. Please ensure all necessary data is provided.",
        None,
    ),
    "invalid_values": (
        "Invalid field values provided. Please check the input and try again.",
        None,
    ),
    "contact_failed": (f"Unable to create contact, {_SUPPORT}", _DETAIL),
    "opportunity_failed": (f"Unable to create opportunity, {_SUPPORT}", _DETAIL),
    "record_id_required": (
        f'Unable to edit opportunity ("poologics_id is Required."), {_SUPPORT}',
        "poologics_id is Required.",
    ),
    "record_not_found": (
        f'Unable to edit opportunity ("No record found."), {_SUPPORT}',
        "No record found!",
    ),
    "update_failed": (f"Unable to update opportunity, {_SUPPORT}", _DETAIL),
    "not_found": ("No record found with the given ID. Please verify the ID and try again.", None),
    "retrieve_failed": (
        "An error occurred while retrieving records. Please try again or contact "
        "support@poologics.com",
        None,
    ),
}


def error_body(name: str, err_msg: str | None = None) -> dict[str, Any]:
    """The seed's failure body of the documented error `name`; `err_msg` replaces its detail."""
    error, detail = ERRORS[name]
    body: dict[str, Any] = {"success": False, "error": error}
    if err_msg is not None or detail is not None:
        body["err_msg"] = err_msg if err_msg is not None else detail
    return body


class Fault(SandboxFault):
    """One scripted misbehaviour. Without `error`, `status` or `noop` it only delays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    operation: Operation | None = None  # None: any operation
    error: str | None = Field(default=None, min_length=1)  # a name of ERRORS, or any text
    err_msg: str | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: str | None = None  # with `status`: sent as the Retry-After header
    noop: bool = False  # write only: answer the success body and write nothing

    @model_validator(mode="after")
    def _does_something(self) -> Fault:
        answers = (self.error is not None) + (self.status is not None) + self.noop
        if answers == 0 and self.delay_s == 0.0:
            raise ValueError("a fault needs an error, a status, noop or a delay_s")
        if answers > 1:
            raise ValueError("give one of error, status and noop")
        if self.noop and self.operation != "write":
            raise ValueError('noop is for the operation "write" (answered as if written)')
        return self

    @property
    def fails(self) -> bool:
        return self.error is not None or self.status is not None

    def matches(self, operation: Operation, seen: bytes = b"") -> bool:
        return (self.operation is None or self.operation == operation) and self.matches_body(seen)


class FaultPlan(FaultQueue[Fault]):
    """The pending faults of the Poologics sandbox, with shortcuts for the usual ones."""

    def fail(self, operation: Operation | None, **fields: Any) -> None:
        """The next triggered call(s) of `operation` fail: `error="unexpected"` (a name or a
        text) or `status=500`, other Fault fields by keyword (times, err_msg, body_contains …)."""
        self.add(Fault(operation=operation, **fields))

    def ignore(self, **fields: Any) -> None:
        """The next triggered write(s) answer success and change nothing."""
        self.add(Fault(operation="write", noop=True, **fields))

    def delay(self, seconds: float, *, operation: Operation | None = None, **fields: Any) -> None:
        """The next triggered call(s) wait `seconds`, then are served normally."""
        self.add(Fault(operation=operation, delay_s=seconds, **fields))

    def take(self, operation: Operation, seen: bytes = b"") -> Fault | None:
        return self.take_first(lambda fault: fault.matches(operation, seen))


def fault_reply(fault: Fault) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
    """Status, body (None: Odoo's 401 page) and headers of a failing fault."""
    if fault.error is not None:
        if fault.error in ERRORS:
            return 200, error_body(fault.error, fault.err_msg), {}
        body: dict[str, Any] = {"success": False, "error": fault.error}
        if fault.err_msg is not None:
            body["err_msg"] = fault.err_msg
        return 200, body, {}
    status = fault.status or 500
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    if status == 401:
        return status, None, headers
    return status, {"success": False, "error": _phrase(status)}, headers


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
