"""The production split as separate processes: `salesaga serve` and `celery -A workers worker`
on PostgreSQL and Redis, the API serving the built-in sandbox, a real SMTP server."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.test_dev_mode import ORDER
from tests.processes import BIN, clean_env, free_port, running
from tests.smtp_server import running_smtp

KEY = {"x-api-key": "proc-client-key-8c2d1e"}


@pytest.fixture
def split_service(own_pg_url, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_smtp() as smtp:
        env = clean_env(DATABASE_URL=own_pg_url, BROKER_URL="redis://127.0.0.1:6379/10",
                        API_KEYS="proc-client-key-8c2d1e", PORT=str(port), SMTP_HOST=smtp.host,
                        SMTP_PORT=str(smtp.port), IT_EMAIL="it@example.com",
                        RETRY_BASE_S="0.05", LOG_LEVEL="WARNING")  # fmt: skip
        worker = ["-A", "workers", "worker", "-c", "2", "--loglevel", "WARNING"]
        commands = [[BIN / "salesaga", "serve"], [BIN / "celery", *worker]]
        with running(commands, cwd=tmp_path, env=env, url=url):
            yield url, smtp


def test_api_and_worker_processes_run_a_sale_and_a_rollback(split_service):
    url, smtp = split_service
    ok = httpx.post(url + "/createSales", json=ORDER, headers=KEY, timeout=30)
    assert ok.status_code == 200, ok.text

    fault = {"module": "Sales_Orders", "operation": "create", "status": 400}
    httpx.post(url + "/zoho-sandbox/__sandbox__/faults", json=fault).raise_for_status()
    failed = httpx.post(url + "/createSales", json=ORDER, headers=KEY, timeout=30)
    assert failed.status_code == 500

    records = httpx.get(url + "/zoho-sandbox/__sandbox__/records").json()["modules"]
    assert [records[m]["count"] for m in ("Deals", "Quotes", "Sales_Orders")] == [1, 1, 1]
    assert [records[m]["deleted_count"] for m in ("Deals", "Quotes")] == [1, 1]
    [mail] = smtp.wait_for(1, timeout=10)
    assert failed.json()["sagaId"] in mail["Subject"]
