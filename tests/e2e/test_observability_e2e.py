"""Observability of the running service: /metrics after real sales (API, Redis, worker, Zoho
sandbox, PostgreSQL), /readyz with live and dead dependencies, and the production split as
processes sharing PROMETHEUS_MULTIPROC_DIR, with their JSON log lines."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.server import create_app
from tests.conftest import PG_ADMIN_URL, migrated_database
from tests.e2e.test_dev_mode import ORDER as ONE_LINE_ORDER
from tests.processes import BIN, clean_env, free_port, running
from tests.promql import dashboard_metrics, load
from tests.servers import serve_in_thread
from workers.celery_app import dispatch

FLOW = "zoho.sale"
SECRET = "hunter2-e2e"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def call_count(samples: Samples, endpoint: str, status: str) -> float:
    labels = {"backend": "zoho", "endpoint": endpoint, "status": status}
    return value(samples, "salesaga_crm_call_duration_seconds_count", **labels)


def db_count(database_url: str, query: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_metrics_count_a_sale_and_a_rollback_by_flow_status_and_crm_endpoint(svc):
    before = scrape(svc.api)
    ok = svc.create_sales()
    assert ok.status_code == 200, ok.text
    svc.sandbox.state.faults.fail("Quotes", operation="create", status=400, code="INVALID_DATA")
    failed = svc.create_sales()
    assert failed.status_code == 500, failed.text
    assert svc.mails_for(failed.json()["sagaId"])  # delivered: nothing left in the outbox for it
    after = scrape(svc.api)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("salesaga_sagas_started_total", flow=FLOW) == 2
    assert delta("salesaga_sagas_finished_total", flow=FLOW, status="succeeded") == 1
    assert delta("salesaga_sagas_finished_total", flow=FLOW, status="compensated") == 1
    assert delta("salesaga_sagas_finished_total", flow=FLOW, status="failed") == 0
    assert call_count(after, "POST /Deals", "201") - call_count(before, "POST /Deals", "201") == 2
    assert call_count(after, "POST /Quotes", "400") - call_count(before, "POST /Quotes", "400") == 1
    assert call_count(after, "DELETE /Deals/{id}", "200") > call_count(
        before, "DELETE /Deals/{id}", "200"
    )  # the rollback
    undo = {"flow": FLOW, "step": "create_deal", "outcome": "compensated"}
    assert delta("salesaga_step_duration_seconds_count", **undo) == 1
    assert not any("550428" in label for _, labels in after for _, label in labels)  # no ids

    url = svc.settings.database_url
    assert value(after, "salesaga_outbox_backlog") == db_count(
        url, "SELECT count(*) FROM outbox WHERE status != 'sent'"
    )
    by_status = {dict(labels)["status"]: v for (name, labels), v in after.items()
                 if name == "salesaga_sagas" and dict(labels)["flow"] == FLOW}  # fmt: skip
    # Other flows' sagas (tests of other backends share this database) are counted apart.
    zoho = db_count(url, f"SELECT count(*) FROM saga WHERE flow = '{FLOW}'")
    assert sum(by_status.values()) == zoho
    assert by_status["succeeded"] >= 1 and by_status["compensated"] >= 1


def test_every_metric_the_grafana_dashboard_queries_is_exported(svc):
    before = scrape(svc.api)
    assert svc.create_sales().status_code == 200
    svc.sandbox.state.faults.fail("Quotes", operation="create", status=400, code="INVALID_DATA")
    failed = svc.create_sales()
    assert failed.status_code == 500, failed.text
    assert svc.mails_for(failed.json()["sagaId"])  # mailed after its end was counted
    after = scrape(svc.api)

    exported = {name for name, _ in after}
    queried = dashboard_metrics(load())
    assert queried <= exported, f"not on /metrics: {sorted(queried - exported)}"
    count = "salesaga_saga_duration_seconds_count"
    for status in ("succeeded", "compensated"):
        labels = {"flow": FLOW, "status": status}
        assert value(after, count, **labels) - value(before, count, **labels) == 1
        assert value(after, "salesaga_saga_duration_seconds_sum", **labels) > 0


def test_readyz_is_ready_when_database_and_broker_answer(svc):
    response = httpx.get(f"{svc.api.base_url}/readyz", timeout=10)  # no API key needed
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "broker": "ok"}


def test_readyz_names_the_database_once_it_is_gone(svc):
    with migrated_database() as doomed:
        settings = svc.settings.model_copy(update={"database_url": doomed})
        with serve_in_thread(create_app(settings, dispatch)) as url:
            assert httpx.get(url + "/readyz", timeout=10).status_code == 200
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{doomed.rsplit("/", 1)[1]}" WITH (FORCE)')
            response = httpx.get(url + "/readyz", timeout=10)
            healthz = httpx.get(url + "/healthz", timeout=10)
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "database": "unavailable", "broker": "ok"}
    assert healthz.status_code == 200  # up, but not ready: keep it, send it no traffic


def test_readyz_names_a_dead_broker_without_echoing_its_password(svc):
    broker = f"redis://:{SECRET}@127.0.0.1:1/0"  # nothing listens on port 1
    settings = svc.settings.model_copy(update={"broker_url": broker})
    with serve_in_thread(create_app(settings, dispatch)) as url:
        response = httpx.get(url + "/readyz", timeout=10)
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "database": "ok", "broker": "unavailable"}
    assert SECRET not in response.text and "127.0.0.1" not in response.text


# --- the production split: `salesaga serve` + `salesaga worker` (prefork) ----------------------


@pytest.fixture
def split_service(own_pg_url, tmp_path):
    """API and a prefork worker as separate processes sharing one metrics directory; no SMTP
    server listens, so the failure notice stays in the outbox and its delivery logs a warning."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = clean_env(DATABASE_URL=own_pg_url, BROKER_URL="redis://127.0.0.1:6379/12",
                    API_KEYS="obs-client-key-5e7a0b", PORT=str(port), SMTP_HOST="127.0.0.1",
                    SMTP_PORT=str(free_port()), RETRY_BASE_S="0.05", LOG_LEVEL="INFO",
                    LOG_JSON="true", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))  # fmt: skip
    worker = [BIN / "salesaga", "worker", "--concurrency", "2", "--no-beat"]
    with running([[BIN / "salesaga", "serve"], worker], cwd=tmp_path, env=env, url=url):
        yield url, tmp_path / "processes.log"


def json_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def wait_for_line(log: Path, predicate, timeout_s: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        found = [line for line in json_lines(log) if predicate(line)]
        if found or time.monotonic() > deadline:
            assert found, log.read_text()[-3000:]
            return found[0]
        time.sleep(0.1)


def test_worker_processes_log_json_with_saga_context_and_the_api_sums_their_metrics(
    split_service,
):
    url, log = split_service
    key = {"x-api-key": "obs-client-key-5e7a0b"}
    ok = httpx.post(url + "/createSales", json=ONE_LINE_ORDER, headers=key, timeout=30)
    assert ok.status_code == 200, ok.text
    fault = {"module": "Sales_Orders", "operation": "create", "status": 400}
    httpx.post(url + "/zoho-sandbox/__sandbox__/faults", json=fault).raise_for_status()
    failed = httpx.post(url + "/createSales", json=ONE_LINE_ORDER, headers=key, timeout=30)
    assert failed.status_code == 500, failed.text
    saga_id = failed.json()["sagaId"]

    # An engine event line, written by a prefork child with explicit fields ...
    step = wait_for_line(log, lambda x: x["event"] == "step.failed" and x.get("saga_id") == saga_id)
    assert (step["flow"], step["step"], step["attempt"]) == (FLOW, "create_sales_order", 1)
    # ... and a line from other code in the same task, which only the bound context names.
    mail = wait_for_line(log, lambda x: x.get("logger") == "orchestrator.notify.outbox")
    assert (mail["saga_id"], mail["flow"], mail["task"]) == (saga_id, FLOW, "saga.advance")
    access = wait_for_line(log, lambda x: x.get("logger") == "uvicorn.access"
                           and x.get("saga_id") == saga_id)  # fmt: skip
    assert access["path"] == "/createSales" and access["request_id"]

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(httpx.get(url + "/metrics").text)
        for s in family.samples
    }
    # Steps run only in the worker's children: these counts crossed process boundaries.
    assert value(samples, "salesaga_sagas_started_total", flow=FLOW) == 2
    assert value(samples, "salesaga_sagas_finished_total", flow=FLOW, status="compensated") == 1
    assert call_count(samples, "POST /Sales_Orders", "400") == 1
    assert value(samples, "salesaga_outbox_backlog") == 1  # the notice SMTP refused
