"""Counts the SQL statements of a process under test, for the benchmark only: put this folder
on PYTHONPATH with BENCH_STATEMENTS_DIR set, and every SQLAlchemy cursor execution (sync and
async engines alike) adds one to a counter written to BENCH_STATEMENTS_DIR/<pid> 5 times a
second. Without BENCH_STATEMENTS_DIR it does nothing."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any


def _install(directory: Path) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    count = [0]

    def counted(*_args: Any) -> None:
        count[0] += 1

    event.listen(Engine, "before_cursor_execute", counted)
    path = directory / str(os.getpid())
    stop = threading.Event()

    def write() -> None:
        while not stop.wait(0.2):
            path.write_text(str(count[0]))

    threading.Thread(target=write, name="bench-statements", daemon=True).start()


if os.environ.get("BENCH_STATEMENTS_DIR"):
    _install(Path(os.environ["BENCH_STATEMENTS_DIR"]))
