"""Latency of one POST /createSales against the built-in Zoho sandbox: N sequential sales.

    .venv/bin/python bench/create_sales_latency.py               # dev: SQLite, memory broker
    .venv/bin/python bench/create_sales_latency.py --production  # serve + worker, PG + Redis

Starts the service in a temporary directory, sends N sales one after the other, prints the median,
p90, min and max in milliseconds, then stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

BENCH_KEY = "bench-client-key-0000"  # at least 20 characters (orchestrator/api/keys.py)

BIN = Path(sys.executable).parent
ORDER = {"contactId": "550428000008877665",
         "products": [{"productId": "550428000000111222", "quantity": 2},
                      {"productId": "550428000000333444", "quantity": 5}]}  # fmt: skip
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def processes(commands: list[list[str]], cwd: Path, env: dict[str, str]) -> Iterator[None]:
    log = (cwd / "service.log").open("w")
    procs = [subprocess.Popen(c, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
             for c in commands]  # fmt: skip
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    name = f"salesaga_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:  # at the release's schema: serve and worker refuse any other
        subprocess.run([BIN / "salesaga", "db", "upgrade"], env={**os.environ, "DATABASE_URL": url},
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("service did not start")


def measure(url: str, count: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=url, headers={"x-api-key": BENCH_KEY}, timeout=60) as http:
        http.post("/createSales", json=ORDER).raise_for_status()  # warm-up: token, pools
        for _ in range(count):
            started = time.perf_counter()
            response = http.post("/createSales", json=ORDER)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--production", action="store_true", help="PostgreSQL + Redis, 2 processes")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # CRM_SANDBOX: the service's built-in sandboxes are the CRMs (no real one is reached).
    env = {**os.environ, "CRM_SANDBOX": "true", "API_KEYS": BENCH_KEY, "PORT": str(port),
           "LOG_LEVEL": "WARNING",
           "MAIL_BACKEND": "sink"}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if args.production:
            db = stack.enter_context(scratch_database())
            env |= {"DATABASE_URL": db, "BROKER_URL": "redis://127.0.0.1:6379/8"}
            worker = ["worker", "--concurrency", "2", "--loglevel", "WARNING"]
            commands = [[str(BIN / "salesaga"), "serve"], [str(BIN / "salesaga"), *worker]]
        else:
            commands = [[str(BIN / "salesaga"), "dev"]]
        stack.enter_context(processes(commands, Path(tmp), env))
        wait_up(url)
        timings = measure(url, args.n)
    timings.sort()
    mode = (
        "serve+worker, PostgreSQL, Redis" if args.production else "dev: SQLite, in-process broker"
    )
    print(f"POST /createSales x{args.n} ({mode}), 4 CRM steps each against the sandbox:")
    p90 = timings[int(0.9 * len(timings)) - 1]
    print(f"  median {statistics.median(timings):.1f} ms   p90 {p90:.1f} ms"
          f"   min {timings[0]:.1f} ms   max {timings[-1]:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
