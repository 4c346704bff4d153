"""One sandbox server per test module (Zoho, OnAutomate), reset to its seed for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.onautomate_sandbox import RunningOnAutomateSandbox, running_onautomate_sandbox
from tests.zoho_sandbox import RunningSandbox, running_sandbox


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with running_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(server: RunningSandbox) -> RunningSandbox:
    server.state.reset()
    return server


@pytest.fixture(scope="module")
def onautomate_server() -> Iterator[RunningOnAutomateSandbox]:
    with running_onautomate_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def onautomate(onautomate_server: RunningOnAutomateSandbox) -> RunningOnAutomateSandbox:
    onautomate_server.state.reset()
    return onautomate_server
