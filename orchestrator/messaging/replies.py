"""Replies: when a saga started by a message ends, its result goes to the message's reply route
(`queue:NAME` on the broker, `stream:NAME` on the stream Redis, or `callback`: the signed POST).

Queued in the outbox with the saga's final state (REPLY_NOTICE) and retried with backoff like the
IT e-mail, so a reply is never lost; it may come twice (same `key`), so receivers drop repeats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.messaging.contract import CALLBACK, QUEUE, STREAM
from orchestrator.messaging.reply_transports import (
    BrokerQueue,
    OutgoingReply,
    RedisStream,
    ReplyTransport,
    SignedCallback,
)
from orchestrator.notify.build import Links, RecordUrl, record_lines
from orchestrator.notify.notices import Delivered
from orchestrator.saga.definition import Flow
from orchestrator.saga.state import SagaState, SagaStatus
from orchestrator.settings import Settings

RESULT_TYPE = "salesaga.result"


def result_body(
    saga: SagaState, flow: Flow[Any, Any], record_url: RecordUrl | None = None
) -> dict[str, Any]:
    """The reply: which saga and message, how it ended, every record with its fate."""
    records = []
    for step, row in zip(flow.steps, saga.steps, strict=True):
        if step.record is None:
            continue
        for line in record_lines(step.record, step.output, row, record_url, step.undo_says):
            records.append({"type": step.record, "step": step.name, "id": line.record_id,
                            "state": line.fate.value, "url": line.url})  # fmt: skip
    failed = saga.status is not SagaStatus.SUCCEEDED
    return {
        "type": RESULT_TYPE,
        "sagaId": str(saga.id),
        "messageId": saga.message_id,
        "flow": saga.flow,
        "status": saga.status.value,
        "succeeded": not failed,
        "records": records,
        "error": {"message": saga.error, "step": saga.failed_step} if failed else None,
        "finishedAt": saga.finished_at.isoformat() if saga.finished_at else None,
    }


class Replies:
    """The outbox deliverer of REPLY_NOTICE: render the result, send it by the saga's route."""

    def __init__(
        self,
        transports: Mapping[str, ReplyTransport],
        flows: Mapping[str, Flow[Any, Any]],
        links: Links | None = None,
    ) -> None:
        self._transports, self._flows, self._links = transports, flows, links

    @property
    def kinds(self) -> frozenset[str]:
        """The reply routes this service can send to (a message asking for another is refused)."""
        return frozenset(self._transports)

    async def deliver(self, saga: SagaState, key: str) -> Delivered:
        route = saga.reply_to or ""
        kind, _, name = route.partition(":")
        transport = self._transports.get(kind)
        if transport is None:
            raise LookupError(f"no reply transport for route {route!r} on this service")
        record_url = self._links(saga.flow) if self._links is not None else None
        body = result_body(saga, self._flows[saga.flow], record_url)
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        await transport.send(OutgoingReply(name, body, data, key))
        return Delivered(route, f"reply: {saga.status.value}", data.decode())

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()


def open_replies(
    settings: Settings, flows: Mapping[str, Flow[Any, Any]], links: Links | None = None
) -> Replies:
    """The transports this service's settings allow: the broker's queues always, a Redis stream
    when there is a stream Redis, the callback URL when one is set."""
    transports: dict[str, ReplyTransport] = {QUEUE: BrokerQueue(settings.broker_url)}
    if settings.stream_redis_url:
        transports[STREAM] = RedisStream(settings.stream_redis_url)
    if settings.reply_callback_url:
        transports[CALLBACK] = SignedCallback(
            settings.reply_callback_url, settings.reply_signing_secret, settings.reply_timeout_s
        )
    return Replies(transports, flows, links)
