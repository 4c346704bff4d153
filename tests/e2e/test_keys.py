"""Keys with names and roles (issue 22, finding 6): the event log names the key, never shows
it; a key file holds digests only; per-key request limits answer 429 with Retry-After; one
request cannot make more than MAX_CRM_LOOKUPS CRM lookups; Idempotency-Keys are per caller.

A second API on the same database and broker as the session's service, whose worker runs the
sagas, with keys of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from orchestrator.api.auth import Role
from orchestrator.api.keys import file_entry
from orchestrator.server import create_app
from tests.e2e.conftest import ORDER, P1
from tests.servers import serve_in_thread
from workers.celery_app import dispatch

ERP_KEY = "erp-key-0123456789abcdef"  # API_KEYS entry erp:<key>
BARE_KEY = "bare-client-key-9876543210"  # named by its fingerprint
ALICE_KEY = "alice-operator-key-55aa77bb"  # only its digest is in the keys file
LIMITED_KEY = "limited-client-key-11cc22dd"  # 3 requests a minute


@pytest.fixture(scope="module")
def keyed(service, tmp_path_factory) -> Iterator[str]:
    keys_file = tmp_path_factory.mktemp("keys") / "keys.toml"
    limited = file_entry("limited", Role.CLIENT, LIMITED_KEY) + "rate_limit_per_min = 3\n"
    keys_file.write_text(file_entry("ops-alice", Role.OPERATOR, ALICE_KEY) + "\n" + limited)
    settings = service.settings.model_copy(update={
        "api_keys": [SecretStr(f"erp:{ERP_KEY}"), SecretStr(BARE_KEY)],
        "operator_api_keys": [],
        "api_keys_file": str(keys_file),
        "max_crm_lookups": 3,
    })  # fmt: skip
    with serve_in_thread(create_app(settings, dispatch)) as url:
        yield url


def call(url: str, key: str, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"x-api-key": key, **kwargs.pop("headers", {})}
    return httpx.request(method, url + path, headers=headers, timeout=30, **kwargs)


def test_the_event_log_names_each_key_and_never_shows_it(svc, keyed):
    sale = call(keyed, ERP_KEY, "POST", "/createSales", json=ORDER)
    assert sale.status_code == 200, sale.text
    saga_id = sale.json()["sagaId"]
    saga = call(keyed, ALICE_KEY, "GET", f"/sagas/{saga_id}").json()
    assert [e["actor"] for e in saga["events"] if e["kind"] == "saga.created"] == ["client:erp"]
    resolved = call(keyed, ALICE_KEY, "POST", f"/sagas/{saga_id}/compensate")
    assert resolved.status_code in (202, 409)
    text = str(call(keyed, ALICE_KEY, "GET", f"/sagas/{saga_id}").json())
    for key in (ERP_KEY, ALICE_KEY):
        assert key not in text
    bare = call(keyed, BARE_KEY, "POST", "/createSales", json=ORDER).json()["sagaId"]
    started = call(keyed, ALICE_KEY, "GET", f"/sagas/{bare}").json()["events"][0]
    assert started["actor"].startswith("client:") and len(started["actor"]) == len("client:") + 8


def test_a_client_key_from_the_file_cannot_act_and_an_operator_key_can(svc, keyed):
    assert call(keyed, ALICE_KEY, "GET", "/sagas").status_code == 200
    assert call(keyed, ERP_KEY, "GET", "/sagas").status_code == 403
    assert call(keyed, "not-a-key-at-all-000000", "GET", "/flows").status_code == 401


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(svc, keyed):
    answers = [call(keyed, LIMITED_KEY, "GET", "/flows") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert "API key limited" in refused.json()["message"] and LIMITED_KEY not in refused.text
    assert call(keyed, ERP_KEY, "GET", "/flows").status_code == 200  # other keys unaffected


def test_one_request_cannot_make_more_crm_lookups_than_the_cap(svc, keyed):
    many = {**ORDER, "products": [{"productId": f"5504280000001{n:05d}", "quantity": 1}
                                  for n in range(4)]}  # fmt: skip

    def total() -> int:
        return sum(call(keyed, ALICE_KEY, "GET", "/sagas").json()["counts"]["status"].values())

    before = total()
    refused = call(keyed, ERP_KEY, "POST", "/createSales", json=many)
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "products makes 4 CRM lookups: one request may make at most 3 (MAX_CRM_LOOKUPS)"
    )
    assert total() == before  # nothing was started
    three = {**ORDER, "products": [{"productId": P1, "quantity": 1}] * 3}
    assert call(keyed, ERP_KEY, "POST", "/createSales", json=three).status_code == 200
    spec = httpx.get(keyed + "/openapi.json").json()  # the schema says so too
    body = spec["paths"]["/createSales"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["products"]["maxItems"] == 3


def test_idempotency_keys_belong_to_their_caller(svc, keyed):
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    mine = call(keyed, ERP_KEY, "POST", "/createSales", json=ORDER, headers=key)
    theirs = call(keyed, BARE_KEY, "POST", "/createSales", json=ORDER, headers=key)
    again = call(keyed, ERP_KEY, "POST", "/createSales", json=ORDER, headers=key)
    assert mine.status_code == theirs.status_code == again.status_code == 200
    assert mine.json()["sagaId"] != theirs.json()["sagaId"]  # no sharing, no learning
    assert again.json()["sagaId"] == mine.json()["sagaId"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in theirs.headers
