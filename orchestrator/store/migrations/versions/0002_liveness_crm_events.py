"""Since release 1: saga_step.holder and .interrupted, the crm_event and worker tables.

Revision ID: 0002_liveness_crm_events
Revises: 0001_release_1
Create Date: 2026-12-02

Before alembic, each start of the service created missing tables and added missing nullable
columns (no index): a database used by a development version between release 1 and this one may
have some of these already. Each table here is brought to this revision's shape from whatever
it has: created when absent, else given its missing columns and indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_liveness_crm_events"
down_revision = "0001_release_1"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NEW_TABLES = ("crm_event", "worker")


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    for table in _shapes().sorted_tables:
        if table.name == "saga":
            continue  # only referred to
        if table.name in NEW_TABLES and not inspector.has_table(table.name):
            table.create(bind)  # with its constraints and indexes
            continue
        _add_columns(table, {c["name"] for c in inspector.get_columns(table.name)})
        _add_indexes(table, {i["name"] for i in inspector.get_indexes(table.name)})


def _shapes() -> sa.MetaData:
    """This revision's tables, as far as it changes them."""
    shapes = sa.MetaData()
    sa.Table("saga", shapes, sa.Column("id", sa.Uuid(), primary_key=True))
    sa.Table(
        "saga_step", shapes,
        sa.Column("holder", sa.String(120), nullable=True, index=True),  # a worker.id
        sa.Column("interrupted", sa.Integer(), nullable=True),
    )  # fmt: skip
    sa.Table(
        "crm_event", shapes,
        sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
        sa.Column("received_at", TIME, nullable=False, index=True),
        sa.Column("backend", sa.String(40), nullable=False),
        sa.Column("trigger", sa.String(60), nullable=False),
        sa.Column("delivery", sa.String(255), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("record_id", sa.String(64), nullable=True, index=True),
        sa.Column("saga_id", sa.Uuid(), sa.ForeignKey("saga.id"), nullable=True, index=True),
        sa.UniqueConstraint("backend", "delivery", name="uq_crm_event_delivery"),
    )  # fmt: skip
    sa.Table(
        "worker", shapes,
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("beat_at", TIME, nullable=False, index=True),
        sa.Column("ended_at", TIME, nullable=True),
        sa.Column("taken_over_by", sa.String(120), nullable=True),
        sa.Column("sql_statements", sa.BigInteger(), nullable=True),
        sa.Column("sql_commits", sa.BigInteger(), nullable=True),
        sa.Column("sql_rollbacks", sa.BigInteger(), nullable=True),
    )  # fmt: skip
    return shapes


def _add_columns(table: sa.Table, present: set[str]) -> None:
    """The columns an earlier start-up added are there; the others are added (all nullable)."""
    for column in table.columns:
        if column.name not in present:
            op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))


def _add_indexes(table: sa.Table, present: set[str | None]) -> None:
    for index in sorted(table.indexes, key=lambda index: str(index.name)):
        if index.name not in present:
            columns = [column.name for column in index.columns]
            op.create_index(str(index.name), table.name, columns, unique=bool(index.unique))


def downgrade() -> None:
    op.drop_table("worker")
    op.drop_table("crm_event")
    op.drop_index("ix_saga_step_holder", table_name="saga_step")
    with op.batch_alter_table("saga_step") as batch:
        batch.drop_column("interrupted")
        batch.drop_column("holder")
