"""One cluster of real processes for the fault suite, and the mail server it reports to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.faults.cluster import Cluster, start_cluster
from tests.processes import free_port
from tests.smtp_server import SmtpServer, running_smtp


@dataclass
class Mailbox:
    """The SMTP server, which a test may stop and bring back on the same port."""

    port: int
    server: SmtpServer | None = None


@pytest.fixture(scope="package")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    with running_smtp(port=box.port) as server:
        box.server = server
        yield box


@pytest.fixture(scope="package")
def cluster(pg_url, tmp_path_factory, mailbox) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("cluster"), pg_url, smtp_port=mailbox.port)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def fresh(cluster, mailbox) -> Cluster:
    """The cluster with a reset sandbox, an empty mailbox and exactly one worker."""
    cluster.reset_sandbox()
    if mailbox.server is not None:
        mailbox.server.clear()
    while len(cluster.workers) > 1:
        cluster.kill_worker()
    if not cluster.workers:
        cluster.start_worker()
    return cluster
