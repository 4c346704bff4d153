"""The ports of the Zoho sale (seed 002), in our vocabulary; adapter: orchestrator/backends/zoho/.

Role ports every backend may offer (find by marker, delete, cancel) are in records.py.

Pure Python: must not import httpx, sqlmodel, celery or fastapi (import-linter contract).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from orchestrator.crm.records import Deletable, MarkedRecords
from orchestrator.crm.records import RecordRef as RecordRef  # re-exported for the Zoho sale


class RecordKind(enum.StrEnum):
    """The records a Zoho sale creates (RecordRef.kind is any string; these are Zoho's)."""

    DEAL = "deal"
    QUOTE = "quote"
    SALES_ORDER = "sales_order"


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedLine:
    product_id: str
    product_name: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None = None
    city: str | None = None
    state: str | None = None
    code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    shipping: Address
    billing: Address


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    account_id: str | None


@dataclass(frozen=True, slots=True)
class PricedOrder:
    """Everything the write steps need, read from the CRM before the first write."""

    contact: Contact
    account: Account
    lines: tuple[PricedLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


class CrmRecords(MarkedRecords, Deletable, Protocol):
    """Records found by marker and deleted: what a Zoho sale's rollback needs."""


@runtime_checkable
class ContactDirectory(Protocol):
    async def find_contact_by_email(self, email: str) -> Contact | None: ...

    async def get_account(self, account_id: str) -> Account:
        """Raises NotFound when the account does not exist."""
        ...


class SalesCrm(CrmRecords, ContactDirectory, Protocol):
    async def price_order(self, contact_id: str, lines: Sequence[OrderLine]) -> PricedOrder:
        """Read contact, account and every product. NotFound for an unknown contact or account;
        PermanentCrmError for an unknown or inactive product."""
        ...

    async def create_deal(self, order: PricedOrder, *, marker: str) -> RecordRef: ...

    async def create_quote(
        self, order: PricedOrder, *, deal: RecordRef, marker: str
    ) -> RecordRef: ...

    async def create_sales_order(
        self, order: PricedOrder, *, deal: RecordRef, quote: RecordRef, marker: str
    ) -> RecordRef: ...
