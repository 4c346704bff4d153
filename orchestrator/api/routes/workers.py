"""Worker processes over HTTP, for operators (operator key): each one's last heartbeat, its
state and the steps it holds right now (orchestrator/store/liveness.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from orchestrator.api.deps import ContextDep, OperatorRole
from orchestrator.api.openapi import OPERATOR_ONLY
from orchestrator.store.liveness import WorkerRegistry, WorkerView

router = APIRouter(responses=OPERATOR_ONLY)  # operator keys only


@router.get("/workers")
async def get_workers(ctx: ContextDep, _who: OperatorRole) -> dict[str, Any]:
    """Newest first, alive and ended within a day; `alive` counts those beating now."""
    dead_after_s = ctx.deps.settings.worker_dead_after_s
    registry = WorkerRegistry(ctx.deps.db)
    workers = await registry.workers(dead_after_s)
    return {
        "alive": sum(1 for w in workers if w.state in ("alive", "stopping")),
        "deadAfterS": dead_after_s,
        "items": [worker_json(w) for w in workers],
    }


def worker_json(worker: WorkerView) -> dict[str, Any]:
    return {
        "id": worker.id,
        "host": worker.host,
        "pid": worker.pid,
        "state": worker.state,
        "startedAt": worker.started_at.isoformat(),
        "beatAt": worker.beat_at.isoformat(),
        "endedAt": worker.ended_at.isoformat() if worker.ended_at else None,
        "takenOverBy": worker.taken_over_by,
        "holding": [{"sagaId": str(saga_id), "step": step} for saga_id, step in worker.holding],
    }
