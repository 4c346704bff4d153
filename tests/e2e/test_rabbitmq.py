"""The message contract with RabbitMQ as the Celery broker: a `salesaga worker` process on
amqp://, results in Redis (RESULT_BACKEND_URL), PostgreSQL and the Zoho sandbox; the producer is
tests/producer/produce.py (only `celery`), its replies come on a RabbitMQ queue."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, migrated_database
from tests.e2e.conftest import ORDER
from tests.e2e.test_message_producer import ONE_SALE, produce
from tests.processes import BIN, clean_env, die_with_parent, stop
from tests.zoho_sandbox import RunningSandbox, running_sandbox, zoho_env

RABBIT = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
RESULTS = REDIS_URL.rsplit("/", 1)[0] + "/11"


@dataclass
class RabbitService:
    env: dict[str, str]
    queue: str
    sandbox: RunningSandbox
    cwd: Path

    def send(self, body: dict, **kwargs) -> list[dict]:
        return produce("salesaga.create_sales", body, broker=RABBIT, backend=RESULTS,
                       queue=self.queue, **kwargs)  # fmt: skip

    def salesaga(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "salesaga"), *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    def saga(self, saga_id: str, *statuses: str, timeout_s: float = 30) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            shown = self.salesaga("sagas", "show", saga_id, "--json")
            assert shown.returncode == 0, shown.stderr
            saga = json.loads(shown.stdout)
            if saga["status"] in statuses or time.monotonic() > deadline:
                return saga
            time.sleep(0.2)

    def left_in_crm(self) -> dict[str, int]:
        return {module: len([r for r in self.sandbox.state.records(module)
                             if "seed" not in r["_meta"]]) for module in ONE_SALE}  # fmt: skip


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory) -> Iterator[RabbitService]:
    cwd = tmp_path_factory.mktemp("rabbit")
    queue = f"salesaga-rmq-{uuid.uuid4().hex[:8]}"  # this run's own: no stale worker takes it
    with migrated_database() as database_url, running_sandbox() as sandbox:
        env = clean_env(DATABASE_URL=database_url, BROKER_URL=RABBIT, RESULT_BACKEND_URL=RESULTS,
                        CELERY_QUEUE=queue, **zoho_env(sandbox.url), MAIL_BACKEND="sink",
                        MAIL_SINK_DIR=str(cwd / "mail"), RETRY_BASE_S="0.05", RETRY_CAP_S="0.3",
                        LOG_JSON="false")  # fmt: skip
        log_path = cwd / "worker.log"
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [str(BIN / "salesaga"), "worker", "--concurrency", "2", "--no-beat"], cwd=cwd,
                env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
            )  # fmt: skip
            try:
                wait_ready(worker, log_path)
                yield RabbitService(env, queue, sandbox, cwd)
            finally:
                stop([worker])


def wait_ready(worker: subprocess.Popen, log_path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while "ready." not in log_path.read_text():
        assert worker.poll() is None and time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.2)


@pytest.fixture
def rmq(rabbit) -> RabbitService:
    rabbit.sandbox.state.reset()
    return rabbit


def test_a_message_on_rabbitmq_makes_the_sale_and_the_reply_comes_on_a_rabbitmq_queue(rmq):
    message_id = f"order-{uuid.uuid4()}"
    reply_queue = f"replies-{uuid.uuid4().hex[:8]}"
    [result, answer] = rmq.send(ORDER, message_id=message_id, reply_queue=reply_queue)

    assert result["status"] == "accepted"
    reply = answer["reply"]
    assert (reply["sagaId"], reply["messageId"], reply["status"]) == (
        result["sagaId"], message_id, "succeeded")  # fmt: skip
    assert rmq.saga(result["sagaId"], "succeeded")["status"] == "succeeded"
    assert rmq.left_in_crm() == ONE_SALE


def test_the_same_message_twice_on_rabbitmq_makes_one_sale(rmq):
    results = rmq.send(ORDER, message_id=f"order-{uuid.uuid4()}", times=2)

    assert sorted(r["status"] for r in results) == ["accepted", "duplicate"]
    [saga_id] = {r["sagaId"] for r in results}
    assert rmq.saga(saga_id, "succeeded")["status"] == "succeeded"
    assert rmq.left_in_crm() == ONE_SALE


def test_a_malformed_message_on_rabbitmq_is_a_dead_letter_replayed_after_a_fix(rmq):
    message_id = f"order-{uuid.uuid4()}"
    [result] = rmq.send({"contactId": ORDER["contactId"]}, message_id=message_id)

    assert (result["status"], result["reason"]) == ("dead_letter", "products is required")
    letter = json.loads(rmq.salesaga("messages", "show", str(result["deadLetterId"]),
                                     "--json").stdout)  # fmt: skip
    assert (letter["source"], letter["messageId"]) == ("celery:salesaga.create_sales", message_id)
    fixed = rmq.cwd / "fixed.json"
    fixed.write_text(json.dumps({**ORDER, "message_id": message_id}))
    replayed = rmq.salesaga("messages", "replay", str(result["deadLetterId"]),
                            "--payload-file", str(fixed), "--json")  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    saga_id = json.loads(replayed.stdout)["sagaId"]
    assert rmq.saga(saga_id, "succeeded")["status"] == "succeeded"  # dispatched over RabbitMQ
    assert rmq.left_in_crm() == ONE_SALE
