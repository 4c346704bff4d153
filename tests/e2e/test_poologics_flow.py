"""The Poologics opportunity (seed 000) through POST /sagas, the worker and the Poologics sandbox
over HTTP: the lead reaches its stage; a refused move leaves it in the cancel stage (verified by a
read, said so in the e-mail: moved, not deleted); a contact created first is left for a person."""

from __future__ import annotations

from orchestrator.backends.poologics.sandbox.data import LEAD_ID

FLOW = "poologics.opportunity"
LEAD = {"contact": {"name": "Ada Lovelace", "email": "ada@example.com", "city": "London"},
        "description": "Analytical engine", "stage": "Won"}  # fmt: skip


def start(svc, **changes):
    return svc.api.post("/sagas", json={"flow": FLOW, "input": {**LEAD, **changes}})


def ours(svc) -> list[dict]:
    return [lead for lead in svc.poologics.state.leads() if lead["poologics_id"] != str(LEAD_ID)]


def text_of(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def test_a_lead_is_created_then_reaches_its_stage(svc):
    response = start(svc)
    assert response.status_code == 200, response.text
    saga_id = response.json()["sagaId"]
    (lead,) = ours(svc)
    assert (lead["contact_name"], lead["stage"]) == ("Ada Lovelace", "Won")
    assert lead["description"] == f"Analytical engine\n[salesaga-{saga_id}]"
    saga = svc.saga(saga_id)
    assert saga["records"] == [{"record": "Lead", "id": lead["poologics_id"], "fate": "kept"}]
    assert saga["contactId"] == "ada@example.com"


def test_a_refused_stage_move_leaves_the_lead_in_the_cancel_stage_and_says_so(svc):
    svc.poologics.state.faults.fail("write", error="invalid_values")  # the move; the cancel works
    response = start(svc)
    body = response.json()
    assert response.status_code == 500 and body["sagaStatus"] == "compensated", body
    (lead,) = ours(svc)
    assert lead["stage"] == "Lost"  # still there: Poologics cannot delete
    saga = svc.saga(body["sagaId"])
    assert saga["records"] == [{"record": "Lead", "id": lead["poologics_id"], "fate": "cancelled"}]
    (mail,) = svc.mails_for(body["sagaId"])
    text = text_of(mail)
    assert lead["poologics_id"] in text
    assert "moving it to stage Lost: still in the CRM, marked cancelled (not deleted)" in text
    assert "deleted from the CRM" not in text


def test_a_refused_create_fails_with_nothing_written(svc):
    svc.poologics.state.faults.fail("create_lead", error="required_fields")
    body = start(svc).json()
    assert body["sagaStatus"] == "failed" and "Required fields are missing" in body["error"]
    assert ours(svc) == []


def test_a_transient_error_is_retried_to_one_lead(svc):
    svc.poologics.state.faults.fail("create_lead", error="unexpected")
    response = start(svc)
    assert response.status_code == 200, response.text
    assert len(ours(svc)) == 1
    create = svc.saga(response.json()["sagaId"])["steps"][1]
    assert create["attempts"] == 2


def test_a_key_revoked_mid_saga_means_one_new_login_and_success(svc):
    assert start(svc).status_code == 200  # logged in
    logins = svc.poologics.state.logins
    svc.poologics.state.revoke_key()
    response = start(svc, contact={"name": "Grace Hopper"})
    assert response.status_code == 200, response.text
    assert svc.poologics.state.logins == logins + 1


def test_a_contact_created_first_is_named_for_manual_cleanup_after_a_failure(svc):
    svc.poologics.state.faults.fail("write", error="invalid_values")
    response = start(svc, createContact=True)
    body = response.json()
    assert body["sagaStatus"] == "needs_manual_cleanup", body
    (contact,) = [c for c in svc.poologics.state.contacts() if c["name"] == "Ada Lovelace"]
    records = {r["record"]: r for r in svc.saga(body["sagaId"])["records"]}
    assert records["Contact"] == {"record": "Contact", "id": str(contact["poologics_id"]),
                                  "fate": "left_in_place"}  # fmt: skip
    assert records["Lead"]["fate"] == "cancelled"
    (mail,) = svc.mails_for(body["sagaId"])
    text = text_of(mail)
    assert (
        f"Contact ID: {contact['poologics_id']}: remove it by hand (the CRM's API cannot)" in text
    )


def test_bad_inputs_are_400_naming_the_field_and_write_nothing(svc):
    cases = [
        ({"contact": {"email": "a@b.co"}}, "input.contact.name is required"),
        ({"stage": ""}, "input.stage must not be empty"),
        ({"contact": {"name": "A", "email": "nope"}}, "input.contact.email must be an e-mail"),
        ({"createContact": "yes"}, "input.createContact"),
        ({"colour": "red"}, "input.colour is not a field of this flow's input"),
    ]
    for changes, message in cases:
        response = start(svc, **changes)
        assert response.status_code == 400, (changes, response.text)
        assert response.json()["message"].startswith(message), response.json()
    assert ours(svc) == [] and svc.poologics.state.contacts()[-1]["name"] != "A"
