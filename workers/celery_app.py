"""Celery app for `celery -A workers worker` and `salesaga worker`: broker wiring, the periodic
sweeps, and the process's saga runtime (workers/runtime.py).

An entry point: it reads settings at import because Celery needs the app at module level.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from celery import Celery
from celery.signals import (
    setup_logging,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from orchestrator.bootstrap import Deps, build_deps
from orchestrator.settings import Settings, get_settings
from workers.runtime import Runtime, close_process_runtime, process_runtime

P = ParamSpec("P")
T = TypeVar("T")

ADVANCE_TASK = "saga.advance"


def make_celery(settings: Settings) -> Celery:
    celery = Celery(
        "salesaga",
        broker=settings.broker_url,
        backend=settings.result_backend,  # only the message start tasks keep a result
        include=["workers.tasks", "workers.messages"],
    )
    celery.conf.update(
        task_default_queue=settings.celery_queue,
        task_acks_late=True,  # a step cut off by a crash comes again (it finds its own marker)
        worker_prefetch_multiplier=1,  # a busy process holds at most one extra message
        task_ignore_result=True,  # outcomes live in the state table, not in a result backend
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # The in-process broker polls; 10 ms keeps a dev saga's steps close together.
        broker_transport_options={"polling_interval": 0.01, "visibility_timeout": 3600},
        worker_hijack_root_logger=False,
        # Publishing must not hang a request: a saga whose message is lost is still in the table.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
        beat_schedule={
            "saga.recover": {"task": "saga.recover", "schedule": settings.recover_every_s},
            "mail.flush_outbox": {
                "task": "mail.flush_outbox",
                "schedule": settings.recover_every_s,
            },
        },
    )
    return celery


app = make_celery(get_settings())
_configured: Settings | None = None


@setup_logging.connect  # type: ignore[untyped-decorator]
def _structured_logs(**_: Any) -> None:
    """`celery -A workers worker` logs JSON lines too (this replaces Celery's own setup)."""
    from orchestrator.logging import configure_logging

    configure_logging(_configured or get_settings())


@worker_init.connect  # type: ignore[untyped-decorator]
def _refuse_partial_backends(**_: Any) -> None:
    """`celery -A workers worker` refuses to start, as `salesaga worker` does, when a
    backend's settings are partial (the message names the missing variable)."""
    from orchestrator.bootstrap import BackendMisconfigured, plan_backends

    try:
        plan_backends(_configured or get_settings())
    except BackendMisconfigured as exc:
        sys.stderr.write(f"salesaga: {exc}\n")
        raise SystemExit(2) from None


@worker_ready.connect  # type: ignore[untyped-decorator]
def _recover_on_start(sender: Any = None, **_: Any) -> None:
    """A new worker beats at once (operators see it before its first saga) and first takes up
    every saga a dead one left behind."""
    if not _prefork(sender):  # a prefork parent runs no saga: its children beat (below)
        runtime()
    app.send_task("saga.recover", ignore_result=True)


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _beat_in_child(**_: Any) -> None:
    """Each child of a prefork pool is a worker process of its own."""
    runtime()


def _prefork(consumer: Any) -> bool:
    pool = getattr(consumer, "pool", None)
    return "prefork" in type(pool).__module__


def configure(settings: Settings) -> None:
    """Point the app and the runtimes built from now on at other settings (dev mode, tests)."""
    global _configured
    if settings != _configured:
        close_runtime(0.0)  # built for other settings: what it still drives is released
    _configured = settings
    app.conf.broker_url = settings.broker_url
    app.conf.result_backend = settings.result_backend
    app.conf.task_default_queue = settings.celery_queue
    _forget_connections()


def _forget_connections() -> None:
    """Drop the broker pool, producer pool and result backend the app built for earlier
    settings, so that the next use connects to the new ones. Celery has no public call for
    re-pointing a used app; these are the caches its own after-fork hook clears (plus the
    backend, cached per app or per thread)."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    app._backend_cache = None
    app._local = threading.local()


def runtime() -> Runtime:
    """This process's saga runtime (workers/runtime.py), built on first use."""
    return process_runtime(_configured or get_settings(), dispatch)


def close_runtime(grace_s: float | None = None) -> None:
    """Drain and close this process's runtime (worker shutdown, tests)."""
    close_process_runtime(grace_s)


@worker_shutdown.connect  # type: ignore[untyped-decorator]
def _drain_on_shutdown(**_: Any) -> None:
    """SIGTERM to a worker (threads or solo pool): Celery has stopped taking messages and
    waited for its tasks (hand-overs, quick); now the sagas finish their calls or move on."""
    close_runtime()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _drain_prefork_child(**_: Any) -> None:
    """The same in each child of a prefork pool (`celery -A workers worker` by default)."""
    close_runtime()


async def run_once(
    settings: Settings,
    fn: Callable[Concatenate[Deps, P], Coroutine[Any, Any, T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Build the adapters, run `fn`, close them: for a thread that must leave nothing behind."""
    deps = await build_deps(settings)
    try:
        return await fn(deps, *args, **kwargs)
    finally:
        await deps.aclose()


def one_off(
    fn: Callable[Concatenate[Deps, P], Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`run_once` on a loop of the calling thread's own."""
    return asyncio.run(run_once(_configured or get_settings(), fn, *args, **kwargs))


def dispatch(saga_id: uuid.UUID, delay_s: float = 0.0) -> None:
    """Send `saga.advance` for this saga (the Dispatcher used by the API and the tasks)."""
    options: dict[str, Any] = {"countdown": delay_s} if delay_s > 0 else {}
    # ignore_result: with a result backend set, send_task would otherwise subscribe to a result
    # that never comes (a Redis pub/sub round trip per dispatch, outside the publish retries).
    app.send_task(ADVANCE_TASK, args=[str(saga_id)], ignore_result=True, **options)
