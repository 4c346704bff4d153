"""One benchmark run: the sandbox, then each engine's warm-up, call check and levels."""

from __future__ import annotations

import contextlib
import datetime
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from bench.throughput import engines, metrics, procs, report, watch
from bench.throughput.config import (
    CALLS_PER_SALE,
    CRM_ROUNDS,
    ENGINE_STEPS,
    RESULTS,
    BenchSettings,
)
from bench.throughput.engines import EngineRun
from bench.throughput.pg import server_settings
from bench.throughput.sandbox import SandboxClient

STATS_SETTLE_S = 11.0  # PostgreSQL flushes a busy backend's counters up to 10 s late when idle
IDLE_WINDOW_S = 10.0


@contextlib.contextmanager
def running_sandbox(workdir: Path) -> Iterator[tuple[SandboxClient, int]]:
    port = procs.free_port()
    env = procs.clean_env(PYTHONPATH=str(RESULTS.parents[1]))
    proc = procs.spawn(procs.python_module("bench.throughput.sandbox", "--port", str(port)),
                       env=env, log=workdir / "sandbox.log", cwd=RESULTS.parents[1])  # fmt: skip
    client = SandboxClient(f"http://127.0.0.1:{port}")
    try:
        procs.wait_http(f"{client.url}/__sandbox__/records", [proc], workdir / "sandbox.log")
        yield client, proc.pid
    finally:
        client.close()
        procs.stop([proc])


def check_calls(run: EngineRun, sandbox: SandboxClient, sales: int) -> dict[str, Any]:
    """Warm up with `sales` sales, counting what reached the sandbox: the calls per sale and
    how many of them the latency fault delayed (it must be every record-API call)."""
    sandbox.calls(reset=True)
    delayed_before = sandbox.delayed_calls()
    warm = run.load.run(concurrency=min(4, sales), duration_s=0, sales=sales)
    calls = {k: v for k, v in sandbox.calls().items() if "__sandbox__" not in k}
    delayed = sandbox.delayed_calls() - delayed_before
    record_calls = sum(v for k, v in calls.items() if not k.endswith(" token"))
    done = max(warm["ok"], 1)
    return {
        "warmup": warm,
        "calls_per_sale": {k: round(v / done, 2) for k, v in sorted(calls.items())},
        "record_calls_per_sale": round(record_calls / done, 2),
        "delayed_calls_per_sale": round(delayed / done, 2),
        "every_call_delayed": delayed == record_calls,
        "same_calls_as_salesaga": round(record_calls / done, 2) == CALLS_PER_SALE,
    }


def measure_idle(probe: metrics.Probe) -> dict[str, float]:
    """Background work with no sale in flight (heartbeats, sweeps, pollers): commits and
    statements a second, over IDLE_WINDOW_S after the counters settled."""
    time.sleep(STATS_SETTLE_S)
    before = probe.snapshot()
    time.sleep(IDLE_WINDOW_S)
    after = probe.snapshot()
    window = after.at - before.at
    rates = {"window_s": round(window, 2)}
    if after.counters:
        rates["commits_per_s"] = round(
            (after.counters["commits"] - before.counters["commits"]) / window, 2
        )
    if after.statements is not None and before.statements is not None:
        rates["statements_per_s"] = round((after.statements - before.statements) / window, 2)
    return rates


def measure_level(
    run: EngineRun, settings: BenchSettings, level: int, probe: metrics.Probe,
    idle: dict[str, float],
) -> dict[str, Any]:  # fmt: skip
    identities = watch.servers()
    before = probe.snapshot()
    busy_before = _busy_s()
    probe.start_peaks()
    result = run.load.run(level, settings.level_duration(level), settings.sales,
                          settings.level_cap_s)  # fmt: skip
    after = probe.snapshot()
    busy = _busy_s() - busy_before
    peaks = probe.stop_peaks()
    if run.database is not None:  # let PostgreSQL publish the backends' counters
        time.sleep(STATS_SETTLE_S)
        late = probe.snapshot()
        after.counters, after.statements = late.counters, late.statements
        window = late.at - before.at
    sales = result["ok"] + result["errors"]
    figures = metrics.cost(before, after, sales)
    if run.database is not None:
        _less_background(figures, idle, window, sales)
    tracked = sum(after.cpu.values()) - sum(before.cpu.values())
    pg_all = figures["cpu_ms_per_sale"]["postgres_all"] * max(sales, 1) / 1000
    span = after.at - before.at
    figures["machine_busy_pct"] = round(100 * busy / span / (psutil.cpu_count() or 1), 1)
    figures["other_cpu_s"] = round(busy - tracked - pg_all, 2)  # e.g. someone else's CI
    figures["disturbed"] = watch.disturbances(identities, watch.servers())
    return result | figures | {"peak_rss_mb": peaks} | overhead(result, run.name, settings)


def _less_background(
    figures: dict[str, Any], idle: dict[str, float], window_s: float, sales: int
) -> None:
    """Commits and statements per sale without the background rate over the counting window
    (the level plus the settle); the raw figures stay beside them."""
    for name, rate in (("commits", "commits_per_s"), ("statements", "statements_per_s")):
        key = f"{name}_per_sale"
        if figures.get(key) is None or rate not in idle:
            continue
        figures[f"{key}_raw"] = figures[key]
        background = idle[rate] * window_s / max(sales, 1)
        figures[key] = round(max(0.0, figures[key] - background), 2)


def overhead(result: dict[str, Any], engine: str, settings: BenchSettings) -> dict[str, Any]:
    """Wall time minus the CRM time on the sale's critical path (CRM_ROUNDS × the latency)."""
    crm_ms = CRM_ROUNDS * settings.delay_s * 1000
    p50 = result.get("p50_ms")
    if p50 is None:
        return {"crm_wait_ms": crm_ms, "overhead_ms_per_call": None, "overhead_ms_per_step": None}
    extra = p50 - crm_ms
    return {
        "crm_wait_ms": crm_ms,
        "overhead_ms_per_sale": round(extra, 2),
        "overhead_ms_per_call": round(extra / CALLS_PER_SALE, 2),
        "overhead_ms_per_step": round(extra / ENGINE_STEPS[engine], 2),
    }


def _busy_s() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def measure_engine(
    run: EngineRun, sandbox: SandboxClient, settings: BenchSettings, into: dict[str, Any]
) -> None:
    """Fill `into` as the levels go (a failing level leaves the ones before it)."""
    print(f"== {run.name}: {run.description}", flush=True)
    into |= {"setup": run.description, "pids": run.pids, "levels": []}
    checked = check_calls(run, sandbox, settings.warmup)
    into |= checked
    print(f"   calls per sale {checked['calls_per_sale']}, all delayed: "
          f"{checked['every_call_delayed']}", flush=True)  # fmt: skip
    probe = metrics.Probe(run.pids, run.database, run.statements_dir)
    idle = measure_idle(probe) if run.database is not None else {}
    if idle:
        print(f"   background with no sale: {idle}", flush=True)
    into["idle"] = idle
    levels: list[dict[str, Any]] = into["levels"]
    try:
        for level in settings.levels:
            into["failed_at_level"] = level
            figures = measure_level(run, settings, level, probe, idle)
            levels.append(figures)
            print("   " + report.level_line(figures), flush=True)
        del into["failed_at_level"]
    finally:
        failed = any(lv["errors"] for lv in levels) or checked["warmup"]["errors"]
        if failed or "failed_at_level" in into:
            into["log_excerpt"] = watch.log_excerpt(watch.logs_under(run.logs))


def run_all(settings: BenchSettings) -> dict[str, Any]:
    started = datetime.datetime.now(datetime.UTC)
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": metrics.machine(),
        "postgres": server_settings(),
        "settings": settings.as_json(),
        "engines": {},
    }
    with _workdir(settings.keep_logs) as workdir:
        with running_sandbox(workdir) as (sandbox, sandbox_pid):
            sandbox.set_latency(settings.delay_s)
            for name in settings.engines:
                into: dict[str, Any] = {}
                results["engines"][name] = into
                try:
                    with _engine(name, sandbox, sandbox_pid, workdir, settings) as run:
                        measure_engine(run, sandbox, settings, into)
                except Exception as exc:  # report the others; say what went wrong
                    print(f"   {name} failed: {exc}", flush=True)
                    into["failed"] = str(exc)[-2000:]
            if settings.scale:
                from bench.throughput.scale import run_scale

                results["scale"] = run_scale(sandbox, sandbox_pid, workdir, settings)
        report.add_ratios(results)
        results["finished_at"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return results


@contextlib.contextmanager
def _engine(
    name: str, sandbox: SandboxClient, sandbox_pid: int, workdir: Path, settings: BenchSettings
) -> Iterator[EngineRun]:
    if name == "plain":
        with engines.plain(sandbox.url, sandbox_pid, workdir) as run:
            yield run
    elif name == "dbos":
        with engines.dbos(sandbox.url, sandbox_pid, workdir, settings) as run:
            yield run
    else:
        with engines.salesaga(sandbox.url, sandbox_pid, workdir, settings) as (run, _cluster):
            yield run


@contextlib.contextmanager
def _workdir(keep: bool) -> Iterator[Path]:
    """The run's folder for logs and mail; removed afterwards unless `keep`."""
    if keep:
        path = Path(tempfile.mkdtemp(prefix="bench-"))
        print(f"logs in {path}", flush=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        yield Path(tmp)
