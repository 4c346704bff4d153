"""The port of a pipeline CRM's opportunity flow (OnAutomate, seed 003), in our vocabulary.

An opportunity lives in a pipeline: its ScopedRef.scope is the pipeline id. The adapter stamps every
opportunity it creates with the saga's marker, finds it again by that marker (through the only
filters the listing offers: title, contact, e-mail), deletes it and confirms it gone by a read.

Pure Python: must not import httpx or any framework (import-linter contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from orchestrator.crm.records import Deletable, ScopedRef

OPPORTUNITY = "opportunity"  # RecordRef.kind
STATUSES = ("open", "won", "lost", "abandoned")


@dataclass(frozen=True, slots=True)
class NewOpportunity:
    """What to create. One of contact_id, email or phone names the contact (the seed's rule)."""

    pipeline_id: str
    title: str
    stage_id: str
    status: str  # one of STATUSES
    monetary_value: Decimal | None = None
    assigned_to: str | None = None
    contact_id: str | None = None
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    company_name: str | None = None
    tags: tuple[str, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Opportunity:
    """An opportunity as the CRM reads it back."""

    id: str
    pipeline_id: str
    title: str
    stage_id: str
    status: str
    monetary_value: Decimal | None = None
    contact_id: str | None = None
    source: str | None = None


class OpportunityPipelines(Deletable, Protocol):
    def pipeline_for(self, new: NewOpportunity) -> str | None:
        """The pipeline a create of `new` goes to (its own, else the service's default);
        None when there is none."""
        ...

    async def create_opportunity(self, new: NewOpportunity, *, marker: str) -> ScopedRef:
        """Create it, stamped with `marker`. PermanentCrmError with the CRM's field errors on a
        422; DuplicateRecord when the contact already has an opportunity in the pipeline."""
        ...

    async def find_opportunity(self, new: NewOpportunity, *, marker: str) -> ScopedRef | None:
        """The opportunity an earlier try of `create_opportunity(new, marker=marker)` made."""
        ...

    async def move_opportunity(self, record: ScopedRef, *, stage_id: str, status: str) -> None:
        """Set its stage and status (PUT …/status)."""
        ...

    async def get_opportunity(self, record: ScopedRef) -> Opportunity:
        """Read it. NotFound when it does not exist (any more)."""
        ...
