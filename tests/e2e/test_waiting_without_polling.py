"""A waiting /createSales learns of its saga's end from PostgreSQL's notification, not by reading
the saga row over and over: a new sale that takes 1.5 s is not read at all (the notification
says the outcome), a rolled-back one answers with the error the row holds, and a replay of a
finished sale reads the row once."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import ORDER

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
    assert status_reads == []  # watched before its dispatch, woken with the outcome


def test_a_rolled_back_saga_answers_the_error_the_notification_carried(svc, status_reads):
    svc.sandbox.state.faults.fail("Quotes", operation="create", status=400, code="INVALID_DATA")
    response = svc.api.post("/sagas", json={"flow": "zoho.sale", "input": ORDER})
    assert response.status_code == 500, response.text
    answer = response.json()
    saga = svc.saga(answer["sagaId"])
    assert answer["sagaStatus"] == saga["status"] == "compensated"
    assert answer["error"] == saga["error"] and "INVALID_DATA" in answer["error"]
    assert status_reads == []


def test_a_replay_of_a_finished_sale_reads_the_row_once(svc, status_reads):
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = svc.create_sales(headers=key)
    assert first.status_code == 200, first.text
    again = svc.create_sales(headers=key)
    assert again.status_code == 200 and again.json()["sagaId"] == first.json()["sagaId"]
    assert len(status_reads) == 1  # the replay's: it did not watch from the start
