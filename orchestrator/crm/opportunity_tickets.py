"""The port of the method-RPC CRM's flow (seed 001): products, an opportunity, a ticket.

This CRM has no delete for anything: a product, an opportunity or a ticket, once written, stays.
So the port offers no undo role at all; what it offers is reading the catalogues a sale is
checked against before anything is written, and finding a record an interrupted try made by
the saga's marker (written into a product's or ticket's description and an opportunity's title).

Pure Python: must not import httpx or any framework (import-linter contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

PRODUCT = "product"  # RecordRef.kind
OPPORTUNITY = "opportunity"
TICKET = "ticket"


@dataclass(frozen=True, slots=True)
class Named:
    """An entry of a catalogue (a stage, an origin, a case, a priority)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    name: str
    email: str | None
    company_id: str | None  # the contact's company: an opportunity and a ticket need one


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    sku: str | None
    value: Decimal
    description: str | None = None


@dataclass(frozen=True, slots=True)
class TicketCatalogue:
    origins: tuple[Named, ...]
    cases: tuple[Named, ...]
    priorities: tuple[Named, ...]


@dataclass(frozen=True, slots=True)
class NewProduct:
    sku: str
    name: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class OpportunityLine:
    product_id: str
    amount: int
    price: Decimal
    discount: Decimal  # a fraction, 0 to 1
    tax: Decimal  # a fraction, 0 to 1
    total: Decimal  # round(amount × price × (1 − discount) × (1 + tax), 2)


@dataclass(frozen=True, slots=True)
class NewOpportunity:
    title: str
    user_id: str
    stage_id: str
    company_id: str
    contact_id: str
    value: Decimal  # the sum of the lines' totals
    estimated_end_at: date
    prospect_type: str  # "new" | "existing"
    operation_type: str  # "new" | "renew"
    lines: tuple[OpportunityLine, ...]
    notify: bool = False
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class NewTicket:
    title: str
    description: str
    company_id: str
    contact_id: str
    opportunity_id: str
    user_id: str
    origin_id: str
    case_id: str
    priority_id: str
    estimated_end_at: date
    notify: bool = False


class OpportunityTickets(Protocol):
    async def contact_by_email(self, email: str) -> Contact:
        """NotFound when no contact has that e-mail."""
        ...

    async def stages(self) -> tuple[Named, ...]: ...

    async def users(self) -> tuple[User, ...]: ...

    async def me(self) -> User:
        """The user the service logs in as (RPCCRM_EMAIL)."""
        ...

    async def products(self, *, fresh: bool = False) -> tuple[Product, ...]:
        """The product catalogue (cached; `fresh` reads it again)."""
        ...

    async def ticket_catalogue(self) -> TicketCatalogue: ...

    async def create_product(self, new: NewProduct, *, marker: str) -> Product:
        """CreateProduct, the marker in its description (no undo: the CRM cannot remove it)."""
        ...

    async def find_products(self, marker: str) -> tuple[Product, ...]:
        """The products earlier tries of this saga created (read fresh, by the marker)."""
        ...

    async def create_opportunity(self, new: NewOpportunity, *, marker: str) -> str:
        """CreateOpportunity with its product lines, the marker in its title; its id."""
        ...

    async def find_opportunity(self, marker: str) -> str | None:
        """The opportunity an earlier try made (GetOpportunities' `query`, by the marker)."""
        ...

    async def create_ticket(self, new: NewTicket, *, marker: str) -> str:
        """CreateTicket, the marker in its description; its id."""
        ...

    async def find_ticket(self, marker: str) -> str | None:
        """The ticket an earlier try made (GetTickets, by the marker)."""
        ...
