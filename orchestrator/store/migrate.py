"""Schema migrations: bring a database to this release's schema (alembic, revisions in
orchestrator/store/migrations/versions), or say where it stands.

`salesaga db upgrade` upgrades; `serve`, `worker` and the other commands only check
(require_head) and refuse a database that is not at head. A database made by release 1, before
alembic (its tables, no alembic_version), is recognised and stamped at the baseline revision
first. Two processes may upgrade at once: PostgreSQL serialises them with an advisory lock,
SQLite with its write lock (BEGIN IMMEDIATE); the second finds the schema at head.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001_release_1"  # release 1's schema: what a database made before alembic has
SCHEMA_LOCK_ID = 0x5A1E5A6A  # any constant; serialises upgrades across processes
RELEASE_1_TABLES = ("saga", "saga_step", "saga_event", "outbox", "crm_token", "dead_letter")
RELEASE_1_COLUMNS = {"saga": ("message_id", "reply_to"), "dead_letter": ("replay_saga_id",)}
UPGRADE_HINT = "run `salesaga db upgrade`"


class SchemaNotCurrent(Exception):
    """The database is not at this release's schema: the process must not start."""


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """alembic's configuration in code (no alembic.ini): env.py runs on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The revision this release needs."""
    revision = _scripts().get_current_head()
    assert revision is not None, "no migrations"
    return revision


def known(revision: str) -> bool:
    return any(script.revision == revision for script in _scripts().walk_revisions())


def safe_url(url: str) -> str:
    """The database URL as it may be shown: without its password."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("://", 1)[0] + "://…"


@dataclass(frozen=True, slots=True)
class SchemaState:
    revision: str | None  # the database's alembic revision; None: no alembic_version
    has_tables: bool  # the saga table exists (made before alembic, when revision is None)

    @property
    def at_head(self) -> bool:
        return self.revision == head()

    def problem(self, url: str) -> str | None:
        """Why a process of this release must not start on it (None: it may)."""
        where = f"the database at {safe_url(url)}"
        needs = f"this release needs revision {head()}"
        if self.at_head:
            return None
        if self.revision is None and not self.has_tables:
            return f"{where} has no salesaga schema yet, {needs}: {UPGRADE_HINT}"
        if self.revision is None:
            return (f"{where} was made before migrations (release 1, no alembic_version), "
                    f"{needs}: {UPGRADE_HINT}")  # fmt: skip
        if not known(self.revision):
            return (f"{where} is at revision {self.revision}, which this release does not know "
                    f"(a newer release migrated it): run that release, {needs}")  # fmt: skip
        return f"{where} is at revision {self.revision}, {needs}: {UPGRADE_HINT}"


def _state(conn: sa.Connection) -> SchemaState:
    revision = MigrationContext.configure(conn).get_current_revision()
    return SchemaState(revision, sa.inspect(conn).has_table("saga"))


async def schema_state(engine: AsyncEngine) -> SchemaState:
    async with engine.connect() as conn:
        return await conn.run_sync(_state)


async def require_head(engine: AsyncEngine, url: str) -> None:
    """Raise SchemaNotCurrent, saying what to run, unless the database is at head."""
    problem = (await schema_state(engine)).problem(url)
    if problem is not None:
        raise SchemaNotCurrent(problem)


@dataclass(frozen=True, slots=True)
class Upgraded:
    before: str | None  # None: an empty database, or one made before alembic
    after: str
    adopted: bool  # made before alembic: stamped at BASELINE, then upgraded


async def upgrade(engine: AsyncEngine) -> Upgraded:
    """Bring the database to head in one transaction, under the schema lock."""
    for attempt in range(5):
        try:
            async with engine.connect() as conn:
                await _lock(conn)
                done = await conn.run_sync(_upgrade)
                await conn.commit()
            return done
        except OperationalError:
            if attempt == 4 or engine.dialect.name != "sqlite":
                raise
            await asyncio.sleep(0.2 * (attempt + 1))  # another process held SQLite's lock
    raise AssertionError("unreachable")


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": SCHEMA_LOCK_ID})
    elif conn.dialect.name == "sqlite":
        # the driver begins no transaction before DDL: take the write lock for all of it
        await conn.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(conn: sa.Connection) -> Upgraded:
    before = _state(conn)
    config = alembic_config(conn)
    adopted = before.revision is None and before.has_tables
    if adopted:
        _check_release_1(conn)
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")
    return Upgraded(before.revision, head(), adopted)


def _check_release_1(conn: sa.Connection) -> None:
    """A database without alembic_version is stamped at release 1 only if it has release 1's
    tables and its latest columns."""
    inspector = sa.inspect(conn)
    missing = [table for table in RELEASE_1_TABLES if not inspector.has_table(table)]
    for table, columns in RELEASE_1_COLUMNS.items():
        if table not in missing:
            present = {column["name"] for column in inspector.get_columns(table)}
            missing += [f"{table}.{name}" for name in columns if name not in present]
    if missing:
        raise SchemaNotCurrent(
            f"this database has salesaga tables but no alembic_version and lacks "
            f"{', '.join(missing)}: it is not release 1's schema, so it cannot be upgraded"
        )
