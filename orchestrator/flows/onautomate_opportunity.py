"""OnAutomate opportunity (seed 003): create the opportunity in a pipeline, then, when asked,
move it to its final stage and status and read it back to check the move held.

A permanent failure of the move deletes the opportunity (DELETE, confirmed by a read). A create
whose answer was lost is found again by the saga's marker, so a retry never makes a second one;
the CRM's duplicate rule (one opportunity per contact and pipeline) fails the saga with nothing
written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictStr, model_validator

from orchestrator.crm.errors import PermanentCrmError
from orchestrator.crm.opportunities import NewOpportunity, OpportunityPipelines
from orchestrator.crm.records import ScopedRef
from orchestrator.flows.inputs import Email, FlowInput, Money
from orchestrator.saga.definition import Flow, Step, StepContext, UndoKind

FLOW_NAME = "onautomate.opportunity"
BACKEND = "onautomate"

Text = Annotated[StrictStr, Field(min_length=1, max_length=255)]
Status = Literal["open", "won", "lost", "abandoned"]


@dataclass(frozen=True, slots=True)
class OpportunityRequest:
    new: NewOpportunity
    final_stage_id: str | None = None
    final_status: str | None = None

    @property
    def moves(self) -> bool:
        return self.final_stage_id is not None or self.final_status is not None


class OpportunityInput(FlowInput):
    """The seed's create fields under the seed's names, plus pipelineId and the final move.
    `pipelineId` may be left out when the service has ONAUTOMATE_PIPELINE_ID (the adapter
    fills it in)."""

    # _names_a_contact, said in the JSON Schema too (GET /flows, the OpenAPI document)
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": [name], "properties": {name: {"type": "string"}}}
        for name in ("contactId", "email", "phone")
    ]})  # fmt: skip

    title: Text
    stageId: Text
    status: Status
    monetaryValue: Money | None = None
    assignedTo: Text | None = None
    contactId: Text | None = None
    email: Email | None = None
    name: Text | None = None
    phone: Annotated[StrictStr, Field(min_length=3, max_length=32)] | None = None
    companyName: Text | None = None
    tags: Annotated[list[Text], Field(max_length=50)] = Field(default_factory=list)
    source: Text | None = None
    pipelineId: Text | None = None
    finalStageId: Text | None = None
    finalStatus: Status | None = None

    @model_validator(mode="after")
    def _names_a_contact(self) -> OpportunityInput:
        if not (self.contactId or self.email or self.phone):
            raise ValueError(
                "must name a contact: contactId or email (or phone when both are empty)"
            )
        return self

    def to_input(self) -> OpportunityRequest:
        new = NewOpportunity(
            pipeline_id=self.pipelineId or "", title=self.title, stage_id=self.stageId,
            status=self.status, monetary_value=self.monetaryValue, assigned_to=self.assignedTo,
            contact_id=self.contactId, email=self.email, name=self.name, phone=self.phone,
            company_name=self.companyName, tags=tuple(self.tags), source=self.source,
        )  # fmt: skip
        return OpportunityRequest(new, self.finalStageId, self.finalStatus)

    def subject(self) -> str | None:
        return self.contactId or self.email or self.phone


@dataclass(frozen=True, slots=True)
class Moved:
    """The opportunity's stage and status after the move, as read back; skipped: none asked."""

    stage_id: str | None
    status: str | None
    skipped: bool = False


Ctx = StepContext[OpportunityRequest]


async def create_opportunity(ctx: Ctx, crm: OpportunityPipelines) -> ScopedRef:
    return await crm.create_opportunity(ctx.input.new, marker=ctx.marker)


async def find_opportunity(ctx: Ctx, crm: OpportunityPipelines) -> ScopedRef | None:
    return await crm.find_opportunity(ctx.input.new, marker=ctx.marker)


async def delete_opportunity(_ctx: Ctx, crm: OpportunityPipelines, record: ScopedRef) -> None:
    await crm.delete_if_present(record)


async def move_to_final(ctx: Ctx, crm: OpportunityPipelines) -> Moved:
    """PUT …/status with the final stage and status (a missing one stays as created), then
    read it back: a move the CRM did not keep fails the saga."""
    request = ctx.input
    if not request.moves:
        return Moved(None, None, skipped=True)
    record = ctx.output("create_opportunity", ScopedRef)
    stage = request.final_stage_id or request.new.stage_id
    status = request.final_status or request.new.status
    await crm.move_opportunity(record, stage_id=stage, status=status)
    seen = await crm.get_opportunity(record)
    if (seen.stage_id, seen.status) != (stage, status):
        raise PermanentCrmError(
            f"opportunity {record.id} reads stage {seen.stage_id} / status {seen.status} after "
            f"the move to stage {stage} / status {status}",
            code="MOVE_NOT_KEPT",
        )
    return Moved(seen.stage_id, seen.status)


def _admit(request: OpportunityRequest, crm: OpportunityPipelines) -> tuple[str, str] | None:
    if crm.pipeline_for(request.new) is None:
        return "pipelineId", "is required: this service has no default pipeline"
    return None


def _describe(request: OpportunityRequest) -> str:
    new = request.new
    who = new.contact_id or new.email or new.phone or "?"
    return f"opportunity {new.title!r} for contact {who}"


ONAUTOMATE_OPPORTUNITY: Flow[OpportunityRequest, OpportunityPipelines] = Flow(
    name=FLOW_NAME,
    input_type=OpportunityRequest,
    backend=BACKEND,
    input_model=OpportunityInput,
    title="OnAutomate opportunity: create, then move to its final stage and status (seed 003)",
    steps=(
        Step(
            "create_opportunity",
            create_opportunity,
            ScopedRef,
            undo=delete_opportunity,
            find=find_opportunity,
            record="Opportunity",
            undo_kind=UndoKind.DELETE,
        ),
        # Nothing of its own to undo: deleting the opportunity takes the move with it.
        Step("move_to_final", move_to_final, Moved),
    ),
    describe=_describe,
    admit=_admit,
)
