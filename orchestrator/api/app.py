"""The HTTP API: create_app() wires routes, error handlers and the process's Deps.

`salesaga serve` and `salesaga dev` build it; tests build it with their own settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orchestrator import __version__
from orchestrator.api.deps import ApiContext
from orchestrator.api.errors import install_error_handlers
from orchestrator.api.routes import dead_letters, health, plg, sagas
from orchestrator.bootstrap import Deps, Dispatcher, build_deps
from orchestrator.console import router as console_router
from orchestrator.observability.http import RequestContextMiddleware
from orchestrator.sandbox.zoho.app import create_sandbox_app
from orchestrator.settings import SANDBOX_PATH, Settings


def create_app(settings: Settings, dispatch: Dispatcher, *, deps: Deps | None = None) -> FastAPI:
    """The API. Without Zoho credentials it also serves the built-in Zoho sandbox."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = deps is None
        built = deps if deps is not None else await build_deps(settings)
        app.state.api = ApiContext(built, dispatch)
        try:
            yield
        finally:
            if own:
                await built.aclose()

    app = FastAPI(title="salesaga", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(plg.router)
    app.include_router(sagas.router)
    app.include_router(dead_letters.router)
    app.include_router(health.router)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(console_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if not settings.zoho_configured:
        app.mount(SANDBOX_PATH, create_sandbox_app())
    return app
