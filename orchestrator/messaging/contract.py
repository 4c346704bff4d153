"""The message contract: public task names, and a message checked exactly as POST /createSales
and POST /sagas check their bodies (the intake's parse: the same models, the same messages
naming the bad field). No I/O here.

A message is the keyword arguments of one task (docs/messaging.md has a JSON Schema of each):
  salesaga.create_sales  {contactId, products, message_id, reply_to?}  the PLG shortcut
  salesaga.start_saga    {flow, input, message_id, reply_to?}          any flow this service runs
It comes as a Celery task message, or as a Redis Stream entry {task?, message: <JSON text>}.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.flows import FLOWS, PLG_FLOW
from orchestrator.intake import KEY_PATTERN, InvalidInput, Parsed, json_body
from orchestrator.intake.core import parse_start
from orchestrator.intake.validation import short

START_SAGA = "salesaga.start_saga"
CREATE_SALES = "salesaga.create_sales"
TASKS = (START_SAGA, CREATE_SALES)
SOURCE_PREFIX = "celery:"
REUSED = "message_id already used with a different body"
MAX_KEY = 255  # saga.idempotency_key column
STREAM_PREFIX = "redis:"
MAX_REPLY_TO = 255
# Reply routes: where a saga's result goes when it ends (orchestrator/messaging/replies.py).
QUEUE, STREAM, CALLBACK = "queue", "stream", "callback"
_REPLY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$")


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A message body that could not be read as an object of keyword arguments."""

    reason: str


@dataclass(frozen=True, slots=True)
class Message:
    """One message as received: the task it was sent to and its arguments, as decoded."""

    task: str
    kwargs: object  # a dict when readable; Unreadable(reason) when not
    args: tuple[object, ...] = ()
    stream: str | None = None  # the Redis stream it was read from; None: a Celery task message
    raw: object = None  # as received, when that is not the kwargs (a stream entry's fields)

    @property
    def source(self) -> str:
        if self.stream is not None:
            return f"{STREAM_PREFIX}{self.stream}"
        return f"{SOURCE_PREFIX}{self.task}"

    @property
    def reply_via(self) -> str:
        """Where a bare reply_to name points: the way the message came."""
        return STREAM if self.stream is not None else QUEUE

    @property
    def message_id(self) -> str | None:
        """The message id as sent, if it is a string that fits the dead letter's column."""
        value = self.kwargs.get("message_id") if isinstance(self.kwargs, dict) else None
        return value if isinstance(value, str) and 0 < len(value) <= MAX_KEY else None

    def payload(self) -> object:
        """What a dead letter keeps: the keyword arguments, or both kinds if args were sent."""
        if self.raw is not None:
            return self.raw
        if not self.args:
            return self.kwargs
        return {"args": list(self.args), "kwargs": self.kwargs}

    @classmethod
    def from_payload(cls, source: str, payload: object) -> Message:
        """The message a dead letter's (possibly fixed) payload stands for."""
        if source.startswith(STREAM_PREFIX):
            return stream_message(source.removeprefix(STREAM_PREFIX), payload)
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
    reply_to: str | None = None  # as sent
    reply_route: str | None = None  # where the result goes: queue:NAME, stream:NAME or callback

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


def stream_message(stream: str, fields: object) -> Message:
    """A Redis Stream entry: `message` holds the JSON kwargs, `task` the task (default
    salesaga.create_sales). The fields are kept as sent for a dead letter."""
    if not isinstance(fields, dict):
        return Message(CREATE_SALES, Unreadable("the entry must be a map of fields"),
                       stream=stream, raw=fields)  # fmt: skip
    task = fields.get("task", CREATE_SALES)
    text = fields.get("message")
    if text is None:
        kwargs: object = Unreadable("message is required: a field holding the message as JSON")
    else:
        try:
            kwargs = json_body.loads(text) if isinstance(text, str) else text
        except json_body.Refused as refused:
            kwargs = Unreadable(f"message {refused}")
        except ValueError as exc:
            kwargs = Unreadable(f"message is not JSON: {exc}")
    return Message(str(task), kwargs, stream=stream, raw=fields)


Parse = Callable[..., Parsed]  # the intake's parse(flow, body, where=…): raises InvalidInput


def _every_flow(flow: object, body: object, *, where: str) -> Parsed:
    return parse_start(FLOWS, FLOWS, flow, body, where=where)


def validate(
    message: Message,
    replies: frozenset[str] = frozenset(),
    parse: Parse = _every_flow,
    plg_flow: str = PLG_FLOW,
) -> StartRequest | Invalid:
    """`replies`: the reply routes this service can send to (QUEUE, STREAM, CALLBACK); a message
    without reply_to gets a CALLBACK reply when that one is configured. `parse` checks the flow
    and its input; `plg_flow` is the flow salesaga.create_sales starts."""
    try:
        return _checked(message, replies, parse, plg_flow)
    except _Refused as refused:
        return Invalid(str(refused))
    except InvalidInput as invalid:
        return Invalid(invalid.message)


class _Refused(Exception):
    """Why a message is invalid (internal to this module: validate() returns an Invalid)."""


def _checked(message: Message, replies: frozenset[str], parse: Parse, plg: str) -> StartRequest:
    if isinstance(message.kwargs, Unreadable):
        raise _Refused(message.kwargs.reason)
    if message.task not in TASKS:
        raise _Refused(f"unknown task {short(message.task)}: use one of {', '.join(TASKS)}")
    if message.args:
        raise _Refused("positional arguments are not accepted: send keyword arguments (kwargs)")
    body = message.kwargs
    if not isinstance(body, dict):
        raise _Refused("the message must be an object of keyword arguments")
    message_id, reply_to = _message_id(body), _reply_to(body)
    if message.task == CREATE_SALES:  # the body of POST /createSales (extra keys are ignored)
        parsed = parse(plg, {k: v for k, v in body.items() if k not in _ENVELOPE}, where="")
    else:
        parsed = parse(_flow(body), _input(body), where="input.")
    route = _reply_route(reply_to, message.reply_via, replies)
    return StartRequest(parsed.flow, parsed.input, parsed.subject, parsed.digest, message_id,
                        reply_to, route)  # fmt: skip


_ENVELOPE = ("message_id", "reply_to")


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


def _reply_route(reply_to: str | None, via: str, replies: frozenset[str]) -> str | None:
    """`queue:NAME`, `stream:NAME`, `callback`, or a bare NAME meaning the way the message came."""
    if reply_to is None:
        return CALLBACK if CALLBACK in replies else None
    kind, name = CALLBACK, ""
    if reply_to != CALLBACK:
        prefixed = reply_to.startswith((f"{QUEUE}:", f"{STREAM}:"))
        kind, _, name = reply_to.partition(":") if prefixed else (via, "", reply_to)
        if not _REPLY_NAME.match(name):
            raise _Refused(REPLY_TO_RULE)
    if kind not in replies:
        why = " (no REPLY_CALLBACK_URL is set)" if kind == CALLBACK else ""
        raise _Refused(f"reply_to {short(reply_to)}: no replies are sent to a {kind}{why}")
    return f"{kind}:{name}" if name else kind


REPLY_TO_RULE = (
    "reply_to must be callback, or a queue or stream name (letters, digits and ._:@/-, at most "
    "200 characters), optionally prefixed queue: or stream:"
)


def _flow(body: Mapping[str, Any]) -> object:
    value = body.get("flow")
    if value is None:
        raise _Refused("flow is required")
    return value


def _input(body: Mapping[str, Any]) -> Mapping[str, Any]:
    value = body.get("input")
    if value is None:
        raise _Refused("input is required")
    if not isinstance(value, dict):
        raise _Refused("input must be an object")
    return value
