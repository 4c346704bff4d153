"""What the outbox delivers, one kind per deliverer: the IT failure e-mail here, the result
reply in orchestrator/messaging/replies.py. Each renders from the saga's persisted state."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.notify.build import Links, failure_report
from orchestrator.notify.render import render_failure
from orchestrator.notify.report import Mailer
from orchestrator.saga.definition import Flow
from orchestrator.saga.state import SagaState


@dataclass(frozen=True, slots=True)
class Delivered:
    """What was sent, kept on the outbox row for operators."""

    recipient: str
    subject: str | None
    text: str | None


class Deliverer(Protocol):
    async def deliver(self, saga: SagaState, key: str) -> Delivered:
        """Send this saga's notice or raise (the outbox retries). `key` is the same on every
        retry of one notice, for receivers that drop duplicates."""
        ...


class FailureMail:
    """The IT e-mail: the error and every record's fate."""

    def __init__(
        self,
        mailer: Mailer,
        recipient: str,
        flows: Mapping[str, Flow[Any, Any]],
        links: Links | None = None,
    ) -> None:
        self._mailer, self._recipient = mailer, recipient
        self._flows, self._links = flows, links

    async def deliver(self, saga: SagaState, key: str) -> Delivered:
        links, flow = self._links, saga.flow
        record_url = links(flow) if links is not None else None
        stage = links.cancel_stage(flow) if links is not None else None
        report = failure_report(saga, self._flows[flow], record_url, cancel_stage=stage)
        message = render_failure(report, to=self._recipient)
        await self._mailer.send(dataclasses.replace(message, message_key=key))
        return Delivered(message.to, message.subject, message.text)
