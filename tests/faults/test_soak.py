"""Soak: 200 sales through a misbehaving world — random 5xx, 429s and timeouts from the CRM,
revoked tokens, 10% of orders permanently refused, workers SIGKILLed at random — and then:
no orphan, no duplicate, one e-mail per failed sale."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.cluster import P1, P2, POISON, check_invariants, order

SALES = 200
ALWAYS = 1_000_000


def misbehave(cluster) -> None:
    # First, so no other fault shadows it: every Quote holding the poisoned product is refused.
    cluster.fault(module="Quotes", operation="create", status=400, body_contains=POISON,
                  times=ALWAYS)  # fmt: skip
    for module in ("Deals", "Quotes", "Sales_Orders"):
        cluster.fault(module=module, operation="create", status=500, probability=0.05, times=ALWAYS)
        cluster.fault(
            module=module, operation="create", delay_s=2.5, probability=0.02, times=ALWAYS
        )
        cluster.fault(module=module, operation="delete", status=500, probability=0.05, times=ALWAYS)
    cluster.fault(status=429, retry_after="1", probability=0.03, times=ALWAYS)


def chaos(cluster, stop: threading.Event, kills: list[float]) -> None:
    rng = random.Random(7)
    next_revoke = time.monotonic() + 2
    while not stop.wait(rng.uniform(3.0, 6.0)):
        worker = rng.choice(cluster.workers)
        cluster.kill_worker(worker)
        cluster.start_worker()
        kills.append(time.monotonic())
        if time.monotonic() > next_revoke:
            cluster.sandbox("revoke-tokens", {})
            next_revoke = time.monotonic() + 2


# The suite's 120 s guard is too tight for 200 sagas with worker kills on a slow machine (seen
# here: 111-130 s); the soak's own limit is wait_terminal's 400 s.
@pytest.mark.timeout(420)
def test_soak(fresh, mailbox, tmp_path):
    fresh.start_worker()
    misbehave(fresh)
    poisoned = set(random.Random(11).sample(range(SALES), SALES // 10))
    bodies = [order(P1, POISON) if i in poisoned else order(P1, P2) for i in range(SALES)]
    stop, kills = threading.Event(), []
    monkey = threading.Thread(target=chaos, args=(fresh, stop, kills), daemon=True)
    started = time.monotonic()
    monkey.start()
    try:
        with ThreadPoolExecutor(10) as pool:
            ids = list(pool.map(fresh.sale, bodies))
        outcome = fresh.wait_terminal(ids, timeout_s=400)
    finally:
        stop.set()
        monkey.join(30)
    elapsed = time.monotonic() - started
    statuses = Counter(outcome.values())
    found = check_invariants(fresh, outcome)
    failed = {saga_id for saga_id, status in outcome.items() if status != "succeeded"}
    # Every failed sale mailed, counted by Message-ID (a resend keeps it): a worker killed while
    # sending leaves its notice to the sweep after the 30 s send lease, so a resend may come
    # before the last first-send.
    deadline = time.monotonic() + 90
    while mailed_sagas(mailbox, failed) != failed and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3.0)  # a duplicate would arrive with the next sweeps
    messages = mailbox.server.messages
    notices = {m["Message-ID"]: m for m in messages}  # a resend keeps its Message-ID
    mailed = Counter(next((i for i in failed if i in m["Subject"]), "?") for m in notices.values())
    report = {
        "sagas": SALES, "seconds": round(elapsed, 1), "worker_kills": len(kills),
        "completed": statuses["succeeded"], "compensated": statuses["compensated"],
        "flagged": statuses["compensation_failed"] + statuses["needs_manual_cleanup"],
        "failed_nothing_written": statuses["failed"], "orphans": found["orphans"],
        "duplicates": found["duplicates"], "emails_expected": len(failed),
        "emails_received": sum(mailed.values()), "emails_resent": len(messages) - len(notices),
    }  # fmt: skip
    (tmp_path / "soak-report.json").write_text(json.dumps(report, indent=2))
    print("soak:", json.dumps(report))  # noqa: T201 - the figures are the output (pytest -s)
    assert statuses["succeeded"] == SALES - len(poisoned)
    assert statuses["compensated"] == len(poisoned)
    assert set(mailed) == failed and set(mailed.values()) == {1}  # each failed sale mailed once
    assert kills, "the chaos monkey never struck"


def mailed_sagas(mailbox, failed: set[str]) -> set[str]:
    subjects = [m["Subject"] for m in mailbox.server.messages]
    return {saga_id for saga_id in failed if any(saga_id in subject for subject in subjects)}
