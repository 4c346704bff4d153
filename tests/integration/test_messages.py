"""Queue messages in (orchestrator/messaging): validated as the HTTP API validates, one saga per
message id, dead letters with the reason, replay after a fix — on PostgreSQL and the sandbox.
The last tests run a Celery worker on Redis database 13 and send it messages it cannot decode."""

from __future__ import annotations

import asyncio
import json
import pickle
import time
import uuid
from dataclasses import dataclass

import pytest
import redis
from kombu import Connection
from prometheus_client import REGISTRY

from orchestrator.api.schemas import CreateSalesRequest
from orchestrator.bootstrap import Deps, build_deps
from orchestrator.messaging.contract import (
    CREATE_SALES,
    REUSED,
    START_SAGA,
    Message,
    message_key,
)
from orchestrator.messaging.intake import (
    DeadLettered,
    ReplayRefused,
    Started,
    accept,
    replay,
)
from orchestrator.messaging.store import DeadLetterStatus, list_dead_letters, load_dead_letter
from orchestrator.saga.state import SagaStatus
from orchestrator.settings import Settings
from orchestrator.store.db import create_schema, make_engine
from orchestrator.store.queries import saga_detail
from tests.conftest import REDIS_URL, migrated_database
from tests.zoho_sandbox import RunningSandbox, running_sandbox
from workers.embedded import embedded_worker

CONTACT_ID = "550428000008877665"
P1, P2 = "550428000000111222", "550428000000333444"
ORDER = {"contactId": CONTACT_ID, "products": [{"productId": P1, "quantity": 2}]}
REDIS_13 = REDIS_URL.rsplit("/", 1)[0] + "/13"


@dataclass
class Rig:
    deps: Deps
    sandbox: RunningSandbox

    def live(self, module: str) -> list[dict]:
        return [r for r in self.sandbox.state.records(module) if "seed" not in r["_meta"]]

    @property
    def inbox(self):
        """Messages in through the intake; these tests advance the sagas themselves."""
        return self.deps.inbox(lambda saga_id, delay_s=0.0: None)


def settings_for(database_url: str, sandbox: RunningSandbox, tmp_path, **extra) -> Settings:
    return Settings(
        database_url=database_url,
        crms={"zoho": sandbox.settings()},
        mail_backend="sink",
        mail_sink_dir=str(tmp_path / "mail"),
        retry_base_s=0.05,
        retry_cap_s=0.3,
        **extra,
    )


@pytest.fixture
async def rig(own_pg_url, tmp_path):
    with running_sandbox() as sandbox:
        deps = await build_deps(settings_for(own_pg_url, sandbox, tmp_path))
        yield Rig(deps, sandbox)
        await deps.aclose()


def sale(message_id: str | None = None, **changes) -> Message:
    body = {**ORDER, **changes}
    if message_id is not None:
        body["message_id"] = message_id
    return Message(CREATE_SALES, body)


def new_id() -> str:
    return f"order-{uuid.uuid4()}"


async def run_to_end(deps: Deps, saga_id: uuid.UUID):
    while (wakeup := await deps.engine.advance(saga_id)) is not None:
        await asyncio.sleep(wakeup.after_s)
    return await deps.store.load(saga_id)


def dead_letters_counted(source: str) -> float:
    value = REGISTRY.get_sample_value("salesaga_dead_letters_total", {"source": source})
    return value or 0.0


BAD_SALES = [
    ({**ORDER}, "message_id is required"),
    ({**ORDER, "message_id": "has space"}, "message_id must be 1 to 255 visible ASCII characters"),
    ({**ORDER, "message_id": "x" * 256}, "message_id must be 1 to 255 visible ASCII characters"),
    ({"products": ORDER["products"], "message_id": "m"}, "contactId is required"),
    ({**ORDER, "products": [], "message_id": "m"}, "products must contain at least one product"),
    (
        {**ORDER, "products": [{"productId": P1, "quantity": 0}], "message_id": "m"},
        "products[0].quantity must be a positive integer",
    ),
    (
        {**ORDER, "products": [{"productId": P1, "quantity": "2"}], "message_id": "m"},
        "products[0].quantity must be an integer",
    ),
    (
        {**ORDER, "message_id": "m", "reply_to": 7},
        "reply_to must be a string of 1 to 255 characters",
    ),
]


@pytest.mark.parametrize(("body", "reason"), BAD_SALES)
async def test_an_invalid_create_sales_message_is_a_dead_letter_naming_the_field(rig, body, reason):
    source = f"celery:{CREATE_SALES}"
    counted = dead_letters_counted(source)

    outcome = await accept(rig.inbox, Message(CREATE_SALES, body))

    assert outcome == DeadLettered(outcome.dead_letter_id, reason)
    assert outcome.body() == {"status": "dead_letter", "deadLetterId": outcome.dead_letter_id,
                              "reason": reason}  # fmt: skip
    letter = await load_dead_letter(rig.deps.db, outcome.dead_letter_id)
    assert (letter.source, letter.reason, letter.status) == (source, reason, DeadLetterStatus.NEW)
    assert json.loads(letter.payload) == body  # kept as sent
    sent_id = body.get("message_id")
    assert letter.message_id == (
        sent_id if isinstance(sent_id, str) and len(sent_id) <= 255 else None
    )
    assert dead_letters_counted(source) == counted + 1
    assert rig.live("Deals") == []


BAD_STARTS = [
    ({"input": ORDER}, "flow is required"),
    ({"flow": "zoho.refund", "input": ORDER}, "flow must be one of: zoho.sale (got 'zoho.refund')"),
    ({"flow": "zoho.sale"}, "input is required"),
    ({"flow": "zoho.sale", "input": [ORDER]}, "input must be an object"),
    (
        {"flow": "zoho.sale", "input": {"products": ORDER["products"]}},
        "input.contactId is required",
    ),
    (
        {
            "flow": "zoho.sale",
            "input": {**ORDER, "products": [{"productId": "P 1", "quantity": 1}]},
        },
        "input.products[0].productId must contain only letters, digits, '-' and '_'",
    ),
]


@pytest.mark.parametrize(("body", "reason"), BAD_STARTS)
async def test_an_invalid_start_saga_message_is_a_dead_letter_naming_the_field(rig, body, reason):
    body = {**body, "message_id": new_id()}
    outcome = await accept(rig.inbox, Message(START_SAGA, body))
    assert isinstance(outcome, DeadLettered)
    assert outcome.reason == reason
    letter = await load_dead_letter(rig.deps.db, outcome.dead_letter_id)
    assert (letter.source, letter.message_id) == (f"celery:{START_SAGA}", body["message_id"])


async def test_positional_arguments_are_a_dead_letter_kept_with_them(rig):
    outcome = await accept(rig.inbox, Message(CREATE_SALES, {}, (ORDER,)))
    assert outcome.reason.startswith("positional arguments are not accepted")
    letter = await load_dead_letter(rig.deps.db, outcome.dead_letter_id)
    assert json.loads(letter.payload) == {"args": [ORDER], "kwargs": {}}


async def test_one_message_id_starts_one_saga_whatever_the_key_order(rig):
    message_id = new_id()
    first = await accept(rig.inbox, sale(message_id))
    reordered = Message(CREATE_SALES, {"message_id": message_id, "products": ORDER["products"],
                                       "contactId": CONTACT_ID})  # fmt: skip
    again = await accept(rig.inbox, reordered)
    as_flow = await accept(rig.inbox, Message(START_SAGA, {"flow": "zoho.sale", "input": ORDER,
                                                          "message_id": message_id}))  # fmt: skip

    assert isinstance(first, Started) and not first.duplicate
    assert again == as_flow == Started(first.saga_id, duplicate=True, live=True)
    assert again.body() == {"sagaId": str(first.saga_id), "status": "duplicate"}
    saga = await run_to_end(rig.deps, first.saga_id)
    assert saga.status is SagaStatus.SUCCEEDED
    assert saga.idempotency_key == message_key(message_id)
    finished = await accept(rig.inbox, sale(message_id))
    assert finished == Started(first.saga_id, duplicate=True, live=False)
    assert [len(rig.live(m)) for m in ("Deals", "Quotes", "Sales_Orders")] == [1, 1, 1]


async def test_a_message_id_reused_with_another_body_is_a_dead_letter(rig):
    message_id = new_id()
    first = await accept(rig.inbox, sale(message_id))
    other = sale(message_id, products=[{"productId": P2, "quantity": 9}])

    outcome = await accept(rig.inbox, other)
    redelivered = await accept(rig.inbox, other)

    assert isinstance(first, Started)
    assert isinstance(outcome, DeadLettered) and outcome.reason == REUSED
    assert redelivered == outcome  # the same message again: the same dead letter, not a second
    letters = await list_dead_letters(rig.deps.db)
    assert [letter.message_id for letter in letters].count(message_id) == 1


async def test_message_ids_never_meet_http_idempotency_keys(rig):
    message_id = new_id()
    order = CreateSalesRequest.model_validate(ORDER).to_sale()
    for http_key in (message_id, f"msg:{message_id}"):
        await rig.deps.engine.start("zoho.sale", order, idempotency_key=http_key)
    outcome = await accept(rig.inbox, sale(message_id))
    assert isinstance(outcome, Started) and not outcome.duplicate
    assert " " in message_key(message_id)  # an HTTP Idempotency-Key has no space
    assert len(message_key("x" * 255)) <= 255


async def test_reply_to_is_kept_in_the_saga_event_log(rig):
    message_id = new_id()
    outcome = await accept(rig.inbox, sale(message_id, reply_to="orders.replies"))
    detail = await saga_detail(rig.deps.db, outcome.saga_id)
    received = [e for e in detail.events if e["kind"] == "message.received"]
    assert len(received) == 1
    assert received[0]["actor"] == f"celery:{CREATE_SALES}"
    assert received[0]["detail"] == {"messageId": message_id, "replyTo": "orders.replies"}


async def test_replay_after_a_fix_starts_the_saga_once(rig):
    message_id = new_id()
    bad = sale(message_id, products=[{"productId": P1, "quantity": 0}])
    letter_id = (await accept(rig.inbox, bad)).dead_letter_id

    with pytest.raises(ReplayRefused, match=r"still invalid: products\[0\]\.quantity must be a"):
        await replay(rig.inbox, letter_id, actor="cli:test")
    with pytest.raises(ReplayRefused, match="not JSON"):
        await replay(rig.inbox, letter_id, actor="cli:test", fixed_payload="{oops")
    fixed = json.dumps({**bad.kwargs, "products": [{"productId": P1, "quantity": 1}]})
    started = await replay(rig.inbox, letter_id, actor="cli:test", fixed_payload=fixed)

    assert isinstance(started, Started) and not started.duplicate
    letter = await load_dead_letter(rig.deps.db, letter_id)
    assert (letter.status, letter.replay_saga_id) == (DeadLetterStatus.REPLAYED, started.saga_id)
    assert letter.replayed_at is not None
    with pytest.raises(ReplayRefused, match="replayed already"):
        await replay(rig.inbox, letter_id, actor="cli:test", fixed_payload=fixed)
    assert (await run_to_end(rig.deps, started.saga_id)).status is SagaStatus.SUCCEEDED
    assert (await accept(rig.inbox, Message(CREATE_SALES, json.loads(fixed)))).duplicate
    assert [len(rig.live(m)) for m in ("Deals", "Quotes", "Sales_Orders")] == [1, 1, 1]


async def test_replay_of_an_unknown_dead_letter_is_refused(rig):
    with pytest.raises(ReplayRefused, match="no dead letter 999999"):
        await replay(rig.inbox, 999999, actor="cli:test")


# --- through a real worker: messages Celery itself cannot decode ---------------------------


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    client = redis.Redis.from_url(REDIS_13)
    client.flushdb()
    client.close()
    with migrated_database() as url, running_sandbox() as sandbox:
        settings = settings_for(url, sandbox, tmp_path_factory.mktemp("w"), broker_url=REDIS_13)
        with embedded_worker(settings, concurrency=2, sweeps=False):
            yield settings


def publish_raw(body: bytes, content_type: str, task: str = CREATE_SALES) -> None:
    headers = {"lang": "py", "task": task, "id": str(uuid.uuid4()), "retries": 0}
    with Connection(REDIS_13) as conn:
        conn.Producer().publish(body, routing_key="celery", exchange="", headers=headers,
                                content_type=content_type, content_encoding="utf-8")  # fmt: skip


async def wait_for_dead_letters(database_url: str, count: int, timeout_s: float = 15.0):
    db = make_engine(database_url)
    await create_schema(db)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            letters = await list_dead_letters(db)
            if len(letters) >= count or time.monotonic() > deadline:
                return letters
            await asyncio.sleep(0.1)
    finally:
        await db.dispose()


async def test_undecodable_messages_become_dead_letters(worker):
    publish_raw(b'{"contactId": "550428000008877665", ', "application/json")
    publish_raw(pickle.dumps(((), ORDER, {})), "application/x-python-serialize", task=START_SAGA)

    letters = await wait_for_dead_letters(worker.database_url, 2)

    by_source = {letter.source: letter for letter in letters}
    assert set(by_source) == {f"celery:{CREATE_SALES}", f"celery:{START_SAGA}"}
    broken = by_source[f"celery:{CREATE_SALES}"]
    assert broken.reason.startswith("the message could not be read: DecodeError")
    assert "contactId" in broken.payload  # the raw body, as its repr
    refused = by_source[f"celery:{START_SAGA}"]
    assert refused.reason.startswith("the message could not be read: ContentDisallowed")
    assert broken.message_id is None and broken.status is DeadLetterStatus.NEW


@pytest.mark.parametrize(
    "body",
    [b'{"contactId": "550428000008877665"}', b'[[1], "not kwargs", {}]', b'[[], {"a": 1}]'],
)
async def test_json_that_is_not_a_task_message_is_a_dead_letter_not_a_dead_worker(worker, body):
    before = len(await wait_for_dead_letters(worker.database_url, 0))
    publish_raw(body, "application/json")
    letters = await wait_for_dead_letters(worker.database_url, before + 1)
    assert len(letters) == before + 1
    assert letters[0].payload == repr(body)
    assert letters[0].reason.startswith("the message could not be read: InvalidTaskError")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            b'[[], {"contactId": ' + b"[" * 5000 + b"]" * 5000 + b"}, {}]",
            "DecodeError: maximum recursion depth exceeded",
        ),
        (b'[[], {"contactId": ' + b"7" * 5000 + b"}, {}]", "DecodeError: Exceeds the limit"),
        (b'[[], {"contactId": 1e999, "message_id": "m-1e999"}, {}]', "contactId must be"),
    ],
    ids=["nested-5000-deep", "5000-digit-integer", "1e999"],
)
async def test_hostile_json_in_a_task_message_is_a_dead_letter_not_a_dead_worker(worker, body, why):
    """Issue 22 finding 1 for Celery messages: kombu decodes the body before our task runs; what
    it cannot decode, or decodes into what no flow takes, is a dead letter with the reason (and
    the worker goes on: the test after this one)."""
    before = len(await wait_for_dead_letters(worker.database_url, 0))
    publish_raw(body, "application/json")
    letters = await wait_for_dead_letters(worker.database_url, before + 1)
    assert len(letters) == before + 1
    assert why in letters[0].reason, letters[0].reason


def test_after_those_the_worker_still_answers_with_the_saga_id(worker):
    from workers.celery_app import app

    message = {**ORDER, "message_id": new_id()}
    result = app.send_task(CREATE_SALES, kwargs=message).get(timeout=10)
    assert result["status"] == "accepted"
    assert uuid.UUID(result["sagaId"])
