"""Health at a glance, at the top of the console's home page: the sagas that wait for an
operator first, then sagas started per status over the last hour and day (small server-drawn
charts), failure rate and p50/p95 duration per flow and per backend, workers alive, dead
letters, webhook events and e-mails waiting.

GET /console/health    the panel alone (console.js swaps it in every few seconds: the page
                       refreshes it without reloading; without JavaScript it is as loaded)

Read from the state table (store/health.py), at most once per CACHE_S per process however
many consoles are open.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.api.deps import ApiContext, ContextDep
from orchestrator.console import views, web
from orchestrator.flows import FLOWS
from orchestrator.saga.state import SagaStatus
from orchestrator.store import health
from orchestrator.store.liveness import WorkerRegistry
from orchestrator.views.timeline import duration_text

router = APIRouter(include_in_schema=False)  # included under /console by routes.router

CACHE_S = 2.0
REFRESH_S = 5  # how often an open home page asks for the panel again
STACK = [s.value for s in SagaStatus]  # bottom to top, in the order of the status chips
CHART_W, CHART_H, LABEL_H = 360, 70, 14


@dataclass(frozen=True, slots=True)
class Column:
    x: float
    w: float
    label: str  # "10:05–10:10 UTC: 12 succeeded, 1 compensated"
    parts: tuple[tuple[str, float, float], ...]  # (status, y, height)


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    columns: tuple[Column, ...]
    total: int
    by_status: tuple[tuple[str, int], ...]
    peak: int
    first: str
    last: str


@router.get("/health")
async def health_panel(request: Request, ctx: ContextDep) -> Response:
    session = await web.current_session(request, ctx)
    if session is None:
        return Response(status_code=401, headers={"cache-control": "no-store"})
    context = {"health": await panel(ctx), "session": session}
    return web.render(request, "health.html", context)


_cache: dict[int, tuple[float, dict[str, Any]]] = {}
_lock = asyncio.Lock()


async def panel(ctx: ApiContext) -> dict[str, Any]:
    """The panel's data, computed at most once per CACHE_S in this process."""
    key = id(ctx.deps.db)
    async with _lock:
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        data = await _compute(ctx.deps.db, ctx.deps.settings.worker_dead_after_s)
        _cache[key] = (time.monotonic(), data)
        return data


async def _compute(db: AsyncEngine, dead_after_s: float) -> dict[str, Any]:
    now = datetime.now(UTC)
    started = await health.started_by_bucket(db, now)
    ended = await health.ended_by_flow(db, now)
    waiting, oldest = await health.waiting_for_operator(db)
    backlog = await health.backlog(db, now)
    alive = await WorkerRegistry(db).alive_count(dead_after_s)
    return {
        "at": views.when(now),
        "refresh_s": REFRESH_S,
        "hour": chart("Started in the last hour, by status now (5-minute bars)", started, now, 1),
        "day": chart("Started in the last day, by status now (hourly bars)", started, now, 12),
        "flows": [outcome_row(e.flow, [e]) for e in ended],
        "backends": [outcome_row(name, group) for name, group in _by_backend(ended).items()],
        "waiting": waiting,
        "oldest": [_waiting(w, now) for w in oldest],
        "workers_alive": alive,
        **backlog,
    }


def _waiting(w: health.Waiting, now: datetime) -> dict[str, str]:
    since = duration_text(max(0.0, (now - w.updated_at).total_seconds()))
    error = views.excerpt(w.error, 70)
    return {"id": str(w.id), "flow": w.flow, "status": w.status, "error": error, "since": since}


def chart(title: str, started: dict[tuple[int, str], int], now: datetime, per: int) -> Chart:
    """Columns of `per` five-minute buckets each: 12 columns for the hour, 24 for the day."""
    count = 12 if per == 1 else 24
    width = CHART_W / count
    sums = [{s: sum(started.get((c * per + i, s), 0) for i in range(per)) for s in STACK}
            for c in range(count)]  # fmt: skip  # column 0: the newest
    peak = max([1, *(sum(c.values()) for c in sums)])
    columns = []
    for c, by_status in enumerate(sums):
        x = CHART_W - (c + 1) * width
        end = now - timedelta(seconds=c * per * health.BUCKET_S)
        start = end - timedelta(seconds=per * health.BUCKET_S)
        y, parts = float(CHART_H), []
        for status in STACK:
            n = by_status[status]
            if n:
                h = CHART_H * n / peak
                y -= h
                parts.append((status, y, h))
        said = ", ".join(f"{n} {s}" for s, n in by_status.items() if n) or "none"
        span = f"{start:%H:%M}–{end:%H:%M} UTC"
        columns.append(Column(x + 1, max(width - 2, 1), f"{span}: {said}", tuple(parts)))
    totals = {s: sum(c[s] for c in sums) for s in STACK}
    first = now - timedelta(seconds=count * per * health.BUCKET_S)
    since = f"{first:%H:%M}" if per == 1 else f"{first:%b %d %H:%M}"  # the day's: yesterday
    return Chart(title, tuple(reversed(columns)), sum(totals.values()),
                 tuple((s, n) for s, n in totals.items() if n), peak,
                 since, f"{now:%H:%M} UTC")  # fmt: skip


def outcome_row(name: str, ended: list[health.Ended]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    buckets = [0] * (len(health.DURATION_BOUNDS) + 1)
    for e in ended:
        for status, n in e.by_status.items():
            by_status[status] = by_status.get(status, 0) + n
        buckets = [a + b for a, b in zip(buckets, e.buckets, strict=True)]
    total = sum(by_status.values())
    bad = sum(by_status.get(s, 0) for s in health.NOT_SUCCEEDED)
    return {
        "name": name,
        "ended": total,
        "not_succeeded": bad,
        "rate": f"{100 * bad / total:.1f} %" if total else "—",
        "p50": _quantile_text(0.5, buckets),
        "p95": _quantile_text(0.95, buckets),
        "by_status": sorted(by_status.items()),
    }


def quantile(q: float, buckets: list[int] | tuple[int, ...]) -> float | None:
    """The q-quantile from counts per DURATION_BOUNDS bucket, interpolated inside its bucket
    as Prometheus' histogram_quantile does; past the last bound: that bound."""
    total = sum(buckets)
    if not total:
        return None
    rank, seen = q * total, 0
    bounds = health.DURATION_BOUNDS
    for index, n in enumerate(buckets):
        if n and seen + n >= rank:
            if index == len(bounds):
                return bounds[-1]
            low = bounds[index - 1] if index else 0.0
            return low + (bounds[index] - low) * (rank - seen) / n
        seen += n
    return bounds[-1]


def _quantile_text(q: float, buckets: list[int]) -> str:
    value = quantile(q, buckets)
    return "—" if value is None else f"≈ {duration_text(value)}"


def _by_backend(ended: list[health.Ended]) -> dict[str, list[health.Ended]]:
    groups: dict[str, list[health.Ended]] = {}
    for e in ended:
        flow = FLOWS.get(e.flow)
        groups.setdefault(flow.backend if flow else e.flow.split(".")[0], []).append(e)
    return dict(sorted(groups.items()))
