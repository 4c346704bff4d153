"""Poologics opportunity (seed 000): optionally create the contact, create the lead in its initial
stage, then move it to the stage it must reach and read it back to check the move held.

Poologics offers no delete: the lead's undo moves it to the cancel stage (POOLOGICS_CANCEL_STAGE,
confirmed by a read) — it stays in the CRM, and people are told so. A contact created first has
no undo at all: a rollback past it ends `needs_manual_cleanup`, naming the contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from orchestrator.crm.errors import PermanentCrmError
from orchestrator.crm.leads import CONTACT, LeadContact, LeadPipeline, NewLead
from orchestrator.crm.records import RecordRef
from orchestrator.flows.inputs import Email, FlowInput
from orchestrator.saga.definition import Flow, Step, StepContext, UndoKind

FLOW_NAME = "poologics.opportunity"
BACKEND = "poologics"

Text = Annotated[StrictStr, Field(min_length=1, max_length=255)]


class ContactInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text
    email: Email | None = None
    phone: Text | None = None
    mobile: Text | None = None
    street: Text | None = None
    city: Text | None = None
    zip: Text | None = None
    state: Text | None = None
    country: Text | None = None


class LeadInput(FlowInput):
    """`contact` (name required), `description`, `stage` (the stage to reach, e.g. `Won`),
    `initialStage` (default `New`), `createContact` (default false: a res.partner first)."""

    contact: ContactInput
    description: Annotated[StrictStr, Field(max_length=4000)] | None = None
    stage: Text
    initialStage: Text = "New"
    createContact: StrictBool = False

    def to_input(self) -> LeadRequest:
        contact = LeadContact(**self.contact.model_dump())
        new = NewLead(contact=contact, stage=self.initialStage, description=self.description)
        return LeadRequest(new, self.stage, self.createContact)

    def subject(self) -> str:
        return self.contact.email or self.contact.name


@dataclass(frozen=True, slots=True)
class LeadRequest:
    new: NewLead
    stage: str  # the stage the lead must reach
    create_contact: bool = False


@dataclass(frozen=True, slots=True)
class MaybeRecord:
    """A record a step may create: `id` None when the step had nothing to do."""

    kind: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Staged:
    """The lead's stage as read back after the move (moved False: it was there already)."""

    stage: str
    moved: bool


Ctx = StepContext[LeadRequest]


async def create_contact(ctx: Ctx, crm: LeadPipeline) -> MaybeRecord:
    if not ctx.input.create_contact:
        return MaybeRecord(CONTACT)
    made = await crm.create_contact(ctx.input.new.contact, marker=ctx.marker)
    return MaybeRecord(made.kind, made.id)


async def create_lead(ctx: Ctx, crm: LeadPipeline) -> RecordRef:
    return await crm.create_lead(ctx.input.new, marker=ctx.marker)


async def find_lead(ctx: Ctx, crm: LeadPipeline) -> RecordRef | None:
    return await crm.find_lead(ctx.marker)


async def cancel_lead(_ctx: Ctx, crm: LeadPipeline, record: RecordRef) -> None:
    await crm.cancel(record)


async def move_to_stage(ctx: Ctx, crm: LeadPipeline) -> Staged:
    """Move the lead to the stage it must reach (skipped when created there), then read it
    back: a stage the CRM did not keep fails the saga."""
    record, wanted = ctx.output("create_lead", RecordRef), ctx.input.stage
    moved = wanted != ctx.input.new.stage
    if moved:
        await crm.move_lead(record, stage=wanted)
    seen = await crm.get_lead(record)
    if seen.stage != wanted:
        raise PermanentCrmError(
            f"lead {record.id} reads stage {seen.stage!r} after the move to {wanted!r}",
            code="MOVE_NOT_KEPT",
        )
    return Staged(seen.stage, moved)


def _describe(request: LeadRequest) -> str:
    contact = request.new.contact
    return f"lead for {contact.name}" + (f" <{contact.email}>" if contact.email else "")


POOLOGICS_OPPORTUNITY: Flow[LeadRequest, LeadPipeline] = Flow(
    name=FLOW_NAME,
    input_type=LeadRequest,
    backend=BACKEND,
    input_model=LeadInput,
    title="Poologics opportunity: (contact,) lead, then its stage; undone by the cancel stage",
    steps=(
        # Poologics cannot remove a contact: a rollback past it leaves it for a person.
        Step("create_contact", create_contact, MaybeRecord, irreversible=True, record="Contact"),
        Step(
            "create_lead",
            create_lead,
            RecordRef,
            undo=cancel_lead,
            find=find_lead,
            record="Lead",
            undo_kind=UndoKind.CANCEL_STAGE,
        ),
        Step("move_to_stage", move_to_stage, Staged),  # nothing of its own: the cancel covers it
    ),
    describe=_describe,
)
