"""PostgreSQL: a saga's change written as one statement, and the saga read as one.

`SqlSagaStore.apply` on PostgreSQL sends the whole change — the saga row's compare-and-set, the
step rows, the events, the outbox rows and the NOTIFY of a saga's end — as one statement made of
data-modifying CTEs, run outside an explicit transaction: one round trip and one commit, where
the same change as separate statements took BEGIN, four statements and COMMIT (six round trips
to the server, each a wake-up of two processes). A statement is atomic on its own: every CTE
sees the same snapshot, and all of them land or none. The step, event and outbox CTEs read the
saga CTE's RETURNING, so a lost compare-and-set writes nothing at all (and notifies nobody).

SQLAlchemy's Core would build this statement anew for each shape of change and each value
(a VALUES list is part of its cache key), which is what made the worker CPU-bound before the
hot statements were prebuilt; so the SQL text is built here once per shape (how many steps,
events and outbox rows; notify or not) and sent with psycopg's own parameters through
`exec_driver_sql`. Values are converted as the models' types would: JSON through json.dumps
(SQLAlchemy's default serializer, so None is stored as JSON null, as before), datetimes aware.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from orchestrator.saga.state import Change, Event, SagaState, StepState

SAGA_FIELDS = (
    "flow", "status", "input", "version", "error", "failed_step", "idempotency_key",
    "request_hash", "subject", "message_id", "reply_to", "created_at", "updated_at",
    "finished_at", "wake_at", "deadline_at",
)  # fmt: skip
STEP_FIELDS = (
    "name", "status", "attempts", "undo_attempts", "output", "error", "error_code",
    "maybe_created", "started_at", "finished_at", "lease_until", "retry_at", "holder",
    "interrupted",
)  # fmt: skip
_JSON = frozenset({"input", "output", "detail"})
_EVENT_COLUMNS = ("at", "kind", "step", "attempt", "actor", "detail")
_EVENT_TYPES = ("timestamptz", "varchar", "varchar", "integer", "varchar", "json")
_STEP_TYPES = {
    "name": "varchar", "status": "varchar", "attempts": "integer", "undo_attempts": "integer",
    "output": "json", "error": "text", "error_code": "varchar", "maybe_created": "boolean",
    "started_at": "timestamptz", "finished_at": "timestamptz", "lease_until": "timestamptz",
    "retry_at": "timestamptz", "holder": "varchar", "interrupted": "integer",
}  # fmt: skip
_OUTBOX_COLUMNS = ("kind", "status", "attempts", "created_at", "next_attempt_at")
_OUTBOX_TYPES = ("varchar", "varchar", "integer", "timestamptz", "timestamptz")


def apply_statement(change: Change, channel: str) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of `change` as one statement; it returns one row if it applied
    (the compare-and-set held) and none if another writer moved the saga first."""
    saga = change.saga
    params: dict[str, Any] = {"w_id": saga.id, "w_version": change.expected_version}
    params.update(_prefixed("s_", _saga_row(saga)))
    for i, step in enumerate(change.steps):
        params.update(_prefixed(f"t{i}_", _step_row(step)))
        params[f"t{i}_index"] = step.index
    for i, event in enumerate(change.events):
        params.update(_prefixed(f"e{i}_", _event_row(saga, event)))
    for i, kind in enumerate(change.notify):
        params.update(_prefixed(f"o{i}_", _outbox_row(saga, kind)))
    notify = saga.status.terminal
    if notify:
        params["channel"] = channel
    sql = _statement(len(change.steps), len(change.events), len(change.notify), notify)
    return sql, params


def create_statement(saga: SagaState, event: Event) -> tuple[str, dict[str, Any]]:
    """A new saga, its steps and its first event as one statement (returns the saga's id)."""
    params: dict[str, Any] = {"s_id": saga.id, **_prefixed("s_", _saga_row(saga))}
    for i, step in enumerate(saga.steps):
        params.update(_prefixed(f"t{i}_", _step_row(step)))
        params[f"t{i}_index"] = step.index
    params.update(_prefixed("e0_", _event_row(saga, event)))
    return _create_sql(len(saga.steps)), params


@functools.lru_cache(maxsize=64)
def _create_sql(steps: int) -> str:
    columns = ", ".join(f'"{name}"' for name in ("id", *SAGA_FIELDS))
    values = ", ".join(_param("s_", name) for name in ("id", *SAGA_FIELDS))
    parts = [f'"s" AS (INSERT INTO saga ({columns}) VALUES ({values}) RETURNING id)']
    if steps:
        names = ("index", *STEP_FIELDS)
        types = ("integer", *(_STEP_TYPES[name] for name in STEP_FIELDS))
        parts.append(_insert_cte("st", "saga_step", "t", steps, names, types))
    parts.append(_insert_cte("ev", "saga_event", "e", 1, _EVENT_COLUMNS, _EVENT_TYPES))
    return "WITH " + ", ".join(parts) + " SELECT id FROM s"


@functools.lru_cache(maxsize=256)
def _statement(steps: int, events: int, outbox: int, notify: bool) -> str:
    sets = ", ".join(f'"{name}" = {_param("s_", name)}' for name in SAGA_FIELDS)
    parts = [
        f'"s" AS (UPDATE saga SET {sets} WHERE id = %(w_id)s AND version = %(w_version)s '
        "RETURNING id)"
    ]
    for i in range(steps):
        prefix = f"t{i}_"
        assignments = ", ".join(f'"{name}" = {_param(prefix, name)}' for name in STEP_FIELDS)
        parts.append(
            f'"t{i}" AS (UPDATE saga_step SET {assignments} WHERE saga_id = (SELECT id FROM s) '
            f"AND index = %({prefix}index)s)"
        )
    if events:
        parts.append(_insert_cte("ev", "saga_event", "e", events, _EVENT_COLUMNS, _EVENT_TYPES))
    if outbox:
        parts.append(_insert_cte("ob", "outbox", "o", outbox, _OUTBOX_COLUMNS, _OUTBOX_TYPES))
    tail = "SELECT id, pg_notify(%(channel)s, id::text) FROM s" if notify else "SELECT id FROM s"
    return "WITH " + ", ".join(parts) + " " + tail


def _insert_cte(
    name: str, table: str, prefix: str, rows: int, columns: Sequence[str], types: Sequence[str]
) -> str:
    values = ", ".join(
        "("
        + ", ".join(f"%({prefix}{i}_{c})s::{t}" for c, t in zip(columns, types, strict=True))
        + ")"
        for i in range(rows)
    )
    listed = ", ".join(f'"{c}"' for c in columns)
    picked = ", ".join(f'v."{c}"' for c in columns)
    return (
        f'"{name}" AS (INSERT INTO {table} (saga_id, {listed}) SELECT s.id, {picked} FROM s '
        f"CROSS JOIN (VALUES {values}) AS v({listed}))"
    )


def _param(prefix: str, name: str) -> str:
    return f"%({prefix}{name})s::json" if name in _JSON else f"%({prefix}{name})s"


def _prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {prefix + name: value for name, value in values.items()}


def _saga_row(saga: SagaState) -> dict[str, Any]:
    row = {name: getattr(saga, name) for name in SAGA_FIELDS}
    row["status"] = saga.status.value
    return _converted(row)


def _step_row(step: StepState) -> dict[str, Any]:
    row = {name: getattr(step, name) for name in STEP_FIELDS}
    row["status"] = step.status.value
    return _converted(row)


def _event_row(saga: SagaState, event: Event) -> dict[str, Any]:
    return _converted({
        "at": saga.updated_at, "kind": event.kind, "step": event.step,
        "attempt": event.attempt, "actor": event.actor, "detail": event.detail or None,
    })  # fmt: skip


def _outbox_row(saga: SagaState, kind: str) -> dict[str, Any]:
    at = saga.updated_at
    return _converted({"kind": kind, "status": "pending", "attempts": 0, "created_at": at,
                       "next_attempt_at": at})  # fmt: skip


def _converted(row: dict[str, Any]) -> dict[str, Any]:
    for name, value in row.items():
        if name in _JSON:
            row[name] = json.dumps(value)
        elif isinstance(value, datetime):
            row[name] = value.astimezone(UTC)
    return row
