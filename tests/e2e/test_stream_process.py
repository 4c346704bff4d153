"""`salesaga consume` as its own process beside a `salesaga worker` process: entries added before
any consumer ever ran are read (the group starts at the stream's first entry), sales are made,
replies come on the producer's stream, and SIGTERM stops the consumer cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid

import redis

from tests.conftest import REDIS_URL, scratch_database
from tests.e2e.conftest import ORDER
from tests.e2e.test_message_producer import ONE_SALE
from tests.processes import BIN, clean_env, die_with_parent, stop
from tests.zoho_sandbox import running_sandbox

REDIS_10 = REDIS_URL.rsplit("/", 1)[0] + "/10"


def test_the_consume_command_takes_entries_written_before_it_started(tmp_path):
    client = redis.Redis.from_url(REDIS_10)
    client.flushdb()
    ids = [f"order-{uuid.uuid4()}" for _ in range(3)]
    for message_id in ids:  # written while no consumer, no group exists
        message = {**ORDER, "message_id": message_id, "reply_to": "erp:results"}
        client.xadd("salesaga:requests", {"message": json.dumps(message)})
    with scratch_database() as database_url, running_sandbox() as sandbox:
        env = clean_env(DATABASE_URL=database_url, BROKER_URL=REDIS_10,
                        CELERY_QUEUE=f"salesaga-{uuid.uuid4().hex[:8]}",
                        ZOHO_ACCOUNTS_URL=sandbox.url, ZOHO_API_DOMAIN=sandbox.url,
                        MAIL_BACKEND="sink", MAIL_SINK_DIR=str(tmp_path / "mail"),
                        STREAM_BLOCK_S="0.5", LOG_JSON="true")  # fmt: skip
        with (tmp_path / "processes.log").open("w") as log:
            procs = [subprocess.Popen([str(BIN / "salesaga"), *command], cwd=tmp_path, env=env,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      preexec_fn=die_with_parent)
                     for command in (["worker", "--concurrency", "2", "--no-beat"],
                                     ["consume"])]  # fmt: skip
            try:
                got: dict[str, dict] = {}
                last = "0"
                while len(got) < 3:
                    answer = client.xread({"erp:results": last}, count=10, block=60_000)
                    assert answer, (tmp_path / "processes.log").read_text()[-3000:]
                    for entry_id, fields in answer[0][1]:
                        last = entry_id
                        reply = json.loads(fields[b"reply"])
                        got[reply["messageId"]] = reply
                consumer = procs[1]
                consumer.send_signal(signal.SIGTERM)
                assert consumer.wait(timeout=20) == 0
            finally:
                stop(procs)
        assert sorted(got) == sorted(ids)
        assert {reply["status"] for reply in got.values()} == {"succeeded"}
        live = {module: len([r for r in sandbox.state.records(module) if "seed" not in r["_meta"]])
                for module in ONE_SALE}  # fmt: skip
        assert live == dict.fromkeys(ONE_SALE, 3)
        pending = client.xpending("salesaga:requests", "salesaga")["pending"]
        assert pending == 0
    client.close()
