"""Dead letters for operators over HTTP: GET /dead-letters, GET /dead-letters/{id},
POST /dead-letters/{id}/replay, and the `salesaga_dead_letters_waiting` gauge on /metrics —
against the shared e2e service, with the dead letter made by a real producer process."""

from __future__ import annotations

import uuid

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import ORDER
from tests.e2e.test_message_producer import ONE_SALE, produce


def waiting(svc) -> float:
    text = svc.api.get("/metrics").text
    families = text_string_to_metric_families(text)
    [value] = [sample.value for family in families for sample in family.samples
               if sample.name == "salesaga_dead_letters_waiting"]  # fmt: skip
    return value


def test_an_operator_lists_and_replays_a_dead_letter_over_http(svc):
    message_id = f"order-{uuid.uuid4()}"
    before = waiting(svc)
    bad = {**ORDER, "contactId": "not a contact!"}
    [result] = produce("salesaga.create_sales", bad, message_id=message_id)
    letter_id = result["deadLetterId"]

    assert waiting(svc) == before + 1
    assert svc.api.get("/dead-letters").status_code == 403  # a client key is not enough
    listed = svc.operator.get("/dead-letters", params={"status": "new"}).json()["items"]
    [letter] = [item for item in listed if item["id"] == letter_id]
    assert (letter["messageId"], letter["source"]) == (message_id, "celery:salesaga.create_sales")
    assert "contactId" in letter["reason"]
    assert svc.operator.get(f"/dead-letters/{letter_id}").json()["payload"] == letter["payload"]

    as_sent = svc.operator.post(f"/dead-letters/{letter_id}/replay")
    assert as_sent.status_code == 409 and "still invalid" in as_sent.json()["message"]
    fixed = {"payload": {**ORDER, "message_id": message_id}}
    replayed = svc.operator.post(f"/dead-letters/{letter_id}/replay", json=fixed)
    assert replayed.status_code == 200, replayed.text
    saga_id = replayed.json()["sagaId"]

    saga = svc.wait_for_status(saga_id, "succeeded")
    assert saga["status"] == "succeeded" and saga["messageId"] == message_id
    assert svc.left_in_crm() == ONE_SALE
    [received] = [e for e in saga["events"] if e["kind"] == "message.received"]
    assert received["actor"].startswith("operator:")
    assert received["detail"]["deadLetterId"] == letter_id
    assert waiting(svc) == before
    again = svc.operator.post(f"/dead-letters/{letter_id}/replay", json=fixed)
    assert again.status_code == 409 and "replayed already" in again.json()["message"]


def test_dead_letter_requests_with_bad_input_name_the_field(svc):
    assert svc.operator.get("/dead-letters/999999999").status_code == 404
    bad_status = svc.operator.get("/dead-letters", params={"status": "old"})
    assert bad_status.status_code == 400
    assert bad_status.json()["message"] == "status: Input should be 'new' or 'replayed'"
    bad_body = svc.operator.post("/dead-letters/1/replay", content=b"{nope",
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert bad_body.status_code == 400 and "payload" in bad_body.json()["message"]
