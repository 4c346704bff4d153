"""Observability on the real stores: ObservedStore's JSON log lines and metrics for sagas run by
the engine on SQLite and PostgreSQL, the CRM call observer, /metrics exposition (one process and
several), readiness checks against live and dead servers, and the request-id middleware."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.backends.zoho.client import ZohoConfig, ZohoCrm
from orchestrator.crm.errors import NotFound, PermanentCrmError, TransientCrmError
from orchestrator.crm.protocol import OrderLine
from orchestrator.flows import FLOWS
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.logging import configure_logging
from orchestrator.notify.mailer import SinkMailer
from orchestrator.notify.notices import FailureMail
from orchestrator.notify.outbox import Outbox
from orchestrator.observability import ObservedStore, SagaMetrics, log_context, process_metrics
from orchestrator.observability.exposition import MULTIPROC_ENV, render_metrics
from orchestrator.observability.http import RequestContextMiddleware
from orchestrator.observability.metrics import endpoint_template
from orchestrator.observability.readiness import check_ready
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.saga.state import FAILURE_NOTICE
from orchestrator.settings import Settings
from orchestrator.store.db import create_schema, make_engine
from orchestrator.store.queries import saga_detail
from orchestrator.store.sql_store import SqlSagaStore
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 2),))
FLOW = ZOHO_SALE.name
SECRET = "hunter2-s3cr3t"
SAGA_FIELDS = ("saga_id", "flow", "step", "attempt")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(any_db):
    return any_db


@pytest.fixture
def json_log():
    """The service's real logging configuration, writing into a buffer; every line parsed."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging(Settings(log_json=True, log_level="INFO"))
    stream = io.StringIO()
    root.handlers[0].setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def metrics() -> tuple[SagaMetrics, CollectorRegistry]:
    registry = CollectorRegistry()
    saga_metrics = SagaMetrics.register(registry)
    saga_metrics.prime([ZOHO_SALE])
    return saga_metrics, registry


def observed_engine(db, crm, saga_metrics: SagaMetrics) -> Engine:
    store = ObservedStore(SqlSagaStore(db), saga_metrics)
    return Engine(store, {FLOW: BoundFlow(ZOHO_SALE, crm)}, retry=FAST, undo_retry=FAST)


async def run(engine: Engine, saga_id) -> None:
    while (wakeup := await engine.advance(saga_id)) is not None:
        await asyncio.sleep(wakeup.after_s)


# --- log lines ---------------------------------------------------------------------------------


async def test_every_event_is_one_json_line_naming_saga_flow_step_and_attempt(
    db, json_log, metrics
):
    engine = observed_engine(db, FakeSalesCrm({"P-1": Decimal("10")}), metrics[0])
    saga = await engine.start(FLOW, ORDER, actor="client:test")
    await run(engine, saga.id)

    lines = [
        line for line in json_log() if line.get("logger") == "orchestrator.observability.store"
    ]
    detail = await saga_detail(db, saga.id)
    assert [line["event"] for line in lines] == [e["kind"] for e in detail.events]
    for line in lines:
        assert {*SAGA_FIELDS, "actor", "status", "level", "timestamp"} <= line.keys()
        assert line["saga_id"] == str(saga.id) and line["flow"] == FLOW
    claimed = [line for line in lines if line["event"] == "step.claimed"]
    assert [(c["step"], c["attempt"]) for c in claimed] == [
        (step.name, 1) for step in ZOHO_SALE.steps
    ]
    assert lines[0]["actor"] == "client:test" and lines[-1]["status"] == "succeeded"
    deal = next(line for line in lines if line["event"] == "step.succeeded"
                and line["step"] == "create_deal")  # fmt: skip
    assert deal["record_id"] == "1"  # the event's detail comes along


async def test_engine_lines_inside_a_step_carry_the_bound_saga_step_and_attempt(
    db, json_log, metrics
):
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    crm.fail_next("create_quote", RuntimeError("adapter bug"))  # not a CrmError: logged with trace
    engine = observed_engine(db, crm, metrics[0])
    with log_context(task="saga.advance"):
        saga = await engine.start(FLOW, ORDER)
        await run(engine, saga.id)
    logging.getLogger("after").info("unrelated line")

    lines = json_log()
    # (a "store unavailable" warning may come too, when the database blinks under load)
    engine_lines = [line for line in lines if line["logger"] == "orchestrator.saga.engine"]
    [raised] = [line for line in engine_lines if line["level"] == "error"]
    assert raised["level"] == "error" and "adapter bug" in raised["exception"]
    assert (raised["saga_id"], raised["flow"]) == (str(saga.id), FLOW)
    assert (raised["step"], raised["attempt"], raised["task"]) == (
        "create_quote",
        1,
        "saga.advance",
    )
    after = lines[-1]
    assert after["event"] == "unrelated line"
    assert not {"saga_id", "step", "task"} & after.keys()  # the context ended with the task


async def test_secrets_in_errors_and_fields_never_reach_the_log(db, json_log, metrics):
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    leak = f"POST redis://worker:{SECRET}@10.0.0.1/0 with Authorization: Zoho-oauthtoken {SECRET}"
    crm.fail_next("create_deal", TransientCrmError(leak))
    engine = observed_engine(db, crm, metrics[0])
    saga = await engine.start(FLOW, ORDER)
    await run(engine, saga.id)
    url = f"redis://:{SECRET}@broker:6379/0"
    logging.getLogger("x").warning("no broker at %s", url, extra={"api_key": SECRET, "n": 1})

    text = "\n".join(json.dumps(line) for line in json_log())
    assert SECRET not in text
    retry = next(line for line in json_log() if line["event"] == "step.retry")
    assert "redis://worker:[redacted]@10.0.0.1/0" in retry["error"]
    assert retry["saga_id"] == str(saga.id) and retry["step"] == "create_deal"
    last = json_log()[-1]
    assert last["api_key"] == "[redacted]" and last["n"] == 1
    assert last["event"] == "no broker at redis://:[redacted]@broker:6379/0"


# --- metrics -----------------------------------------------------------------------------------


async def test_sagas_retries_and_step_durations_are_counted_by_flow_step_and_outcome(db, metrics):
    saga_metrics, registry = metrics
    ok = FakeSalesCrm({"P-1": Decimal("10")})
    ok.fail_next("create_quote", TransientCrmError("busy"))
    engine = observed_engine(db, ok, saga_metrics)
    await run(engine, (await engine.start(FLOW, ORDER)).id)
    bad = FakeSalesCrm({"P-1": Decimal("10")})
    bad.fail_next("create_sales_order", PermanentCrmError("rejected", code="INVALID_DATA"))
    engine = observed_engine(db, bad, saga_metrics)
    await run(engine, (await engine.start(FLOW, ORDER)).id)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"flow": FLOW, **labels})

    assert value("salesaga_sagas_started_total") == 2
    assert value("salesaga_sagas_finished_total", status="succeeded") == 1
    assert value("salesaga_sagas_finished_total", status="compensated") == 1
    assert value("salesaga_sagas_finished_total", status="failed") == 0  # primed at zero
    assert value("salesaga_step_retries_total", step="create_quote") == 1
    assert value("salesaga_step_retries_total", step="create_deal") == 0
    duration = "salesaga_step_duration_seconds_count"
    assert value(duration, step="create_deal", outcome="succeeded") == 2
    assert value(duration, step="create_quote", outcome="retry") == 1
    assert value(duration, step="create_sales_order", outcome="failed") == 1
    assert value(duration, step="create_deal", outcome="compensated") == 1  # its undo
    assert value("salesaga_step_duration_seconds_sum", step="price_order", outcome="succeeded") >= 0
    for status in ("succeeded", "compensated"):  # created → finished, one saga each
        assert value("salesaga_saga_duration_seconds_count", status=status) == 1
        assert value("salesaga_saga_duration_seconds_sum", status=status) > 0
    assert value("salesaga_saga_duration_seconds_count", status="failed") is None  # not primed


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/Products/550428000000111222", "GET /Products/{id}"),
        ("DELETE", "/Sales_Orders/12?wf_trigger=false", "DELETE /Sales_Orders/{id}"),
        ("GET", "/Contacts/search", "GET /Contacts/search"),
        ("POST", "/coql", "POST /coql"),
        ("GET", "/x/0b7e4c1d-6c0a-4e8e-9a53-1f0c3b2a9d10", "GET /x/{id}"),
    ],
)
def test_endpoint_labels_name_the_route_not_the_record(method, path, expected):
    assert endpoint_template(method, path) == expected


async def test_crm_calls_are_timed_with_their_status_or_error(metrics):
    saga_metrics, registry = metrics

    def zoho(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Accounts/404404"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(204)  # Zoho's "no such record"

    config = ZohoConfig(accounts_url="http://z", api_domain="http://z", client_id="c",
                        client_secret="s", refresh_token="r")  # fmt: skip
    http = httpx.AsyncClient(base_url=config.base_url, transport=httpx.MockTransport(zoho))
    crm = ZohoCrm(config, http, on_call=saga_metrics.crm_call_observer("zoho"))
    with pytest.raises(NotFound):
        await crm.get_account("550428000002233445")
    with pytest.raises(TransientCrmError):
        await crm.get_account("404404")
    await crm.aclose()

    def count(status: str) -> float | None:
        labels = {"backend": "zoho", "endpoint": "GET /Accounts/{id}", "status": status}
        return registry.get_sample_value("salesaga_crm_call_duration_seconds_count", labels)

    assert (count("204"), count("error")) == (1, 1)


# --- /metrics exposition -----------------------------------------------------------------------


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_page_adds_table_gauges_read_at_scrape_time(own_db, tmp_path, monkeypatch):
    db = own_db
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    crm.fail_next("create_deal", PermanentCrmError("no", code="INVALID_DATA"))
    engine = Engine(SqlSagaStore(db), {FLOW: BoundFlow(ZOHO_SALE, crm)}, retry=FAST)
    await run(engine, (await engine.start(FLOW, ORDER)).id)  # failed: one notice queued
    await engine.start(FLOW, ORDER)  # pending
    outbox = mail_outbox(db, tmp_path)

    samples = scrape((await render_metrics(db, outbox, [FLOW])).decode())
    assert samples[("salesaga_outbox_backlog", ())] == 1 == await outbox.backlog()
    assert samples[("salesaga_state_table_up", ())] == 1
    sagas = {dict(labels)["status"]: value for (name, labels), value in samples.items()
             if name == "salesaga_sagas" and dict(labels)["flow"] == FLOW}  # fmt: skip
    assert (sagas["failed"], sagas["pending"], sagas["succeeded"]) == (1, 1, 0)

    await outbox.deliver_due()
    samples = scrape((await render_metrics(db, outbox, [FLOW])).decode())
    assert samples[("salesaga_outbox_backlog", ())] == 0


async def test_metrics_page_without_a_database_still_serves_process_metrics(tmp_path, monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    process_metrics().sagas_started.labels(FLOW)  # as build_deps does in the API
    dead = make_engine("postgresql://nobody@127.0.0.1:1/none")
    outbox = mail_outbox(dead, tmp_path)
    samples = scrape((await render_metrics(dead, outbox, [FLOW])).decode())
    await dead.dispose()
    assert samples[("salesaga_state_table_up", ())] == 0
    assert ("salesaga_outbox_backlog", ()) not in samples
    assert any(name == "salesaga_sagas_started_total" for name, _ in samples)


def mail_outbox(db, tmp_path) -> Outbox:
    mail = FailureMail(SinkMailer(tmp_path), "it@example.com", FLOWS)
    return Outbox(db, {FAILURE_NOTICE: mail})


WORKER_PROCESS = """
from orchestrator.observability import process_metrics
m = process_metrics()
m.sagas_started.labels("zoho.sale").inc()
m.sagas_finished.labels("zoho.sale", "succeeded").inc()
m.crm_call_observer("zoho")("POST", "/Deals", 201, 0.2)
"""


@pytest.fixture
def two_worker_processes(tmp_path):
    """The directory two finished processes wrote their metrics to (each its own pid files)."""
    shared = tmp_path / "prom"
    shared.mkdir()
    env = {"PATH": "/usr/bin:/bin", MULTIPROC_ENV: str(shared)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", WORKER_PROCESS], env=env, cwd=ROOT, check=True,
                       timeout=60)  # fmt: skip
    return shared


async def test_multiprocess_mode_adds_up_every_process(
    two_worker_processes, sqlite_url, tmp_path, monkeypatch
):
    shared = two_worker_processes
    db = make_engine(sqlite_url)
    await create_schema(db)
    monkeypatch.setenv(MULTIPROC_ENV, str(shared))
    outbox = mail_outbox(db, tmp_path)

    samples = scrape((await render_metrics(db, outbox, [FLOW])).decode())
    await db.dispose()
    assert samples[("salesaga_sagas_started_total", (("flow", FLOW),))] == 2
    finished = (("flow", FLOW), ("status", "succeeded"))
    assert samples[("salesaga_sagas_finished_total", finished)] == 2
    call = (("backend", "zoho"), ("endpoint", "POST /Deals"), ("status", "201"))
    assert samples[("salesaga_crm_call_duration_seconds_count", call)] == 2
    assert samples[("salesaga_outbox_backlog", ())] == 0  # the table gauges come along


# --- readiness ---------------------------------------------------------------------------------


async def test_ready_when_database_and_broker_answer(db, redis_url):
    report = await check_ready(db, redis_url)
    assert report.as_json() == {"status": "ready", "database": "ok", "broker": "ok"}


async def test_each_failing_dependency_is_named_and_no_url_is_echoed(db, json_log):
    broker = f"redis://:{SECRET}@127.0.0.1:1/0"  # nothing listens on port 1
    report = await check_ready(db, broker, timeout_s=3)
    assert report.as_json() == {"status": "not_ready", "database": "ok", "broker": "unavailable"}

    dead = make_engine(f"postgresql://salesaga:{SECRET}@127.0.0.1:1/none")
    report = await check_ready(dead, "memory://", timeout_s=3)
    await dead.dispose()
    assert report.as_json() == {"status": "not_ready", "database": "unavailable", "broker": "ok"}
    assert not report.ready
    warnings = [line for line in json_log() if line["event"].startswith("readiness")]
    assert [w["check"] for w in warnings] == ["broker", "database"]
    assert SECRET not in json.dumps(warnings)


# --- API request context -----------------------------------------------------------------------


async def test_api_lines_carry_request_id_and_path_and_the_response_echoes_it(json_log):
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware)

    @app.get("/sagas/{saga_id}")
    async def one(saga_id: str) -> dict[str, str]:
        logging.getLogger("route").info("looked up")
        return {"id": saga_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        given = await client.get("/sagas/s-1", headers={"X-Request-ID": "req-42"})
        made = await client.get("/sagas/s-2", headers={"X-Request-ID": "bad id\n{}"})

    assert given.headers["X-Request-ID"] == "req-42"
    assert len(made.headers["X-Request-ID"]) == 32  # a bad caller id is replaced with our own
    first, second = (line for line in json_log() if line["event"] == "looked up")
    assert (first["request_id"], first["method"], first["path"]) == ("req-42", "GET", "/sagas/s-1")
    assert second["request_id"] == made.headers["X-Request-ID"]
    assert "request_id" not in structlog.contextvars.get_contextvars()
