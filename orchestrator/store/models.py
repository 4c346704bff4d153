"""The state tables (SQLModel): saga, saga_step, saga_event, outbox, crm_token, dead_letter,
crm_event, worker, console_session.

At any moment these rows tell exactly where every saga is; a broker message only says "look at X".
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, _dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _time(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UtcDateTime(), nullable=nullable, index=index))


def _serial_id() -> Any:
    # BIGINT on PostgreSQL; SQLite autoincrements only a column typed exactly INTEGER.
    column_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return Field(
        default=None, sa_column=sa.Column(column_type, primary_key=True, autoincrement=True)
    )


def _json() -> Any:
    return Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))


class SagaRow(SQLModel, table=True):
    __tablename__ = "saga"
    __table_args__ = (
        # Only live sagas are ever scanned for work; terminal ones have wake_at NULL.
        sa.Index(
            "ix_saga_wake_at_live",
            "wake_at",
            postgresql_where=sa.text("wake_at IS NOT NULL"),
            sqlite_where=sa.text("wake_at IS NOT NULL"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    flow: str = Field(index=True, max_length=100)
    status: str = Field(index=True, max_length=32)
    input: Any = _json()
    version: int = 0
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    failed_step: str | None = Field(default=None, max_length=100)
    idempotency_key: str | None = Field(default=None, unique=True, max_length=255)
    request_hash: str | None = Field(default=None, max_length=64)
    subject: str | None = Field(default=None, index=True, max_length=255)
    message_id: str | None = Field(default=None, max_length=255)  # the message that started it
    reply_to: str | None = Field(default=None, max_length=300)  # its reply route, e.g. queue:x
    created_at: datetime = _time(nullable=False, index=True)
    updated_at: datetime = _time(nullable=False)
    finished_at: datetime | None = _time()
    wake_at: datetime | None = _time()
    deadline_at: datetime | None = _time()


class SagaStepRow(SQLModel, table=True):
    __tablename__ = "saga_step"

    saga_id: uuid.UUID = Field(foreign_key="saga.id", primary_key=True)
    index: int = Field(primary_key=True)
    name: str = Field(max_length=100)
    status: str = Field(max_length=32)
    attempts: int = 0
    undo_attempts: int = 0
    output: Any = _json()
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    error_code: str | None = Field(default=None, max_length=100)
    maybe_created: bool = False
    started_at: datetime | None = _time()
    finished_at: datetime | None = _time()
    lease_until: datetime | None = _time()
    retry_at: datetime | None = _time()
    holder: str | None = Field(default=None, max_length=120, index=True)  # a worker.id
    interrupted: int | None = 0  # nullable: migration 0002 added it to existing rows as NULL


class SagaEventRow(SQLModel, table=True):
    """Append-only: every transition of every saga, with who caused it."""

    __tablename__ = "saga_event"

    id: int | None = _serial_id()
    saga_id: uuid.UUID = Field(foreign_key="saga.id", index=True)
    at: datetime = _time(nullable=False)
    kind: str = Field(max_length=64)
    step: str | None = Field(default=None, max_length=100)
    attempt: int | None = None
    actor: str = Field(default="engine", max_length=100)
    detail: Any = _json()


class OutboxRow(SQLModel, table=True):
    """A notification written with the state change that caused it; delivered until sent."""

    __tablename__ = "outbox"

    id: int | None = _serial_id()
    saga_id: uuid.UUID = Field(foreign_key="saga.id", index=True)
    kind: str = Field(max_length=64)
    status: str = Field(default="pending", index=True, max_length=16)  # pending|sending|sent
    recipient: str | None = Field(default=None, max_length=255)
    subject: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    body_text: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    created_at: datetime = _time(nullable=False)
    next_attempt_at: datetime | None = _time(index=True)
    sent_at: datetime | None = _time()


class CrmTokenRow(SQLModel, table=True):
    """The one shared access token per CRM credential (never logged)."""

    __tablename__ = "crm_token"

    key: str = Field(primary_key=True, max_length=255)
    value: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    expires_at: float


class DeadLetterRow(SQLModel, table=True):
    """A queue message that started no saga (invalid, unreadable, or a message id reused with
    another body), kept as sent with the reason until an operator replays it."""

    __tablename__ = "dead_letter"

    id: int | None = _serial_id()
    received_at: datetime = _time(nullable=False, index=True)
    source: str = Field(max_length=100)  # e.g. "celery:salesaga.create_sales"
    message_id: str | None = Field(default=None, index=True, max_length=255)
    payload: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))  # JSON, or its repr
    reason: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    status: str = Field(default="new", index=True, max_length=16)  # new|replayed
    replayed_at: datetime | None = _time()
    replay_saga_id: uuid.UUID | None = Field(default=None, foreign_key="saga.id")


class CrmEventRow(SQLModel, table=True):
    """An event a CRM pushed to us (a webhook), stored before it was answered: `stored`, or
    `rejected` with the reason. `delivery` recognises a redelivery; `saga_id` and `record_id`
    tie it to the saga whose record it is about, when known."""

    __tablename__ = "crm_event"
    __table_args__ = (sa.UniqueConstraint("backend", "delivery", name="uq_crm_event_delivery"),)

    id: int | None = _serial_id()
    received_at: datetime = _time(nullable=False, index=True)
    backend: str = Field(max_length=40)
    trigger: str = Field(max_length=60)
    delivery: str | None = Field(default=None, max_length=255)
    payload: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    status: str = Field(default="stored", index=True, max_length=16)  # stored|rejected
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    record_id: str | None = Field(default=None, index=True, max_length=64)
    saga_id: uuid.UUID | None = Field(default=None, foreign_key="saga.id", index=True)


class WorkerRow(SQLModel, table=True):
    """A worker process that runs sagas: it beats here every HEARTBEAT_S while alive
    (orchestrator/store/liveness.py). Its claims carry its id (saga_step.holder)."""

    __tablename__ = "worker"

    id: str = Field(primary_key=True, max_length=120)  # host:pid:random
    host: str = Field(max_length=255)
    pid: int
    state: str = Field(index=True, max_length=16)  # alive|stopping|stopped|dead
    started_at: datetime = _time(nullable=False)
    beat_at: datetime = _time(nullable=False, index=True)
    ended_at: datetime | None = _time()
    taken_over_by: str | None = Field(default=None, max_length=120)
    # what its sagas cost in SQL so far (the engine's pool; beats not counted), for /metrics
    sql_statements: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))
    sql_commits: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))
    sql_rollbacks: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))


class ConsoleSessionRow(SQLModel, table=True):
    """An operator's console session, kept on the server so that logging out ends it at once
    in every API process (the cookie holds only a random token; this row, its SHA-256)."""

    __tablename__ = "console_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    actor: str = Field(max_length=200)  # who logged in, as the event log names them
    key_fingerprint: str = Field(max_length=16)  # the key it was opened with
    csrf: str = Field(max_length=64)  # sent back in every console form
    created_at: datetime = _time(nullable=False)
    expires_at: datetime = _time(nullable=False, index=True)
    ended_at: datetime | None = _time()  # logged out (the row stays until it expires)
