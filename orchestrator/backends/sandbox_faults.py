"""What every sandbox's fault injection shares: a fault's count, delay, chance and body match,
and the thread-safe queue that hands the next matching fault to a call. Each sandbox's Fault
adds what its CRM's failures look like (orchestrator/backends/<name>/sandbox/faults.py)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field


class SandboxFault(BaseModel):
    """A matching call triggers the fault with `probability`; only triggered calls count
    against `times` (a large `times`, e.g. 1_000_000, means always). `delay_s` waits before the
    call is served or fails, i.e. before anything is stored."""

    times: int = Field(default=1, ge=1)
    delay_s: float = Field(default=0.0, ge=0.0, le=120.0)
    probability: float = Field(default=1.0, gt=0.0, le=1.0)
    body_contains: str | None = Field(default=None, min_length=1)

    def matches_body(self, seen: bytes) -> bool:
        return self.body_contains is None or self.body_contains.encode() in seen

    def triggers(self) -> bool:
        """One draw of `random.random()` (seed `random` for a repeatable run)."""
        return self.probability >= 1.0 or random.random() < self.probability


F = TypeVar("F", bound=SandboxFault)


class FaultQueue(Generic[F]):
    """The pending faults, consumed in the order they were added (thread-safe: tests drive a
    sandbox from another thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[F, int]] = []  # fault, triggered calls it still applies to

    def add(self, fault: F) -> None:
        with self._lock:
            self._pending.append((fault, fault.times))

    def take_first(self, matches: Callable[[F], bool]) -> F | None:
        """The first pending fault for which `matches(fault)` holds and that triggers, counting
        the call against it; a matching fault that does not trigger is left as it was."""
        with self._lock:
            for index, (fault, left) in enumerate(self._pending):
                if matches(fault) and fault.triggers():
                    if left > 1:
                        self._pending[index] = (fault, left - 1)
                    else:
                        del self._pending[index]
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.model_dump() | {"remaining": left} for fault, left in self._pending]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
