"""The message contract: public task names, and a message checked exactly as POST /createSales
checks its body (the same models, the same messages naming the bad field). No I/O here.

A message is the keyword arguments of one task (docs/messaging.md has a JSON Schema of each):
  salesaga.create_sales  {contactId, products, message_id, reply_to?}  the PLG shortcut
  salesaga.start_saga    {flow, input, message_id, reply_to?}          any flow in FLOWS
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from orchestrator.api.schemas import (
    KEY_PATTERN,
    CreateSalesRequest,
    describe_validation,
    request_digest,
)
from orchestrator.flows import FLOWS
from orchestrator.flows.zoho_sale import FLOW_NAME as ZOHO_SALE

START_SAGA = "salesaga.start_saga"
CREATE_SALES = "salesaga.create_sales"
TASKS = (START_SAGA, CREATE_SALES)
SOURCE_PREFIX = "celery:"
REUSED = "message_id already used with a different body"
MAX_KEY = 255  # saga.idempotency_key column
MAX_REPLY_TO = 2048


@dataclass(frozen=True, slots=True)
class Message:
    """One message as received: the task it was sent to and its arguments, as decoded."""

    task: str
    kwargs: object
    args: tuple[object, ...] = ()

    @property
    def source(self) -> str:
        return f"{SOURCE_PREFIX}{self.task}"

    @property
    def message_id(self) -> str | None:
        """The message id as sent, if it is a string that fits the dead letter's column."""
        value = self.kwargs.get("message_id") if isinstance(self.kwargs, dict) else None
        return value if isinstance(value, str) and 0 < len(value) <= MAX_KEY else None

    def payload(self) -> object:
        """What a dead letter keeps: the keyword arguments, or both kinds if args were sent."""
        if not self.args:
            return self.kwargs
        return {"args": list(self.args), "kwargs": self.kwargs}

    @classmethod
    def from_payload(cls, source: str, payload: object) -> Message:
        """The message a dead letter's (possibly fixed) payload stands for."""
        task = source.removeprefix(SOURCE_PREFIX)
        if isinstance(payload, dict) and set(payload) == {"args", "kwargs"}:
            args = payload["args"]
            return cls(task, payload["kwargs"], tuple(args) if isinstance(args, list) else (args,))
        return cls(task, payload)


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A valid message: which flow to start, with what input, once per message id."""

    flow: str
    input: object  # the flow's input type, e.g. SaleRequest
    subject: str | None  # the contact id, for lists and search
    digest: str  # same body, same digest (the key order of the JSON does not matter)
    message_id: str
    reply_to: str | None = None  # accepted and stored; replies are not sent yet

    @property
    def idempotency_key(self) -> str:
        return message_key(self.message_id)


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str  # names the field, in the HTTP API's words


def message_key(message_id: str) -> str:
    """The saga idempotency key of a message id. An HTTP Idempotency-Key never holds a space, so
    `msg <id>` can never equal one; an id too long for the column with its prefix is hashed."""
    key = f"msg {message_id}"
    if len(key) <= MAX_KEY:
        return key
    return "msg-sha256 " + hashlib.sha256(message_id.encode()).hexdigest()


def validate(message: Message) -> StartRequest | Invalid:
    try:
        return _checked(message)
    except _Refused as refused:
        return Invalid(str(refused))


class _Refused(Exception):
    """Why a message is invalid (internal to this module: validate() returns an Invalid)."""


def _checked(message: Message) -> StartRequest:
    if message.task not in TASKS:
        raise _Refused(f"unknown task {_short(message.task)}: use one of {', '.join(TASKS)}")
    if message.args:
        raise _Refused("positional arguments are not accepted: send keyword arguments (kwargs)")
    body = message.kwargs
    if not isinstance(body, dict):
        raise _Refused("the message must be an object of keyword arguments")
    message_id, reply_to = _message_id(body), _reply_to(body)
    if message.task == CREATE_SALES:
        flow, (payload, subject, digest) = ZOHO_SALE, _sale(body, "")
    else:
        flow = _flow(body)
        payload, subject, digest = _INPUTS[flow](_input(body), "input.")
    return StartRequest(flow, payload, subject, digest, message_id, reply_to)


def _message_id(body: Mapping[str, Any]) -> str:
    value = body.get("message_id")
    if value is None:
        raise _Refused("message_id is required")
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        raise _Refused("message_id must be 1 to 255 visible ASCII characters")
    return value


def _reply_to(body: Mapping[str, Any]) -> str | None:
    value = body.get("reply_to")
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_REPLY_TO:
        raise _Refused(f"reply_to must be a string of 1 to {MAX_REPLY_TO} characters")
    return value


def _flow(body: Mapping[str, Any]) -> str:
    value = body.get("flow")
    if value is None:
        raise _Refused("flow is required")
    if not isinstance(value, str) or value not in FLOWS:
        raise _Refused(f"flow must be one of: {', '.join(sorted(FLOWS))} (got {_short(value)})")
    if value not in _INPUTS:
        raise _Refused(f"flow {value} cannot be started by a message yet")
    return value


def _input(body: Mapping[str, Any]) -> Mapping[str, Any]:
    value = body.get("input")
    if value is None:
        raise _Refused("input is required")
    if not isinstance(value, dict):
        raise _Refused("input must be an object")
    return value


FlowInput = tuple[object, str | None, str]  # (the flow's input, subject, digest)


def _sale(body: Mapping[str, Any], where: str) -> FlowInput:
    """The body of POST /createSales, mapped the same way (extra keys are ignored)."""
    try:
        order = CreateSalesRequest.model_validate(body)
    except ValidationError as exc:
        raise _Refused(where + describe_validation(exc)) from None
    return order.to_sale(), order.contactId, request_digest(order)


# How each flow a message may start reads its `input`.
_INPUTS: dict[str, Callable[[Mapping[str, Any], str], FlowInput]] = {ZOHO_SALE: _sale}


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
