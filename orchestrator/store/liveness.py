"""Worker liveness in the state table: who is alive, what each one holds, and the takeover of
what a dead one held.

In the database rather than Redis because a takeover must change the saga rows it frees in the
same transaction that declares their holder dead (no window in which both or neither own a
step), and because the database is already what recovery trusts; a beat is one small UPDATE.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orchestrator.saga.ports import Clock, utc_now
from orchestrator.saga.state import StepStatus
from orchestrator.store.models import WorkerRow
from orchestrator.store.sql_store import EVENT, SAGA, STEP, reachable

WORKER = WorkerRow.__table__  # type: ignore[attr-defined]
ALIVE, STOPPING, STOPPED, DEAD = "alive", "stopping", "stopped", "dead"
HELD = (StepStatus.RUNNING.value, StepStatus.COMPENSATING.value)
SQL_COUNTS = ("statements", "commits", "rollbacks")
KEEP_ENDED = timedelta(days=1)  # ended workers stay listed this long


@dataclass(frozen=True, slots=True)
class Freed:
    """A step taken from a worker: by a takeover (its holder died) or by its own release."""

    saga_id: uuid.UUID
    step: str
    holder: str


@dataclass(frozen=True, slots=True)
class WorkerView:
    id: str
    host: str
    pid: int
    state: str  # alive|stopping|stopped|dead; "alive" past the dead-after limit shows "silent"
    started_at: datetime
    beat_at: datetime
    ended_at: datetime | None
    taken_over_by: str | None
    holding: tuple[tuple[uuid.UUID, str], ...]  # (saga id, step name)


class WorkerRegistry:
    """Beats and silences are measured on PostgreSQL's clock, so that workers on hosts whose
    clocks disagree do not take each other for dead; SQLite (one machine) uses `clock`."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def _pg(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    def _db_now(self) -> Any:
        return sa.func.now() if self._pg else self._clock()

    async def beat(
        self, worker_id: str, host: str, pid: int, sql: Mapping[str, int] | None = None
    ) -> None:
        """Say this worker is alive (the first beat registers it), with its SQL counts so far.
        A worker once declared dead that beats again is alive again; what it held was taken
        over meanwhile, and its late writes lose the compare-and-set on the saga's version."""
        now = self._db_now()
        counts = {f"sql_{name}": value for name, value in (sql or {}).items()}
        async with reachable(), self._engine.begin() as conn:
            updated = await conn.execute(
                sa.update(WORKER)
                .where(WORKER.c.id == worker_id)
                .values(
                    beat_at=now,
                    state=sa.case((WORKER.c.state == STOPPING, STOPPING), else_=ALIVE),
                    ended_at=None,
                    **counts,
                )
            )
            if updated.rowcount == 0:
                await conn.execute(
                    sa.insert(WORKER).values(
                        id=worker_id, host=host, pid=pid, state=ALIVE, started_at=now,
                        beat_at=now, **counts,
                    )
                )  # fmt: skip

    async def take_over(self, taker: str, dead_after_s: float) -> list[Freed]:
        """Declare dead every worker silent for `dead_after_s` and free the steps it held, in
        one transaction: their lease ends now, so the next advance runs them again (and looks
        for the record the cut-off try may have made before writing again)."""
        now = self._clock()
        cutoff = self._db_now() - timedelta(seconds=dead_after_s)
        async with reachable(), self._engine.begin() as conn:
            dead = list(
                (
                    await conn.scalars(
                        sa.update(WORKER)
                        .where(WORKER.c.state.in_((ALIVE, STOPPING)), WORKER.c.beat_at < cutoff)
                        .values(state=DEAD, ended_at=now, taken_over_by=taker)
                        .returning(WORKER.c.id)
                    )
                ).all()
            )
            if not dead:
                return []
            freed = await _free(conn, dead, now, lease_until=now)
            await _record(
                conn,
                freed,
                now,
                "step.taken_over",
                taker,
                {"reason": f"its worker was silent {dead_after_s:g} s"},
            )
            await conn.execute(
                sa.delete(WORKER).where(
                    WORKER.c.state.in_((STOPPED, DEAD)), WORKER.c.ended_at < now - KEEP_ENDED
                )
            )
        return freed

    async def stopping(self, worker_id: str) -> None:
        async with reachable(), self._engine.begin() as conn:
            await conn.execute(
                sa.update(WORKER).where(WORKER.c.id == worker_id).values(state=STOPPING)
            )

    async def release(self, worker_id: str, settle_s: float) -> list[Freed]:
        """Hand back the steps this (stopping) worker still holds: another worker takes them
        after `settle_s`, time for a write still on its way to the CRM to land first."""
        now = self._clock()
        async with reachable(), self._engine.begin() as conn:
            until = now + timedelta(seconds=settle_s)
            freed = await _free(conn, [worker_id], now, lease_until=until)
            await _record(
                conn,
                freed,
                now,
                "step.released",
                worker_id,
                {"reason": "its worker shut down inside the call", "settle_s": settle_s},
            )
        return freed

    async def retire(self, worker_id: str) -> None:
        async with reachable(), self._engine.begin() as conn:
            await conn.execute(
                sa.update(WORKER)
                .where(WORKER.c.id == worker_id)
                .values(state=STOPPED, ended_at=self._clock())
            )

    async def workers(self, dead_after_s: float) -> list[WorkerView]:
        """Every worker alive or ended within a day, newest first, with what each holds."""
        async with reachable(), self._engine.connect() as conn:
            now = await conn.scalar(sa.select(self._db_now())) if self._pg else self._clock()
            rows = (
                (
                    await conn.execute(
                        sa.select(WORKER).order_by(WORKER.c.started_at.desc(), WORKER.c.id)
                    )
                )
                .mappings()
                .all()
            )
            held = (
                await conn.execute(
                    sa.select(STEP.c.holder, STEP.c.saga_id, STEP.c.name)
                    .where(STEP.c.holder.is_not(None), STEP.c.status.in_(HELD))
                    .order_by(STEP.c.saga_id)
                )
            ).all()
        holding: dict[str, list[tuple[uuid.UUID, str]]] = {}
        for holder, saga_id, name in held:
            holding.setdefault(str(holder), []).append((saga_id, str(name)))
        silent_since = _utc(now) - timedelta(seconds=dead_after_s)
        return [
            WorkerView(
                id=r["id"],
                host=r["host"],
                pid=r["pid"],
                state="silent"
                if r["state"] == ALIVE and r["beat_at"] < silent_since
                else r["state"],
                started_at=r["started_at"],
                beat_at=r["beat_at"],
                ended_at=r["ended_at"],
                taken_over_by=r["taken_over_by"],
                holding=tuple(holding.get(r["id"], ())),
            )
            for r in rows
        ]

    async def alive_count(self, dead_after_s: float) -> int:
        since = self._db_now() - timedelta(seconds=dead_after_s)
        query = (
            sa.select(sa.func.count())
            .select_from(WORKER)
            .where(WORKER.c.state.in_((ALIVE, STOPPING)), WORKER.c.beat_at >= since)
        )
        async with reachable(), self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def sql_counts(self) -> dict[str, int]:
        """Statements, commits and rollbacks of every worker in the table, summed."""
        query = sa.select(*(sa.func.coalesce(sa.func.sum(WORKER.c[f"sql_{name}"]), 0)
                            for name in SQL_COUNTS))  # fmt: skip
        async with reachable(), self._engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return {name: int(value) for name, value in zip(SQL_COUNTS, row, strict=True)}

    async def takeovers(self) -> int:
        """Steps taken over from dead workers, ever (the events say so)."""
        query = (
            sa.select(sa.func.count()).select_from(EVENT).where(EVENT.c.kind == "step.taken_over")
        )
        async with reachable(), self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)


def _utc(value: Any) -> datetime:
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


async def _free(
    conn: AsyncConnection, holders: Sequence[str], now: datetime, *, lease_until: datetime
) -> list[Freed]:
    """End the holders' claims: the lease ends at `lease_until`, the saga wakes then, and its
    version moves on, so a holder that was not dead after all loses its next compare-and-set."""
    held = (
        await conn.execute(
            sa.select(STEP.c.saga_id, STEP.c.name, STEP.c.holder).where(
                STEP.c.holder.in_(holders), STEP.c.status.in_(HELD)
            )
        )
    ).all()
    if not held:
        return []
    saga_ids = sorted({row.saga_id for row in held})
    # Saga rows first, in id order, as every writer of a saga locks it first: no deadlock.
    await conn.execute(
        sa.select(SAGA.c.id).where(SAGA.c.id.in_(saga_ids)).order_by(SAGA.c.id).with_for_update()
    )
    await conn.execute(
        sa.update(STEP)
        .where(STEP.c.holder.in_(holders), STEP.c.status.in_(HELD))
        .values(
            holder=None,
            lease_until=lease_until,
            interrupted=sa.func.coalesce(STEP.c.interrupted, 0) + 1,
        )
    )
    await conn.execute(
        sa.update(SAGA)
        .where(SAGA.c.id.in_(saga_ids))
        .values(wake_at=lease_until, updated_at=now, version=SAGA.c.version + 1)
    )
    return [Freed(row.saga_id, str(row.name), str(row.holder)) for row in held]


async def _record(
    conn: AsyncConnection,
    freed: Sequence[Freed],
    now: datetime,
    kind: str,
    actor: str,
    detail: dict[str, object],
) -> None:
    if freed:
        await conn.execute(
            sa.insert(EVENT),
            [
                {
                    "saga_id": f.saga_id,
                    "at": now,
                    "kind": kind,
                    "step": f.step,
                    "attempt": None,
                    "actor": actor,
                    "detail": {**detail, "worker": f.holder},
                }
                for f in freed
            ],
        )
