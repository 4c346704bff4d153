"""The service's Prometheus metrics, one set per process.

With PROMETHEUS_MULTIPROC_DIR set (before the process starts), prometheus-client writes every
value to a file there and the API's /metrics adds up all processes' files (exposition.py);
without it, the values live in this process's default registry (dev: API and workers in one).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from orchestrator.saga.definition import Flow
from orchestrator.saga.state import TERMINAL

log = logging.getLogger(__name__)

CallObserver = Callable[[str, str, int | None, float], None]
"""(method, path, HTTP status or None when no answer came, seconds): one CRM call."""

FINISHED_STATUSES = tuple(sorted(status.value for status in TERMINAL))
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
SAGA_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)

# A path segment that names one record: Zoho's numeric ids, UUIDs, long hex ids.
_ID_SEGMENT = re.compile(r"\d+|[0-9a-fA-F-]{16,}")


def endpoint_template(method: str, path: str) -> str:
    """`GET /Products/550428000000111222?x=1` → `GET /Products/{id}`: few, id-free label values."""
    segments = path.split("?", 1)[0].split("/")
    template = "/".join("{id}" if _ID_SEGMENT.fullmatch(s) else s for s in segments)
    return f"{method.upper()} {template}"


@dataclass(frozen=True, slots=True)
class SagaMetrics:
    sagas_started: Counter
    sagas_finished: Counter
    saga_duration: Histogram
    step_retries: Counter
    step_duration: Histogram
    crm_call_duration: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> SagaMetrics:
        """The metrics, registered in `registry` (a test's own, or the process's default)."""
        return cls(
            Counter("salesaga_sagas_started", "Sagas that began their first step.", ["flow"],
                    registry=registry),
            Counter("salesaga_sagas_finished", "Sagas that reached a terminal status.",
                    ["flow", "status"], registry=registry),
            Histogram("salesaga_saga_duration_seconds",
                      "A saga's life, created to its terminal status (the `status` label).",
                      ["flow", "status"], buckets=SAGA_BUCKETS, registry=registry),
            Counter("salesaga_step_retries", "Step attempts that failed and will be retried.",
                    ["flow", "step"], registry=registry),
            Histogram("salesaga_step_duration_seconds",
                      "One attempt of a step or of its undo, claim to recorded outcome.",
                      ["flow", "step", "outcome"], buckets=STEP_BUCKETS, registry=registry),
            Histogram("salesaga_crm_call_duration_seconds", "One HTTP call to a CRM.",
                      ["backend", "endpoint", "status"], buckets=CALL_BUCKETS, registry=registry),
        )  # fmt: skip

    def prime(self, flows: Iterable[Flow[Any, Any]]) -> None:
        """Create each flow's series at zero, so rate() and alerts work before the first event."""
        for flow in flows:
            self.sagas_started.labels(flow.name)
            for status in FINISHED_STATUSES:
                self.sagas_finished.labels(flow.name, status)
            for step in flow.steps:
                self.step_retries.labels(flow.name, step.name)

    def crm_call_observer(self, backend: str) -> CallObserver:
        def observe(method: str, path: str, status: int | None, seconds: float) -> None:
            label = "error" if status is None else str(status)
            endpoint = endpoint_template(method, path)
            try:
                self.crm_call_duration.labels(backend, endpoint, label).observe(seconds)
            except Exception:  # runs inside the CRM call: never replace its outcome
                log.exception("CRM call not observed", extra={"endpoint": endpoint})

        return observe


@functools.cache
def process_metrics() -> SagaMetrics:
    """This process's metrics: a metric can be registered once per registry, and every Deps
    built in the process (API, each worker thread) shares them."""
    return SagaMetrics.register(REGISTRY)
