"""Messages in: a valid message starts its saga once per message id; any other becomes a dead
letter with the reason (never dropped, never raised). An operator replays one after a fix.

Sagas start through the one intake (orchestrator/intake/), which also dispatches them.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.intake import Intake, KeyReused, Parsed, Started, json_body
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
from orchestrator.saga.ports import utc_now

log = logging.getLogger(__name__)


__all__ = ["DeadLettered", "Inbox", "ReplayRefused", "Started", "accept", "dead_letter", "replay"]


@dataclass(frozen=True, slots=True)
class Inbox:
    """What taking messages in needs: the intake, the dead-letter table, the reply routes."""

    intake: Intake
    db: AsyncEngine
    reply_kinds: frozenset[str]  # the reply routes this service can send to
    plg_flow: str  # the flow salesaga.create_sales starts

    def validate(self, message: Message) -> StartRequest | Invalid:
        return validate(message, self.reply_kinds, self.intake.parse, self.plg_flow)


@dataclass(frozen=True, slots=True)
class DeadLettered:
    dead_letter_id: int
    reason: str

    def body(self) -> dict[str, Any]:
        return {"status": "dead_letter", "deadLetterId": self.dead_letter_id, "reason": self.reason}


class ReplayRefused(Exception):
    """A dead letter that cannot be replayed (unknown, replayed already, or still invalid);
    the message says why."""


async def accept(inbox: Inbox, message: Message) -> Started | DeadLettered:
    """Start the message's saga, or find the one its message id started; else dead-letter it."""
    checked = inbox.validate(message)
    if isinstance(checked, StartRequest):
        started = await start(inbox, checked, actor=message.source)
        if isinstance(started, Started):
            outcome = "duplicate" if started.duplicate else "accepted"
            messages_counter().labels(message.source, outcome).inc()
            return started
        checked = started
    messages_counter().labels(message.source, "dead_letter").inc()
    return await dead_letter(inbox, message, checked.reason)


async def start(
    inbox: Inbox, request: StartRequest, *, actor: str, detail: dict[str, Any] | None = None
) -> Started | Invalid:
    """Like POST /createSales with an Idempotency-Key: same message id and body → that saga."""
    about = {"messageId": request.message_id, "replyTo": request.reply_to, **(detail or {})}

    async def note(saga_id: uuid.UUID) -> None:
        await note_received(inbox.db, saga_id, actor=actor, detail=about, now=utc_now())

    parsed = Parsed(request.flow, request.input, request.subject, request.digest)
    started = await inbox.intake.start(
        parsed, actor=actor, key=request.idempotency_key, message_id=request.message_id,
        reply_to=request.reply_route, on_new=note,
    )  # fmt: skip
    return Invalid(REUSED) if isinstance(started, KeyReused) else started


async def dead_letter(inbox: Inbox, message: Message, reason: str) -> DeadLettered:
    """Keep the message with the reason, count it and log it."""
    row_id, new = await record_dead_letter(
        inbox.db, source=message.source, message_id=message.message_id,
        payload=payload_text(message.payload()), reason=reason, now=utc_now(),
    )  # fmt: skip
    if new:
        dead_letters_counter().labels(message.source).inc()
    log.warning("dead letter %d from %s (message_id %s): %s",
                row_id, message.source, message.message_id, reason)  # fmt: skip
    return DeadLettered(row_id, reason)


async def replay(
    inbox: Inbox, dead_letter_id: int, *, actor: str, fixed_payload: str | None = None
) -> Started:
    """Validate the dead letter's payload (or an operator's fixed one, JSON text) again and
    start its saga; the row is then marked replayed with the saga id. Raises ReplayRefused."""
    letter = await load_dead_letter(inbox.db, dead_letter_id)
    if letter is None:
        raise ReplayRefused(f"no dead letter {dead_letter_id}")
    if letter.status is DeadLetterStatus.REPLAYED:
        raise ReplayRefused(f"dead letter {dead_letter_id} was replayed already: "
                            f"saga {letter.replay_saga_id}")  # fmt: skip
    payload = _json(fixed_payload if fixed_payload is not None else letter.payload)
    checked = inbox.validate(Message.from_payload(letter.source, payload))
    if isinstance(checked, StartRequest):
        started = await start(inbox, checked, actor=actor, detail={"deadLetterId": letter.id})
        if isinstance(started, Started):
            await mark_replayed(inbox.db, letter.id, started.saga_id, now=utc_now())
            return started
        checked = started
    raise ReplayRefused(f"still invalid: {checked.reason}")


def _json(text: str) -> object:
    try:
        return json_body.loads(text)
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
