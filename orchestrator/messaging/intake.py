"""Messages in: a valid message starts its saga once per message id; any other becomes a dead
letter with the reason (never dropped, never raised). An operator replays one after a fix.

The caller (workers/messages.py, the CLI) dispatches `saga.advance` for a Started that is live.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from orchestrator.bootstrap import Deps
from orchestrator.messaging.contract import (
    REUSED,
    Invalid,
    Message,
    StartRequest,
    validate,
)
from orchestrator.messaging.store import (
    DeadLetterStatus,
    load_dead_letter,
    mark_replayed,
    note_received,
    payload_text,
    record_dead_letter,
)
from orchestrator.saga.ports import DuplicateIdempotencyKey, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Started:
    saga_id: uuid.UUID
    duplicate: bool  # the message id had started this saga before: nothing new was started
    live: bool  # not finished yet, so worth an `advance`

    def body(self) -> dict[str, Any]:
        """The start task's result."""
        return {
            "sagaId": str(self.saga_id),
            "status": "duplicate" if self.duplicate else "accepted",
        }


@dataclass(frozen=True, slots=True)
class DeadLettered:
    dead_letter_id: int
    reason: str

    def body(self) -> dict[str, Any]:
        return {"status": "dead_letter", "deadLetterId": self.dead_letter_id, "reason": self.reason}


class ReplayRefused(Exception):
    """A dead letter that cannot be replayed (unknown, replayed already, or still invalid);
    the message says why."""


async def accept(deps: Deps, message: Message) -> Started | DeadLettered:
    """Start the message's saga, or find the one its message id started; else dead-letter it."""
    checked = validate(message, deps.replies.kinds)
    if isinstance(checked, StartRequest):
        started = await start(deps, checked, actor=message.source)
        if isinstance(started, Started):
            outcome = "duplicate" if started.duplicate else "accepted"
            messages_counter().labels(message.source, outcome).inc()
            return started
        checked = started
    messages_counter().labels(message.source, "dead_letter").inc()
    return await dead_letter(deps, message, checked.reason)


async def start(
    deps: Deps, request: StartRequest, *, actor: str, detail: dict[str, Any] | None = None
) -> Started | Invalid:
    """Like POST /createSales with an Idempotency-Key: same message id and body → that saga."""
    try:
        saga = await deps.engine.start(
            request.flow, request.input, subject=request.subject, actor=actor,
            idempotency_key=request.idempotency_key, request_hash=request.digest,
            message_id=request.message_id, reply_to=request.reply_route,
        )  # fmt: skip
    except DuplicateIdempotencyKey as duplicate:
        earlier = await deps.store.load(duplicate.saga_id)
        if earlier is None or (earlier.flow, earlier.request_hash) != (
            request.flow,
            request.digest,
        ):
            return Invalid(REUSED)
        return Started(earlier.id, duplicate=True, live=not earlier.status.terminal)
    about = {"messageId": request.message_id, "replyTo": request.reply_to, **(detail or {})}
    await note_received(deps.db, saga.id, actor=actor, detail=about, now=utc_now())
    return Started(saga.id, duplicate=False, live=True)


async def dead_letter(deps: Deps, message: Message, reason: str) -> DeadLettered:
    """Keep the message with the reason, count it and log it."""
    row_id, new = await record_dead_letter(
        deps.db, source=message.source, message_id=message.message_id,
        payload=payload_text(message.payload()), reason=reason, now=utc_now(),
    )  # fmt: skip
    if new:
        dead_letters_counter().labels(message.source).inc()
    log.warning("dead letter %d from %s (message_id %s): %s",
                row_id, message.source, message.message_id, reason)  # fmt: skip
    return DeadLettered(row_id, reason)


async def replay(
    deps: Deps, dead_letter_id: int, *, actor: str, fixed_payload: str | None = None
) -> Started:
    """Validate the dead letter's payload (or an operator's fixed one, JSON text) again and
    start its saga; the row is then marked replayed with the saga id. Raises ReplayRefused."""
    letter = await load_dead_letter(deps.db, dead_letter_id)
    if letter is None:
        raise ReplayRefused(f"no dead letter {dead_letter_id}")
    if letter.status is DeadLetterStatus.REPLAYED:
        raise ReplayRefused(f"dead letter {dead_letter_id} was replayed already: "
                            f"saga {letter.replay_saga_id}")  # fmt: skip
    payload = _json(fixed_payload if fixed_payload is not None else letter.payload)
    checked = validate(Message.from_payload(letter.source, payload), deps.replies.kinds)
    if isinstance(checked, StartRequest):
        started = await start(deps, checked, actor=actor, detail={"deadLetterId": letter.id})
        if isinstance(started, Started):
            await mark_replayed(deps.db, letter.id, started.saga_id, now=utc_now())
            return started
        checked = started
    raise ReplayRefused(f"still invalid: {checked.reason}")


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        raise ReplayRefused(
            "the payload is not JSON: give a fixed one with --payload-file"
        ) from None


@functools.cache
def dead_letters_counter() -> Counter:
    """One per process, in the default registry that GET /metrics exposes."""
    return Counter(
        "salesaga_dead_letters", "Messages that started no saga and were kept as dead letters.",
        ["source"],
    )  # fmt: skip


@functools.cache
def messages_counter() -> Counter:
    """Every message taken in, by source and outcome (accepted, duplicate, dead_letter)."""
    return Counter(
        "salesaga_messages", "Queue messages taken in, by source and outcome.",
        ["source", "outcome"],
    )  # fmt: skip
