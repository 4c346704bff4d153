"""GET /readyz checks: can this process reach its database and its broker right now?

Each check answers "ok", "unavailable" or "timeout"; why is logged (error class only), never
returned: a broker or database URL may hold a password.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

import sqlalchemy as sa
from kombu.connection import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Readiness:
    database: str
    broker: str

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.broker == "ok"

    def as_json(self) -> dict[str, str]:
        status = "ready" if self.ready else "not_ready"
        return {"status": status, "database": self.database, "broker": self.broker}


async def check_ready(
    db: AsyncEngine, broker_url: str, *, timeout_s: float = CHECK_TIMEOUT_S
) -> Readiness:
    database, broker = await asyncio.gather(
        _check("database", _select_one(db), timeout_s),
        _check("broker", asyncio.to_thread(_connect_broker, broker_url, timeout_s), timeout_s),
    )
    return Readiness(database, broker)


async def _check(name: str, probe: Awaitable[None], timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            await probe
    except TimeoutError:
        log.warning("readiness: %s timed out", name, extra={"check": name})
        return "timeout"
    except Exception as exc:  # any failure means "not ready"; the class name is recorded
        log.warning(
            "readiness: %s unavailable", name, extra={"check": name, "error": type(exc).__name__}
        )
        return "unavailable"
    return "ok"


async def _select_one(db: AsyncEngine) -> None:
    async with db.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))


def _connect_broker(url: str, timeout_s: float) -> None:
    """The Celery app's broker, reached the way Celery does (kombu), with one retry at most."""
    options = {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s}
    broker = Connection(url, connect_timeout=timeout_s, transport_options=options)  # type: ignore[no-untyped-call]
    with broker as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0.1, timeout=timeout_s
        )
