"""`salesaga consume` as its own process beside a `salesaga worker` process: entries added before
any consumer ever ran are read (the group starts at the stream's first entry), sales are made,
replies come on the producer's stream, and SIGTERM stops the consumer cleanly; entries a consumer
was holding when it was SIGKILLed (its database cut off) are claimed by another and sold once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid

import redis

from tests.conftest import REDIS_URL, migrated_database
from tests.e2e.conftest import ORDER
from tests.e2e.test_message_producer import ONE_SALE
from tests.processes import BIN, clean_env, die_with_parent, stop
from tests.tcp_proxy import tcp_proxy
from tests.zoho_sandbox import running_sandbox, zoho_env

REDIS_10 = REDIS_URL.rsplit("/", 1)[0] + "/10"
# Above read_replies' XREAD block of 60 s: redis-py 8 gives up on a socket silent for 5 s by
# default, which failed this test whenever the first reply took longer (a slow start-up).
READ_TIMEOUT_S = 90


def test_the_consume_command_takes_entries_written_before_it_started(tmp_path):
    client = redis.Redis.from_url(REDIS_10, socket_timeout=READ_TIMEOUT_S)
    client.flushdb()
    ids = [f"order-{uuid.uuid4()}" for _ in range(3)]
    for message_id in ids:  # written while no consumer, no group exists
        message = {**ORDER, "message_id": message_id, "reply_to": "erp:results"}
        client.xadd("salesaga:requests", {"message": json.dumps(message)})
    with migrated_database() as database_url, running_sandbox() as sandbox:
        env = clean_env(DATABASE_URL=database_url, BROKER_URL=REDIS_10,
                        CELERY_QUEUE=f"salesaga-{uuid.uuid4().hex[:8]}",
                        **zoho_env(sandbox.url),
                        MAIL_BACKEND="sink", MAIL_SINK_DIR=str(tmp_path / "mail"),
                        STREAM_BLOCK_S="0.5", LOG_JSON="true")  # fmt: skip
        with (tmp_path / "processes.log").open("w") as log:
            procs = [subprocess.Popen([str(BIN / "salesaga"), *command], cwd=tmp_path, env=env,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      preexec_fn=die_with_parent)
                     for command in (["worker", "--concurrency", "2", "--no-beat"],
                                     ["consume"])]  # fmt: skip
            try:
                got = read_replies(client, "erp:results", 3, tmp_path / "processes.log")
                consumer = procs[1]
                consumer.send_signal(signal.SIGTERM)
                assert consumer.wait(timeout=20) == 0
            finally:
                stop(procs)
        assert sorted(got) == sorted(ids)
        assert {reply["status"] for reply in got.values()} == {"succeeded"}
        assert sales_in(sandbox) == dict.fromkeys(ONE_SALE, 3)
        pending = client.xpending("salesaga:requests", "salesaga")["pending"]
        assert pending == 0
    client.close()


def wait_until(check, timeout_s: float, what: str, log) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


def test_entries_a_killed_consumer_left_pending_are_claimed_by_another_and_sold_once(tmp_path):
    client = redis.Redis.from_url(REDIS_10, socket_timeout=READ_TIMEOUT_S)
    client.flushdb()
    log = tmp_path / "processes.log"
    with migrated_database() as database_url, running_sandbox() as sandbox, \
            tcp_proxy("127.0.0.1", 5432) as db_link:  # fmt: skip
        env = clean_env(DATABASE_URL=database_url, BROKER_URL=REDIS_10,
                        CELERY_QUEUE=f"salesaga-{uuid.uuid4().hex[:8]}",
                        **zoho_env(sandbox.url),
                        MAIL_BACKEND="sink", MAIL_SINK_DIR=str(tmp_path / "mail"),
                        STREAM_BLOCK_S="0.3", STREAM_CLAIM_IDLE_S="2", LOG_JSON="true")  # fmt: skip
        behind_link = {**env, "DATABASE_URL": database_url.replace(":5432/", f":{db_link.port}/")}

        def spawn(command: list[str], environment: dict[str, str]) -> subprocess.Popen:
            with log.open("a") as out:
                return subprocess.Popen([str(BIN / "salesaga"), *command], cwd=tmp_path,
                                        env=environment, stdout=out, stderr=subprocess.STDOUT,
                                        preexec_fn=die_with_parent)  # fmt: skip

        procs = [spawn(["worker", "--concurrency", "2", "--no-beat"], env),
                 spawn(["consume"], behind_link)]  # fmt: skip
        try:
            wait_until(lambda: client.exists("salesaga:requests"), 30, "consumer A up", log)
            db_link.cut()  # A loses its database: it will read entries and fail to commit them
            ids = [f"order-{uuid.uuid4()}" for _ in range(2)]
            with client.pipeline(transaction=True) as both:  # one read hands A both entries
                for message_id in ids:
                    message = {**ORDER, "message_id": message_id, "reply_to": "erp:results"}
                    both.xadd("salesaga:requests", {"message": json.dumps(message)})
                both.execute()
            wait_until(lambda: client.xpending("salesaga:requests", "salesaga")["pending"] == 2,
                       30, "A holds both entries", log)  # fmt: skip
            procs[1].kill()  # consumer A dies holding them
            procs[1].wait()
            procs.append(spawn(["consume"], env))  # consumer B, with a database
            got = read_replies(client, "erp:results", 2, log)
        finally:
            stop(procs)
        assert sorted(got) == sorted(ids)
        assert {reply["status"] for reply in got.values()} == {"succeeded"}
        assert sales_in(sandbox) == dict.fromkeys(ONE_SALE, 2)
        assert client.xpending("salesaga:requests", "salesaga")["pending"] == 0
    client.close()


def read_replies(client, stream: str, count: int, log) -> dict[str, dict]:
    got: dict[str, dict] = {}
    last = "0"
    while len(got) < count:
        answer = client.xread({stream: last}, count=10, block=60_000)
        assert answer, log.read_text()[-3000:]
        for entry_id, fields in answer[0][1]:
            last = entry_id
            reply = json.loads(fields[b"reply"])
            got[reply["messageId"]] = reply
    return got


def sales_in(sandbox) -> dict[str, int]:
    return {module: len([r for r in sandbox.state.records(module) if "seed" not in r["_meta"]])
            for module in ONE_SALE}  # fmt: skip
