"""One Zoho sandbox server per test module, reset to its seed for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.zoho_sandbox import RunningSandbox, running_sandbox


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with running_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(server: RunningSandbox) -> RunningSandbox:
    server.state.reset()
    return server
