"""What a failure e-mail says, as plain data built from the saga's persisted state.

Pure Python (no jinja2, no SMTP): orchestrator/notify/render.py turns it into an e-mail.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class RecordFate(enum.StrEnum):
    """What became of one record, in the words of the step's undo (saga.definition.UndoKind)."""

    NOT_CREATED = "not_created"
    KEPT = "kept"  # the saga succeeded up to here and nothing asked to undo it
    ROLLED_BACK = "rolled_back"  # deleted from the CRM
    CANCELLED = "cancelled"  # moved to a stage meaning cancelled: still in the CRM
    LEFT_IN_PLACE = "left_in_place"  # the CRM's API cannot remove it: an operator must
    LEFT_OVER = "left_over"  # the undo could not finish: an operator must
    RESOLVED = "resolved_by_hand"  # an operator cleaned it up and said so


NEEDS_HANDS = frozenset({RecordFate.LEFT_OVER, RecordFate.LEFT_IN_PLACE})


@dataclass(frozen=True, slots=True)
class RecordLine:
    label: str  # "Deal ID", "Quote ID", "Sales Order ID"
    record_id: str | None
    fate: RecordFate
    url: str | None = None  # the record's page in the CRM, where the backend has one
    todo: str | None = None  # what an operator must still do with it by hand, if anything
    cancel_stage: str | None = None  # where a cancel-stage undo moves it ("Lost"), when known


@dataclass(frozen=True, slots=True)
class FailureReport:
    saga_id: str
    flow: str
    status: str  # a saga status word: failed, compensated, compensation_failed, ...
    error: str  # the error message that started the rollback
    failed_step: str | None
    contact: str | None  # contact id, with the name when known
    occurred_at: datetime
    records: tuple[RecordLine, ...]

    @property
    def left_over(self) -> tuple[RecordLine, ...]:
        return tuple(line for line in self.records if line.fate in NEEDS_HANDS)


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    message_key: str | None = None  # stable id of this notice: the same on every resend


class Mailer(Protocol):
    async def send(self, message: OutgoingEmail) -> None:
        """Deliver or raise; the outbox retries on any exception."""
        ...
