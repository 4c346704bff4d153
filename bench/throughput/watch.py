"""What may spoil a level without the engine's fault, and what the logs said when sales failed.

PostgreSQL and Redis are the machine's shared servers: another user's tests may restart them
mid-run. Each level records the servers' identities (postmaster start time, Redis run_id)
before and after; a level during which one changed is marked `disturbed`.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import psycopg
import redis

from bench.throughput.config import PG_ADMIN_URL, REDIS_URL

NOTEWORTHY = re.compile(r"Traceback|ERROR|Error|Exception|error|exception|timed out|refused")


def servers() -> dict[str, str]:
    """Identities of the PostgreSQL and Redis servers now ("down" when unreachable)."""
    found = {"postgres": "down", "redis": "down"}
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn,
    ):
        row = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()
        found["postgres"] = str(row[0]) if row else "unknown"
    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        found["redis"] = str(client.info("server").get("run_id", "unknown"))
        client.close()
    return found


def disturbances(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [
        f"{name} restarted or went down during the level"
        for name in before
        if before[name] != after.get(name) or before[name] == "down"
    ]


def log_excerpt(paths: list[Path], limit: int = 12) -> list[str]:
    """The last distinct noteworthy lines of the logs (errors, tracebacks), newest last."""
    seen: dict[str, None] = {}
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if NOTEWORTHY.search(line):
                seen.pop(line[:400], None)
                seen[line[:400]] = None
    return list(seen)[-limit:]


def logs_under(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.log"))
