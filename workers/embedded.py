"""A Celery worker inside the current process (threads pool), plus the periodic sweeps.

For `salesaga dev` (with the in-process broker) and for integration tests (with Redis): the same
tasks, the same broker protocol, no separate process to manage.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker

from orchestrator.settings import Settings
from workers.celery_app import app, close_runtime, configure

SWEEPS = ("saga.recover", "mail.flush_outbox")


@contextmanager
def embedded_worker(
    settings: Settings, *, concurrency: int = 4, sweeps: bool = True
) -> Iterator[None]:
    """Run a worker (and, with `sweeps`, the recovery sweeps every RECOVER_EVERY_S) until exit."""
    configure(settings)
    stop = threading.Event()
    every_s = settings.recover_every_s
    sweeper = threading.Thread(target=_sweep, args=(stop, every_s), daemon=True)
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30.0,
    ):
        if sweeps:
            sweeper.start()
        try:
            yield
        finally:
            stop.set()
    close_runtime()  # Celery's worker_shutdown did it already, unless the worker never ran


def _sweep(stop: threading.Event, every_s: float) -> None:
    # Start-up counts as a sweep: sagas left running by a previous process are taken up at once.
    while True:
        for task in SWEEPS:
            app.send_task(task, ignore_result=True)
        if stop.wait(every_s):
            return
