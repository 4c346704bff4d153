"""docs/messaging.md's JSON Schemas say what the code does: messages the contract accepts are
valid against them and refused ones are not, and a reply the code builds fits `salesaga.result`."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from orchestrator.flows.zoho_sale import ZOHO_SALE
from orchestrator.messaging.contract import (
    CALLBACK,
    CREATE_SALES,
    QUEUE,
    START_SAGA,
    STREAM,
    Message,
    StartRequest,
    validate,
)
from orchestrator.messaging.replies import result_body
from orchestrator.saga.state import SagaState, SagaStatus, StepState, StepStatus

DOC = Path(__file__).parents[2] / "docs" / "messaging.md"
ORDER = {"contactId": "550428000008877665",
         "products": [{"productId": "550428000000111222", "quantity": 2}]}  # fmt: skip


def documented_schemas() -> dict[str, dict]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S)
    schemas = [json.loads(block) for block in blocks if '"$schema"' in block]
    return {schema["$id"]: schema for schema in schemas}


SCHEMAS = documented_schemas()
REGISTRY = Registry().with_resources(
    (key, Resource.from_contents(schema)) for key, schema in SCHEMAS.items()
)


def valid(schema_id: str, instance: object) -> bool:
    validator = Draft202012Validator(SCHEMAS[schema_id], registry=REGISTRY)
    return validator.is_valid(instance)


def test_every_message_and_reply_has_a_schema():
    assert set(SCHEMAS) == {"salesaga.create_sales", "salesaga.start_saga",
                            "salesaga.stream-entry", "salesaga.result"}  # fmt: skip


EVERY_ROUTE = frozenset({QUEUE, STREAM, CALLBACK})
CASES = [
    {**ORDER, "message_id": "m-1"},
    {**ORDER, "message_id": "m-1", "reply_to": "queue:erp.results"},
    {**ORDER, "message_id": "m-1", "reply_to": "callback"},
    {**ORDER, "message_id": "m-1", "reply_to": "two words"},
    {**ORDER, "message_id": "m-1", "reply_to": "queue:"},
    {**ORDER, "message_id": "m-1", "reply_to": "stream:queue:x"},
    {**ORDER, "message_id": "m-1", "reply_to": "erp:results"},
    {**ORDER, "message_id": "has space"},
    {**ORDER},
    {**ORDER, "message_id": "m", "products": [{"productId": "1", "quantity": "2"}]},
    {**ORDER, "message_id": "m", "products": [{"productId": "1", "quantity": 0}]},
    {**ORDER, "message_id": "m", "products": []},
    {"products": ORDER["products"], "message_id": "m"},
    {**ORDER, "message_id": "m", "contactId": "not an id!"},
]


@pytest.mark.parametrize("body", CASES)
def test_the_create_sales_schema_agrees_with_the_contract(body):
    accepted = isinstance(validate(Message(CREATE_SALES, body), EVERY_ROUTE), StartRequest)
    assert valid("salesaga.create_sales", body) == accepted


@pytest.mark.parametrize("body", CASES)
def test_the_start_saga_schema_agrees_with_the_contract(body):
    inner = {k: v for k, v in body.items() if k not in ("message_id", "reply_to")}
    outer = {k: v for k, v in body.items() if k in ("message_id", "reply_to")}
    message = {**outer, "flow": "zoho.sale", "input": inner}
    accepted = isinstance(validate(Message(START_SAGA, message), EVERY_ROUTE), StartRequest)
    assert valid("salesaga.start_saga", message) == accepted


def test_a_reply_the_code_builds_fits_the_result_schema():
    steps = [StepState(index=i, name=step.name) for i, step in enumerate(ZOHO_SALE.steps)]
    for row, record_id in zip(steps[1:], ("D-1", "Q-1", "S-1"), strict=True):
        row.status, row.output = StepStatus.SUCCEEDED, {"id": record_id}
    saga = SagaState(id=uuid.uuid4(), flow=ZOHO_SALE.name, input={}, steps=steps,
                     status=SagaStatus.SUCCEEDED, message_id="m-1", reply_to="queue:x",
                     finished_at=datetime.now(UTC))  # fmt: skip
    body = result_body(saga, ZOHO_SALE)
    assert valid("salesaga.result", body)
    assert not valid("salesaga.result", {**body, "status": "running"})
    entry = {"task": CREATE_SALES, "message": json.dumps({**ORDER, "message_id": "m"})}
    assert valid("salesaga.stream-entry", entry)
    assert not valid("salesaga.stream-entry", {"task": CREATE_SALES})
