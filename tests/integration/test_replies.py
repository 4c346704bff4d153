"""Replies when a message-started saga ends (orchestrator/messaging/replies.py): POSTed to the
configured callback URL, signed with HMAC-SHA256 of the body, retried until taken; a rolled back
sale's reply names the error and each record's fate. Real PostgreSQL, sandbox and HTTP receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response

from orchestrator.backends.zoho.sandbox.faults import Fault
from orchestrator.bootstrap import build_deps
from orchestrator.messaging.contract import CREATE_SALES, Message
from orchestrator.messaging.intake import Started, accept
from orchestrator.saga.state import SagaStatus
from orchestrator.store.models import OutboxRow
from tests.integration.test_messages import ORDER, Rig, run_to_end, settings_for
from tests.servers import serve_in_thread
from tests.zoho_sandbox import running_sandbox

SECRET = "reply-secret-9d2f-never-logged"


class Receiver:
    """The other service's callback endpoint: answers the scripted statuses, then 204."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.app = FastAPI()
        self.app.get("/healthz")(lambda: {"ok": True})
        self.app.post("/salesaga-results")(self.take)

    async def take(self, request: Request) -> Response:
        self.received.append((await request.body(), dict(request.headers)))
        return Response(status_code=self.answers.pop(0) if self.answers else 204)


@pytest.fixture
def receiver():
    got = Receiver()
    with serve_in_thread(got.app) as url:
        got.url = f"{url}/salesaga-results"
        yield got


@pytest.fixture
async def rig(own_pg_url, tmp_path, receiver):
    with running_sandbox() as sandbox:
        settings = settings_for(own_pg_url, sandbox, tmp_path, reply_callback_url=receiver.url,
                                reply_signing_secret=SECRET, mail_retry_base_s=0.01,
                                mail_retry_cap_s=0.01)  # fmt: skip
        deps = await build_deps(settings)
        yield Rig(deps, sandbox)
        await deps.aclose()


async def started(deps, **changes) -> Started:
    body = {**ORDER, "message_id": f"order-{uuid.uuid4()}", **changes}
    outcome = await accept(deps.inbox(lambda saga_id, delay_s=0.0: None),
                           Message(CREATE_SALES, body))  # fmt: skip
    assert isinstance(outcome, Started)
    return outcome


async def test_the_callback_gets_a_signed_reply_retried_until_taken(rig, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.answers = [503]  # the other service is down for the first try
    saga_id = (await started(rig.deps)).saga_id  # no reply_to: the configured callback

    saga = await run_to_end(rig.deps, saga_id)  # ends; the first delivery is refused
    assert saga.status is SagaStatus.SUCCEEDED and len(receiver.received) == 1
    async with rig.deps.db.connect() as conn:
        row = (await conn.execute(sa.select(OutboxRow.__table__).where(
            OutboxRow.__table__.c.kind == "saga_reply"))).mappings().one()  # fmt: skip
    assert (row["status"], row["last_error"]) == ("pending", "callback answered HTTP 503")

    await asyncio.sleep(0.05)  # the retry's backoff (MAIL_RETRY_BASE_S, here 10 ms)
    assert await rig.deps.outbox.deliver_due() == 1
    assert await rig.deps.outbox.deliver_due() == 0  # taken: never sent again
    first, second = receiver.received
    body, headers = second
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-salesaga-signature"] == f"sha256={expected}"
    assert headers["content-type"] == "application/json"
    assert first[1]["x-salesaga-delivery"] == headers["x-salesaga-delivery"]  # one reply, twice
    reply = json.loads(body)
    assert (reply["sagaId"], reply["status"], reply["succeeded"]) == (
        str(saga_id), "succeeded", True)  # fmt: skip
    assert SECRET not in caplog.text
    assert documented_check()(body, headers["x-salesaga-signature"], SECRET.encode())
    assert not documented_check()(body + b" ", headers["x-salesaga-signature"], SECRET.encode())


def documented_check():
    """The receiver's signature check as docs/messaging.md shows it."""
    doc = (Path(__file__).parents[2] / "docs" / "messaging.md").read_text()
    [code] = [b for b in re.findall(r"```python\n(.*?)```", doc, flags=re.S) if "def genuine" in b]
    scope: dict = {}
    exec(code, scope)
    return scope["genuine"]


async def test_a_rolled_back_sale_replies_with_the_error_and_each_records_fate(rig, receiver):
    refusal = Fault(module="Quotes", operation="create", status=400, code="INVALID_DATA",
                    message="the quote was refused")  # fmt: skip
    rig.sandbox.state.faults.add(refusal)
    saga_id = (await started(rig.deps)).saga_id

    saga = await run_to_end(rig.deps, saga_id)

    assert saga.status is SagaStatus.COMPENSATED
    [(body, _)] = receiver.received
    reply = json.loads(body)
    assert (reply["status"], reply["succeeded"]) == ("compensated", False)
    assert reply["error"]["step"] == "create_quote"
    assert "the quote was refused" in reply["error"]["message"]
    states = [(r["type"], r["state"], r["id"] is not None) for r in reply["records"]]
    assert states == [("Deal", "rolled_back", True), ("Quote", "not_created", False),
                      ("Sales Order", "not_created", False)]  # fmt: skip


async def test_a_signing_secret_is_required_with_a_callback(tmp_path):
    from orchestrator.settings import Settings

    with pytest.raises(ValueError, match="REPLY_SIGNING_SECRET"):
        Settings(reply_callback_url="https://erp.example/hook")
