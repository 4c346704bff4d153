"""Sales started by queue message, from a separate producer process that has only `celery`
(tests/producer/produce.py) → the shared e2e service's embedded worker on Redis → PostgreSQL
and the Zoho sandbox; a malformed message → a dead letter → `salesaga messages replay`."""

from __future__ import annotations

import ast
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL
from tests.e2e.conftest import ORDER, Service
from tests.processes import BIN, clean_env

PRODUCER = Path(__file__).parents[1] / "producer" / "produce.py"
BROKER = REDIS_URL  # the broker of the shared e2e service (tests/e2e/conftest.py)
ONE_SALE = {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}


def produce(task: str, body: dict, *, message_id: str | None, times: int = 1) -> list[dict]:
    """Run the producer as its own process with the venv's python, isolated from this project."""
    command = [BIN / "python", "-I", PRODUCER, "--broker", BROKER, "--task", task,
               "--body", json.dumps(body), "--times", str(times)]  # fmt: skip
    if message_id is not None:
        command += ["--message-id", message_id]
    done = subprocess.run(list(map(str, command)), cwd=PRODUCER.parent, capture_output=True,
                          text=True, timeout=60, env=clean_env())  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def salesaga(svc: Service, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = clean_env(DATABASE_URL=svc.settings.database_url, BROKER_URL=BROKER,
                    ZOHO_ACCOUNTS_URL=svc.sandbox.url, ZOHO_API_DOMAIN=svc.sandbox.url,
                    MAIL_BACKEND="sink", LOG_JSON="false")  # fmt: skip
    return subprocess.run([str(BIN / "salesaga"), "messages", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_the_producer_needs_nothing_but_celery():
    tree = ast.parse(PRODUCER.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}  # fmt: skip
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}  # fmt: skip
    assert imported == {"__future__", "argparse", "json", "sys", "celery"}


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
