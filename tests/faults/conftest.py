"""One cluster of real processes for the fault suite, and the mail server it reports to."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import scratch_database
from tests.faults.cluster import Cluster, start_cluster
from tests.processes import free_port
from tests.smtp_server import SmtpServer, running_smtp


@dataclass
class Mailbox:
    """The SMTP server, which a test may stop and bring back on the same port."""

    port: int
    server: SmtpServer | None = None
    _running: contextlib.ExitStack | None = None

    def start(self) -> SmtpServer:
        self._running = contextlib.ExitStack()
        self.server = self._running.enter_context(running_smtp(port=self.port))
        return self.server

    def stop(self) -> None:
        if self._running is not None:
            self._running.close()
        self._running, self.server = None, None


@pytest.fixture(scope="package")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="package")
def cluster(tmp_path_factory, mailbox) -> Iterator[Cluster]:
    with scratch_database() as db:  # its sweeps must see only this suite's sagas
        running = start_cluster(tmp_path_factory.mktemp("cluster"), db, smtp_port=mailbox.port)
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture
def fresh(cluster, mailbox) -> Cluster:
    """The cluster with a reset sandbox, an empty mailbox and exactly one worker."""
    cluster.reset_sandbox()
    if mailbox.server is None:
        mailbox.start()
    mailbox.server.clear()
    cluster.prune()
    while len(cluster.workers) > 1:
        cluster.kill_worker()
    if not cluster.workers:
        cluster.start_worker()
    return cluster
