"""What a level cost: CPU seconds and peak RSS per process (psutil), PostgreSQL's CPU (its
processes, the engine's own backends picked out by the database name in their title, and the
backends that exited meanwhile, as the postmaster reaped them), commits from pg_stat_database,
and SQL statements counted by the hooks/ sitecustomize."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import psycopg

from bench.throughput.config import PG_ADMIN_URL


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, reaped ones included."""
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total = float(times.user + times.system + times.children_user + times.children_system)
        for child in root.children(recursive=True):
            try:
                own = child.cpu_times()
                total += own.user + own.system
            except psutil.NoSuchProcess:
                continue
        return total
    except psutil.NoSuchProcess:
        return 0.0


def tree_rss_mb(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def postgres_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "postgres":
            found.append(proc)
    return found


def postgres_cpu(database: str) -> dict[int, tuple[float, bool]]:
    """pid → (CPU seconds, is a backend of `database`) for every postgres process."""
    seen: dict[int, tuple[float, bool]] = {}
    for proc in postgres_processes():
        try:
            times = proc.cpu_times()
            title = " ".join(proc.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        seen[proc.pid] = (times.user + times.system, f" {database} " in f" {title} ")
    return seen


def postgres_reaped_cpu() -> float:
    """CPU seconds of the postgres processes that have exited, as their parent, the
    postmaster, reaped them: a backend that lived between two snapshots (a connection a pool
    made and closed again) is in no snapshot's process list."""
    total = 0.0
    for proc in postgres_processes():
        try:
            parent = proc.parent()
            if parent is not None and parent.name() == "postgres":
                continue  # a backend or helper: the postmaster is the one with another parent
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.children_user + times.children_system
    return total


def db_counters(database: str) -> dict[str, int]:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    return {"commits": int(row[0]), "rollbacks": int(row[1])} if row else {}


def statement_count(directory: Path | None) -> int | None:
    """The sum of every hooked process's count (one file per pid); None: not counted."""
    if directory is None:
        return None
    total = 0
    for path in directory.glob("*"):
        try:
            total += int(path.read_text() or 0)
        except (ValueError, OSError):
            continue
    return total


@dataclass
class Snapshot:
    at: float
    cpu: dict[str, float]
    postgres: dict[int, tuple[float, bool]]
    postgres_reaped: float  # CPU seconds of exited postgres processes so far
    counters: dict[str, int]
    statements: int | None


@dataclass
class Probe:
    """Snapshots of the processes `pids` (name → pid), of PostgreSQL and of `database`."""

    pids: dict[str, int]
    database: str | None
    statements_dir: Path | None = None
    _peaks: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def snapshot(self) -> Snapshot:
        return Snapshot(
            at=time.perf_counter(),
            cpu={name: tree_cpu_s(pid) for name, pid in self.pids.items()},
            postgres=postgres_cpu(self.database) if self.database else {},
            postgres_reaped=postgres_reaped_cpu() if self.database else 0.0,
            counters=db_counters(self.database) if self.database else {},
            statements=statement_count(self.statements_dir),
        )

    def start_peaks(self) -> None:
        self._peaks = {}
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop_peaks(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        return {name: round(mb, 1) for name, mb in self._peaks.items()}

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                self._peaks[name] = max(self._peaks.get(name, 0.0), tree_rss_mb(pid))
            if self.database:
                own = [p for p in postgres_processes() if _is_backend_of(p, self.database)]
                rss = [_rss_mb(p) for p in own]
                self._peaks["postgres_backend_max"] = max(
                    self._peaks.get("postgres_backend_max", 0.0), max(rss, default=0.0)
                )
                self._peaks["postgres_backends"] = max(
                    self._peaks.get("postgres_backends", 0.0), float(len(own))
                )
            self._stop.wait(0.25)


def _is_backend_of(proc: psutil.Process, database: str) -> bool:
    try:
        return f" {database} " in f" {' '.join(proc.cmdline())} "
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _rss_mb(proc: psutil.Process) -> float:
    try:
        return float(proc.memory_info().rss) / 2**20
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


def cost(before: Snapshot, after: Snapshot, sales: int) -> dict[str, Any]:
    """CPU ms per sale per process, PostgreSQL's (own backends, all processes), commits and
    statements per sale, between two snapshots."""
    per = max(sales, 1)
    cpu = {name: round((after.cpu[name] - before.cpu.get(name, 0.0)) * 1000 / per, 3)
           for name in after.cpu}  # fmt: skip
    pg_own = pg_all = 0.0
    for pid, (seconds, own) in after.postgres.items():
        spent = seconds - before.postgres.get(pid, (0.0, own))[0]
        pg_all += spent
        pg_own += spent if own else 0.0
    # Exited during the level: their CPU from the last reading before they went was counted
    # above at `before` and is in the reaped total too, so count only what they added since.
    gone = sum(seconds for pid, (seconds, _own) in before.postgres.items()
               if pid not in after.postgres)  # fmt: skip
    exited = max(0.0, after.postgres_reaped - before.postgres_reaped - gone)
    cpu["postgres_own"] = round(pg_own * 1000 / per, 3)
    cpu["postgres_exited"] = round(exited * 1000 / per, 3)
    cpu["postgres_all"] = round((pg_all + exited) * 1000 / per, 3)
    result: dict[str, Any] = {"cpu_ms_per_sale": cpu, "window_s": round(after.at - before.at, 3)}
    if not after.counters:  # no database: no SQL at all
        return result | {"commits_per_sale": 0.0, "statements_per_sale": 0.0}
    commits = after.counters["commits"] - before.counters["commits"]
    rollbacks = after.counters["rollbacks"] - before.counters["rollbacks"]
    result["commits_per_sale"] = round(commits / per, 2)
    result["rollbacks_per_sale"] = round(rollbacks / per, 2)
    if after.statements is not None and before.statements is not None:
        result["statements_per_sale"] = round((after.statements - before.statements) / per, 2)
    return result


def machine() -> dict[str, Any]:
    import os
    import platform

    return {
        "cpus": psutil.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
