"""`salesaga serve` and `worker` as an operator starts them: a backend is used only when its
settings are complete, partial settings refuse to start naming the variable, and no sandbox is
served unless CRM_SANDBOX asks for it."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.processes import BIN, clean_env, free_port, running

KEY = "k-client-key-for-tests-0"


def start(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BIN / "salesaga", *command], env=clean_env(**env),
                          capture_output=True, text=True, timeout=60)  # fmt: skip


PARTIAL = {"CRM_SANDBOX": "false", "ZOHO_CLIENT_ID": "id",
           "ZOHO_CLIENT_SECRET": "very-secret-value"}  # fmt: skip


def test_partial_settings_refuse_to_start_naming_the_missing_variable(tmp_path):
    database = f"sqlite:///{tmp_path}/s.db"
    commands = [("serve",), ("worker", "--no-beat"), ("consume",), ("recover",),
                ("messages", "replay", "1"),
                ("sagas", "retry", "00000000-0000-0000-0000-000000000000")]  # fmt: skip
    env = {"DATABASE_URL": database, "BROKER_URL": "redis://127.0.0.1:6379/14", **PARTIAL}
    with ThreadPoolExecutor(len(commands)) as pool:  # side by side: each start-up takes seconds
        runs = [pool.submit(start, *command, **env) for command in commands]
    for command, run in zip(commands, runs, strict=True):
        done = run.result()
        assert done.returncode == 2, (command, done.stderr)
        assert "ZOHO_REFRESH_TOKEN not set" in done.stderr, command
        assert "very-secret-value" not in done.stderr + done.stdout


def test_celery_worker_refuses_to_start_as_salesaga_worker_does(tmp_path):
    done = subprocess.run([BIN / "celery", "-A", "workers", "worker", "--pool=solo"], cwd=tmp_path,
                          env=clean_env(DATABASE_URL=f"sqlite:///{tmp_path}/s.db",
                                        BROKER_URL="redis://127.0.0.1:6379/14", **PARTIAL),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode != 0
    assert "ZOHO_REFRESH_TOKEN not set" in done.stderr + done.stdout


def test_serve_without_settings_serves_no_sandbox_and_runs_no_flow(tmp_path, sqlite_url):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env(DATABASE_URL=sqlite_url, CRM_SANDBOX="false",
                    API_KEYS=KEY, PORT=str(port))  # fmt: skip
    with running([[BIN / "salesaga", "serve"]], cwd=tmp_path, env=env, url=url):
        headers = {"x-api-key": KEY}
        assert httpx.get(url + "/zoho-sandbox/__sandbox__/records").status_code == 404
        assert httpx.get(url + "/onautomate-sandbox/__sandbox__/records").status_code == 404
        assert httpx.get(url + "/flows", headers=headers).json() == {"items": []}
        sale = httpx.post(url + "/createSales", headers=headers, json={"contactId": "1",
                          "products": [{"productId": "2", "quantity": 1}]})  # fmt: skip
        assert sale.status_code == 503
        other = httpx.post(url + "/sagas", headers=headers,
                           json={"flow": "onautomate.opportunity", "input": {}})  # fmt: skip
        assert other.status_code == 503
        expected = ("flow onautomate.opportunity is not available on this service: its backend "
                    "onautomate is not configured")  # fmt: skip
        assert other.json()["message"] == expected
        unknown = httpx.post(url + "/sagas", headers=headers, json={"flow": "x", "input": {}})
        assert unknown.status_code == 400
        assert "(none: no CRM backend is configured here)" in unknown.json()["message"]
    assert "no CRM backend is configured" in (tmp_path / "processes.log").read_text()


def test_crm_sandbox_serves_the_sandboxes_with_a_warning(tmp_path, sqlite_url):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env(DATABASE_URL=sqlite_url, CRM_SANDBOX="true",
                    API_KEYS=KEY, PORT=str(port))  # fmt: skip
    with running([[BIN / "salesaga", "serve"]], cwd=tmp_path, env=env, url=url):
        assert httpx.get(url + "/zoho-sandbox/__sandbox__/records").status_code == 200
        assert httpx.get(url + "/onautomate-sandbox/__sandbox__/records").status_code == 200
        assert httpx.get(url + "/rpccrm-sandbox/__sandbox__/records").status_code == 200
        flows = httpx.get(url + "/flows", headers={"x-api-key": KEY}).json()["items"]
        assert {item["flow"] for item in flows} == {
            "zoho.sale",
            "onautomate.opportunity",
            "poologics.opportunity",
            "rpccrm.opportunity_ticket",
        }
    log = (tmp_path / "processes.log").read_text()
    assert "OnAutomate runs against its built-in sandbox (CRM_SANDBOX)" in log
    assert "CRM sandbox for Zoho CRM mounted at /zoho-sandbox" in log


def test_salesaga_poologics_subscribe_and_unsubscribe_are_idempotent(tmp_path, sqlite_url):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secret = "subscribe-test-secret-42"
    env = clean_env(DATABASE_URL=sqlite_url, CRM_SANDBOX="true", API_KEYS=KEY,
                    PORT=str(port), PUBLIC_URL=url, WEBHOOK_SECRET=secret)  # fmt: skip
    records = url + "/poologics-sandbox/__sandbox__/records"
    with running([[BIN / "salesaga", "serve"]], cwd=tmp_path, env=env, url=url):
        for _ in range(2):
            done = subprocess.run([BIN / "salesaga", "poologics", "subscribe"], env=env,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert secret not in done.stdout + done.stderr
        subscriptions = httpx.get(records).json()["subscriptions"]
        assert subscriptions == {
            trigger: [f"{url}/hooks/poologics/{trigger}/{secret}"]
            for trigger in ("new_opportunity", "new_contact", "opportunity_stage_change")
        }
        done = subprocess.run([BIN / "salesaga", "poologics", "unsubscribe"], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert not any(httpx.get(records).json()["subscriptions"].values())
    no_secret = subprocess.run([BIN / "salesaga", "poologics", "subscribe"],
                               env={**env, "WEBHOOK_SECRET": ""}, capture_output=True,
                               text=True, timeout=60)  # fmt: skip
    assert no_secret.returncode == 2 and "WEBHOOK_SECRET" in no_secret.stderr
