"""Plain JSON messages on a Redis Stream (`salesaga:requests`), read by a consumer group.

An entry is acknowledged only once its saga (or its dead letter) is committed, so a consumer that
dies mid-way leaves it pending; another consumer claims it after STREAM_CLAIM_IDLE_S (XAUTOCLAIM)
and the message id makes the second reading start nothing new. Same validation, idempotency and
dead letters as the Celery tasks (orchestrator/messaging/intake.py); the source of a dead letter
is `redis:<stream>`.

Hand-written rather than a library: redis-py gives the stream commands, and the loop is the
contract (what is acked when) that docs/messaging.md promises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator.messaging.contract import CREATE_SALES, Message, Unreadable, stream_message
from orchestrator.messaging.intake import Inbox, accept, dead_letter
from orchestrator.observability import log_context
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.ports import StoreUnavailable

log = logging.getLogger(__name__)
Entry = tuple[bytes, dict[bytes, bytes] | None]
BACKOFF = RetryPolicy(max_attempts=1_000_000, base_s=0.5, cap_s=30.0)


@dataclass(frozen=True, slots=True)
class StreamConfig:
    stream: str = "salesaga:requests"
    group: str = "salesaga"
    consumer: str = f"{socket.gethostname()}-{os.getpid()}"
    claim_idle_s: float = 60.0  # an entry pending this long with another consumer is taken over
    block_s: float = 2.0  # one XREADGROUP waits at most this long for new entries
    batch: int = 16


class StreamConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        inbox: Inbox,
        config: StreamConfig,
    ) -> None:
        """`inbox` starts (and dispatches) the entries' sagas."""
        self._redis, self._inbox, self._config = redis, inbox, config
        self._own_pending = True  # at start, and after a failure: read our own pending entries
        self._failures = 0
        self._group_ready = False

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; Redis or the database down: wait and go on."""
        log.info("consuming stream %s as %s/%s", self._config.stream, self._config.group,
                 self._config.consumer)  # fmt: skip
        while not stop.is_set():
            try:
                await self.poll_once()
                self._failures = 0
            except (RedisConnectionError, RedisTimeoutError, OSError, StoreUnavailable) as exc:
                await self._back_off(stop, type(exc).__name__)
            except Exception as exc:  # a long-running consumer outlives a bug: log, wait, go on
                log.exception("stream consumer round failed")
                await self._back_off(stop, type(exc).__name__)

    async def _back_off(self, stop: asyncio.Event, why: str) -> None:
        self._failures += 1
        self._own_pending = True  # what we hold unfinished is read again after the wait
        delay = BACKOFF.delay(self._failures)
        log.warning("stream consumer waits %.1f s: %s", delay, why)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)

    async def ensure_group(self) -> None:
        """Create the group (and the stream) if missing, from the stream's first entry: what was
        written before the service first ran is read too."""
        try:
            await self._redis.xgroup_create(self._config.stream, self._config.group, id="0",
                                            mkstream=True)  # fmt: skip
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def poll_once(self) -> int:
        """One round: our own unfinished entries, entries dead consumers left, else new ones
        (waiting up to block_s). Returns how many entries were finished (acked)."""
        if not self._group_ready:
            await self.ensure_group()
        try:
            return await self._poll()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._group_ready = False  # the stream was deleted: create it again next round
            return 0

    async def _poll(self) -> int:
        entries: list[Entry] = []
        if self._own_pending:
            entries = await self._read("0")
            self._own_pending = len(entries) == self._config.batch  # more may be waiting
        entries += await self._claim_stale()
        if not entries:
            entries = await self._read(">", block_ms=int(self._config.block_s * 1000))
        done = 0
        for entry_id, fields in entries:
            done += await self._handle(entry_id, fields)
        return done

    async def _read(self, start: str, block_ms: int | None = None) -> list[Entry]:
        c = self._config
        answer: Any = await self._redis.xreadgroup(c.group, c.consumer, {c.stream: start},
                                                   count=c.batch, block=block_ms)  # fmt: skip
        return [entry for _stream, entries in answer or [] for entry in entries]

    async def _claim_stale(self) -> list[Entry]:
        c = self._config
        answer = await self._redis.xautoclaim(c.stream, c.group, c.consumer,
                                              min_idle_time=int(c.claim_idle_s * 1000),
                                              start_id="0-0", count=c.batch)  # fmt: skip
        claimed: list[Entry] = answer[1]
        if claimed:
            log.warning("claimed %d stream entries left pending by another consumer", len(claimed))
        return claimed

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> int:
        if fields is None:  # deleted from the stream while pending: nothing to read
            await self._ack(entry_id)
            return 1
        message = entry_message(self._config.stream, fields)
        with log_context(stream_entry=entry_id.decode(), message_id=message.message_id):
            try:
                await accept(self._inbox, message)
            except StoreUnavailable:
                raise  # not acked: it stays pending and is read again after the wait
            except Exception as exc:  # a bug must not wedge the stream: keep it as a dead letter
                log.exception("stream entry %s could not be handled", entry_id.decode())
                reason = f"internal error while handling the message: {type(exc).__name__}"
                await dead_letter(self._inbox, message, reason)
            await self._ack(entry_id)
        return 1

    async def _ack(self, entry_id: bytes) -> None:
        await self._redis.xack(self._config.stream, self._config.group, entry_id)


def entry_message(stream: str, fields: dict[bytes, bytes]) -> Message:
    """The message of one entry; fields that are not UTF-8 make an unreadable message."""
    try:
        text = {key.decode(): value.decode() for key, value in fields.items()}
    except UnicodeDecodeError:
        raw: Any = {repr(key): repr(value) for key, value in fields.items()}
        return Message(CREATE_SALES, Unreadable("the entry is not UTF-8 text"), stream=stream,
                       raw=raw)  # fmt: skip
    return stream_message(stream, text)
