"""Saga endings pushed to whoever waits for them: the API's /createSales and POST /sagas.

On PostgreSQL the transaction that writes a saga's terminal status also sends
`NOTIFY salesaga_saga_ended, '<saga id>'` (SqlSagaStore.apply); SagaEndings LISTENs on one
connection of its own and wakes the waiters of that saga. The row stays the truth: a waiter
reads it when woken, and once every FALLBACK_S anyway (a notification lost with a dropped
listening connection costs at most that). SQLite has no notifications: waiters read the row
every POLL_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterator

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "salesaga_saga_ended"
FALLBACK_S = 5.0  # while listening: how often a waiter reads the row anyway
POLL_S = 0.02  # without notifications (SQLite, or the listener reconnecting)


class SagaEndings:
    def __init__(self, database_url: str) -> None:
        scheme, _, rest = database_url.partition("://")
        base = scheme.split("+", 1)[0]
        self._dsn = f"postgresql://{rest}" if base in ("postgresql", "postgres") else None
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._dsn is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def interval_s(self) -> float:
        """How long a waiter may sleep between two reads of the row."""
        return FALLBACK_S if self._listening else POLL_S

    @contextlib.contextmanager
    def watch(self, saga_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set when this saga's end is announced. Watch first, then read the row:
        an end written between the two is not missed."""
        event = asyncio.Event()
        self._waiters.setdefault(saga_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiters.get(saga_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[saga_id]

    def _announce(self, payload: str) -> None:
        try:
            saga_id = uuid.UUID(payload)
        except ValueError:
            return
        for event in self._waiters.get(saga_id, ()):
            event.set()

    async def _listen(self) -> None:
        # TCP keepalives: a listening connection that died silently (a dropped route, no RST)
        # is noticed within ~25 s and made again.
        pause = 0.5
        assert self._dsn is not None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=5, keepalives=1,
                    keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                ) as conn:  # fmt: skip
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening, pause = True, 0.5
                    self._wake_all()  # whatever ended while we were not listening
                    async for note in conn.notifies():
                        self._announce(note.payload)
            except asyncio.CancelledError:
                self._listening = False
                raise
            except (psycopg.Error, OSError) as exc:
                if self._listening:
                    log.warning("saga endings: listening connection lost (%s); waiters read "
                                "the table meanwhile", type(exc).__name__)  # fmt: skip
                self._listening = False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)

    def _wake_all(self) -> None:
        for waiting in self._waiters.values():
            for event in waiting:
                event.set()
