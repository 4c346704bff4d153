"""The operator web console: server-rendered pages to inspect sagas and retry, roll back or
resolve them (templates in templates/console/). `router` is included by orchestrator.api.app."""

from __future__ import annotations

from orchestrator.console.routes import router

__all__ = ["router"]
