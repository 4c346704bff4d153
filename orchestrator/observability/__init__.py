"""Observability: structured saga log lines, Prometheus metrics, readiness checks.

An adapter around the engine's ports (the engine itself knows nothing of it):
  logcontext.py  log_context(): saga_id / request_id bound to every log line of a task or request
  store.py       ObservedStore: a SagaStore that logs and counts every event it writes
  metrics.py     SagaMetrics (counters, histograms) and the CRM call observer
  exposition.py  GET /metrics body: this process's or every process's metrics + table gauges
  readiness.py   GET /readyz checks: database and broker
  http.py        RequestContextMiddleware: request id and path on every API log line
"""

from __future__ import annotations

from orchestrator.observability.logcontext import log_context
from orchestrator.observability.metrics import SagaMetrics, process_metrics
from orchestrator.observability.store import ObservedStore

__all__ = ["ObservedStore", "SagaMetrics", "log_context", "process_metrics"]
