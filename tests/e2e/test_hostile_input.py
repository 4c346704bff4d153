"""Input that once made the API answer 500 with a stack trace (issue 22, finding 1): JSON nested
1,000 deep, an integer literal of 5,000 digits, a number out of float range, and ids past
BIGINT. Each is a 400 naming the field, nothing is started, and the same keep-alive
connection serves the next request."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import HOOK_SECRET, ORDER

DEEP = b'{"contactId": ' + b"[" * 1000 + b"]" * 1000 + b', "products": []}'
LONG_INT = (
    b'{"contactId": "C-1", "products": [{"productId": "P", "quantity": ' + b"7" * 5000 + b"}]}"
)
HUGE_FLOAT = b'{"contactId": "C-1", "products": [{"productId": "P", "quantity": 1e999}]}'
JSON = {"content-type": "application/json"}
TOO_BIG = 2**64


def still_serving(svc) -> None:
    assert svc.api.get("/healthz").status_code == 200  # the same pooled connection


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (DEEP, "body is nested deeper than 32 levels."),
        (LONG_INT, "body holds a number too long to read (over 4,300 digits)."),
        (HUGE_FLOAT, "body holds a number out of range (1e999)."),
    ],
)
@pytest.mark.parametrize("path", ["/createSales", "/sagas"])
def test_hostile_json_is_a_400_naming_the_body(svc, path, body, says):
    before = svc.operator.get("/sagas", params={"limit": 1}).json()
    answer = svc.api.post(path, content=body, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"status": "error", "message": says}
    assert svc.operator.get("/sagas", params={"limit": 1}).json() == before  # nothing started
    still_serving(svc)


def test_a_deep_replay_body_is_a_400(svc):
    answer = svc.operator.post("/dead-letters/1/replay", content=b'{"payload": ' + DEEP + b"}",
                         headers=JSON)  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["message"] == "the body is nested deeper than 32 levels"
    still_serving(svc)


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/dead-letters/{TOO_BIG}", "dead_letter_id"),
        ("POST", f"/dead-letters/{TOO_BIG}/replay", "dead_letter_id"),
        ("GET", f"/events?after={TOO_BIG}", "after"),
    ],
)
def test_an_id_past_bigint_is_a_400_naming_it(svc, method, path, field):
    answer = svc.operator.request(method, path)
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"].startswith(f"{field}: ")
    still_serving(svc)


def test_the_console_replay_of_an_id_past_bigint_is_not_a_500(svc):
    answer = svc.operator.post(f"/console/dead-letters/{TOO_BIG}/replay", follow_redirects=False)
    assert answer.status_code == 400
    still_serving(svc)


def test_a_deep_webhook_is_rejected_and_kept(svc):
    answer = svc.api.post(f"/hooks/poologics/new_opportunity/{HOOK_SECRET}", content=DEEP,
                          headers=JSON)  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["message"] == "the body is nested deeper than 32 levels"
    assert isinstance(answer.json()["eventId"], int)
    still_serving(svc)


def test_an_ordinary_sale_still_goes_through(svc):
    assert svc.api.post("/createSales", json=ORDER).status_code == 200


def _chunks(total: int, size: int = 65536):
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("path", ["/createSales", "/sagas", "/console/login"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_a_413_before_it_is_read(svc, path, declared):
    limit = svc.settings.max_body_bytes
    body = b" " * (limit + 1) if declared else _chunks(3 * limit)
    answer = svc.api.post(path, content=body, headers=JSON)
    assert answer.status_code == 413
    assert answer.json() == {"status": "error",
                             "message": f"the body is larger than {limit} bytes."}  # fmt: skip
    still_serving(svc)


def test_a_wrong_method_is_a_405_with_allow(svc):
    answer = svc.api.delete("/createSales")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.json() == {"status": "error", "message": "Method Not Allowed"}
    # a path two routes share names the methods of both (Starlette's own 405 names one)
    both = svc.operator.request("OPTIONS", "/sagas")
    assert both.status_code == 405 and both.headers["allow"] == "GET, POST"
    one = svc.operator.put("/sagas/00000000-0000-0000-0000-000000000000/retry")
    assert one.status_code == 405 and one.headers["allow"] == "POST"
