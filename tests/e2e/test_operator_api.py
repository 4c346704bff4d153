"""The operator JSON API: filtered lists, and retry / compensate / resolve with their refusals."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import CONTACT_ID


def test_filters_find_a_saga_by_status_text_and_time(svc):
    svc.sandbox.state.faults.fail("Quotes", operation="create", status=400)
    failed = svc.create_sales().json()["sagaId"]
    ok = svc.create_sales().json()["sagaId"]
    deal_id = svc.live("Deals")[0]["id"]

    def ids(**params):
        response = svc.operator.get("/sagas", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert failed in ids(status="compensated") and ok not in ids(status="compensated")
    assert ids(q=failed) == {failed}  # by saga id
    assert ids(q=deal_id) == {ok}  # by a CRM record id
    assert failed in ids(q="invalid data")  # by the error
    assert {failed, ok} <= ids(contact=CONTACT_ID, created_from="2020-01-01")
    assert ids(created_to="2020-01-01") == set()
    counts = svc.operator.get("/sagas").json()["counts"]
    assert counts["status"]["compensated"] >= 1 and counts["flow"]["zoho.sale"] >= 2


def test_bad_filters_are_400_naming_the_field(svc):
    cases = [({"status": "done"}, "status"), ({"created_from": "yesterday"}, "created_from"),
             ({"limit": 0}, "limit"), ({"cursor": "x"}, "cursor")]  # fmt: skip
    for params, field in cases:
        response = svc.operator.get("/sagas", params=params)
        assert response.status_code == 400
        assert response.json()["message"].startswith(field)


def test_retry_after_a_fix_completes_the_sale_and_records_who(svc):
    svc.sandbox.state.faults.fail("Quotes", operation="create", status=400)
    saga_id = svc.create_sales().json()["sagaId"]
    assert svc.saga(saga_id)["status"] == "compensated"
    response = svc.operator.post(f"/sagas/{saga_id}/retry", json={"comment": "quote fixed"})
    assert response.status_code == 200, response.text
    saga = svc.wait_for_status(saga_id, "succeeded")
    assert saga["status"] == "succeeded"
    assert svc.left_in_crm() == {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}
    [event] = [e for e in saga["events"] if e["kind"] == "operator.retry"]
    assert event["actor"].startswith("operator:") and event["detail"] == {"comment": "quote fixed"}
    assert "operator-key" not in event["actor"]  # a fingerprint, never the key


def test_actions_in_the_wrong_state_are_409_with_the_reason(svc):
    saga_id = svc.create_sales().json()["sagaId"]
    for action in ("retry", "compensate"):
        response = svc.operator.post(f"/sagas/{saga_id}/{action}")
        assert response.status_code == 409
        assert "succeeded" in response.json()["message"]
    resolve = svc.operator.post(f"/sagas/{saga_id}/resolve", json={"comment": "x"})
    assert resolve.status_code == 409


def test_leftovers_are_rolled_back_again_or_resolved_by_hand(svc):
    faults = svc.sandbox.state.faults
    faults.fail("Quotes", operation="create", status=400)
    faults.fail("Deals", operation="delete", status=500, times=50)
    saga_id = svc.create_sales().json()["sagaId"]
    assert svc.saga(saga_id)["status"] == "compensation_failed"
    no_comment = svc.operator.post(f"/sagas/{saga_id}/resolve")
    assert no_comment.status_code == 409 and "comment" in no_comment.json()["message"]
    faults.clear()  # the CRM lets go of the Deal
    assert svc.operator.post(f"/sagas/{saga_id}/compensate").status_code == 200
    assert svc.wait_for_status(saga_id, "compensated")["status"] == "compensated"
    assert svc.left_in_crm() == {"Deals": 0, "Quotes": 0, "Sales_Orders": 0}


def test_resolve_marks_leftovers_cleaned_by_hand(svc):
    faults = svc.sandbox.state.faults
    faults.fail("Quotes", operation="create", status=400)
    faults.fail("Deals", operation="delete", status=500, times=50)
    saga_id = svc.create_sales().json()["sagaId"]
    response = svc.operator.post(f"/sagas/{saga_id}/resolve", json={"comment": "deleted in Zoho"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "compensated"
    assert body["records"][0]["fate"] == "resolved_by_hand"
    faults.clear()


def test_actions_need_an_operator_key_and_a_known_action(svc):
    saga_id = svc.create_sales().json()["sagaId"]
    assert svc.api.post(f"/sagas/{saga_id}/retry").status_code == 403
    unknown = svc.operator.post(f"/sagas/{saga_id}/explode")
    assert unknown.status_code == 400 and unknown.json()["message"].startswith("action: ")
    url = str(svc.api.base_url)
    assert httpx.post(f"{url}/sagas/{saga_id}/retry").status_code == 401
    bad = svc.operator.post(f"/sagas/{saga_id}/resolve", content=b'{"comment": 5}')
    assert bad.status_code == 400 and bad.json()["message"].startswith("comment")
