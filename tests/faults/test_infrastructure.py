"""The broker restarted empty, the database restarted, SMTP down, duplicate deliveries: no sale
is lost, duplicated or half-made, and every e-mail arrives once."""

from __future__ import annotations

import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from celery import Celery

from tests.faults.cluster import P1, POISON, check_invariants, order

PG_CLUSTER = subprocess.run("ls /etc/postgresql", shell=True, capture_output=True, text=True)
REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port",
               "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
               "--logfile", "/var/log/redis/ci.log"]  # fmt: skip


def twenty_slow_sales(cluster) -> list[str]:
    cluster.fault(module="Quotes", operation="create", delay_s=0.5, times=20)
    with ThreadPoolExecutor(10) as pool:
        return list(pool.map(lambda _: cluster.sale(), range(20)))


def test_redis_restarted_empty_mid_flight_loses_no_saga(fresh):
    fresh.start_worker()
    ids = twenty_slow_sales(fresh)
    time.sleep(0.5)
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    time.sleep(1.0)
    subprocess.run(REDIS_START, check=True, capture_output=True)  # empty: every message is gone
    outcome = fresh.wait_terminal(ids, timeout_s=90)
    assert set(outcome.values()) == {"succeeded"}
    check_invariants(fresh, outcome)


def test_postgres_restarted_mid_flight_loses_no_saga_and_the_api_says_503(fresh):
    fresh.start_worker()
    ids = twenty_slow_sales(fresh)
    time.sleep(0.5)
    version = PG_CLUSTER.stdout.split()[0]
    ctl = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    subprocess.run([*ctl, "stop", "-m", "fast"], check=True, capture_output=True)
    try:
        with fresh.http() as http:
            down = http.post("/createSales", json=order(P1))
        assert down.status_code == 503
        assert down.json() == {"status": "error", "message": down.json()["message"]}
        assert "database" in down.json()["message"]
        time.sleep(2.0)
    finally:
        subprocess.run([*ctl, "start"], check=True, capture_output=True)
    outcome = fresh.wait_terminal(ids, timeout_s=120)
    assert set(outcome.values()) == {"succeeded"}
    check_invariants(fresh, outcome)


def test_the_same_step_message_delivered_three_times_runs_once(fresh):
    fresh.start_worker()  # two workers, three slots each: the copies really race
    producer = Celery(broker=fresh.env["BROKER_URL"])
    fresh.fault(module="Deals", operation="create", delay_s=0.3, times=5)
    ids = [fresh.sale() for _ in range(5)]
    for saga_id in ids:
        for _ in range(2):
            producer.send_task("saga.advance", args=[saga_id])
    outcome = fresh.wait_terminal(ids, timeout_s=60)
    assert set(outcome.values()) == {"succeeded"}
    check_invariants(fresh, outcome)
    producer.close()


def test_one_idempotency_key_sent_ten_times_at_once_makes_one_sale(fresh):
    key = f"fault-{uuid.uuid4()}"
    with ThreadPoolExecutor(10) as pool:
        ids = set(pool.map(lambda _: fresh.sale(**{"Idempotency-Key": key}), range(10)))
    assert len(ids) == 1
    outcome = fresh.wait_terminal(ids)
    assert list(outcome.values()) == ["succeeded"]
    live, _ = fresh.crm_census()
    assert sum(live.values()) == 3


def test_smtp_down_while_five_sagas_fail_then_every_email_arrives_once(fresh, mailbox):
    mailbox.stop()  # SMTP is down from here on
    fresh.fault(module="Quotes", operation="create", status=400, times=5)
    ids = [fresh.sale(order(P1, POISON)) for _ in range(5)]
    outcome = fresh.wait_terminal(ids)
    assert set(outcome.values()) == {"compensated"}
    time.sleep(2.0)  # deliveries are failing and being retried now
    pending = [fresh.saga(i)["notifications"][0] for i in ids]
    assert all(n["status"] != "sent" and n["attempts"] >= 1 for n in pending), pending
    server = mailbox.start()
    server.wait_for(5, timeout=30)
    time.sleep(3.0)  # a duplicate would come with the next sweeps
    subjects = [m["Subject"] for m in server.messages]
    assert sorted(next(i for i in ids if i in s) for s in subjects) == sorted(ids)
    assert all(fresh.saga(i)["notifications"][0]["status"] == "sent" for i in ids)
    check_invariants(fresh, outcome)


def test_api_stays_json_when_asked_for_an_unknown_path(fresh):
    response = httpx.get(fresh.url + "/nope", headers={"x-api-key": "fault-client-key"})
    assert response.status_code == 404 and response.json()["status"] == "error"
