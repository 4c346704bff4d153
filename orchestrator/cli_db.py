"""`salesaga db upgrade | current` (and `salesaga migrate`): the schema of DATABASE_URL.

Run `salesaga db upgrade` before starting a new release; serve, worker and the other commands
check the schema and refuse one that is not at head (schema_or_exit).
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
import typer

from orchestrator.settings import Settings, get_settings
from orchestrator.store.db import make_engine
from orchestrator.store.migrate import (
    SchemaNotCurrent,
    SchemaState,
    Upgraded,
    head,
    safe_url,
    schema_state,
    upgrade,
)

db_cli = typer.Typer(help="The database schema (alembic migrations).", no_args_is_help=True)


async def upgrade_database(url: str) -> Upgraded:
    engine = make_engine(url, pool_size=1)
    try:
        return await upgrade(engine)
    finally:
        await engine.dispose()


@db_cli.command("upgrade")
def upgrade_command() -> None:
    """Bring the database at DATABASE_URL to this release's schema. Run it before starting a
    new release; safe to repeat, and to run from several processes at once."""
    settings = get_settings()
    try:
        done = asyncio.run(upgrade_database(settings.database_url))
    except SchemaNotCurrent as refused:
        typer.echo(f"refused: {refused}", err=True)
        raise typer.Exit(1) from None
    typer.echo(describe_upgrade(settings.database_url, done))


def describe_upgrade(url: str, done: Upgraded) -> str:
    where = safe_url(url)
    if done.before == done.after:
        return f"{where}: already at revision {done.after}"
    before = "release 1 (made before migrations)" if done.adopted else done.before or "empty"
    return f"{where}: upgraded from {before} to revision {done.after}"


@db_cli.command("current")
def current_command() -> None:
    """Say which revision the database is at and which this release needs; exit 1 when they
    differ (e.g. a readiness check before starting serve or worker)."""
    settings = get_settings()
    state = asyncio.run(_state(settings.database_url))
    problem = state.problem(settings.database_url)
    if problem is not None:
        typer.echo(problem)
        raise typer.Exit(1)
    typer.echo(f"{safe_url(settings.database_url)}: at revision {head()} (head)")


async def _state(url: str) -> SchemaState:
    engine = make_engine(url, pool_size=1)
    try:
        return await schema_state(engine)
    finally:
        await engine.dispose()


def schema_or_exit(settings: Settings) -> None:
    """Refuse to start (exit 1, saying what to run) unless the database is at head."""
    problem = asyncio.run(_state(settings.database_url)).problem(settings.database_url)
    if problem is not None:
        typer.echo(problem, err=True)
        raise typer.Exit(1)


def unreachable(exc: sa.exc.DBAPIError) -> str:
    """One line for a database a command could not use (down, wrong URL, unreadable file):
    where (the URL without its password) and the driver's reason, never a traceback."""
    url = get_settings().database_url  # valid: the command got as far as the database
    reason = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
    password = sa.make_url(url).password if "://" in url else None
    if password:
        reason = reason.replace(str(password), "***")
    return (f"salesaga: the database at {safe_url(url)} failed: {reason} "
            "(is it running, and is DATABASE_URL right?)")  # fmt: skip
