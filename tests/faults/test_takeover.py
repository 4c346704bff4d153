"""Worker liveness with its default settings (heartbeat 2 s, dead after 8 s) and a 120 s lease:
a worker SIGKILLed inside a CRM call has its sale finished by another one within 20 s, whether
the interrupted write landed before the kill or 2 s after it; SIGTERM hands the sagas on at once
and exits 0; a call cut off by the grace period is taken up only after its write has landed."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator

import pytest

from orchestrator.views.timeline import BarKind, MarkKind, build_timeline
from tests.conftest import scratch_database
from tests.faults.cluster import Cluster, check_invariants, start_cluster

DEFAULTS = {"LEASE_S": "120", "HEARTBEAT_S": "2", "WORKER_DEAD_AFTER_S": "8",
            "SHUTDOWN_GRACE_S": "20"}  # fmt: skip
TARGET_S = 20.0
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def live(tmp_path_factory, mailbox) -> Iterator[Cluster]:
    with scratch_database() as db:
        running = start_cluster(tmp_path_factory.mktemp("live"), db, smtp_port=mailbox.port,
                                workers=2, **DEFAULTS)  # fmt: skip
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture
def two(live) -> Cluster:
    """Two workers alive and beating, a reset sandbox."""
    live.reset_sandbox()
    live.prune()
    while len(live.workers) < 2:
        live.start_worker()
    deadline = time.monotonic() + 30
    while live.workers_view()["alive"] < 2:
        assert time.monotonic() < deadline, live.workers_view()
        time.sleep(0.2)
    return live


def sale_inside_quote(cluster: Cluster, **fault: float) -> str:
    cluster.fault(module="Quotes", operation="create", **fault)
    saga_id = cluster.sale()
    cluster.wait_for_step(saga_id, "create_quote", "running")
    time.sleep(0.3)  # the request is at the sandbox now
    return saga_id


@pytest.mark.parametrize("landed", ["before the kill", "2 s after the kill"])
def test_a_killed_workers_sale_is_finished_by_the_survivor_within_seconds(two, landed):
    fault = {"answer_delay_s": 6.0} if landed == "before the kill" else {"delay_s": 2.3}
    saga_id = sale_inside_quote(two, **fault)
    holder = two.holder(saga_id, "create_quote")
    two.kill_worker(holder)
    killed_at = time.monotonic()
    outcome = two.wait_terminal([saga_id], timeout_s=60)
    took = time.monotonic() - killed_at
    log.warning(f"terminal {took:.1f} s after the kill ({landed})")
    assert outcome == {saga_id: "succeeded"}
    assert took <= TARGET_S, f"{took:.1f} s"
    check_invariants(two, outcome)  # exactly one Deal, Quote and Sales Order
    saga = two.saga(saga_id)
    quote = {s["name"]: s for s in saga["steps"]}["create_quote"]
    assert quote["attempts"] == 2 and quote["heldBy"] is None
    events = two.events(saga_id)
    assert [e["kind"] for e in events].count("step.taken_over") == 1
    dead = [w for w in two.workers_view()["items"] if w["id"].split(":")[1] == str(holder.pid)]
    assert dead and dead[0]["state"] == "dead"
    # the console's and the CLI's timeline show the takeover where it happened
    timeline = build_timeline(saga)
    quote_bars = [(b.kind, b.attempt) for b in timeline.bars if b.lane == "step:create_quote"]
    assert quote_bars == [(BarKind.CUT_OFF, 1), (BarKind.RAN, 2)]
    [taken] = [m for m in timeline.marks if m.kind is MarkKind.TAKEN_OVER]
    assert taken.lane == "step:create_quote" and dead[0]["id"] in taken.text


def test_a_new_worker_takes_up_the_only_workers_sale(two):
    two.kill_worker(two.workers[1])
    saga_id = sale_inside_quote(two, delay_s=2.3)
    two.kill_worker(two.holder(saga_id, "create_quote"))
    killed_at = time.monotonic()
    two.start_worker()
    outcome = two.wait_terminal([saga_id], timeout_s=60)
    took = time.monotonic() - killed_at
    log.warning(f"terminal {took:.1f} s after the kill, with a new worker")
    assert outcome == {saga_id: "succeeded"}
    assert took <= TARGET_S, f"{took:.1f} s"
    check_invariants(two, outcome)


def test_sigterm_finishes_the_call_exits_0_and_the_sale_goes_on_at_once(two):
    saga_id = sale_inside_quote(two, delay_s=1.5)
    holder = two.holder(saga_id, "create_quote")
    holder.send_signal(signal.SIGTERM)  # a deploy: to the worker process alone
    sent_at = time.monotonic()
    assert holder.wait(25) == 0
    exited = time.monotonic() - sent_at
    outcome = two.wait_terminal([saga_id], timeout_s=30)
    took = time.monotonic() - sent_at
    log.warning(f"exit 0 after {exited:.1f} s; terminal after {took:.1f} s")
    assert outcome == {saga_id: "succeeded"}
    assert took < 10, f"{took:.1f} s: it waited for something"
    check_invariants(two, outcome)
    quote = {s["name"]: s for s in two.saga(saga_id)["steps"]}["create_quote"]
    assert quote["attempts"] == 1  # the call in flight finished before the exit
    gone = [w for w in two.workers_view()["items"] if w["id"].split(":")[1] == str(holder.pid)]
    assert gone and gone[0]["state"] == "stopped"


def test_a_call_longer_than_the_grace_is_released_and_its_late_write_adopted(two):
    for worker in list(two.workers):
        two.kill_worker(worker)
    brief = two.start_worker(SHUTDOWN_GRACE_S="1")
    saga_id = sale_inside_quote(two, delay_s=2.5)  # the Quote lands 2.5 s after the call
    assert two.holder(saga_id, "create_quote") is brief
    brief.send_signal(signal.SIGTERM)
    assert brief.wait(15) == 0
    two.start_worker()
    outcome = two.wait_terminal([saga_id], timeout_s=60)
    assert outcome == {saga_id: "succeeded"}
    check_invariants(two, outcome)  # the late Quote was found again, not made twice
    kinds = [e["kind"] for e in two.events(saga_id)]
    assert "step.released" in kinds
    [quote] = [e for e in two.events(saga_id)
               if e["kind"] == "step.succeeded" and e["step"] == "create_quote"]  # fmt: skip
    assert quote["detail"]["adopted"] is True
