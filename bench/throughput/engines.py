"""Setting up each engine for a run: its database, its processes, and the load process that
drives it (loadgen.py's line protocol); everything is stopped and dropped on the way out."""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.throughput import procs
from bench.throughput.config import ROOT, BenchSettings
from bench.throughput.engine_salesaga import SalesagaCluster, salesaga_env
from bench.throughput.pg import scratch_database

HOOKS = Path(__file__).resolve().parent / "hooks"


class LoadProcess:
    """An engine's load process: send a level, read its result."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = procs.spawn(args, env=env, log=log, cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)  # fmt: skip
        self._read(timeout_s=120)  # {"ready": true}: connected, launched

    @property
    def pid(self) -> int:
        return self.proc.pid

    def run(
        self, concurrency: int, duration_s: float, sales: int = 0, cap_s: float = 0
    ) -> dict[str, Any]:
        command = {"cmd": "run", "concurrency": concurrency, "duration_s": duration_s,
                   "sales": sales, "cap_s": cap_s}  # fmt: skip
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()
        return self._read(timeout_s=(cap_s or max(600.0, duration_s * 10)) + 120)

    def _read(self, timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"load process {self.proc.pid} gave no answer:\n{tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def quit(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(20)
        procs.stop([self.proc])


@dataclass
class EngineRun:
    name: str
    load: LoadProcess
    pids: dict[str, int]  # the processes to measure, by role
    database: str | None  # the engine's own PostgreSQL database (commits, backends)
    statements_dir: Path | None  # where the hooked processes count their SQL statements
    description: str
    logs: Path  # the folder of its processes' logs


def _hooks(workdir: Path, settings: BenchSettings) -> tuple[dict[str, str], Path | None]:
    """PYTHONPATH (the project, and the statement-counting sitecustomize if asked for)."""
    if not settings.count_statements:
        return {"PYTHONPATH": str(ROOT)}, None
    directory = workdir / "statements"
    directory.mkdir(exist_ok=True)
    return {"PYTHONPATH": f"{HOOKS}:{ROOT}", "BENCH_STATEMENTS_DIR": str(directory)}, directory


@contextlib.contextmanager
def plain(sandbox_url: str, sandbox_pid: int, workdir: Path) -> Iterator[EngineRun]:
    env = procs.clean_env(PYTHONPATH=str(ROOT))
    args = procs.python_module("bench.throughput.engine_plain", "--sandbox", sandbox_url)
    here = workdir / "plain"
    here.mkdir(parents=True, exist_ok=True)
    load = LoadProcess(args, env, here / "plain.log")
    text = "one async httpx process; 7 calls a sale, nothing stored"
    try:
        yield EngineRun("plain", load, {"engine": load.pid, "sandbox": sandbox_pid}, None, None,
                        text, here)  # fmt: skip
    finally:
        load.quit()


@contextlib.contextmanager
def dbos(
    sandbox_url: str, sandbox_pid: int, workdir: Path, settings: BenchSettings
) -> Iterator[EngineRun]:
    with scratch_database("dbos") as (name, url):
        here = workdir / "dbos"
        here.mkdir(parents=True, exist_ok=True)
        hooks, statements = _hooks(here, settings)
        env = procs.clean_env(**hooks)
        args = procs.python_module("bench.throughput.engine_dbos", "--sandbox", sandbox_url,
                                   "--database", url)  # fmt: skip
        load = LoadProcess(args, env, here / "dbos.log")
        text = f"DBOS Transact workflow in one process, 7 steps, system database {name}"
        try:
            yield EngineRun("dbos", load, {"engine": load.pid, "sandbox": sandbox_pid}, name,
                            statements, text, here)  # fmt: skip
        finally:
            load.quit()


@contextlib.contextmanager
def salesaga(
    sandbox_url: str,
    sandbox_pid: int,
    workdir: Path,
    settings: BenchSettings,
    *,
    workers: int | None = None,
    sync_wait_s: float | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[EngineRun, SalesagaCluster]]:
    count = workers or settings.workers
    with scratch_database("salesaga") as (name, url):
        here = workdir / f"salesaga-{name}"
        here.mkdir(parents=True, exist_ok=True)
        hooks, statements = _hooks(here, settings)
        port = procs.free_port()
        env = salesaga_env(database_url=url, sandbox_url=sandbox_url, port=port, workdir=here,
                           sync_wait_s=sync_wait_s or settings.sync_wait_s,
                           extra=extra_env, hooks=hooks)  # fmt: skip
        cluster = SalesagaCluster(env, here, port, settings.worker_concurrency)
        try:
            cluster.start(count, beat=settings.beat)
            load_env = procs.clean_env(PYTHONPATH=str(ROOT))
            args = procs.python_module("bench.throughput.engine_salesaga", "--api", cluster.url)
            load = LoadProcess(args, load_env, here / "client.log")
            pids = {name: p.pid for name, p in cluster.processes().items()}
            pids |= {"client": load.pid, "sandbox": sandbox_pid}
            text = (f"salesaga serve + {count} worker(s) --concurrency "
                    f"{settings.worker_concurrency}{' + beat' if settings.beat else ''}, "
                    f"PostgreSQL {name}, Redis db 14")  # fmt: skip
            try:
                yield EngineRun("salesaga", load, pids, name, statements, text, here), cluster
            finally:
                load.quit()
        finally:
            cluster.stop()
