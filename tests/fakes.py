"""Working in-memory stand-ins for the ports: records really appear and disappear; failures are
scripted per operation. No mocks: tests assert the end state of these."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from orchestrator.crm.errors import CrmError, NotFound, PermanentCrmError
from orchestrator.crm.protocol import (
    Account,
    Address,
    Contact,
    OrderLine,
    PricedLine,
    PricedOrder,
    RecordKind,
    RecordRef,
)

ADDRESS = Address("Tahtalı Mah. Kiteyol Sok. No: 24", "Bursa", "Nilüfer", "16110", "Türkiye")


class FakeSalesCrm:
    def __init__(self, prices: Mapping[str, Decimal], inactive: Sequence[str] = ()) -> None:
        self.prices = dict(prices)
        self.inactive = set(inactive)
        self.records: dict[RecordRef, str] = {}  # record → marker it was created with
        self.contact = Contact("C-1", "Poligon", "Mühendislik", "info@example.com", "A-1")
        self.account = Account("A-1", "Poligon Ltd", ADDRESS, ADDRESS)
        self._failures: dict[str, list[CrmError]] = defaultdict(list)
        self._land_then_fail: dict[str, list[CrmError]] = defaultdict(list)
        self._ids = itertools.count(1)

    def fail_next(self, operation: str, error: CrmError, *, after_effect: bool = False) -> None:
        """Script the next call of `operation` to raise; with after_effect the record is made
        first (a timeout after the CRM committed)."""
        target = self._land_then_fail if after_effect else self._failures
        target[operation].append(error)

    def kinds(self) -> list[RecordKind]:
        return sorted(record.kind for record in self.records)

    async def find_contact_by_email(self, email: str) -> Contact | None:
        return self.contact if email == self.contact.email else None

    async def get_account(self, account_id: str) -> Account:
        if account_id != self.account.id:
            raise NotFound(f"account {account_id} not found")
        return self.account

    async def price_order(self, contact_id: str, lines: Sequence[OrderLine]) -> PricedOrder:
        self._enter("price_order")
        if contact_id != self.contact.id:
            raise NotFound(f"contact {contact_id} not found")
        priced = []
        for line in lines:
            if line.product_id not in self.prices:
                raise NotFound(f"product {line.product_id} not found")
            if line.product_id in self.inactive:
                raise PermanentCrmError(f"product {line.product_id} is inactive", code="INACTIVE")
            price = self.prices[line.product_id]
            priced.append(PricedLine(line.product_id, "P", line.quantity, price))
        return PricedOrder(self.contact, self.account, tuple(priced))

    async def create_deal(self, order: PricedOrder, *, marker: str) -> RecordRef:
        return self._create("create_deal", RecordKind.DEAL, marker)

    async def create_quote(self, order: PricedOrder, *, deal: RecordRef, marker: str) -> RecordRef:
        assert deal in self.records, "quote linked to a deal that does not exist"
        return self._create("create_quote", RecordKind.QUOTE, marker)

    async def create_sales_order(
        self, order: PricedOrder, *, deal: RecordRef, quote: RecordRef, marker: str
    ) -> RecordRef:
        assert quote in self.records, "sales order linked to a quote that does not exist"
        return self._create("create_sales_order", RecordKind.SALES_ORDER, marker)

    async def find(self, kind: RecordKind, marker: str) -> RecordRef | None:
        self._enter("find")
        matches = [ref for ref, m in self.records.items() if ref.kind is kind and m == marker]
        return matches[0] if matches else None

    async def delete_if_present(self, record: RecordRef) -> None:
        self._enter("delete")
        self.records.pop(record, None)

    def _create(self, operation: str, kind: RecordKind, marker: str) -> RecordRef:
        self._enter(operation)
        ref = RecordRef(kind, str(next(self._ids)))
        self.records[ref] = marker
        if self._land_then_fail[operation]:
            raise self._land_then_fail[operation].pop(0)
        return ref

    def _enter(self, operation: str) -> None:
        if self._failures[operation]:
            raise self._failures[operation].pop(0)
