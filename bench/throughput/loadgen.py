"""The closed loop, and the line protocol between the benchmark and an engine's load process.

An engine process reads one JSON command a line on stdin and answers one JSON line on stdout:
    {"cmd": "run", "concurrency": 10, "duration_s": 5, "sales": 0}  → a LevelResult as JSON
    {"cmd": "quit"}                                                 → exits
Closed loop: `concurrency` tasks each start a sale as soon as their previous one ended, until
`duration_s` is over (or `sales` sales were started); sales under way then finish and count.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

OneSale = Callable[[int], Awaitable[None]]  # raises on failure; the argument numbers the sale
CANCEL_WAIT_S = 10.0  # after the cap: how long cancelled sales may take to unwind


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:300]


async def closed_loop(
    one_sale: OneSale, concurrency: int, duration_s: float, sales: int = 0, cap_s: float = 0
) -> dict[str, Any]:
    """Run the level; `cap_s` > 0: sales still under way that long after the start are
    cancelled and counted as errors (the run must end)."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + duration_s if duration_s > 0 else float("inf")
    budget = [sales if sales > 0 else -1]
    counter = [0]
    last_end = [started]

    async def loop() -> None:
        while time.perf_counter() < deadline and budget[0] != 0:
            budget[0] -= 1
            counter[0] += 1
            t0 = time.perf_counter()
            try:
                await one_sale(counter[0])
            except asyncio.CancelledError:
                errors[f"unfinished after the {cap_s:g} s cap (cancelled)"] += 1
                raise
            except Exception as exc:  # every failure is counted, none stops the run
                errors[describe(exc)] += 1
            else:
                latencies.append(time.perf_counter() - t0)
            last_end[0] = time.perf_counter()

    tasks = [asyncio.ensure_future(loop()) for _ in range(concurrency)]
    _done, late = await asyncio.wait(tasks, timeout=cap_s if cap_s > 0 else None)
    for task in late:
        task.cancel()
    # An engine may go on with a cancelled sale (DBOS shields its workflows): answer anyway.
    _gone, stuck = await asyncio.wait(late, timeout=CANCEL_WAIT_S) if late else (set(), set())
    if late:
        last_end[0] = time.perf_counter()
    summary = summarize(latencies, errors, last_end[0] - started, concurrency)
    return summary | {"abandoned": len(stuck)}


def summarize(
    latencies: list[float], errors: Counter[str], elapsed_s: float, concurrency: int
) -> dict[str, Any]:
    ordered = sorted(x * 1000 for x in latencies)
    return {
        "concurrency": concurrency,
        "elapsed_s": round(elapsed_s, 3),
        "ok": len(ordered),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors.most_common(10)),
        "sales_per_s": round(len(ordered) / elapsed_s, 2) if elapsed_s > 0 else 0.0,
        "p50_ms": _round(percentile(ordered, 50)),
        "p95_ms": _round(percentile(ordered, 95)),
        "p99_ms": _round(percentile(ordered, 99)),
        "mean_ms": _round(sum(ordered) / len(ordered)) if ordered else None,
        "max_ms": _round(ordered[-1]) if ordered else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def serve_commands(
    one_sale: OneSale, extra: Callable[[], dict[str, Any]] | None = None
) -> None:
    """Answer the benchmark's commands until "quit" (or stdin closes)."""
    loop = asyncio.get_running_loop()
    reply({"ready": True})
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        command = json.loads(line)
        if command["cmd"] == "quit":
            return
        result = await closed_loop(
            one_sale,
            int(command["concurrency"]),
            float(command.get("duration_s", 0)),
            int(command.get("sales", 0)),
            float(command.get("cap_s", 0)),
        )
        reply(result | (extra() if extra is not None else {}))


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()
