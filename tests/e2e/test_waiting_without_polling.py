"""A waiting /createSales learns of its saga's end from PostgreSQL's notification, not by reading
the saga row over and over: a sale that takes 1.5 s is read a handful of times, not 75."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

STATUS_READ = "SELECT saga.status, saga.error"


@pytest.fixture
def status_reads():
    seen: list[str] = []
    lock = threading.Lock()

    def count(conn, cursor, statement, *args) -> None:
        if statement.startswith(STATUS_READ):
            with lock:
                seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)


def test_a_waiting_create_sales_is_woken_by_the_end_not_by_polling(svc, status_reads):
    svc.sandbox.state.faults.delay(1.5, module="Deals", operation="create")
    response = svc.create_sales()
    assert response.status_code == 200, response.text
    assert svc.saga(response.json()["sagaId"])["status"] == "succeeded"
    # one read at the start, one when woken, at most one a second as the fallback
    assert 2 <= len(status_reads) <= 4, len(status_reads)
