"""One event loop per worker process, on a thread of its own, that drives many sagas at once.

A Celery task only hands a saga id over (`Runtime.start`) and returns: a saga waiting on a CRM
call holds a coroutine, not a process or a pool thread. Up to WORKER_SAGAS drive at once; past
that, `start` blocks the handing task, so the worker takes no more messages than it can run.
The state table stays the only truth: a message lost with a dead process is found again by the
recovery sweep, or by the liveness takeover below.

The same loop beats for this process in the worker table every HEARTBEAT_S and, once its own
beats have gone through unbroken for WORKER_DEAD_AFTER_S (so a database outage makes nobody look
dead), frees the steps of workers silent that long and dispatches their sagas.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import uvloop

from orchestrator.bootstrap import Deps, build_deps
from orchestrator.saga.errors import BackendOff, SagaNotFound
from orchestrator.saga.ports import StoreUnavailable
from orchestrator.settings import Settings
from orchestrator.store.db import make_engine
from orchestrator.store.liveness import WorkerRegistry

P = ParamSpec("P")
T = TypeVar("T")
Dispatch = Callable[[uuid.UUID, float], None]

INLINE_WAIT_S = 2.0  # a backoff this short is slept on the loop, not sent back through the broker
MAX_COUNTDOWN_S = 300.0  # far below the broker's visibility timeout; longer waits: recovery

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, dispatch: Dispatch) -> None:
        self.settings = settings
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._dispatch = dispatch
        self._stopping = False
        self._drives: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._again: set[uuid.UUID] = set()  # sent again while driven here: one more round
        self._loop = uvloop.new_event_loop()  # libuv: a cheaper loop for many sagas at once
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="salesaga-runtime", daemon=True
        )
        self._thread.start()
        self._slots = asyncio.Semaphore(settings.worker_sagas)
        self.deps: Deps = self._run(build_deps(settings))
        self.deps.engine.holder = self.worker_id
        self.deps.engine.stopping = lambda: self._stopping
        # Its own single connection: a beat must not queue behind 100 sagas' statements.
        self._beat_db = make_engine(settings.database_url, pool_size=1)
        self.registry = WorkerRegistry(self._beat_db)
        self._keeping = asyncio.run_coroutine_threadsafe(self._keep_alive(), self._loop)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        # run_coroutine_threadsafe starts the task in a copy of the caller's context: the log
        # context (task, saga id) bound in the Celery task labels the coroutine's lines.
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def call(
        self,
        fn: Callable[Concatenate[Deps, P], Coroutine[Any, Any, T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `fn(deps, …)` on the loop and wait for its result (sweeps, message intake)."""
        return self._run(fn(self.deps, *args, **kwargs))

    def start(self, saga_id: uuid.UUID) -> None:
        """Take the saga on (returns once it is driven here or handed on); blocks while the
        process already drives WORKER_SAGAS sagas."""
        self._run(self._admit(saga_id))

    async def _admit(self, saga_id: uuid.UUID) -> None:
        if saga_id in self._drives:
            self._again.add(saga_id)  # it may have read the saga before this news: look again
            return
        await self._slots.acquire()
        if saga_id in self._drives:  # another hand-over of it got a slot first
            self._slots.release()
            self._again.add(saga_id)
            return
        if self._stopping:
            self._slots.release()
            await self._hand_on(saga_id, 0.0)
            return
        task = asyncio.get_running_loop().create_task(self._drive(saga_id))
        self._drives[saga_id] = task
        task.add_done_callback(lambda _: self._ended(saga_id))

    def _ended(self, saga_id: uuid.UUID) -> None:
        self._drives.pop(saga_id, None)
        self._again.discard(saga_id)
        self._slots.release()

    async def _drive(self, saga_id: uuid.UUID) -> None:
        engine = self.deps.engine
        while True:
            self._again.discard(saga_id)
            try:
                wakeup = await engine.advance(saga_id)
            except SagaNotFound:
                log.error("saga.advance for unknown saga %s dropped", saga_id)
                return
            except BackendOff as off:  # a worker with that backend moves it; recovery resends it
                log.warning("saga %s left as it is: %s", saga_id, off)
                return
            except StoreUnavailable:  # its wake_at is in the table: recovery sends it again
                log.warning("state store unavailable; saga %s left to recovery", saga_id)
                return
            except Exception:
                log.exception("advancing saga %s failed; left to recovery", saga_id)
                return
            if wakeup is None:
                if saga_id in self._again:
                    continue
                return
            if wakeup.after_s <= INLINE_WAIT_S and not self._stopping:
                await asyncio.sleep(wakeup.after_s)
                if not self._stopping:
                    continue
            await self._hand_on(saga_id, 0.0 if self._stopping else wakeup.after_s)
            return

    async def _hand_on(self, saga_id: uuid.UUID, after_s: float) -> None:
        if after_s <= MAX_COUNTDOWN_S:  # a publish is blocking I/O: off the loop
            await asyncio.get_running_loop().run_in_executor(None, self._dispatch, saga_id, after_s)

    # --- liveness ------------------------------------------------------------------------------

    async def _keep_alive(self) -> None:
        settings, loop = self.settings, asyncio.get_running_loop()
        host, pid = socket.gethostname(), os.getpid()
        beating_since: float | None = None
        while True:
            try:
                await self.registry.beat(self.worker_id, host, pid, self.deps.sql.as_dict())
                beating_since = beating_since if beating_since is not None else loop.time()
                if loop.time() - beating_since >= settings.worker_dead_after_s:
                    await self._take_over()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: beat again; trust nobody's silence
                beating_since = None
                log.warning("worker %s could not beat: %s", self.worker_id, type(exc).__name__)
            await asyncio.sleep(settings.heartbeat_s)

    async def _take_over(self) -> None:
        freed = await self.registry.take_over(self.worker_id, self.settings.worker_dead_after_s)
        for saga_id in sorted({f.saga_id for f in freed}):
            await self._hand_on(saga_id, 0.0)
        for f in freed:
            log.warning(
                "took over step %s of saga %s from dead worker %s",
                f.step,
                f.saga_id,
                f.holder,
                extra={"saga_id": str(f.saga_id)},
            )

    # --- shutdown ------------------------------------------------------------------------------

    def close(self, grace_s: float | None = None) -> None:
        """Stop taking sagas; let the calls in flight finish for `grace_s` (SHUTDOWN_GRACE_S)
        while every saga between moves is handed on at once; release what is still inside a
        call (taken up after AMBIGUOUS_WAIT_S, so that its write lands first); then close."""
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        self._stopping = True
        try:
            self._run(self._drain(grace))
        finally:
            self._run(self._close_pools())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    async def _drain(self, grace_s: float) -> None:
        try:
            await self.registry.stopping(self.worker_id)
        except Exception:
            log.warning("worker %s could not say it is stopping", self.worker_id)
        drives = list(self._drives.values())
        _, cut_off = await asyncio.wait(drives, timeout=grace_s) if drives else (set(), set())
        for task in cut_off:
            task.cancel()
        await asyncio.gather(*cut_off, return_exceptions=True)
        self._keeping.cancel()
        try:
            if cut_off:
                freed = await self.registry.release(
                    self.worker_id, self.deps.engine.ambiguous_wait_s
                )
                log.warning(
                    "worker %s released %d step(s) still inside a call", self.worker_id, len(freed)
                )
            await self.registry.retire(self.worker_id)
        except Exception:  # the takeover covers it once this worker's beats stop
            log.warning("worker %s could not release its steps", self.worker_id)

    async def _close_pools(self) -> None:
        await self.deps.aclose()
        await self._beat_db.dispose()


_lock = threading.Lock()
_current: tuple[int, Runtime] | None = None


def process_runtime(settings: Settings, dispatch: Dispatch) -> Runtime:
    """This process's runtime, built on first use: in the forked child or the worker process,
    never in a prefork parent (a loop or a connection pool must not cross a fork)."""
    global _current
    with _lock:
        if _current is None or _current[0] != os.getpid():
            _current = (os.getpid(), Runtime(settings, dispatch))
        return _current[1]


def close_process_runtime(grace_s: float | None = None) -> None:
    """Drain and close this process's runtime, if it has one (worker shutdown, tests)."""
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None and current[0] == os.getpid():
        current[1].close(grace_s)
