"""Scratch PostgreSQL databases named bench_*, dropped afterwards (as tests/conftest.py does)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg

from bench.throughput.config import PG_ADMIN_URL


@contextlib.contextmanager
def scratch_database(kind: str) -> Iterator[tuple[str, str]]:
    """(name, URL) of a new empty database bench_<kind>_<hex>, dropped on exit."""
    name = f"bench_{kind}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_settings() -> dict[str, str]:
    """The PostgreSQL settings that shape commit cost, for the report."""
    names = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in names}  # type: ignore[index]
