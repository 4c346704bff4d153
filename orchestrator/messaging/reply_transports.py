"""How a reply travels: a queue on the Celery broker (kombu, so Redis and RabbitMQ alike), an
entry on a Redis stream, or an HTTP POST signed with HMAC-SHA256 of the body.

Every send raises on failure; the outbox retries. Errors name no URL or secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import redis.asyncio as aioredis
from kombu import Connection, Exchange, Queue  # type: ignore[attr-defined]
from pydantic import SecretStr

SIGNATURE_HEADER = "X-Salesaga-Signature"
DELIVERY_HEADER = "X-Salesaga-Delivery"


class ReplyNotSent(Exception):
    """The reply was not taken; the outbox tries again later."""


@dataclass(frozen=True, slots=True)
class OutgoingReply:
    name: str  # the queue or stream ("" for the callback)
    body: Mapping[str, Any]
    data: bytes  # the JSON text of body, as sent (and signed)
    key: str  # the same on every retry of this reply: receivers drop repeats by it


class ReplyTransport(Protocol):
    async def send(self, reply: OutgoingReply) -> None:
        """Send or raise ReplyNotSent."""
        ...

    async def aclose(self) -> None: ...


def sign(secret: SecretStr, data: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    digest = hmac.new(secret.get_secret_value().encode(), data, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class BrokerQueue:
    """A durable queue on the broker, bound to a direct exchange of the same name (what
    kombu's SimpleQueue(name) reads); the body is JSON, content type application/json."""

    def __init__(self, broker_url: str, timeout_s: float = 10.0) -> None:
        self._url, self._timeout = broker_url, timeout_s

    async def send(self, reply: OutgoingReply) -> None:
        try:
            await asyncio.to_thread(self._publish, reply.name, reply.data, reply.key)
        except Exception as exc:  # kombu and its transports raise many kinds
            raise ReplyNotSent(f"broker queue {reply.name}: {type(exc).__name__}") from exc

    def _publish(self, name: str, data: bytes, key: str) -> None:
        exchange = Exchange(name, "direct", durable=True)  # type: ignore[no-untyped-call]
        queue = Queue(name, exchange, routing_key=name, durable=True)  # type: ignore[no-untyped-call]
        with Connection(self._url, connect_timeout=self._timeout) as conn:  # type: ignore[no-untyped-call]
            conn.Producer().publish(
                data, exchange=exchange, routing_key=name, declare=[queue],
                content_type="application/json", content_encoding="utf-8",
                headers={"salesaga-delivery": key}, delivery_mode=2,
                retry=True, retry_policy={"max_retries": 2, "interval_start": 0.2},
            )  # fmt: skip

    async def aclose(self) -> None:
        return None


class RedisStream:
    """XADD to the named stream: `reply` holds the JSON, beside a few fields for redis-cli."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self._redis = aioredis.from_url(url, socket_timeout=timeout_s)

    async def send(self, reply: OutgoingReply) -> None:
        body = reply.body
        fields = {"reply": reply.data, "delivery": reply.key,
                  "sagaId": str(body.get("sagaId")), "status": str(body.get("status"))}  # fmt: skip
        try:
            await self._redis.xadd(reply.name, fields)  # type: ignore[arg-type]
        except Exception as exc:
            raise ReplyNotSent(f"stream {reply.name}: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        await self._redis.aclose()


class SignedCallback:
    """POST the JSON to the configured URL; any answer but 2xx is a failure (retried)."""

    def __init__(self, url: str, secret: SecretStr, timeout_s: float) -> None:
        self._url, self._secret = url, secret
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send(self, reply: OutgoingReply) -> None:
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: reply.key,
                   SIGNATURE_HEADER: sign(self._secret, reply.data),
                   "User-Agent": "salesaga-replies"}  # fmt: skip
        try:
            response = await self._client.post(self._url, content=reply.data, headers=headers)
        except httpx.HTTPError as exc:
            raise ReplyNotSent(f"callback not reached: {type(exc).__name__}") from None
        if not response.is_success:
            raise ReplyNotSent(f"callback answered HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
