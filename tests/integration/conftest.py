"""One sandbox server per test module (Zoho, OnAutomate, Poologics), reset to its seed for each
test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.backends.poologics.sandbox.data import SandboxState as PoologicsState
from orchestrator.store.db import create_schema, make_engine
from tests.onautomate_sandbox import RunningOnAutomateSandbox, running_onautomate_sandbox
from tests.poologics_sandbox import RunningPoologicsSandbox, running_poologics_sandbox
from tests.zoho_sandbox import RunningSandbox, running_sandbox


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with running_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(server: RunningSandbox) -> RunningSandbox:
    server.state.reset()
    return server


@pytest.fixture(scope="module")
def onautomate_server() -> Iterator[RunningOnAutomateSandbox]:
    with running_onautomate_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def onautomate(onautomate_server: RunningOnAutomateSandbox) -> RunningOnAutomateSandbox:
    onautomate_server.state.reset()
    return onautomate_server


@pytest.fixture(scope="module")
def poologics_server() -> Iterator[RunningPoologicsSandbox]:
    state = PoologicsState(webhook_backoff_s=0.02)  # webhook retries 20, 40, 80, 160 ms apart
    try:
        with running_poologics_sandbox(state) as sandbox:
            yield sandbox
    finally:
        state.close()


@pytest.fixture
def poologics(poologics_server: RunningPoologicsSandbox) -> RunningPoologicsSandbox:
    poologics_server.state.reset()
    return poologics_server


async def _with_schema(url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(url)
    await create_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def pg_db(pg_url):
    """An async engine on the session's PostgreSQL database, its tables created."""
    async for engine in _with_schema(pg_url):
        yield engine


@pytest.fixture
async def any_db(db_url):
    """The same on each supported database (SQLite and PostgreSQL)."""
    async for engine in _with_schema(db_url):
        yield engine


@pytest.fixture
async def sqlite_db(sqlite_url):
    """The same on a SQLite file of this test's own."""
    async for engine in _with_schema(sqlite_url):
        yield engine


@pytest.fixture(params=["sqlite", "postgresql"])
async def own_db(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """On each database, one no other test writes to: every row in it is this test's."""
    name = "sqlite_url" if request.param == "sqlite" else "own_pg_url"
    async for engine in _with_schema(request.getfixturevalue(name)):
        yield engine
