"""Engine (c): salesaga's real processes — `salesaga serve` (the API), `salesaga worker
--no-beat` (one or more) and, optionally, `celery -A workers beat` — on PostgreSQL and Redis,
with Zoho pointed at the benchmark's sandbox (ZOHO_* as tests/zoho_sandbox.py sets them).

The load process (this module's `main`) sends POST /createSales, which answers 200 once the saga
succeeded (it waits up to SYNC_WAIT_S), over one pooled httpx client:

    python -m bench.throughput.engine_salesaga --api http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.throughput import procs
from bench.throughput.config import (
    CLIENT_ID,
    CLIENT_KEY,
    CLIENT_SECRET,
    OPERATOR_KEY,
    REDIS_URL,
    REFRESH_TOKEN,
    order_body,
)
from bench.throughput.loadgen import serve_commands


def salesaga_env(
    *, database_url: str, sandbox_url: str, port: int, workdir: Path, sync_wait_s: float,
    extra: dict[str, str] | None = None, hooks: dict[str, str] | None = None,
) -> dict[str, str]:  # fmt: skip
    """The processes' environment: nothing from the developer's shell, Zoho on the sandbox."""
    settings = dict(  # noqa: C408 - the names are environment variables
        DATABASE_URL=database_url, BROKER_URL=REDIS_URL, PORT=str(port),
        API_KEYS=CLIENT_KEY, OPERATOR_API_KEYS=OPERATOR_KEY,
        CELERY_QUEUE=f"bench-{uuid.uuid4().hex[:8]}",  # no stale consumer hears this run
        CRM_SANDBOX="false", ZOHO_ACCOUNTS_URL=sandbox_url, ZOHO_API_DOMAIN=sandbox_url,
        ZOHO_CLIENT_ID=CLIENT_ID, ZOHO_CLIENT_SECRET=CLIENT_SECRET,
        ZOHO_REFRESH_TOKEN=REFRESH_TOKEN,
        MAIL_BACKEND="sink", MAIL_SINK_DIR=str(workdir / "mail"), SYNC_WAIT_S=str(sync_wait_s),
        LOG_LEVEL="WARNING",
    )  # fmt: skip
    return procs.clean_env(**settings, **(hooks or {}), **(extra or {}))


@dataclass
class SalesagaCluster:
    """The API, its workers and (optionally) beat, as real processes."""

    env: dict[str, str]
    workdir: Path
    port: int
    worker_concurrency: int = 4
    api: subprocess.Popen[bytes] | None = None
    beat: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "salesaga.log"

    def start(self, workers: int, *, beat: bool = False) -> None:
        migrate = procs.spawn(["salesaga", "db", "upgrade"], env=self.env, log=self.log,
                              cwd=self.workdir)  # fmt: skip
        if migrate.wait(timeout=120) != 0:
            raise RuntimeError(f"salesaga db upgrade failed: see {self.log}")
        self.api = procs.spawn(["salesaga", "serve"], env=self.env, log=self.log, cwd=self.workdir)
        procs.wait_http(self.url + "/healthz", [self.api], self.log)
        if beat:
            schedule = str(self.workdir / "beat-schedule")
            command = ["celery", "-A", "workers", "beat", "--loglevel", "WARNING", "--schedule"]
            self.beat = procs.spawn([*command, schedule], env=self.env, log=self.log,
                                    cwd=self.workdir)  # fmt: skip
        for _ in range(workers):
            command = ["salesaga", "worker", "--no-beat", "--loglevel", "WARNING",
                       "--concurrency", str(self.worker_concurrency)]  # fmt: skip
            self.workers.append(procs.spawn(command, env=self.env, log=self.log, cwd=self.workdir))
        self.wait_workers(workers)

    def wait_workers(self, count: int, timeout_s: float = 60) -> None:
        """Until GET /workers lists `count` live workers (they beat in the worker table)."""
        import time

        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.url, headers={"x-api-key": OPERATOR_KEY}) as http:
            while time.monotonic() < deadline:
                dead = [w.args for w in self.workers if w.poll() is not None]
                if dead:
                    raise RuntimeError(f"worker died: {self.log.read_text()[-3000:]}")
                answer = http.get("/workers")
                if answer.status_code == 200 and _live_workers(answer.json()) >= count:
                    return
                time.sleep(0.2)
        raise RuntimeError(f"{count} worker(s) did not come up: {self.log.read_text()[-3000:]}")

    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        named = {"api": self.api, "beat": self.beat}
        named |= {f"worker{i + 1}": w for i, w in enumerate(self.workers)}
        return {name: proc for name, proc in named.items() if proc is not None}

    def stop(self) -> None:
        procs.stop([*self.workers, *(p for p in (self.beat, self.api) if p is not None)])


def _live_workers(view: object) -> int:
    """GET /workers' `alive`: the workers beating now."""
    return int(view.get("alive", 0)) if isinstance(view, dict) else 0


# --- the load process --------------------------------------------------------------------------


async def run(api: str, max_connections: int) -> None:
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    timeout = httpx.Timeout(300, connect=30, pool=None)
    body = order_body()
    async with httpx.AsyncClient(
        base_url=api, headers={"x-api-key": CLIENT_KEY}, limits=limits, timeout=timeout
    ) as http:

        async def one_sale(_number: int) -> None:
            answer = await http.post("/createSales", json=body)
            if answer.status_code != 200:
                raise RuntimeError(f"HTTP {answer.status_code}: {answer.text[:200]}")

        await serve_commands(one_sale)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--max-connections", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.api, args.max_connections))


if __name__ == "__main__":
    main()
