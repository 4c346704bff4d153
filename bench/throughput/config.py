"""What every part of the benchmark shares: the order, keys, servers and the run's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"

# The Zoho sandbox's seed (orchestrator/backends/zoho/sandbox/data.py) and its credentials.
CONTACT = "550428000008877665"
PRODUCTS = ("550428000000111222", "550428000000333444")
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
REFRESH_TOKEN = "sandbox-refresh-token"
SANDBOX_PREFIX = "/zoho-sandbox"

CLIENT_KEY = "bench-client-key-0000"
OPERATOR_KEY = "bench-operator-key-0000"
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

# One sale: the contact, then its account and both products at once, then Deal, Quote, Sales
# Order one after the other (what ZohoCrm.price_order and create_* send).
CALLS_PER_SALE = 7
CRM_ROUNDS = 5  # calls on the critical path: contact, (account | products), deal, quote, order
ENGINE_STEPS = {"plain": 7, "dbos": 7, "salesaga": 4}  # durable steps (plain: calls)
ENGINES = ("plain", "dbos", "salesaga")
TERMINAL = {"succeeded", "compensated", "failed", "compensation_failed", "needs_manual_cleanup"}


def order_body() -> dict[str, Any]:
    """The body of POST /createSales: two lines."""
    return {
        "contactId": CONTACT,
        "products": [
            {"productId": p, "quantity": q} for p, q in zip(PRODUCTS, (2, 5), strict=True)
        ],
    }


@dataclass(frozen=True)
class BenchSettings:
    """One run's knobs (the command line's flags)."""

    levels: tuple[int, ...] = (1, 10, 100, 1000)
    duration_s: float = 4.0  # per level; 0: run `sales` sales instead
    sales: int = 0  # per level, when duration_s is 0
    max_duration_s: dict[int, float] = field(default_factory=dict)  # per level override
    delay_s: float = 0.02
    engines: tuple[str, ...] = ENGINES
    workers: int = 1
    worker_concurrency: int = 4
    beat: bool = False
    sync_wait_s: float = 120.0
    level_cap_s: float = 75.0  # a level's sales still under way this long after it began: cut
    warmup: int = 20
    scale: bool = False
    scale_sales: int = 1000
    scale_workers: tuple[int, ...] = (1, 2, 4)
    scale_starters: int = 100
    count_statements: bool = True
    write: bool = True  # results files (--no-write: print only)
    keep_logs: bool = False  # keep the run's folder of process logs

    def level_duration(self, level: int) -> float:
        return self.max_duration_s.get(level, self.duration_s)

    def as_json(self) -> dict[str, Any]:
        return {
            "levels": list(self.levels),
            "duration_s": self.duration_s,
            "per_level_duration_s": {str(k): v for k, v in self.max_duration_s.items()},
            "sales_per_level": self.sales,
            "delay_s": self.delay_s,
            "engines": list(self.engines),
            "workers": self.workers,
            "worker_concurrency": self.worker_concurrency,
            "beat": self.beat,
            "sync_wait_s": self.sync_wait_s,
            "level_cap_s": self.level_cap_s,
            "warmup_sales": self.warmup,
            "scale": self.scale,
            "scale_sales": self.scale_sales,
            "scale_workers": list(self.scale_workers),
            "count_statements": self.count_statements,
        }
