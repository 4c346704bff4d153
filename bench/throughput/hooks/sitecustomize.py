"""Counts the SQL statements of a process under test, for the benchmark only: put this folder
on PYTHONPATH with BENCH_STATEMENTS_DIR set, and every statement sent through psycopg 3 (sync
and async cursors; an executemany counts one per row) adds one to a counter written to
BENCH_STATEMENTS_DIR/<pid> 5 times a second. Counting at the driver sees what SQLAlchemy sends
and what goes past it (salesaga's pipelined writes) alike; DBOS and salesaga both use psycopg 3.
Without BENCH_STATEMENTS_DIR it does nothing."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _counting(method: Callable[..., Any], count: list[int], *, many: bool) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        count[0] += len(params) if many and isinstance(params, (list, tuple)) else 1
        return method(self, query, params, *args, **kwargs)

    return wrapper


def _install(directory: Path) -> None:
    import psycopg

    count = [0]
    for cls in (psycopg.Cursor, psycopg.AsyncCursor):
        cls.execute = _counting(cls.execute, count, many=False)  # type: ignore[method-assign]
        cls.executemany = _counting(cls.executemany, count, many=True)  # type: ignore[method-assign]
    path = directory / str(os.getpid())
    stop = threading.Event()

    def write() -> None:
        while not stop.wait(0.2):
            path.write_text(str(count[0]))

    threading.Thread(target=write, name="bench-statements", daemon=True).start()


if os.environ.get("BENCH_STATEMENTS_DIR"):
    _install(Path(os.environ["BENCH_STATEMENTS_DIR"]))
