"""Per-key request limits: a token bucket per key name, in this API process.

A key's `rate_limit_per_min` (API_KEYS_FILE), else KEY_RATE_LIMIT_PER_MIN, else no limit. The
bucket holds a minute's worth and refills evenly, so a burst up to the limit passes and a steady
rate above it is refused with the seconds until the next request would pass (Retry-After).
Hand-written, not a library: it is a dozen lines of arithmetic on a dict, with no I/O; several
API processes each keep their own buckets (docs/deploy.md says so).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass(slots=True)
class RateLimiter:
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, name: str, per_min: int) -> int | None:
        """Spend one request of `name`'s allowance: None when it may pass, else the whole
        seconds to wait (at least 1)."""
        now, rate = self.clock(), per_min / 60.0
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(float(per_min), now)
        bucket.tokens = min(float(per_min), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / rate))
