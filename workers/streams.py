"""Run the Redis Stream consumer (orchestrator/messaging/stream_consumer.py): as its own process
(`salesaga consume`), or in a thread beside an embedded worker (`salesaga dev`, tests).

Started sagas are handed to the Celery workers with the same `saga.advance` dispatch as the API
(the intake dispatches them).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator

import redis.asyncio as aioredis

from orchestrator.bootstrap import build_deps
from orchestrator.messaging.stream_consumer import StreamConfig, StreamConsumer
from orchestrator.settings import Settings
from workers.celery_app import configure, dispatch


def stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        stream=settings.requests_stream,
        group=settings.stream_group,
        claim_idle_s=settings.stream_claim_idle_s,
        block_s=settings.stream_block_s,
    )


async def consume(settings: Settings, stop: asyncio.Event) -> None:
    """Consume until `stop` is set."""
    url = settings.stream_redis_url
    if url is None:
        raise ValueError("no stream Redis: set STREAM_URL (or a redis:// BROKER_URL)")
    configure(settings)
    deps = await build_deps(settings)
    client = aioredis.from_url(url, socket_timeout=settings.stream_block_s + 10)
    try:
        consumer = StreamConsumer(client, deps.inbox(dispatch), stream_config(settings))
        await consumer.run(stop)
    finally:
        await client.aclose()
        await deps.aclose()


def consume_until_signalled(settings: Settings) -> None:
    """`salesaga consume`: SIGTERM or SIGINT finishes the entry in hand, then stops."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await consume(settings, stop)

    asyncio.run(main())


@contextlib.contextmanager
def embedded_stream_consumer(settings: Settings) -> Iterator[None]:
    """The consumer in a thread of this process until exit (no-op without a stream Redis)."""
    if settings.stream_redis_url is None:
        yield
        return
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(consume(settings, stop),),
                              name="salesaga-stream", daemon=True)  # fmt: skip
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()
