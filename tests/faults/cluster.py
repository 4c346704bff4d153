"""A salesaga cluster of real processes for fault injection: the API (serving the Zoho sandbox),
a beat process for the recovery sweeps, and worker processes that tests SIGKILL and restart.

PostgreSQL and Redis are the machine's real servers; tests may restart them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.processes import BIN, clean_env, die_with_parent, free_port, stop, wait_healthy

KEY = "fault-client-key-0a1b2c"
OPERATOR_KEY = "fault-operator-key-3d4e5f"
CONTACT = "550428000008877665"
P1, P2, POISON = "550428000000111222", "550428000000333444", "550428000000777888"
TERMINAL = {"succeeded", "compensated", "failed", "compensation_failed", "needs_manual_cleanup"}
SALE_MODULES = ("Deals", "Quotes", "Sales_Orders")
NAME_FIELD = {"Deals": "Deal_Name", "Quotes": "Subject", "Sales_Orders": "Subject"}
MARKER = re.compile(r"salesaga-([0-9a-f-]{36})")


def order(*products: str) -> dict:
    return {"contactId": CONTACT, "products": [{"productId": p, "quantity": 2} for p in products]}


@dataclass
class Cluster:
    cwd: Path
    env: dict[str, str]
    url: str
    api: subprocess.Popen | None = None
    beat: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    # --- processes ------------------------------------------------------------------------------

    def _spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        # Tie the child's life to ours — but PR_SET_PDEATHSIG follows the forking *thread*, so
        # only from the main thread (the soak's chaos thread starts workers too).
        tie = threading.current_thread() is threading.main_thread()
        command = [str(BIN / args[0]), *args[1:]]
        with (self.cwd / "cluster.log").open("a") as log:  # the child keeps its own copy
            # Own session: a SIGKILL to the group takes the prefork parent and its children.
            return subprocess.Popen(command, cwd=self.cwd, env=env or self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent if tie else None)  # fmt: skip

    def start(self, workers: int = 1) -> None:
        # as an operator starts a release: the schema first (serve and worker only check it)
        subprocess.run([str(BIN / "salesaga"), "db", "upgrade"], cwd=self.cwd, env=self.env,
                       check=True, capture_output=True, timeout=60)  # fmt: skip
        self.api = self._spawn("salesaga", "serve")
        self.beat = self._spawn("celery", "-A", "workers", "beat", "--loglevel", "WARNING",
                                "--schedule", str(self.cwd / "beat-schedule"))  # fmt: skip
        for _ in range(workers):
            self.start_worker()
        wait_healthy(self.url, [self.api], self.cwd / "cluster.log")

    def start_worker(self, **env: str) -> subprocess.Popen:
        """A worker process; `env` overrides settings for it alone (e.g. SHUTDOWN_GRACE_S)."""
        own = {**self.env, **env}
        worker = self._spawn("salesaga", "worker", "--no-beat", "--concurrency", "3",
                             "--loglevel", "WARNING", env=own)  # fmt: skip
        self.workers.append(worker)
        return worker

    def holder(self, saga_id: str, step: str) -> subprocess.Popen:
        """The worker process inside the step's call now (its id is host:pid:…)."""
        held = {s["name"]: s["heldBy"] for s in self.saga(saga_id)["steps"]}[step]
        assert held, f"nobody holds {step}"
        pid = int(held.split(":")[1])
        [worker] = [w for w in self.workers if w.pid == pid]
        return worker

    def workers_view(self) -> dict:
        with httpx.Client(base_url=self.url, headers={"x-api-key": OPERATOR_KEY}) as http:
            response = http.get("/workers")
        response.raise_for_status()
        return response.json()

    def prune(self) -> None:
        """Forget workers that are gone already."""
        self.workers = [w for w in self.workers if w.poll() is None]

    def kill_worker(self, worker: subprocess.Popen | None = None) -> None:
        """SIGKILL a worker's whole process group: no clean-up, no ack, mid-call."""
        worker = worker or self.workers[0]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        self.workers.remove(worker)

    def stop(self) -> None:
        running = [p for p in (*self.workers, self.beat, self.api) if p is not None]
        for proc in running:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        stop(running, sig=signal.SIGTERM, timeout_s=15)

    # --- the API and the sandbox ----------------------------------------------------------------

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"x-api-key": KEY}, timeout=30)

    def sale(self, body: dict | None = None, **headers: str) -> str:
        with self.http() as http:
            response = http.post("/createSales", json=body or order(P1, P2), headers=headers)
        assert response.status_code in (200, 202, 500), response.text
        return str(response.json()["sagaId"])

    def saga(self, saga_id: str) -> dict:
        with self.http() as http:
            response = http.get(f"/sagas/{saga_id}")
        response.raise_for_status()
        return response.json()

    def events(self, saga_id: str) -> list[dict]:
        return list(self.saga(saga_id)["events"])

    def step_status(self, saga_id: str, step: str) -> str:
        return {s["name"]: s["status"] for s in self.saga(saga_id)["steps"]}[step]

    def wait_for_step(self, saga_id: str, step: str, *statuses: str, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while self.step_status(saga_id, step) not in statuses:
            assert time.monotonic() < deadline, f"{step} never reached {statuses}"
            time.sleep(0.02)

    def wait_terminal(self, ids: Iterable[str], timeout_s: float = 60) -> dict[str, str]:
        pending, done = set(ids), {}
        deadline = time.monotonic() + timeout_s
        while pending:
            for saga_id in list(pending):
                try:
                    status = self.saga(saga_id)["status"]
                except httpx.HTTPError:
                    continue  # the API may be waiting for the database
                if status in TERMINAL:
                    done[saga_id] = status
                    pending.discard(saga_id)
            assert time.monotonic() < deadline, f"not terminal: {sorted(pending)}"
            time.sleep(0.1)
        return done

    def sandbox(self, path: str, body: dict | None = None) -> dict:
        url = f"{self.url}/zoho-sandbox/__sandbox__/{path}"
        response = httpx.post(url, json=body or {}) if body is not None else httpx.get(url)
        response.raise_for_status()
        return response.json()

    def fault(self, **fault) -> None:
        self.sandbox("faults", fault)

    def reset_sandbox(self) -> None:
        self.sandbox("reset", {})

    # --- what the CRM holds ---------------------------------------------------------------------

    def crm_census(self) -> tuple[Counter, Counter]:
        """(live, ever created) records per (saga id, module), read from the sandbox."""
        modules = self.sandbox("records")["modules"]
        live, ever = Counter(), Counter()
        for module in SALE_MODULES:
            for kind, records in (("live", modules[module]["records"]),
                                  ("gone", modules[module]["deleted"])):  # fmt: skip
                for record in records:
                    found = MARKER.search(record.get(NAME_FIELD[module]) or "")
                    if found is None:
                        continue
                    ever[(found.group(1), module)] += 1
                    if kind == "live":
                        live[(found.group(1), module)] += 1
        return live, ever


def start_cluster(tmp_path: Path, pg_url: str, *, smtp_port: int, workers: int = 1,
                  **overrides: str) -> Cluster:  # fmt: skip
    port = free_port()
    settings = dict(  # noqa: C408 - the names are environment variables
        DATABASE_URL=pg_url, BROKER_URL="redis://127.0.0.1:6379/11", API_KEYS=KEY, PORT=str(port),
        OPERATOR_API_KEYS=OPERATOR_KEY,
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port), IT_EMAIL="it@example.com",
        CELERY_QUEUE=f"faults-{uuid.uuid4().hex[:8]}",  # stale consumers of old runs hear nothing
        # A lease far longer than any test waits: a dead worker's step is taken over by liveness
        # (silent 3 s) or the test fails.
        SYNC_WAIT_S="0.2", LEASE_S="120", HEARTBEAT_S="0.5", WORKER_DEAD_AFTER_S="3",
        SHUTDOWN_GRACE_S="10", RECOVER_EVERY_S="1", RECOVER_HOLD_S="3",
        ZOHO_READ_TIMEOUT_S="2", AMBIGUOUS_WAIT_S="3", RETRY_BASE_S="0.1", RETRY_CAP_S="1",
        STEP_MAX_ATTEMPTS="8", COMPENSATION_MAX_ATTEMPTS="8", MAIL_RETRY_BASE_S="0.5",
        MAIL_RETRY_CAP_S="1", SMTP_TIMEOUT_S="2", LOG_LEVEL="WARNING",
    )  # fmt: skip
    env = clean_env(**{**settings, **overrides})
    cluster = Cluster(tmp_path, env, f"http://127.0.0.1:{port}")
    cluster.start(workers)
    return cluster


def check_invariants(cluster: Cluster, outcomes: dict[str, str]) -> dict[str, int]:
    """Whole or nothing: a succeeded saga owns exactly one Deal, Quote and Sales Order; any
    other leaves nothing live but what its saga page lists as left over; nothing is ever created
    twice. Returns the counts for the report."""
    live, ever = cluster.crm_census()
    duplicates = sum(1 for count in ever.values() if count > 1)
    orphans = 0
    for saga_id, status in outcomes.items():
        mine = {m: live[(saga_id, m)] for m in SALE_MODULES}
        if status == "succeeded":
            assert mine == dict.fromkeys(SALE_MODULES, 1), (saga_id, mine)
            continue
        left = {r["record"] for r in cluster.saga(saga_id)["records"] if r["fate"] == "left_over"}
        orphans += sum(n for m, n in mine.items() if n and _label(m) not in left)
    unknown = {saga for saga, _ in live} - set(outcomes)
    assert duplicates == 0, f"{duplicates} record(s) created twice"
    assert orphans == 0, f"{orphans} record(s) left by rolled-back sagas"
    return {"duplicates": duplicates, "orphans": orphans, "foreign": len(unknown)}


def _label(module: str) -> str:
    return {"Deals": "Deal", "Quotes": "Quote", "Sales_Orders": "Sales Order"}[module]
