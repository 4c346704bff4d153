"""Saga endings pushed to whoever waits for them: the API's /createSales and POST /sagas.

On PostgreSQL the statement that writes a saga's terminal status also sends
`NOTIFY salesaga_saga_ended, '<saga id> {"status": …, "error": …}'` (SqlSagaStore.apply):
the notification is delivered only when that statement commits, so what it says is what the
row says. SagaEndings LISTENs on one connection of its own and hands the outcome to the
waiters of that saga, who answer from it without reading the row. A payload that would pass
PostgreSQL's 8,000-byte limit (a very long error) says the id alone, and its waiters read the
row. The row stays the truth wherever the news may be missing: a waiter that began watching
after its saga was dispatched reads it first; a waiter woken without an outcome (the listening
connection was made again) reads it; every FALLBACK_S anyway. SQLite has no notifications:
waiters read the row every POLL_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import psycopg

from orchestrator.saga.state import SagaStatus

log = logging.getLogger(__name__)

CHANNEL = "salesaga_saga_ended"
FALLBACK_S = 5.0  # while listening: how often a waiter reads the row anyway
POLL_S = 0.02  # without notifications (SQLite, or the listener reconnecting)
MAX_PAYLOAD_BYTES = 7_999  # PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more

_STATUS_WORDS = frozenset(status.value for status in SagaStatus)
Outcome = tuple[str, str | None]  # the status word and the error that started the rollback


def announcement(saga_id: uuid.UUID, status: str, error: str | None) -> str:
    """The NOTIFY payload of a saga's end: its id and, when it fits, its outcome."""
    told = f"{saga_id} {json.dumps({'status': status, 'error': error})}"
    return told if len(told.encode()) <= MAX_PAYLOAD_BYTES else str(saga_id)


def heard(payload: str) -> tuple[uuid.UUID, Outcome | None] | None:
    """The saga and the outcome a payload names (None: not ours). A bare id, as earlier
    versions of salesaga sent it, names no outcome."""
    head, _, told = payload.partition(" ")
    try:
        saga_id = uuid.UUID(head)
        said = json.loads(told) if told else None
    except ValueError:
        return None
    if not isinstance(said, dict) or said.get("status") not in _STATUS_WORDS:
        return saga_id, None
    error = said.get("error")
    return saga_id, (said["status"], error if isinstance(error, str) else None)


@dataclass(eq=False)
class Watch:
    """One waiter's view of a saga's end. `event` is set when news of it came; `outcome` is
    what the notification said (None: read the row). `early`: the watch began while listening
    and before the saga was dispatched, so its end cannot pass unheard (nothing to read first).
    """

    event: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: Outcome | None = None
    early: bool = False


class SagaEndings:
    def __init__(self, database_url: str) -> None:
        scheme, _, rest = database_url.partition("://")
        base = scheme.split("+", 1)[0]
        self._dsn = f"postgresql://{rest}" if base in ("postgresql", "postgres") else None
        self._waiters: dict[uuid.UUID, set[Watch]] = {}
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
    def watch(self, saga_id: uuid.UUID) -> Iterator[Watch]:
        """News of this saga's end. Watch first, then read the row: an end written between
        the two is not missed."""
        watch = Watch()
        self._follow(watch, saga_id)
        try:
            yield watch
        finally:
            self._forget(watch, saga_id)

    @contextlib.contextmanager
    def before_dispatch(self) -> Iterator[tuple[Watch, Callable[[uuid.UUID], Awaitable[None]]]]:
        """A watch and the `on_new` hook that points it at the new saga before its dispatch
        (Intake.start): a saga's end then cannot come before the watch, and while listening
        the waiter need not read the row at all."""
        watch, followed = Watch(), []

        async def follow(saga_id: uuid.UUID) -> None:
            watch.early = self._listening
            self._follow(watch, saga_id)
            followed.append(saga_id)

        try:
            yield watch, follow
        finally:
            for saga_id in followed:
                self._forget(watch, saga_id)

    def _follow(self, watch: Watch, saga_id: uuid.UUID) -> None:
        self._waiters.setdefault(saga_id, set()).add(watch)

    def _forget(self, watch: Watch, saga_id: uuid.UUID) -> None:
        waiting = self._waiters.get(saga_id)
        if waiting is not None:
            waiting.discard(watch)
            if not waiting:
                del self._waiters[saga_id]

    def _announce(self, payload: str) -> None:
        news = heard(payload)
        if news is None:
            return
        saga_id, outcome = news
        for watch in self._waiters.get(saga_id, ()):
            watch.outcome = outcome
            watch.event.set()

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
        """Every waiter reads the row: an end may have passed while nobody listened."""
        for waiting in self._waiters.values():
            for watch in waiting:
                watch.early = False
                watch.event.set()
