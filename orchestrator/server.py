"""The service's ASGI app: the HTTP API, the operator console and, when asked for
(CRM_SANDBOX=true, `salesaga dev`), the built-in sandbox of every backend without settings."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from orchestrator.api.app import create_api
from orchestrator.bootstrap import Deps, Dispatcher, plan_backends
from orchestrator.console import router as console_router
from orchestrator.settings import Settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, dispatch: Dispatcher, *, deps: Deps | None = None, dev: bool = False
) -> FastAPI:
    app = create_api(settings, dispatch, deps=deps, dev=dev)
    app.include_router(console_router)
    for plan in plan_backends(settings):
        if plan.mode == "sandbox":
            app.mount(plan.backend.sandbox_path, plan.backend.sandbox_app())
            log.warning(
                "CRM sandbox for %s mounted at %s: %s sales reach no real CRM (CRM_SANDBOX)",
                plan.backend.title, plan.backend.sandbox_path, plan.backend.name,
            )  # fmt: skip
    return app
