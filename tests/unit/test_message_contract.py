"""The message contract's pure parts (orchestrator/messaging/contract.py): reply routes, stream
entries, and the reply body built from a saga's state."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from orchestrator.flows.zoho_sale import ZOHO_SALE
from orchestrator.messaging.contract import (
    CALLBACK,
    CREATE_SALES,
    QUEUE,
    START_SAGA,
    STREAM,
    Invalid,
    Message,
    StartRequest,
    stream_message,
    validate,
)
from orchestrator.messaging.replies import result_body
from orchestrator.saga.state import SagaState, SagaStatus, StepState, StepStatus

ORDER = {"contactId": "550428000008877665",
         "products": [{"productId": "550428000000111222", "quantity": 2}]}  # fmt: skip
ALL = frozenset({QUEUE, STREAM, CALLBACK})


def checked(reply_to: str | None, *, replies=ALL, stream: str | None = None):
    body = {**ORDER, "message_id": "m-1"}
    if reply_to is not None:
        body["reply_to"] = reply_to
    return validate(Message(CREATE_SALES, body, stream=stream), replies)


@pytest.mark.parametrize(
    ("reply_to", "stream", "route"),
    [
        ("orders.replies", None, "queue:orders.replies"),  # a bare name: the way it came
        ("orders.replies", "salesaga:requests", "stream:orders.replies"),
        ("queue:orders.replies", "salesaga:requests", "queue:orders.replies"),
        ("stream:erp:replies", None, "stream:erp:replies"),
        ("callback", None, "callback"),
        (None, None, "callback"),  # no reply_to, a callback configured: the callback
    ],
)
def test_reply_to_becomes_a_route(reply_to, stream, route):
    request = checked(reply_to, stream=stream)
    assert isinstance(request, StartRequest)
    assert (request.reply_route, request.reply_to) == (route, reply_to)


def test_without_a_callback_and_without_reply_to_no_reply_is_sent():
    request = checked(None, replies=frozenset({QUEUE}))
    assert isinstance(request, StartRequest) and request.reply_route is None


@pytest.mark.parametrize(
    ("reply_to", "replies", "reason"),
    [
        ("stream:x", frozenset({QUEUE}), "no replies are sent to a stream"),
        ("callback", frozenset({QUEUE}), "no REPLY_CALLBACK_URL is set"),
        ("queue:", ALL, "reply_to must be callback, or a queue or stream name"),
        ("a b", ALL, "reply_to must be callback, or a queue or stream name"),
        ("x" * 201, ALL, "reply_to must be callback, or a queue or stream name"),
        ("x" * 256, ALL, "reply_to must be a string of 1 to 255 characters"),
    ],
)
def test_a_reply_to_the_service_cannot_serve_is_refused(reply_to, replies, reason):
    refused = checked(reply_to, replies=replies)
    assert isinstance(refused, Invalid) and reason in refused.reason


def test_a_stream_entry_holds_the_task_and_the_json_message():
    fields = {"task": START_SAGA, "message": json.dumps({"flow": "zoho.sale", "input": ORDER,
                                                         "message_id": "m-2"})}  # fmt: skip
    message = stream_message("salesaga:requests", fields)
    request = validate(message)
    assert isinstance(request, StartRequest) and request.message_id == "m-2"
    assert message.source == "redis:salesaga:requests"
    assert message.payload() == fields  # a dead letter keeps the fields as sent
    assert Message.from_payload(message.source, fields) == message  # and replays them


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"message": "[1, 2"}, "message is not JSON"),
        ({"nothing": "here"}, "message is required"),
        ({"message": "[1, 2]"}, "the message must be an object of keyword arguments"),
        ({"message": json.dumps({**ORDER, "message_id": "m"}), "task": "x"}, "unknown task 'x'"),
    ],
)
def test_a_bad_stream_entry_is_invalid_with_the_reason(fields, reason):
    refused = validate(stream_message("s", fields))
    assert isinstance(refused, Invalid) and reason in refused.reason


def test_the_reply_names_the_message_the_status_and_every_record():
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    steps = [StepState(index=i, name=step.name) for i, step in enumerate(ZOHO_SALE.steps)]
    steps[1].status, steps[1].output = StepStatus.COMPENSATED, {"id": "D-1"}
    steps[2].status = StepStatus.FAILED
    saga = SagaState(id=uuid.uuid4(), flow=ZOHO_SALE.name, input={}, steps=steps,
                     status=SagaStatus.COMPENSATED, error="quote refused",
                     failed_step="create_quote", message_id="m-9", reply_to="queue:r",
                     finished_at=now)  # fmt: skip

    body = result_body(saga, ZOHO_SALE)

    assert (body["sagaId"], body["messageId"], body["status"], body["succeeded"]) == (
        str(saga.id), "m-9", "compensated", False)  # fmt: skip
    assert body["error"] == {"message": "quote refused", "step": "create_quote"}
    assert [(r["type"], r["id"], r["state"]) for r in body["records"]] == [
        ("Deal", "D-1", "rolled_back"), ("Quote", None, "not_created"),
        ("Sales Order", None, "not_created")]  # fmt: skip
    assert body["finishedAt"] == now.isoformat()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 1000 + "]" * 1000, "message is nested deeper than 32 levels"),
        ('{"n": ' + "7" * 5000 + "}", "message holds a number too long to read"),
        ('{"n": 1e999}', "message holds a number out of range"),
    ],
)
def test_a_hostile_stream_entry_is_invalid_not_a_crash(text, reason):
    refused = validate(stream_message("s", {"message": text}))
    assert isinstance(refused, Invalid) and reason in refused.reason
