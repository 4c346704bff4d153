"""The body of GET /metrics: the counters and histograms of this process (or, in multiprocess
mode, of every process writing to PROMETHEUS_MULTIPROC_DIR), plus gauges read from the state
table at scrape time (they are facts about the table, not about a process)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.notify.outbox import Outbox
from orchestrator.saga.ports import StoreUnavailable
from orchestrator.saga.state import SagaStatus
from orchestrator.store.db import SqlCounts
from orchestrator.store.liveness import SQL_COUNTS, WorkerRegistry
from orchestrator.store.models import DeadLetterRow
from orchestrator.store.sql_store import SAGA

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _Scrape(Collector):
    """One scrape: the process metrics and this scrape's table gauges, as one collector."""

    def __init__(self, sources: tuple[Collector, ...], gauges: tuple[Metric, ...]) -> None:
        self.sources, self.gauges = sources, gauges

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()
        yield from self.gauges


def process_collectors() -> tuple[Collector, ...]:
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:  # every process's files, this one's included
        return (MultiProcessCollector(None, path=directory),)  # type: ignore[no-untyped-call]
    return (REGISTRY,)


async def render_metrics(
    db: AsyncEngine,
    outbox: Outbox,
    flows: Iterable[str],
    *,
    dead_after_s: float = 8.0,
    sql: SqlCounts | None = None,
) -> bytes:
    """Prometheus text exposition; without the database the table gauges say so and the
    process metrics are served all the same. `sql`: this (API) process's SQL counts."""
    gauges = await table_gauges(db, outbox, flows, dead_after_s)
    gauges = (*gauges, *sql_counters(sql, await _workers_sql(db)))
    return generate_latest(_Scrape(process_collectors(), gauges))


async def table_gauges(
    db: AsyncEngine, outbox: Outbox, flows: Iterable[str], dead_after_s: float
) -> tuple[Metric, ...]:
    up = GaugeMetricFamily(
        "salesaga_state_table_up", "1 if this scrape could read the state table, else 0."
    )
    try:
        backlog = await outbox.backlog()
        counts = await saga_counts(db)
        waiting = await dead_letters_waiting(db)
        registry = WorkerRegistry(db)
        alive, takeovers = await registry.alive_count(dead_after_s), await registry.takeovers()
    except (SQLAlchemyError, OSError) as exc:
        log.warning("metrics: state table unreadable", extra={"error": type(exc).__name__})
        up.add_metric([], 0)
        return (up,)
    up.add_metric([], 1)
    outbox_gauge = GaugeMetricFamily(
        "salesaga_outbox_backlog", "Notifications not yet delivered (queued or retrying)."
    )
    outbox_gauge.add_metric([], backlog)
    sagas = GaugeMetricFamily(
        "salesaga_sagas", "Sagas in the state table by flow and status.", labels=["flow", "status"]
    )
    for flow in sorted({*flows, *(flow for flow, _ in counts)}):
        for status in SagaStatus:
            sagas.add_metric([flow, status.value], counts.get((flow, status.value), 0))
    letters = GaugeMetricFamily(
        "salesaga_dead_letters_waiting", "Dead letters not replayed yet (status new)."
    )
    letters.add_metric([], waiting)
    workers = GaugeMetricFamily(
        "salesaga_workers_alive", "Worker processes whose heartbeat is fresh (WORKER_DEAD_AFTER_S)."
    )
    workers.add_metric([], alive)
    taken = CounterMetricFamily(
        "salesaga_takeovers", "Steps taken over from dead workers (step.taken_over events)."
    )
    taken.add_metric([], takeovers)
    return up, outbox_gauge, sagas, letters, workers, taken


async def _workers_sql(db: AsyncEngine) -> dict[str, int] | None:
    try:
        return await WorkerRegistry(db).sql_counts()
    except (SQLAlchemyError, OSError, StoreUnavailable):
        return None


def sql_counters(api: SqlCounts | None, workers: dict[str, int] | None) -> tuple[Metric, ...]:
    """salesaga_db_{statements,commits,rollbacks}_total by process kind: this API process, and
    every worker process as of its last beat (HEARTBEAT_S)."""
    families = []
    for name in SQL_COUNTS:
        family = CounterMetricFamily(
            f"salesaga_db_{name}", f"SQL {name} sent by salesaga's processes.", labels=["process"]
        )
        if api is not None:
            family.add_metric(["api"], api.as_dict()[name])
        if workers is not None:
            family.add_metric(["workers"], workers[name])
        families.append(family)
    return tuple(families)


async def saga_counts(db: AsyncEngine) -> dict[tuple[str, str], int]:
    query = sa.select(SAGA.c.flow, SAGA.c.status, sa.func.count()).group_by(
        SAGA.c.flow, SAGA.c.status
    )
    async with db.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {(str(flow), str(status)): int(n) for flow, status, n in rows}


async def dead_letters_waiting(db: AsyncEngine) -> int:
    table = DeadLetterRow.__table__  # type: ignore[attr-defined]
    query = sa.select(sa.func.count()).select_from(table).where(table.c.status == "new")
    async with db.connect() as conn:
        return int(await conn.scalar(query) or 0)
