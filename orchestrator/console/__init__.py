"""The operator web console: server-rendered pages to inspect sagas and retry, roll back or
resolve them, to replay dead letters and to watch the workers (templates in
templates/console/). `router` is included by orchestrator.api.app."""

from __future__ import annotations

from orchestrator.console.crm_events import router as crm_events_router
from orchestrator.console.dead_letters import router as dead_letters_router
from orchestrator.console.health import router as health_router
from orchestrator.console.routes import router
from orchestrator.console.workers import router as workers_router

router.include_router(dead_letters_router)
router.include_router(crm_events_router)
router.include_router(workers_router)
router.include_router(health_router)

__all__ = ["router"]
