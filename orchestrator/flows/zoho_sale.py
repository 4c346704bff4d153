"""Zoho sale (seed 002): price the order, then Deal → Quote → Sales Order.

A permanent failure undoes what was made, newest first (the seed's rollback rules):
Deal fails → stop; Quote fails → delete the Deal;
Sales Order fails → delete the Quote, then the Deal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import ConfigDict, Field

from orchestrator.crm.protocol import OrderLine, PricedOrder, RecordKind, RecordRef, SalesCrm
from orchestrator.flows.inputs import FlowInput, Id, Quantity
from orchestrator.saga.definition import Flow, Step, StepContext, UndoKind

FLOW_NAME = "zoho.sale"
BACKEND = "zoho"
MAX_LINES = 200


@dataclass(frozen=True, slots=True)
class SaleRequest:
    contact_id: str
    lines: tuple[OrderLine, ...]


class ProductLine(FlowInput):
    model_config = ConfigDict(extra="ignore")

    productId: Id
    quantity: Quantity


class SaleInput(FlowInput):
    """The body of POST /createSales (seed 002); extra keys are ignored, as the seed's API does."""

    model_config = ConfigDict(extra="ignore")
    LOOKUP_FIELDS = ("products",)  # each line's product is read from Zoho

    contactId: Id
    products: Annotated[list[ProductLine], Field(min_length=1, max_length=MAX_LINES)]

    def to_input(self) -> SaleRequest:
        lines = tuple(OrderLine(p.productId, p.quantity) for p in self.products)
        return SaleRequest(self.contactId, lines)

    def subject(self) -> str:
        return self.contactId


Ctx = StepContext[SaleRequest]


async def price_order(ctx: Ctx, crm: SalesCrm) -> PricedOrder:
    return await crm.price_order(ctx.input.contact_id, ctx.input.lines)


async def create_deal(ctx: Ctx, crm: SalesCrm) -> RecordRef:
    return await crm.create_deal(ctx.output("price_order", PricedOrder), marker=ctx.marker)


async def create_quote(ctx: Ctx, crm: SalesCrm) -> RecordRef:
    order = ctx.output("price_order", PricedOrder)
    deal = ctx.output("create_deal", RecordRef)
    return await crm.create_quote(order, deal=deal, marker=ctx.marker)


async def create_sales_order(ctx: Ctx, crm: SalesCrm) -> RecordRef:
    return await crm.create_sales_order(
        ctx.output("price_order", PricedOrder),
        deal=ctx.output("create_deal", RecordRef),
        quote=ctx.output("create_quote", RecordRef),
        marker=ctx.marker,
    )


async def delete_if_present(_ctx: Ctx, crm: SalesCrm, record: RecordRef) -> None:
    await crm.delete_if_present(record)


def made_by_this_saga(kind: RecordKind) -> Callable[[Ctx, SalesCrm], Awaitable[RecordRef | None]]:
    async def find(ctx: Ctx, crm: SalesCrm) -> RecordRef | None:
        return await crm.find(kind, ctx.marker)

    return find


def _creates(
    name: str, run: Callable[[Ctx, SalesCrm], Awaitable[RecordRef]], kind: RecordKind, label: str
) -> Step[SaleRequest, SalesCrm, RecordRef]:
    # Every create has an undo, the last one too: a Sales Order whose create timed out and then
    # failed for good may still exist, and the rollback finds it by its marker and deletes it.
    return Step(
        name, run, RecordRef, undo=delete_if_present, find=made_by_this_saga(kind), record=label,
        undo_kind=UndoKind.DELETE,
    )  # fmt: skip


ZOHO_SALE: Flow[SaleRequest, SalesCrm] = Flow(
    name=FLOW_NAME,
    input_type=SaleRequest,
    backend=BACKEND,
    input_model=SaleInput,
    title="Zoho CRM sale: Deal, then Quote, then Sales Order (seed 002)",
    steps=(
        Step("price_order", price_order, PricedOrder),  # read-only: nothing to undo or find
        _creates("create_deal", create_deal, RecordKind.DEAL, "Deal"),
        _creates("create_quote", create_quote, RecordKind.QUOTE, "Quote"),
        _creates("create_sales_order", create_sales_order, RecordKind.SALES_ORDER, "Sales Order"),
    ),
    describe=lambda request: f"contact {request.contact_id}",
)
