"""The OnAutomate opportunity (seed 003) through POST /sagas, the worker and the OnAutomate
sandbox over HTTP: create, the final move read back, rollback by DELETE confirmed by a read,
the duplicate rule, DELETE's 200-with-error-body, bad inputs."""

from __future__ import annotations

from orchestrator.backends.onautomate.sandbox.data import (
    CONTACT_EMAIL,
    CONTACT_ID,
    EXISTING_OPPORTUNITY_ID,
    PIPELINE_ID,
    STAGE_CLOSED,
    STAGE_NEW,
    TAKEN_CONTACT_ID,
)

FLOW = "onautomate.opportunity"
OPPORTUNITY = {"title": "Poligon press line", "stageId": STAGE_NEW, "status": "open",
               "contactId": CONTACT_ID, "monetaryValue": 1250.5, "source": "plg"}  # fmt: skip


def start(svc, **changes):
    return svc.api.post("/sagas", json={"flow": FLOW, "input": {**OPPORTUNITY, **changes}})


def ours(svc, *, deleted: bool = False) -> list[dict]:
    """Opportunities the tests made (not the sandbox's seed)."""
    return [o for o in svc.onautomate.state.opportunities(deleted=deleted)
            if o["id"] != EXISTING_OPPORTUNITY_ID]  # fmt: skip


def test_an_opportunity_is_created_stamped_with_the_saga_marker(svc):
    response = start(svc)
    assert response.status_code == 200, response.text
    saga_id = response.json()["sagaId"]
    assert response.json()["sagaStatus"] == "succeeded"
    (made,) = ours(svc)
    assert (made["name"], made["pipelineStageId"], made["status"]) == (
        "Poligon press line", STAGE_NEW, "open")  # fmt: skip
    assert made["source"] == f"plg [salesaga-{saga_id}]"
    saga = svc.saga(saga_id)
    assert saga["records"] == [{"record": "Opportunity", "id": made["id"], "fate": "kept"}]
    assert saga["contactId"] == CONTACT_ID
    assert [s["status"] for s in saga["steps"]] == ["succeeded", "succeeded"]


def test_the_final_stage_and_status_are_set_and_read_back(svc):
    response = start(svc, finalStageId=STAGE_CLOSED, finalStatus="won", email=None)
    assert response.status_code == 200, response.text
    (made,) = ours(svc)
    assert (made["pipelineStageId"], made["status"]) == (STAGE_CLOSED, "won")
    move = svc.saga(response.json()["sagaId"])["steps"][1]
    assert move["name"] == "move_to_final" and move["status"] == "succeeded"


def test_a_failed_status_move_deletes_the_opportunity_and_mails_its_id(svc):
    svc.onautomate.state.faults.fail("status", status=422, field="stageId", rule="invalid")
    response = start(svc, finalStageId=STAGE_CLOSED, finalStatus="won")
    assert response.status_code == 500
    body = response.json()
    assert body["sagaStatus"] == "compensated"
    assert "stageId: The stage id field is invalid." in body["error"]
    assert ours(svc) == []
    (gone,) = ours(svc, deleted=True)
    assert gone["deleted"] is True

    (mail,) = svc.mails_for(body["sagaId"])
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert gone["id"] in text and "Rolled back (deleted from the CRM)" in text
    ui = f"{svc.onautomate.url}/ui/pipelines/{PIPELINE_ID}/opportunities/{gone['id']}"
    assert f'href="{ui}"' in html
    saga = svc.saga(body["sagaId"])
    assert saga["records"] == [{"record": "Opportunity", "id": gone["id"], "fate": "rolled_back"}]


def test_a_contact_that_has_an_opportunity_fails_with_nothing_written(svc):
    response = start(svc, contactId=TAKEN_CONTACT_ID)
    assert response.status_code == 500
    body = response.json()
    assert body["sagaStatus"] == "failed"
    assert "already has an opportunity" in body["error"]
    assert ours(svc, deleted=True) == []
    (mail,) = svc.mails_for(body["sagaId"])
    assert "already has an opportunity" in mail.get_body(("plain",)).get_content()


def test_a_delete_answering_200_with_an_error_body_is_not_taken_as_deleted(svc):
    svc.onautomate.state.faults.fail("status", status=422, field="status", rule="invalid")
    svc.onautomate.state.faults.refuse("delete", times=1_000)
    response = start(svc, finalStatus="lost")
    body = response.json()
    assert body["sagaStatus"] == "compensation_failed", body
    (left,) = ours(svc)
    assert left["deleted"] is False
    saga = svc.saga(body["sagaId"])
    assert saga["records"] == [{"record": "Opportunity", "id": left["id"], "fate": "left_over"}]
    (mail,) = svc.mails_for(body["sagaId"])
    text = mail.get_body(("plain",)).get_content()
    assert f"1. Opportunity ID: {left['id']}: delete it by hand" in text
    assert "cleanup needed" in mail["Subject"]


def test_a_contact_by_email_is_found_and_named_as_the_subject(svc):
    response = start(svc, contactId=None, email=CONTACT_EMAIL)
    assert response.status_code == 200, response.text
    assert svc.saga(response.json()["sagaId"])["contactId"] == CONTACT_EMAIL


def test_bad_inputs_are_400_naming_the_field_and_reach_no_crm(svc):
    svc.onautomate.state.faults.fail(None, status=500, times=1)  # any call would take it
    cases = [
        ({"title": None}, "input.title must be a string"),
        ({"status": "closed"}, "input.status must be one of: open, won, lost or abandoned"),
        ({"contactId": None}, "input must name a contact: contactId or email"),
        ({"monetaryValue": -1}, "input.monetaryValue must not be negative"),
        ({"stage": "x"}, "input.stage is not a field of this flow's input"),
        ({"finalStatus": "done"}, "input.finalStatus must be one of"),
    ]
    for changes, message in cases:
        response = start(svc, **changes)
        assert response.status_code == 400, (changes, response.text)
        assert response.json()["message"].startswith(message), response.json()
    assert len(svc.onautomate.state.faults.pending()) == 1  # untouched: no call was made
    assert ours(svc, deleted=True) == []
    assert svc.smtp.messages == []


def test_get_flows_describes_the_opportunity_input(svc):
    flows = {item["flow"]: item for item in svc.api.get("/flows").json()["items"]}
    schema = flows[FLOW]["inputSchema"]
    assert flows[FLOW]["backend"] == "onautomate"
    assert set(schema["required"]) == {"title", "stageId", "status"}
    assert {"finalStageId", "finalStatus", "pipelineId", "tags"} <= set(schema["properties"])
