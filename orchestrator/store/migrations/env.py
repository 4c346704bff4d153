"""alembic's environment: migrations run on the connection orchestrator/store/migrate.py passes
in `config.attributes["connection"]` (inside its transaction, under its lock), against the
models' metadata. There is no offline (--sql) mode and no URL of its own."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from orchestrator.store import models  # noqa: F401 - registers the tables on SQLModel.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "salesaga's migrations run through `salesaga db upgrade` "
            "(orchestrator.store.migrate), which hands them a connection"
        )
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite alters a table by copying it: autogenerate says so
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
