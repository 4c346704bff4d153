"""The HTTP API: create_api() wires routes, error handlers and the process's Deps.

orchestrator/server.py adds the console and the CRM sandboxes to it for `salesaga serve|dev`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from orchestrator import __version__
from orchestrator.api.body_limit import BodyLimit
from orchestrator.api.deps import ApiContext
from orchestrator.api.errors import install_error_handlers
from orchestrator.api.keys import key_ring
from orchestrator.api.openapi import install_openapi
from orchestrator.api.routes import dead_letters, health, hooks, plg, sagas, start, workers
from orchestrator.api.security_headers import SecurityHeaders
from orchestrator.bootstrap import Deps, Dispatcher, build_deps
from orchestrator.flows import FLOWS
from orchestrator.observability.http import RequestContextMiddleware
from orchestrator.saga.definition import Flow
from orchestrator.settings import Settings
from orchestrator.store.endings import SagaEndings


def create_api(
    settings: Settings, dispatch: Dispatcher, *, deps: Deps | None = None, dev: bool = False
) -> FastAPI:
    """The API on its own (no console, no sandboxes); `dev`: `salesaga dev`. Raises
    KeyConfigError (naming the entry, never a key) when the configured keys cannot be used."""
    keys = key_ring(settings.api_keys, settings.operator_api_keys, settings.api_keys_file, dev=dev)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = deps is None
        built = deps if deps is not None else await build_deps(settings)
        endings = SagaEndings(settings.database_url)
        await endings.start()
        app.state.api = ApiContext(built, dispatch, endings, keys)
        try:
            yield
        finally:
            await endings.aclose()
            if own:
                await built.aclose()

    docs = "/docs" if settings.api_docs else None
    app = FastAPI(
        title="salesaga", version=__version__, lifespan=lifespan, docs_url=docs, redoc_url=None
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    app.include_router(plg.router)
    app.include_router(start.router)  # POST /sagas before /sagas/{id}/{action}
    app.include_router(sagas.router)
    app.include_router(dead_letters.router)
    app.include_router(workers.router)
    app.include_router(hooks.router)
    app.include_router(health.router)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeaders)  # outermost: every answer gets them, errors included

    install_openapi(app, lambda: _runnable(app), settings.max_crm_lookups)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _runnable(app: FastAPI) -> Mapping[str, Flow[Any, Any]]:
    """The flows this process runs (every known one before it has started)."""
    ctx = getattr(app.state, "api", None)
    return ctx.deps.flows if isinstance(ctx, ApiContext) else FLOWS
