"""Plain JSON requests on a Redis Stream (orchestrator/messaging/stream_consumer.py) and replies
(orchestrator/messaging/replies.py): the real Redis (database 12), PostgreSQL and the sandbox.

Sagas are run to their end by the test (no worker consumes the dispatches, which are recorded)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid

import pytest
import redis
import redis.asyncio as aioredis
from kombu import Connection
from prometheus_client import REGISTRY

from orchestrator.bootstrap import build_deps
from orchestrator.messaging.intake import replay
from orchestrator.messaging.store import DeadLetterStatus, list_dead_letters, load_dead_letter
from orchestrator.messaging.stream_consumer import StreamConfig, StreamConsumer
from orchestrator.saga.ports import StoreUnavailable
from orchestrator.saga.state import SagaStatus
from orchestrator.store.db import make_engine
from orchestrator.store.queries import saga_detail
from orchestrator.store.sql_store import SqlSagaStore
from tests.conftest import REDIS_URL
from tests.integration.test_messages import ORDER, P1, run_to_end, settings_for
from tests.zoho_sandbox import running_sandbox

REDIS_12 = REDIS_URL.rsplit("/", 1)[0] + "/12"
STREAM = "salesaga:requests"


class StreamRig:
    def __init__(self, deps, sandbox, client):
        self.deps, self.sandbox, self.client = deps, sandbox, client
        self.dispatched: list[uuid.UUID] = []

    def consumer(self, name: str = "c1", deps=None, **config) -> StreamConsumer:
        settings = {"stream": STREAM, "consumer": name, "block_s": 0.05, **config}
        inbox = (deps or self.deps).inbox(self.dispatched.append)
        return StreamConsumer(self.client, inbox, StreamConfig(**settings))

    async def add(self, message: dict | str, **fields) -> str:
        text = message if isinstance(message, str) else json.dumps(message)
        entry = await self.client.xadd(STREAM, {"message": text, **fields})
        return entry.decode()

    async def pending(self) -> int:
        return (await self.client.xpending(STREAM, "salesaga"))["pending"]

    def live(self, module: str) -> list[dict]:
        return [r for r in self.sandbox.state.records(module) if "seed" not in r["_meta"]]


@pytest.fixture
async def rig(own_pg_url, tmp_path):
    redis.Redis.from_url(REDIS_12).flushdb()
    client = aioredis.from_url(REDIS_12)
    with running_sandbox() as sandbox:
        settings = settings_for(own_pg_url, sandbox, tmp_path, broker_url=REDIS_12)
        deps = await build_deps(settings)
        yield StreamRig(deps, sandbox, client)
        await deps.aclose()
    await client.aclose()


def order(**changes) -> dict:
    return {**ORDER, "message_id": f"order-{uuid.uuid4()}", **changes}


async def test_a_valid_entry_starts_its_saga_and_is_acked_after_commit(rig):
    message = order(reply_to="orders.replies")
    await rig.add(message)
    consumer = rig.consumer()

    assert await consumer.poll_once() == 1

    [saga_id] = rig.dispatched
    assert await rig.pending() == 0
    detail = await saga_detail(rig.deps.db, saga_id)
    [received] = [e for e in detail.events if e["kind"] == "message.received"]
    assert received["actor"] == f"redis:{STREAM}"
    assert received["detail"]["messageId"] == message["message_id"]

    saga = await run_to_end(rig.deps, saga_id)
    assert saga.status is SagaStatus.SUCCEEDED
    # a bare reply_to on a stream message names a stream: the result is there, once
    [[_, entries]] = await rig.client.xread({"orders.replies": "0"})
    [(_, fields)] = entries
    reply = json.loads(fields[b"reply"])
    assert (reply["sagaId"], reply["messageId"], reply["status"]) == (
        str(saga_id), message["message_id"], "succeeded")  # fmt: skip
    assert [(r["type"], r["state"]) for r in reply["records"]] == [
        ("Deal", "kept"), ("Quote", "kept"), ("Sales Order", "kept")]  # fmt: skip
    assert {r["id"] for r in reply["records"]} == {r["id"] for m in
        ("Deals", "Quotes", "Sales_Orders") for r in rig.live(m)}  # fmt: skip
    assert reply["error"] is None


async def test_the_same_message_twice_starts_one_saga(rig):
    message = order()
    await rig.add(message)
    await rig.add(message)
    before = {outcome: counted(outcome) for outcome in ("accepted", "duplicate")}
    await rig.consumer().poll_once()

    assert len(set(rig.dispatched)) == 1
    assert await rig.pending() == 0
    assert {outcome: counted(outcome) - before[outcome] for outcome in before} == {
        "accepted": 1, "duplicate": 1}  # fmt: skip


def counted(outcome: str) -> float:
    labels = {"source": f"redis:{STREAM}", "outcome": outcome}
    return REGISTRY.get_sample_value("salesaga_messages_total", labels) or 0.0


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"message": "{not json"}, "message is not JSON"),
        ({"body": "{}"}, "message is required"),
        (
            {"message": json.dumps(order(products=[{"productId": P1, "quantity": "2"}]))},
            "products[0].quantity must be an integer",
        ),
        ({"message": json.dumps(order()), "task": "salesaga.nope"}, "unknown task"),
        ({"message": json.dumps(order(reply_to="callback"))}, "no REPLY_CALLBACK_URL is set"),
        ({"message": json.dumps(order(reply_to="two words"))}, "reply_to must be callback"),
    ],
)
async def test_a_bad_entry_is_a_dead_letter_with_the_reason_and_acked(rig, fields, reason):
    await rig.client.xadd(STREAM, fields)
    await rig.consumer().poll_once()

    assert rig.dispatched == [] and await rig.pending() == 0
    [letter] = await list_dead_letters(rig.deps.db)
    assert letter.source == f"redis:{STREAM}"
    assert reason in letter.reason
    assert json.loads(letter.payload) == fields


async def test_a_dead_letter_from_the_stream_is_replayed_after_a_fix(rig):
    bad = order(products=[{"productId": P1, "quantity": 0}], reply_to="queue:orders.replies")
    await rig.add(bad)
    await rig.consumer().poll_once()
    [letter] = await list_dead_letters(rig.deps.db)

    fixed = {"message": json.dumps({**bad, "products": [{"productId": P1, "quantity": 1}]})}
    started = await replay(
        rig.deps.inbox(rig.dispatched.append),
        letter.id,
        actor="cli:test",
        fixed_payload=json.dumps(fixed),
    )

    assert (await load_dead_letter(rig.deps.db, letter.id)).status is DeadLetterStatus.REPLAYED
    assert (await run_to_end(rig.deps, started.saga_id)).status is SagaStatus.SUCCEEDED
    # queue: on a stream message: the reply goes to the broker queue (kombu, as a producer reads)
    with Connection(REDIS_12) as conn, conn.SimpleQueue("orders.replies") as replies:
        message = replies.get(timeout=5)
        message.ack()
    assert (message.payload["sagaId"], message.payload["status"]) == (
        str(started.saga_id), "succeeded")  # fmt: skip


async def test_an_entry_left_pending_by_a_dead_consumer_is_claimed_and_started_once(rig):
    message = order()
    await rig.add(message)
    # consumer A reads it and dies before acking (a crash after the commit or before it)
    await rig.consumer("dead-a").ensure_group()
    await rig.client.xreadgroup("salesaga", "dead-a", {STREAM: ">"}, count=10)
    assert await rig.pending() == 1
    patient = rig.consumer("b", claim_idle_s=60)
    assert await patient.poll_once() == 0  # not idle long enough: not taken from A yet

    await asyncio.sleep(0.3)
    assert await rig.consumer("b", claim_idle_s=0.2).poll_once() == 1
    assert await rig.pending() == 0
    [saga_id] = rig.dispatched
    await rig.add(message)  # and if A had committed it, a second reading starts nothing new
    await rig.consumer("b").poll_once()
    assert set(rig.dispatched) == {saga_id}
    assert await rig.pending() == 0


async def test_with_the_database_down_the_entry_stays_pending_until_it_is_back(rig, tmp_path):
    await rig.add(order())
    dead = make_engine("postgresql://nobody@127.0.0.1:1/none")
    store = SqlSagaStore(dead)
    engine = dataclasses.replace(rig.deps.engine, store=store)
    down = dataclasses.replace(rig.deps, db=dead, store=store, engine=engine)
    with pytest.raises(StoreUnavailable):
        await rig.consumer("a", deps=down).poll_once()
    await dead.dispose()
    assert await rig.pending() == 1 and rig.dispatched == []

    await asyncio.sleep(0.3)
    assert await rig.consumer("b", claim_idle_s=0.2).poll_once() == 1
    assert await rig.pending() == 0 and len(rig.dispatched) == 1
