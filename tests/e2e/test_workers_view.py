"""Operators see the worker processes: GET /workers (operator key), the console's workers page
and the /metrics gauges, all read from the worker table the running workers beat in."""

from __future__ import annotations

import os
import time

from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_console import browser, login, page, screenshot  # noqa: F401


def this_process_worker(svc) -> dict:
    """The embedded worker of this test process, once it has beaten."""
    saga_id = svc.create_sales().json()["sagaId"]  # the runtime starts with its first saga
    svc.wait_for_status(saga_id, "succeeded")
    deadline = time.monotonic() + 10
    while True:
        listed = svc.operator.get("/workers")
        assert listed.status_code == 200, listed.text
        mine = [w for w in listed.json()["items"]
                if w["pid"] == os.getpid() and w["state"] == "alive"]  # fmt: skip
        if mine:
            return {"body": listed.json(), "worker": mine[0]}
        assert time.monotonic() < deadline, listed.json()
        time.sleep(0.1)


def test_the_workers_api_lists_the_live_worker_and_needs_an_operator_key(svc):
    seen = this_process_worker(svc)
    body, worker = seen["body"], seen["worker"]
    assert body["alive"] >= 1 and body["deadAfterS"] == svc.settings.worker_dead_after_s
    assert worker["id"].split(":")[1] == str(os.getpid())
    assert worker["holding"] == [] and worker["endedAt"] is None
    assert {"host", "startedAt", "beatAt", "takenOverBy"} <= set(worker)
    assert svc.api.get("/workers").status_code == 403  # a client key is not enough


def test_metrics_count_the_live_workers_the_takeovers_and_the_sql_sent(svc):
    this_process_worker(svc)
    time.sleep(svc.settings.heartbeat_s + 0.5)  # the worker's counts go out with its beat
    text = svc.operator.get("/metrics").text
    samples = {(s.name, s.labels.get("process")): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip
    assert samples[("salesaga_workers_alive", None)] >= 1
    assert samples[("salesaga_takeovers_total", None)] >= 0
    for process in ("api", "workers"):  # a sale was started and run: both sent SQL
        assert samples[("salesaga_db_commits_total", process)] >= 1
        assert (
            samples[("salesaga_db_statements_total", process)]
            > samples[("salesaga_db_commits_total", process)]
        )


def test_the_console_shows_each_worker_with_its_heartbeat(svc, page):  # noqa: F811
    worker = this_process_worker(svc)["worker"]
    login(page, start="/console/workers")
    row = page.locator(f"tr.worker[data-id='{worker['id']}']")
    expect(row).to_have_attribute("data-state", "alive")
    expect(row).to_contain_text("s ago")
    expect(row.locator(".holding")).to_contain_text("nothing")
    screenshot(page, "console-workers.png")
