"""A request that finds every database connection of its process busy past the pool's timeout
is told to come back (503 with Retry-After), not given a 500."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import TimeoutError as PoolTimeout

from orchestrator.api.errors import install_error_handlers


async def test_an_exhausted_connection_pool_answers_503_with_retry_after():
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/busy")
    async def busy() -> None:
        raise PoolTimeout("QueuePool limit of size 5 overflow 5 reached, connection timed out")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/busy")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["message"] == "The service is overloaded; try again shortly."
