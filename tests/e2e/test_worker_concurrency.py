"""One worker process drives many sagas at once: with 4 Celery threads, 16 sales whose Deal call
takes a second each are all inside that call together (their claims overlap), because a saga
waiting for the CRM holds a coroutine on the process's event loop, not a thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

SALES = 16


def overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_a_worker_with_four_threads_has_sixteen_sagas_inside_crm_calls_at_once(svc):
    svc.sandbox.state.faults.delay(1.0, module="Deals", operation="create", times=SALES)
    with ThreadPoolExecutor(SALES) as pool:
        answers = list(pool.map(lambda _: svc.create_sales(), range(SALES)))
    assert [a.status_code for a in answers] == [200] * SALES
    deals = []
    for answer in answers:
        saga = svc.saga(answer.json()["sagaId"])
        assert saga["status"] == "succeeded"
        [deal] = [s for s in saga["steps"] if s["name"] == "create_deal"]
        deals.append((datetime.fromisoformat(deal["startedAt"]),
                      datetime.fromisoformat(deal["finishedAt"])))  # fmt: skip
    assert overlap(deals) > 4, overlap(deals)  # more than the embedded worker's 4 threads
    assert overlap(deals) >= SALES * 3 // 4
