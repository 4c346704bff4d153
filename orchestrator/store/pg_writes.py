"""PostgreSQL: a saga's change written as one statement.

`SqlSagaStore.apply` on PostgreSQL sends the whole change — the saga row's compare-and-set, the
step rows, the events, the outbox rows and the NOTIFY of a saga's end — as one statement made of
data-modifying CTEs, run outside an explicit transaction: one round trip and one commit, where
the same change as separate statements took BEGIN, four statements and COMMIT (six round trips
to the server, each a wake-up of two processes). A statement is atomic on its own: every CTE
sees the same snapshot, and all of them land or none. The step, event and outbox CTEs read the
saga CTE's RETURNING, so a lost compare-and-set writes nothing at all (and notifies nobody).
`create_statement` does the same for a new saga, its steps and its first event.

The rows travel as JSON documents turned into rows by the server (`json_populate_record(set)`
over the table's own row type), so the SQL text is the same for every change of one shape and
the statement has a handful of parameters: SQLAlchemy's Core would have built the statement anew
per value (a VALUES list is part of its cache key), and psycopg parses a query with more than 50
parameters anew on every execution. Values are converted as the models' types would: datetimes
as ISO 8601 with their offset, UUIDs as text, JSON columns nested.
"""

from __future__ import annotations

import functools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from orchestrator.saga.state import Change, Event, SagaState, StepState
from orchestrator.store.endings import announcement

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
_EVENT_FIELDS = ("at", "kind", "step", "attempt", "actor", "detail")
_OUTBOX_FIELDS = ("kind", "status", "attempts", "created_at", "next_attempt_at")


def apply_statement(change: Change, channel: str) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of `change` as one statement; it returns one row if it applied
    (the compare-and-set held) and none if another writer moved the saga first."""
    saga = change.saga
    params: dict[str, Any] = {
        "w_id": saga.id,
        "w_version": change.expected_version,
        "saga": _json(saga_row(saga)),
    }
    if change.steps:
        params["steps"] = _json([_indexed(step) for step in change.steps])
    if change.events:
        params["events"] = _json([event_row(saga, event) for event in change.events])
    if change.notify:
        params["outbox"] = _json([outbox_row(saga, kind) for kind in change.notify])
    notify = saga.status.terminal
    if notify:
        params["channel"] = channel
        params["note"] = announcement(saga.id, saga.status.value, saga.error)
    sql = _apply_sql(bool(change.steps), bool(change.events), bool(change.notify), notify)
    return sql, params


def create_statement(saga: SagaState, event: Event) -> tuple[str, dict[str, Any]]:
    """A new saga, its steps and its first event as one statement (returns the saga's id)."""
    row = {"id": saga.id, **saga_row(saga)}
    params = {
        "saga": _json(row),
        "steps": _json([_indexed(step) for step in saga.steps]),
        "events": _json([event_row(saga, event)]),
    }
    return _CREATE_SQL, params


@functools.lru_cache(maxsize=16)
def _apply_sql(steps: bool, events: bool, outbox: bool, notify: bool) -> str:
    sets = ", ".join(f'"{name}" = r."{name}"' for name in SAGA_FIELDS)
    parts = [
        f'"s" AS (UPDATE saga SET {sets} FROM json_populate_record(NULL::saga, %(saga)s::json)'
        " r WHERE saga.id = %(w_id)s AND saga.version = %(w_version)s RETURNING saga.id)"
    ]
    if steps:
        step_sets = ", ".join(f'"{name}" = r."{name}"' for name in STEP_FIELDS)
        parts.append(
            f'"t" AS (UPDATE saga_step SET {step_sets} FROM json_populate_recordset('
            "NULL::saga_step, %(steps)s::json) r WHERE saga_step.saga_id = (SELECT id FROM s) "
            'AND saga_step."index" = r."index")'
        )
    if events:
        parts.append(_insert_cte("ev", "saga_event", "events", _EVENT_FIELDS))
    if outbox:
        parts.append(_insert_cte("ob", "outbox", "outbox", _OUTBOX_FIELDS))
    tail = "SELECT id, pg_notify(%(channel)s, %(note)s) FROM s" if notify else "SELECT id FROM s"
    return "WITH " + ", ".join(parts) + " " + tail


def _insert_cte(name: str, table: str, param: str, fields: tuple[str, ...]) -> str:
    listed = ", ".join(f'"{c}"' for c in fields)
    picked = ", ".join(f'r."{c}"' for c in fields)
    return (
        f'"{name}" AS (INSERT INTO {table} (saga_id, {listed}) SELECT s.id, {picked} FROM s '
        f"CROSS JOIN json_populate_recordset(NULL::{table}, %({param})s::json) r)"
    )


def _create_sql() -> str:
    saga = ", ".join(f'"{c}"' for c in ("id", *SAGA_FIELDS))
    saga_picked = ", ".join(f'r."{c}"' for c in ("id", *SAGA_FIELDS))
    parts = [
        f'"s" AS (INSERT INTO saga ({saga}) SELECT {saga_picked} FROM '
        "json_populate_record(NULL::saga, %(saga)s::json) r RETURNING id)",
        _insert_cte("st", "saga_step", "steps", ("index", *STEP_FIELDS)),
        _insert_cte("ev", "saga_event", "events", _EVENT_FIELDS),
    ]
    return "WITH " + ", ".join(parts) + " SELECT id FROM s"


_CREATE_SQL = _create_sql()


# The column values of each row, keys aside (saga.id, saga_step.saga_id and index): the same
# for the PostgreSQL statements here and the portable ones of sql_store.


def saga_row(saga: SagaState) -> dict[str, Any]:
    row = {name: getattr(saga, name) for name in SAGA_FIELDS}
    row["status"] = saga.status.value
    return row


def step_row(step: StepState) -> dict[str, Any]:
    row = {name: getattr(step, name) for name in STEP_FIELDS}
    row["status"] = step.status.value
    return row


def _indexed(step: StepState) -> dict[str, Any]:
    return {**step_row(step), "index": step.index}


def event_row(saga: SagaState, event: Event) -> dict[str, Any]:
    return {
        "at": saga.updated_at, "kind": event.kind, "step": event.step,
        "attempt": event.attempt, "actor": event.actor, "detail": event.detail or None,
    }  # fmt: skip


def outbox_row(saga: SagaState, kind: str) -> dict[str, Any]:
    at = saga.updated_at
    return {"kind": kind, "status": "pending", "attempts": 0, "created_at": at,
            "next_attempt_at": at}  # fmt: skip


def _json(value: object) -> str:
    return json.dumps(value, default=_plain, separators=(",", ":"))


def _plain(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
