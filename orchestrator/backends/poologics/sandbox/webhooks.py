"""The Poologics sandbox's webhook deliveries: each event POSTed to every subscribed url from one
background thread, retried with backoff while the receiver answers non-2xx or is unreachable.

An event's JSON body is the seed's output fields; its headers `X-Poologics-Event: <trigger>` and
`X-Poologics-Delivery: <id>` (one id per event: the same for every url and every retry). Try n
(1-based) that fails is followed by try n+1 after `backoff_s * 2**(n-1)` seconds, up to `tries`
tries. Every try is recorded (`attempts()`), for tests and /__sandbox__/records. The thread is
started by the first event; `reset()` drops what is still queued.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

EVENT_HEADER = "X-Poologics-Event"
DELIVERY_HEADER = "X-Poologics-Delivery"
DEFAULT_TRIES = 5
DEFAULT_BACKOFF_S = 0.2  # then 0.4, 0.8, 1.6: about 3 s before the fifth try

Record = dict[str, Any]


@dataclass(order=True)
class _Try:
    due: float  # time.monotonic()
    seq: int
    generation: int = field(compare=False)
    trigger: str = field(compare=False)
    delivery: str = field(compare=False)
    url: str = field(compare=False)
    payload: Record = field(compare=False)
    attempt: int = field(compare=False, default=1)


class Webhooks:
    """The delivery queue and its thread (thread-safe)."""

    def __init__(
        self,
        *,
        tries: int = DEFAULT_TRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        timeout_s: float = 5.0,
    ) -> None:
        self.tries, self.backoff_s, self.timeout_s = tries, backoff_s, timeout_s
        self._cond = threading.Condition()
        self._heap: list[_Try] = []
        self._seq = itertools.count()
        self._attempts: list[Record] = []
        self._busy = 0  # deliveries queued or being tried
        self._generation = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    def send(self, trigger: str, payload: Record, urls: list[str]) -> str:
        """Queue one event for every url; returns its delivery id."""
        delivery = uuid.uuid4().hex
        now = time.monotonic()
        with self._cond:
            for url in urls:
                heapq.heappush(self._heap, _Try(now, next(self._seq), self._generation, trigger,
                                                delivery, url, copy.deepcopy(payload)))  # fmt: skip
                self._busy += 1
            self._start()
            self._cond.notify_all()
        return delivery

    def attempts(self) -> list[Record]:
        """Every try so far, oldest first: delivery, trigger, url, attempt, status (None when
        unreachable), error, at, payload."""
        with self._cond:
            return copy.deepcopy(self._attempts)

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until nothing is queued or being tried; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def reset(self) -> None:
        """Forget queued deliveries and recorded tries (one being tried is not recorded)."""
        # A try being made is still counted in _busy: _try uncounts it.
        with self._cond:
            self._generation += 1
            self._busy -= len(self._heap)
            self._heap.clear()
            self._attempts.clear()
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self.timeout_s + 1)

    # --- the thread ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="poologics-webhooks",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as http:
            while (due := self._next()) is not None:
                self._try(http, due)

    def _next(self) -> _Try | None:
        """The next due try (waiting for it); None once closed."""
        with self._cond:
            while not self._closed:
                if self._heap and self._heap[0].due <= time.monotonic():
                    return heapq.heappop(self._heap)
                wait = self._heap[0].due - time.monotonic() if self._heap else None
                self._cond.wait(wait)
        return None

    def _try(self, http: httpx.Client, due: _Try) -> None:
        status, error = _post(http, due)
        with self._cond:
            if due.generation != self._generation:  # reset while it was tried: forget it
                self._busy -= 1
                self._cond.notify_all()
                return
            self._attempts.append(_attempt_record(due, status, error))
            delivered = status is not None and 200 <= status < 300
            if delivered or due.attempt >= self.tries:
                self._busy -= 1
            else:
                due.due = time.monotonic() + self.backoff_s * 2 ** (due.attempt - 1)
                due.seq, due.attempt = next(self._seq), due.attempt + 1
                heapq.heappush(self._heap, due)
            self._cond.notify_all()


def _post(http: httpx.Client, due: _Try) -> tuple[int | None, str | None]:
    headers = {EVENT_HEADER: due.trigger, DELIVERY_HEADER: due.delivery}
    try:
        response = http.post(due.url, json=due.payload, headers=headers)
    except httpx.HTTPError as exc:
        return None, repr(exc)
    return response.status_code, None


def _attempt_record(due: _Try, status: int | None, error: str | None) -> Record:
    return {
        "delivery": due.delivery,
        "trigger": due.trigger,
        "url": due.url,
        "attempt": due.attempt,
        "status": status,
        "error": error,
        "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "payload": copy.deepcopy(due.payload),
    }
