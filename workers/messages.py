"""The public Celery tasks other services send to start sales (docs/messaging.md): thin shells
around orchestrator/messaging/intake.py, and the only tasks whose result is kept (the saga id).

Bad input never raises (a raise would make Celery retry or drop the message): it becomes a dead
letter. So does a message for these tasks that Celery cannot even decode.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import bootsteps
from celery.exceptions import InvalidTaskError
from celery.signals import task_rejected
from celery.worker.request import Request

from orchestrator.bootstrap import Deps
from orchestrator.messaging.contract import CREATE_SALES, START_SAGA, TASKS, Message
from orchestrator.messaging.intake import DeadLettered, Started, accept, dead_letter
from orchestrator.observability import log_context
from orchestrator.saga.ports import StoreUnavailable
from workers.celery_app import app, dispatch, one_off, runtime

log = logging.getLogger(__name__)


class StartTaskRequest(Request):  # type: ignore[misc]
    """A message whose body is JSON but not Celery's [args, kwargs, embed] (a hand-made one)
    would crash the worker's consumer or fail inside the task: reject it instead, so that
    `task_rejected` below keeps it as a dead letter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidTaskError(f"not a Celery task message: {exc}") from exc
        if not isinstance(self.args, list | tuple) or not isinstance(self.kwargs, dict):
            raise InvalidTaskError(
                "not a Celery task message: args must be a list, kwargs an object"
            )


_START_TASK = {
    "Request": StartTaskRequest,
    "ignore_result": False,  # the producer may .get() the saga id
    # The store is down: try again soon (the message stays unanswered, never dead-lettered).
    "autoretry_for": (StoreUnavailable,),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "max_retries": 20,
}


@app.task(name=CREATE_SALES, **_START_TASK)  # type: ignore[untyped-decorator]
def create_sales(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The PLG shortcut: the body of POST /createSales plus `message_id` (and `reply_to`).

    *args/**kwargs so that any message reaches the validation and, if bad, the dead letters.
    """
    return _accept(Message(CREATE_SALES, kwargs, args))


@app.task(name=START_SAGA, **_START_TASK)  # type: ignore[untyped-decorator]
def start_saga(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Any flow that takes messages: `flow`, `input`, `message_id` (and `reply_to`)."""
    return _accept(Message(START_SAGA, kwargs, args))


def _accept(message: Message) -> dict[str, Any]:
    with log_context(task=message.task, message_id=message.message_id):
        return runtime().call(_take_in, message).body()


async def _take_in(deps: Deps, message: Message) -> Started | DeadLettered:
    """Through the one intake, which also dispatches the saga."""
    return await accept(deps.inbox(dispatch), message)


async def _keep(deps: Deps, message: Message, reason: str) -> DeadLettered:
    return await dead_letter(deps.inbox(dispatch), message, reason)


# Messages that never reach a task: Celery logs them and acks (drops) them. For the start tasks
# they are kept as dead letters instead: a body that is not valid JSON (decode error), or sent
# with a serializer the worker does not accept (rejected).


def _keep_unreadable(message: Any, exc: BaseException | None) -> bool:
    """Dead-letter a start-task message that could not be decoded; False if not one, or if it
    could not be kept (then Celery's own handling applies)."""
    headers = getattr(message, "headers", None)
    task = headers.get("task") if isinstance(headers, dict) else None
    if task not in TASKS:
        return False
    reason = f"the message could not be read: {type(exc).__name__}: {exc}"
    return _record_aside(Message(str(task), getattr(message, "body", None)), reason)


def _record_aside(message: Message, reason: str) -> bool:
    """Record in a thread of its own, with adapters closed afterwards: the consumer may run in
    the prefork parent, where no event loop or connection pool may stay behind (runtime())."""
    kept: list[int] = []

    def work() -> None:
        try:
            kept.append(one_off(_keep, message, reason).dead_letter_id)
        except Exception:
            log.exception("could not keep an undecodable %s message", message.task)

    thread = threading.Thread(target=work, name="salesaga-dead-letter", daemon=True)
    thread.start()
    thread.join(timeout=60)
    return bool(kept)


@task_rejected.connect  # type: ignore[untyped-decorator]
def _dead_letter_rejected(message: Any = None, exc: BaseException | None = None, **_: Any) -> None:
    """Sent after Celery rejected a message (serializer not accepted, invalid task fields)."""
    _keep_unreadable(message, exc)


class DeadLetterUndecodable(bootsteps.Step):  # type: ignore[misc]
    """Consumer step: a start-task message whose body cannot be decoded becomes a dead letter
    instead of being logged and acked."""

    name = "salesaga.dead_letter_undecodable"

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        super().__init__(consumer, **kwargs)
        celery_default = consumer.on_decode_error

        def on_decode_error(message: Any, exc: Exception) -> None:
            if _keep_unreadable(message, exc):
                message.ack()
            else:
                celery_default(message, exc)

        consumer.on_decode_error = on_decode_error


app.steps["consumer"].add(DeadLetterUndecodable)
