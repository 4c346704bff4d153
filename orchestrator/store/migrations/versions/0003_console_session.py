"""Console sessions kept on the server (issue 22, finding 4): the console_session table.

Revision ID: 0003_console_session
Revises: 0002_liveness_crm_events
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_console_session"
down_revision = "0002_liveness_crm_events"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("console_session"):
        return  # made by a development version's create_all before alembic
    op.create_table(
        "console_session",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=16), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=True),
    )
    op.create_index("ix_console_session_expires_at", "console_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_console_session_expires_at", table_name="console_session")
    op.drop_table("console_session")
