"""Sales started by queue message, from separate producer processes that import nothing from
salesaga: tests/producer/produce.py (only `celery`) and tests/producer/produce_stream.py (only
`redis`, the Redis Stream) → the shared e2e service's embedded worker and stream consumer on
Redis → PostgreSQL and the Zoho sandbox → a reply on the producer's queue / stream; a malformed
message → a dead letter → `salesaga messages replay`."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL
from tests.e2e.conftest import ORDER, Service
from tests.processes import BIN, clean_env
from tests.zoho_sandbox import zoho_env

PRODUCER = Path(__file__).parents[1] / "producer" / "produce.py"
STREAM_PRODUCER = PRODUCER.with_name("produce_stream.py")
BROKER = REDIS_URL  # the broker of the shared e2e service (tests/e2e/conftest.py)
ONE_SALE = {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}


def produce(
    task: str, body: dict, *, message_id: str | None, times: int = 1, broker: str = BROKER,
    backend: str | None = None, queue: str = "celery", reply_queue: str | None = None,
) -> list[dict]:  # fmt: skip
    """Run the producer as its own process with the venv's python, isolated from this project."""
    command = [BIN / "python", "-I", PRODUCER, "--broker", broker, "--task", task,
               "--body", json.dumps(body), "--times", str(times), "--queue", queue]  # fmt: skip
    if message_id is not None:
        command += ["--message-id", message_id]
    if backend is not None:
        command += ["--backend", backend]
    if reply_queue is not None:
        command += ["--reply-queue", reply_queue]
    return run_producer(command)


def produce_on_stream(*args: str) -> list[dict]:
    return run_producer([BIN / "python", "-I", STREAM_PRODUCER, "--redis", BROKER, *args])


def run_producer(command: list) -> list[dict]:
    done = subprocess.run(list(map(str, command)), cwd=PRODUCER.parent, capture_output=True,
                          text=True, timeout=120, env=clean_env())  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def salesaga(svc: Service, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return salesaga_with(svc.settings.database_url, BROKER, svc.sandbox.url, *args, cwd=cwd)


def salesaga_with(
    database_url: str, broker: str, sandbox_url: str, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = clean_env(DATABASE_URL=database_url, BROKER_URL=broker,
                    **zoho_env(sandbox_url),
                    MAIL_BACKEND="sink", LOG_JSON="false")  # fmt: skip
    return subprocess.run([str(BIN / "salesaga"), "messages", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}  # fmt: skip
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}  # fmt: skip
    return imported


def test_the_producers_need_nothing_but_celery_or_redis():
    assert imports_of(PRODUCER) == {"__future__", "argparse", "json", "sys", "celery"}
    assert imports_of(STREAM_PRODUCER) == {"__future__", "argparse", "json", "sys", "redis"}


def records_of(svc: Service) -> set[str]:
    return {r["id"] for module in ("Deals", "Quotes", "Sales_Orders") for r in svc.live(module)}


def test_a_celery_message_with_reply_to_gets_the_result_on_that_queue(svc):
    message_id = f"order-{uuid.uuid4()}"
    reply_queue = f"replies-{uuid.uuid4().hex[:8]}"
    [result, answer] = produce("salesaga.create_sales", ORDER, message_id=message_id,
                               reply_queue=reply_queue)  # fmt: skip
    reply = answer["reply"]

    assert result["status"] == "accepted"
    assert (reply["sagaId"], reply["messageId"], reply["status"]) == (
        result["sagaId"], message_id, "succeeded")  # fmt: skip
    assert {r["id"] for r in reply["records"]} == records_of(svc)
    assert svc.left_in_crm() == ONE_SALE


def test_a_stream_entry_starts_the_sale_and_the_reply_comes_on_the_reply_stream(svc):
    message_id = f"order-{uuid.uuid4()}"
    replies = f"replies:{uuid.uuid4().hex[:8]}"
    message = json.dumps({**ORDER, "message_id": message_id, "reply_to": replies})

    lines = produce_on_stream("--message", message, "--times", "2", "--replies", replies)

    entries, [answer] = lines[:2], lines[2:]
    reply = answer["reply"]
    assert all("entry" in line for line in entries)
    assert (reply["messageId"], reply["status"]) == (message_id, "succeeded")
    assert svc.saga(reply["sagaId"])["status"] == "succeeded"
    assert svc.left_in_crm() == ONE_SALE  # the entry added twice made one sale
    assert {r["id"] for r in reply["records"]} == records_of(svc)


def test_a_malformed_stream_entry_is_a_dead_letter_replayed_after_a_fix(svc, tmp_path):
    message_id = f"order-{uuid.uuid4()}"
    bad = {**ORDER, "products": "all of them", "message_id": message_id}
    produce_on_stream("--task", "salesaga.create_sales", "--message", json.dumps(bad))

    letter = wait_for_dead_letter(svc, message_id, tmp_path)
    assert letter["source"] == "redis:salesaga:requests"
    assert letter["reason"] == "products must be an array"
    fields = json.loads(letter["payload"])
    assert json.loads(fields["message"]) == bad
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**fields, "message": json.dumps({**bad, **ORDER})}))
    replayed = salesaga(svc, "replay", str(letter["id"]), "--payload-file", str(fixed), "--json",
                        cwd=tmp_path)  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    saga_id = json.loads(replayed.stdout)["sagaId"]
    assert svc.wait_for_status(saga_id, "succeeded")["status"] == "succeeded"
    assert svc.left_in_crm() == ONE_SALE


def wait_for_dead_letter(svc: Service, message_id: str, cwd: Path, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        listed = salesaga(svc, "dead-letters", "--json", cwd=cwd)
        assert listed.returncode == 0, listed.stderr
        found = [item for item in json.loads(listed.stdout) if item["messageId"] == message_id]
        if found or time.monotonic() > deadline:
            assert found, f"no dead letter for {message_id}"
            return found[0]
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("task", "body"),
    [
        ("salesaga.create_sales", ORDER),
        ("salesaga.start_saga", {"flow": "zoho.sale", "input": ORDER}),
    ],
)
def test_a_valid_message_answers_with_the_saga_id_and_the_sale_is_made(svc, task, body):
    [result] = produce(task, body, message_id=f"order-{uuid.uuid4()}")

    assert result["status"] == "accepted"
    saga = svc.wait_for_status(result["sagaId"], "succeeded")
    assert saga["status"] == "succeeded"
    assert svc.left_in_crm() == ONE_SALE


def test_the_same_message_sent_twice_makes_one_sale(svc):
    results = produce("salesaga.create_sales", ORDER, message_id=f"order-{uuid.uuid4()}", times=2)

    assert sorted(r["status"] for r in results) == ["accepted", "duplicate"]
    assert len({r["sagaId"] for r in results}) == 1
    assert svc.wait_for_status(results[0]["sagaId"], "succeeded")["status"] == "succeeded"
    assert svc.left_in_crm() == ONE_SALE


def test_a_malformed_message_is_a_dead_letter_replayed_after_a_fix(svc, tmp_path):
    message_id = f"order-{uuid.uuid4()}"
    bad = {**ORDER, "products": [{"productId": ORDER["products"][0]["productId"], "quantity": 0}]}
    [result] = produce("salesaga.create_sales", bad, message_id=message_id)

    reason = "products[0].quantity must be a positive integer"
    assert result == {"status": "dead_letter", "deadLetterId": result["deadLetterId"],
                      "reason": reason}  # fmt: skip
    letter_id = str(result["deadLetterId"])
    listed = salesaga(svc, "dead-letters", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [letter] = [item for item in json.loads(listed.stdout) if str(item["id"]) == letter_id]
    assert (letter["messageId"], letter["reason"], letter["status"]) == (message_id, reason, "new")
    assert json.loads(letter["payload"]) == {**bad, "message_id": message_id}

    as_sent = salesaga(svc, "replay", letter_id, cwd=tmp_path)
    assert as_sent.returncode == 1
    assert reason in as_sent.stderr
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**ORDER, "message_id": message_id}))
    replayed = salesaga(svc, "replay", letter_id, "--payload-file", str(fixed), "--json",
                        cwd=tmp_path)  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    started = json.loads(replayed.stdout)
    assert started["status"] == "accepted"

    assert svc.wait_for_status(started["sagaId"], "succeeded")["status"] == "succeeded"
    assert svc.left_in_crm() == ONE_SALE
    shown = json.loads(salesaga(svc, "show", letter_id, "--json", cwd=tmp_path).stdout)
    assert (shown["status"], shown["replaySagaId"]) == ("replayed", started["sagaId"])


DOC = Path(__file__).parents[2] / "docs" / "messaging.md"
DOC_REDIS = "redis://redis.internal:6379/0"


def doc_block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    [block] = [block for block in blocks if containing in block]
    return block


def test_the_documented_redis_cli_example_makes_a_sale_and_reads_the_reply(svc):
    message_id = f"erp-order-{uuid.uuid4()}"
    script = (doc_block("sh", "redis-cli -u").replace(DOC_REDIS, BROKER)
              .replace("erp-order-2026-0002", message_id)
              .replace("erp:sale-results", f"erp:{message_id}"))  # fmt: skip
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=90)  # fmt: skip
    assert done.returncode == 0, done.stderr
    reply = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    assert (reply["messageId"], reply["status"]) == (message_id, "succeeded")
    assert svc.left_in_crm() == ONE_SALE


def run_documented_python(containing: str, doc_id: str, reply_to: str, tmp_path) -> tuple:
    """Run the docs' Python example with this service's Redis and a new message id; returns
    (the message id, what the example's `answer` and `reply` hold)."""
    message_id = f"erp-order-{uuid.uuid4()}"
    code = (doc_block("python", containing).replace(DOC_REDIS, BROKER).replace(doc_id, message_id)
            .replace(reply_to, f"{reply_to}-{message_id}"))  # fmt: skip
    script = tmp_path / "example.py"
    script.write_text(code + "\nimport json\nprint(json.dumps([globals().get('answer'), reply]))\n")
    [[answer, reply]] = run_producer([BIN / "python", "-I", script])
    return message_id, answer, reply


def test_the_documented_redis_py_example_makes_a_sale_and_reads_the_reply(svc, tmp_path):
    message_id, _, reply = run_documented_python("r.xadd(", "erp-order-2026-0003",
                                                 "erp:sale-results", tmp_path)  # fmt: skip
    assert (reply["messageId"], reply["status"]) == (message_id, "succeeded")
    assert svc.left_in_crm() == ONE_SALE


def test_the_documented_celery_example_makes_a_sale_and_reads_the_reply(svc, tmp_path):
    message_id, answer, reply = run_documented_python("producer.send_task(", "erp-order-2026-0001",
                                                      "erp.sale-results", tmp_path)  # fmt: skip
    assert answer["status"] == "accepted"
    assert (reply["sagaId"], reply["messageId"], reply["status"]) == (
        answer["sagaId"], message_id, "succeeded")  # fmt: skip
    assert svc.left_in_crm() == ONE_SALE
