"""Queue message → reply, end to end: `salesaga serve` (the sandbox), `salesaga worker` and
`salesaga consume` on PostgreSQL and Redis. For each way in — a Celery task message with a reply
queue, a Redis Stream entry with a reply stream — N sales one after the other (send → reply
received), then a burst of B sent at once (send → last reply).

    .venv/bin/python bench/message_roundtrip.py [-n 20] [--burst 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis
from celery import Celery
from create_sales_latency import BIN, ORDER, free_port, processes, scratch_database, wait_up

BENCH_KEY = "bench-client-key-0000"  # at least 20 characters (orchestrator/api/keys.py)

REDIS = "redis://127.0.0.1:6379/7"


def celery_way(app: Celery) -> Callable[[int], None]:
    def send_and_wait(count: int) -> None:
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        for _ in range(count):
            kwargs = {**ORDER, "message_id": str(uuid.uuid4()), "reply_to": queue}
            app.send_task("salesaga.create_sales", kwargs=kwargs, ignore_result=True)
        with app.connection_for_read() as conn, conn.SimpleQueue(queue) as replies:
            for _ in range(count):
                message = replies.get(timeout=120)
                assert message.payload["status"] == "succeeded", message.payload
                message.ack()

    return send_and_wait


def stream_way(client: redis.Redis) -> Callable[[int], None]:
    def send_and_wait(count: int) -> None:
        stream = f"bench:{uuid.uuid4().hex[:8]}"
        for _ in range(count):
            message = {**ORDER, "message_id": str(uuid.uuid4()), "reply_to": stream}
            client.xadd("salesaga:requests", {"message": json.dumps(message)})
        got, last = 0, "0"
        while got < count:
            answer = client.xread({stream: last}, count=count, block=120_000)
            assert answer, "no reply within 120 s"
            for entry_id, fields in answer[0][1]:
                last, got = entry_id, got + 1
                assert json.loads(fields[b"reply"])["status"] == "succeeded"

    return send_and_wait


def timed(run: Callable[[int], None], count: int) -> float:
    started = time.perf_counter()
    run(count)
    return (time.perf_counter() - started) * 1000


def report(name: str, way: Callable[[int], None], n: int, burst: int) -> None:
    way(1)  # warm-up: token, pools, queues
    singles = sorted(timed(way, 1) for _ in range(n))
    p90 = singles[max(0, int(0.9 * n) - 1)]
    print(f"{name}: one message → its reply, x{n}: median {statistics.median(singles):.1f} ms"
          f"   p90 {p90:.1f} ms   min {singles[0]:.1f} ms   max {singles[-1]:.1f} ms")  # fmt: skip
    total = timed(way, burst)
    print(f"{name}: {burst} sent at once → last reply {total / 1000:.2f} s"
          f"   ({burst / (total / 1000):.1f} sales/s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    port = free_port()
    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    # CRM_SANDBOX: the service's built-in sandboxes are the CRMs (no real one is reached).
    env = {**os.environ, "CRM_SANDBOX": "true", "API_KEYS": BENCH_KEY, "PORT": str(port),
           "LOG_LEVEL": "WARNING",
           "MAIL_BACKEND": "sink", "BROKER_URL": REDIS, "CELERY_QUEUE": "celery"}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        env["DATABASE_URL"] = stack.enter_context(scratch_database())
        salesaga = str(BIN / "salesaga")
        commands = [[salesaga, "serve"], [salesaga, "worker", "--concurrency", "2",
                    "--loglevel", "WARNING"], [salesaga, "consume"]]  # fmt: skip
        stack.enter_context(processes(commands, Path(tmp), env))
        wait_up(f"http://127.0.0.1:{port}")
        app = Celery("bench", broker=REDIS)
        print("serve + worker (2 processes) + consume, PostgreSQL, Redis; 4 CRM steps per sale")
        report("celery task", celery_way(app), args.n, args.burst)
        report("redis stream", stream_way(client), args.n, args.burst)
    client.flushdb()


if __name__ == "__main__":
    main()
