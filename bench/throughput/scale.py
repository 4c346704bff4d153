"""--scale: N sales started at once against salesaga, drained by 1, 2 and 4 worker processes.

POST /createSales with SYNC_WAIT_S=0.2 (answers 202 at once), then GET /sagas' per-status counts
(operator key) every 0.2 s until every saga is terminal: the drain time. Then every saga is read
with GET /sagas/{id} (client key) and the sandbox's records are counted by saga marker
(`salesaga-<uuid>` in Deal_Name / Subject, as tests/faults/cluster.py crm_census does): all must
have succeeded, none lost or stuck, each with exactly one Deal, Quote and Sales Order.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.throughput import metrics, procs
from bench.throughput.config import CLIENT_KEY, OPERATOR_KEY, TERMINAL, BenchSettings, order_body
from bench.throughput.engine_salesaga import SalesagaCluster, salesaga_env
from bench.throughput.pg import scratch_database
from bench.throughput.sandbox import SandboxClient

SALE_MODULES = ("Deals", "Quotes", "Sales_Orders")
NAME_FIELD = {"Deals": "Deal_Name", "Quotes": "Subject", "Sales_Orders": "Subject"}
MARKER = re.compile(r"salesaga-([0-9a-f-]{36})")
DRAIN_TIMEOUT_S = 600.0


def crm_census(sandbox: SandboxClient) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """(live, ever created) records per (saga id, module)."""
    modules = sandbox.records()["modules"]
    live: Counter[tuple[str, str]] = Counter()
    ever: Counter[tuple[str, str]] = Counter()
    for module in SALE_MODULES:
        for kind in ("records", "deleted"):
            for record in modules[module][kind]:
                found = MARKER.search(record.get(NAME_FIELD[module]) or "")
                if found is not None:
                    ever[(found.group(1), module)] += 1
                    live[(found.group(1), module)] += kind == "records"
    return live, ever


async def start_all(url: str, count: int, starters: int) -> tuple[list[str], Counter[str]]:
    """POST /createSales `count` times, `starters` at a time: the saga ids and the answers."""
    ids: list[str] = []
    answers: Counter[str] = Counter()
    gate = asyncio.Semaphore(starters)
    limits = httpx.Limits(max_connections=starters, max_keepalive_connections=starters)
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": CLIENT_KEY}, limits=limits,
                                 timeout=httpx.Timeout(120, pool=None)) as http:  # fmt: skip

        async def one() -> None:
            # As a real client does: a request cut at the transport (e.g. a keep-alive
            # connection the server closed as it was reused) is sent again with the same
            # Idempotency-Key, which cannot start a second sale.
            key = {"Idempotency-Key": str(uuid.uuid4())}
            async with gate:
                for attempt in range(3):
                    try:
                        answer = await http.post("/createSales", json=order_body(), headers=key)
                        break
                    except httpx.TransportError as exc:
                        answers[f"retried after {type(exc).__name__}"] += 1
                        if attempt == 2:
                            answers[f"{type(exc).__name__}"] += 1
                            return
                if answer.status_code in (200, 202):
                    answers[str(answer.status_code)] += 1
                    ids.append(answer.json()["sagaId"])
                else:
                    answers[f"{answer.status_code}: {answer.text[:200]}"] += 1

        await asyncio.gather(*(one() for _ in range(count)))
    return ids, answers


def wait_drained(url: str, started: int, t0: float) -> tuple[float | None, dict[str, int]]:
    """Seconds from t0 until GET /sagas counts `started` terminal sagas (None: timed out)."""
    with httpx.Client(base_url=url, headers={"x-api-key": OPERATOR_KEY}, timeout=30) as http:
        counts: dict[str, int] = {}
        while time.perf_counter() - t0 < DRAIN_TIMEOUT_S:
            try:
                counts = http.get("/sagas", params={"limit": 1}).json()["counts"]["status"]
            except (httpx.HTTPError, KeyError, ValueError):
                counts = {}
            if sum(n for s, n in counts.items() if s in TERMINAL) >= started:
                return time.perf_counter() - t0, counts
            time.sleep(0.2)
    return None, counts


async def read_all(url: str, ids: list[str]) -> Counter[str]:
    statuses: Counter[str] = Counter()
    gate = asyncio.Semaphore(20)
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": CLIENT_KEY},
                                 timeout=30) as http:  # fmt: skip

        async def one(saga_id: str) -> None:
            async with gate:
                answer = await http.get(f"/sagas/{saga_id}")
            statuses["lost" if answer.status_code == 404 else answer.json()["status"]] += 1

        await asyncio.gather(*(one(i) for i in ids))
    return statuses


def verify(sandbox: SandboxClient, ids: list[str], known: set[str]) -> dict[str, int]:
    """Census of the run's sagas; `known`: sagas the sandbox held records of before the run."""
    live, ever = crm_census(sandbox)
    mine = set(ids)
    whole = sum(1 for i in ids if all(live[(i, m)] == 1 for m in SALE_MODULES))
    return {
        "with_one_deal_quote_order": whole,
        "duplicated_records": sum(1 for (i, _), n in ever.items() if i in mine and n > 1),
        "records_of_unknown_sagas": len({i for i, _ in live} - mine - known),
    }


def one_scale_run(
    sandbox: SandboxClient, sandbox_pid: int, workdir: Path, settings: BenchSettings, workers: int
) -> dict[str, Any]:
    with scratch_database("scale") as (name, url):
        here = workdir / f"scale-{workers}"
        here.mkdir(parents=True, exist_ok=True)
        env = salesaga_env(database_url=url, sandbox_url=sandbox.url, port=procs.free_port(),
                           workdir=here, sync_wait_s=0.2)  # fmt: skip
        port = int(env["PORT"])
        cluster = SalesagaCluster(env, here, port, settings.worker_concurrency)
        try:
            cluster.start(workers, beat=settings.beat)
            pids = {n: p.pid for n, p in cluster.processes().items()} | {"sandbox": sandbox_pid}
            probe = metrics.Probe(pids, name)
            known = {saga for saga, _ in crm_census(sandbox)[1]}
            before = probe.snapshot()
            t0 = time.perf_counter()
            ids, answers = asyncio.run(start_all(cluster.url, settings.scale_sales,
                                                 settings.scale_starters))  # fmt: skip
            started_s = time.perf_counter() - t0
            drain_s, counts = wait_drained(cluster.url, len(ids), t0)
            after = probe.snapshot()
            statuses = asyncio.run(read_all(cluster.url, ids))
            census = verify(sandbox, ids, known)
        finally:
            cluster.stop()
    result = {
        "workers": workers,
        "sales": settings.scale_sales,
        "started": len(ids),
        "start_answers": dict(answers),
        "all_started_s": round(started_s, 2),
        "drain_s": None if drain_s is None else round(drain_s, 2),
        "sales_per_s": round(len(ids) / drain_s, 1) if drain_s else None,
        "counts_at_end": counts,
        "statuses": dict(statuses),
        "census": census,
        "stuck_or_lost": len(ids) - statuses.get("succeeded", 0),
        "cpu": metrics.cost(before, after, len(ids))["cpu_ms_per_sale"],
    }
    result["ok"] = (
        result["stuck_or_lost"] == 0
        and len(ids) == settings.scale_sales
        and census["with_one_deal_quote_order"] == len(ids)
        and census["duplicated_records"] == 0
    )
    return result


def run_scale(
    sandbox: SandboxClient, sandbox_pid: int, workdir: Path, settings: BenchSettings
) -> list[dict[str, Any]]:
    runs = []
    for workers in settings.scale_workers:
        print(f"== scale: {settings.scale_sales} sales at once, {workers} worker(s)", flush=True)
        result = one_scale_run(sandbox, sandbox_pid, workdir, settings, workers)
        print(f"   drained in {result['drain_s']} s ({result['sales_per_s']} sales/s), statuses "
              f"{result['statuses']}, census {result['census']}, ok {result['ok']}",
              flush=True)  # fmt: skip
        runs.append(result)
    return runs
