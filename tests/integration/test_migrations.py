"""Schema migrations (orchestrator/store/migrate.py) on SQLite and PostgreSQL: an empty database
upgraded to head is the models' schema (no pending autogenerate diff), revision 1 is release 1's
schema, a database release 1 made (tests/integration/release1, written by its own code) is
upgraded with its sales kept and runnable, two upgrades at once are one, and a database not at
head is refused with what to run."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from orchestrator.flows.zoho_sale import ZOHO_SALE
from orchestrator.saga.state import SagaStatus, StepStatus
from orchestrator.settings import Settings
from orchestrator.store.db import make_engine
from orchestrator.store.migrate import (
    BASELINE,
    SchemaNotCurrent,
    alembic_config,
    head,
    require_head,
    schema_state,
    upgrade,
)
from orchestrator.store.models import SagaRow
from orchestrator.store.sql_store import SqlSagaStore
from tests.conftest import scratch_database
from tests.fakes import FakeSalesCrm
from tests.integration.test_sql_store import ORDER, make_engine_for, run

RELEASE_1 = Path(__file__).with_name("release1")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    """An empty database of each dialect (no tables, no alembic_version)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with scratch_database() as url:
        yield url


@pytest.fixture
async def empty(empty_url):
    engine = make_engine(empty_url)
    yield engine
    await engine.dispose()


def another_empty(url: str, tmp_path: Path) -> contextlib.AbstractContextManager[str]:
    """A second empty database of the same dialect."""
    if url.startswith("sqlite"):
        return contextlib.nullcontext(f"sqlite:///{tmp_path / 'another.db'}")
    return scratch_database()


def load_release_1(url: str) -> None:
    """The database as release 1 left it."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executescript((RELEASE_1 / "sqlite.sql").read_text())
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((RELEASE_1 / "postgresql.sql").read_text())


async def pending_diff(engine: AsyncEngine, metadata: sa.MetaData = SQLModel.metadata) -> list:
    """What `alembic revision --autogenerate` would write against `metadata`."""

    def compare(conn: sa.Connection) -> list:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


async def test_an_empty_database_upgraded_to_head_has_no_pending_autogenerate_diff(empty):
    assert await pending_diff(empty), "an empty database differs from the models"

    done = await upgrade(empty)

    assert (done.before, done.after, done.adopted) == (None, head(), False)
    assert await pending_diff(empty) == []
    assert (await schema_state(empty)).at_head
    await require_head(empty, "sqlite:///x")  # does not raise


async def test_revision_1_is_release_1s_schema(empty_url, tmp_path):
    """The baseline creates what release 1's create_all did: compared with the metadata read
    back from the release-1 fixture, nothing differs."""
    with another_empty(empty_url, tmp_path) as made_by_it:
        load_release_1(made_by_it)
        release_1 = make_engine(made_by_it)
        async with release_1.connect() as conn:
            reflected = sa.MetaData()
            await conn.run_sync(reflected.reflect)
        await release_1.dispose()
        baseline = make_engine(empty_url)
        async with baseline.begin() as conn:
            await conn.run_sync(lambda c: _upgrade_to(c, BASELINE))
        assert (await schema_state(baseline)).revision == BASELINE
        assert await pending_diff(baseline, reflected) == []
        assert await pending_diff(baseline), "the baseline should lack today's additions"
        await baseline.dispose()


def _upgrade_to(conn: sa.Connection, revision: str) -> None:
    command.upgrade(alembic_config(conn), revision)


async def saga_id(engine: AsyncEngine, key: str) -> uuid.UUID:
    async with engine.connect() as conn:
        query = sa.select(SagaRow.id).where(SagaRow.idempotency_key == f"release-1-{key}")
        return (await conn.execute(query)).scalar_one()


async def test_a_release_1_database_is_upgraded_keeping_its_sales(empty_url, empty):
    load_release_1(empty_url)
    state = await schema_state(empty)
    assert (state.revision, state.has_tables) == (None, True)
    with pytest.raises(SchemaNotCurrent, match="made before migrations"):
        await require_head(empty, empty_url)

    done = await upgrade(empty)

    assert (done.before, done.after, done.adopted) == (None, head(), True)
    assert await pending_diff(empty) == []
    succeeded, waiting = [await saga_id(empty, key) for key in ("done", "waiting")]
    store = SqlSagaStore(empty)
    old = await store.load(succeeded)
    assert old.status is SagaStatus.SUCCEEDED and old.finished_at is not None
    assert [step.status for step in old.steps] == [StepStatus.SUCCEEDED] * 4
    assert old.steps[0].output["lines"][0]["unit_price"] == "12.50"
    # today's engine finishes the sale release 1 started (its deadline passed long ago: moved
    # on), and starts new ones with the new columns
    async with empty.begin() as conn:
        later = datetime.now(UTC) + timedelta(minutes=10)
        await conn.execute(sa.update(SagaRow).values(deadline_at=later))
    engine = make_engine_for(empty, FakeSalesCrm({"P-1": Decimal("10")}))
    await run(engine, waiting)
    assert (await store.load(waiting)).status is SagaStatus.SUCCEEDED
    new = await engine.start(ZOHO_SALE.name, ORDER, message_id="m-1", reply_to="queue:r")
    await run(engine, new.id)
    assert (await store.load(new.id)).reply_to == "queue:r"


async def test_a_database_made_before_alembic_by_a_later_version_is_adopted(empty):
    """Between release 1 and alembic, each start created the tables and added columns without
    their index: such a database is stamped at release 1 and given only what it lacks."""
    async with empty.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
        await conn.execute(sa.text("DROP INDEX ix_saga_step_holder"))
    assert await pending_diff(empty), "the index should be missing"

    done = await upgrade(empty)

    assert done.adopted and done.after == head()
    assert await pending_diff(empty) == []


async def test_tables_without_alembic_version_that_are_not_release_1_are_refused(empty):
    async with empty.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE saga (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaNotCurrent, match="lacks saga_step"):
        await upgrade(empty)
    assert (await schema_state(empty)).revision is None  # nothing stamped


async def test_two_upgrades_at_once_are_one(empty_url, empty):
    other = make_engine(empty_url)
    try:
        first, second = await asyncio.gather(upgrade(empty), upgrade(other))
    finally:
        await other.dispose()
    assert {first.before, second.before} == {None, head()}  # the second found it done
    async with empty.connect() as conn:
        versions = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).all()
    assert versions == [(head(),)]


async def test_a_database_not_at_head_is_refused_saying_what_to_run(empty):
    url = "postgresql://salesaga:s3cret-pw@db.example:5432/sales"
    with pytest.raises(SchemaNotCurrent, match="has no salesaga schema") as refused:
        await require_head(empty, url)
    assert "s3cret-pw" not in str(refused.value) and "salesaga:***@db.example" in str(refused.value)
    async with empty.begin() as conn:
        await conn.run_sync(lambda c: _upgrade_to(c, BASELINE))
    with pytest.raises(SchemaNotCurrent) as refused:
        await require_head(empty, url)
    assert str(refused.value) == (
        f"the database at postgresql://salesaga:***@db.example:5432/sales is at revision "
        f"{BASELINE}, this release needs revision {head()}: run `salesaga db upgrade`"
    )
    async with empty.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_future'"))
    with pytest.raises(SchemaNotCurrent, match="0099_future, which this release does not know"):
        await require_head(empty, url)


async def test_build_deps_refuses_a_database_not_at_head_and_migrates_nothing(empty_url, empty):
    from orchestrator.bootstrap import build_deps

    with pytest.raises(SchemaNotCurrent, match="run `salesaga db upgrade`"):
        await build_deps(Settings(database_url=empty_url, mail_backend="sink"))
    async with empty.connect() as conn:
        assert not await conn.run_sync(lambda c: sa.inspect(c).has_table("saga"))
