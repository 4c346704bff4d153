"""Retry policy declared on a step: exponential backoff with full jitter, capped, Retry-After aware.

Hand-written rather than tenacity/stamina on purpose: those sleep inside the running call, while the
engine persists the attempt count in the step row and hands the wait to the broker as a countdown,
so a worker never sits idle through a backoff. This is the arithmetic only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    base_s: float = 0.5
    cap_s: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        The CRM's Retry-After wins when it is longer than our own backoff.
        """
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1))
        backoff = random.uniform(ceiling / 2, ceiling)  # jitter spreads retries of many sagas
        return max(backoff, retry_after or 0.0)

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


DEFAULT_RETRY = RetryPolicy()
DEFAULT_UNDO_RETRY = RetryPolicy(max_attempts=8)
