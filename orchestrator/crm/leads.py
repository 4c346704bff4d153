"""The port of an Odoo-style lead flow (Poologics, seed 000), in our vocabulary.

Poologics offers no delete and no search: a lead's only undo is moving it to the stage that
means cancelled (`Cancellable.cancel`, confirmed by a read), and a lead a lost answer may have
created is found through the events Poologics pushes (its `new_opportunity` webhook carries the
description, where the saga's marker is written).

Pure Python: must not import httpx or any framework (import-linter contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from orchestrator.crm.records import Cancellable, RecordRef

LEAD = "lead"  # RecordRef.kind of a crm.lead
CONTACT = "contact"  # RecordRef.kind of a res.partner


@dataclass(frozen=True, slots=True)
class LeadContact:
    name: str
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    street: str | None = None
    city: str | None = None
    zip: str | None = None
    state: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class NewLead:
    contact: LeadContact
    stage: str  # the stage it is created in, by name ("New")
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Lead:
    """A lead as the CRM reads it back."""

    id: str
    name: str
    stage: str
    contact_name: str | None = None
    email: str | None = None
    description: str | None = None


class LeadPipeline(Cancellable, Protocol):
    @property
    def cancel_stage(self) -> str:
        """The stage `cancel` moves a lead to (POOLOGICS_CANCEL_STAGE)."""
        ...

    async def create_contact(self, contact: LeadContact, *, marker: str) -> RecordRef:
        """A res.partner (no undo: Poologics cannot remove it)."""
        ...

    async def create_lead(self, new: NewLead, *, marker: str) -> RecordRef:
        """A crm.lead with the marker in its description."""
        ...

    async def find_lead(self, marker: str) -> RecordRef | None:
        """The lead an earlier try of create_lead with `marker` made, as far as the events
        received from Poologics tell (None: none seen)."""
        ...

    async def move_lead(self, record: RecordRef, *, stage: str) -> None: ...

    async def get_lead(self, record: RecordRef) -> Lead:
        """NotFound when no lead has that id."""
        ...
