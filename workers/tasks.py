"""Celery tasks: thin shells that carry a saga id to the engine and schedule its next wake-up.

Like a web view: decode the message, call the engine, map the outcome. No business rules here.
"""

from __future__ import annotations

import logging
import uuid

from orchestrator.bootstrap import Deps
from orchestrator.observability import log_context
from orchestrator.saga.ports import StoreUnavailable
from workers.celery_app import app, dispatch, runtime

log = logging.getLogger(__name__)


@app.task(  # type: ignore[untyped-decorator]
    name="saga.advance",
    # The database is down while the runtime is built: try again soon; recovery covers the rest.
    autoretry_for=(StoreUnavailable, OSError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=20,
)
def advance(saga_id: str) -> None:
    """Hand the saga to this process's runtime, which makes its due moves on its event loop
    (workers/runtime.py); returns as soon as the saga is taken on.

    Safe to receive twice: the engine claims the step row in SQL before any CRM call and a
    retried step looks for its earlier effect by marker, so a redelivery never duplicates.
    """
    with log_context(saga_id=saga_id, task="saga.advance"):
        try:
            parsed = uuid.UUID(saga_id)
        except ValueError:
            log.error("saga.advance with a malformed saga id %r dropped", saga_id)
            return
        runtime().start(parsed)


async def _due(deps: Deps) -> list[uuid.UUID]:
    return list(await deps.engine.claim_due())


@app.task(name="saga.recover", autoretry_for=(StoreUnavailable,), retry_backoff=1, max_retries=5)  # type: ignore[untyped-decorator]
def recover() -> int:
    """Periodic: re-send `advance` for each saga the table says is due (lost message or worker)."""
    with log_context(task="saga.recover"):
        due = runtime().call(_due)
        for saga_id in due:
            dispatch(saga_id)
        if due:
            log.info("saga.recover re-dispatched %d sagas", len(due))
        return len(due)


async def _flush(deps: Deps) -> int:
    return await deps.outbox.deliver_due()


@app.task(name="mail.flush_outbox")  # type: ignore[untyped-decorator]
def flush_outbox() -> int:
    """Periodic: deliver notifications whose first delivery failed (SMTP down)."""
    with log_context(task="mail.flush_outbox"):
        return runtime().call(_flush)
