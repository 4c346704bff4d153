"""Release 1's schema: saga, saga_step, saga_event, outbox, crm_token, dead_letter.

Revision ID: 0001_release_1
Revises:
Create Date: 2026-11-25

The tables as release 1 (commit 13ccfee, the last before backends became plug-ins) created them
with SQLModel's create_all. A database that release made has these tables and no alembic_version:
`salesaga db upgrade` recognises it, stamps it at this revision and upgrades it from here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_release_1"
down_revision = None
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)  # models.UtcDateTime's column type
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # models._serial_id


def _serial() -> sa.Column[int]:
    return sa.Column("id", SERIAL, primary_key=True, autoincrement=True)


def _indexes(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column])


def upgrade() -> None:
    _saga()
    op.create_table(
        "crm_token",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    _saga_step()
    _saga_event()
    _outbox()
    _dead_letter()


def _saga() -> None:
    op.create_table(
        "saga",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("failed_step", sa.String(100), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("reply_to", sa.String(300), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("wake_at", TIME, nullable=True),
        sa.Column("deadline_at", TIME, nullable=True),
    )
    _indexes("saga", "flow", "status", "created_at", "subject")
    live = sa.text("wake_at IS NOT NULL")
    op.create_index("ix_saga_wake_at_live", "saga", ["wake_at"],
                    postgresql_where=live, sqlite_where=live)  # fmt: skip


def _saga_step() -> None:
    op.create_table(
        "saga_step",
        sa.Column("saga_id", sa.Uuid(), sa.ForeignKey("saga.id"), primary_key=True),
        sa.Column("index", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("undo_attempts", sa.Integer(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(100), nullable=True),
        sa.Column("maybe_created", sa.Boolean(), nullable=False),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("retry_at", TIME, nullable=True),
    )


def _saga_event() -> None:
    op.create_table(
        "saga_event",
        _serial(),
        sa.Column("saga_id", sa.Uuid(), sa.ForeignKey("saga.id"), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("step", sa.String(100), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    _indexes("saga_event", "saga_id")


def _outbox() -> None:
    op.create_table(
        "outbox",
        _serial(),
        sa.Column("saga_id", sa.Uuid(), sa.ForeignKey("saga.id"), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(255), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=True),
        sa.Column("sent_at", TIME, nullable=True),
    )
    _indexes("outbox", "saga_id", "status", "next_attempt_at")


def _dead_letter() -> None:
    op.create_table(
        "dead_letter",
        _serial(),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("replayed_at", TIME, nullable=True),
        sa.Column("replay_saga_id", sa.Uuid(), sa.ForeignKey("saga.id"), nullable=True),
    )
    _indexes("dead_letter", "received_at", "message_id", "status")


def downgrade() -> None:
    for table in ("dead_letter", "outbox", "saga_event", "saga_step", "crm_token", "saga"):
        op.drop_table(table)
