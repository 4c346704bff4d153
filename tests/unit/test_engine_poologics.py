"""The Poologics flow on the engine with an in-memory lead pipeline: the lead's undo is the
cancel stage (it stays), a contact created first cannot be undone (needs_manual_cleanup)."""

from __future__ import annotations

import itertools

import pytest

from orchestrator.crm.errors import NotFound, PermanentCrmError
from orchestrator.crm.leads import CONTACT, LEAD, Lead, LeadContact, NewLead
from orchestrator.crm.records import RecordRef
from orchestrator.flows.poologics_opportunity import POOLOGICS_OPPORTUNITY, LeadInput
from orchestrator.notify.build import failure_report
from orchestrator.notify.report import RecordFate
from orchestrator.saga.memory import InMemorySagaStore, run_to_end
from orchestrator.saga.state import SagaStatus, StepStatus


class Leads:
    """Leads and contacts really appear and change stage; nothing is ever removed."""

    cancel_stage = "Lost"

    def __init__(self) -> None:
        self.leads: dict[str, dict] = {}
        self.contacts: dict[str, LeadContact] = {}
        self.refuse_moves_to: set[str] = set()
        self._ids = itertools.count(100)

    async def create_contact(self, contact: LeadContact, *, marker: str) -> RecordRef:
        ref = RecordRef(CONTACT, str(next(self._ids)))
        self.contacts[ref.id] = contact
        return ref

    async def create_lead(self, new: NewLead, *, marker: str) -> RecordRef:
        ref = RecordRef(LEAD, str(next(self._ids)))
        self.leads[ref.id] = {"stage": new.stage, "marker": marker, "name": new.contact.name}
        return ref

    async def find_lead(self, marker: str) -> RecordRef | None:
        found = [i for i, lead in self.leads.items() if lead["marker"] == marker]
        return RecordRef(LEAD, found[0]) if found else None

    async def move_lead(self, record: RecordRef, *, stage: str) -> None:
        if stage in self.refuse_moves_to:
            raise PermanentCrmError("Invalid field values provided.", code="INVALID_VALUES")
        self.leads[record.id]["stage"] = stage

    async def get_lead(self, record: RecordRef) -> Lead:
        if record.id not in self.leads:
            raise NotFound(f"no lead {record.id}")
        lead = self.leads[record.id]
        return Lead(record.id, lead["name"], lead["stage"])

    async def cancel(self, record: RecordRef) -> None:
        self.leads[record.id]["stage"] = self.cancel_stage


def request(**changes):
    body = {"contact": {"name": "John Doe", "email": "john@example.com"}, "stage": "Won",
            **changes}  # fmt: skip
    return LeadInput.model_validate(body).to_input()


async def run(crm, **changes):
    store = InMemorySagaStore()
    saga = await run_to_end(POOLOGICS_OPPORTUNITY, request(**changes), crm, store=store)
    return saga, failure_report(saga, POOLOGICS_OPPORTUNITY)


async def test_a_lead_reaches_its_stage():
    crm = Leads()
    saga, _ = await run(crm)
    assert saga.status is SagaStatus.SUCCEEDED
    assert [lead["stage"] for lead in crm.leads.values()] == ["Won"] and crm.contacts == {}


async def test_a_refused_move_cancels_the_lead_which_stays_in_the_crm():
    crm = Leads()
    crm.refuse_moves_to.add("Won")
    saga, report = await run(crm)
    assert saga.status is SagaStatus.COMPENSATED
    assert [lead["stage"] for lead in crm.leads.values()] == ["Lost"]
    assert [s.status for s in saga.steps] == [
        StepStatus.NOTHING_TO_UNDO, StepStatus.COMPENSATED, StepStatus.FAILED]  # fmt: skip
    fates = {line.label: line.fate for line in report.records}
    assert fates == {"Contact ID": RecordFate.NOT_CREATED, "Lead ID": RecordFate.CANCELLED}
    assert report.left_over == ()


async def test_a_contact_created_first_is_left_for_an_operator_after_a_failure():
    crm = Leads()
    crm.refuse_moves_to.add("Won")
    saga, report = await run(crm, createContact=True)
    assert saga.status is SagaStatus.NEEDS_MANUAL_CLEANUP
    (contact_id,) = crm.contacts
    lines = {line.label: line for line in report.records}
    assert lines["Contact ID"].record_id == contact_id
    assert lines["Contact ID"].fate is RecordFate.LEFT_IN_PLACE
    assert lines["Contact ID"].todo == "remove it by hand (the CRM's API cannot)"
    assert lines["Lead ID"].fate is RecordFate.CANCELLED


async def test_created_in_its_stage_the_lead_is_not_moved():
    crm = Leads()
    saga, _ = await run(crm, stage="New")
    assert saga.status is SagaStatus.SUCCEEDED
    assert saga.steps[2].output == {"stage": "New", "moved": False}


@pytest.mark.parametrize(
    ("body", "message"),
    [({"stage": "Won"}, "contact"), ({"contact": {"name": ""}, "stage": "Won"}, "contact.name"),
     ({"contact": {"name": "J", "email": "x"}, "stage": "Won"}, "contact.email"),
     ({"contact": {"name": "J"}, "stage": "Won", "createContact": "yes"}, "createContact")],
)  # fmt: skip
def test_bad_inputs_name_the_field(body, message):
    from orchestrator.flows import FLOWS
    from orchestrator.intake import InvalidInput
    from orchestrator.intake.core import parse_start

    flows = {**FLOWS, POOLOGICS_OPPORTUNITY.name: POOLOGICS_OPPORTUNITY}
    with pytest.raises(InvalidInput) as refused:
        parse_start(flows, flows, POOLOGICS_OPPORTUNITY.name, body)
    assert refused.value.field == f"input.{message}"
