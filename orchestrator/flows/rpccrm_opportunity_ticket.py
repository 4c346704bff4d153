"""RPC CRM opportunity and ticket (seed 001): check everything read-only first, then create the
products with new skus, the opportunity with its product lines, and a ticket linked to both.

This CRM cannot remove anything: every write step is irreversible, declared so. A failure
before the first write ends `failed` with no write call at all; after one, `needs_manual_cleanup`,
naming every record made (products included) for a person to remove. Each create is found again
by the saga's marker, so a retry after a lost answer never writes twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from orchestrator.crm.errors import NotFound, PermanentCrmError
from orchestrator.crm.opportunity_tickets import (
    OPPORTUNITY,
    PRODUCT,
    TICKET,
    Named,
    NewOpportunity,
    NewProduct,
    NewTicket,
    OpportunityLine,
    OpportunityTickets,
    Product,
)
from orchestrator.crm.records import RecordRef
from orchestrator.flows.inputs import CENT
from orchestrator.flows.rpccrm_input import LineRequest, OpportunityTicketInput, SaleRequest
from orchestrator.saga.definition import Flow, Step, StepContext

FLOW_NAME = "rpccrm.opportunity_ticket"
BACKEND = "rpccrm"
DEFAULT_DAYS = 30  # an opportunity's estimated end when the input gives none


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """A product line with everything resolved: `product_id` None means a new product `sku`."""

    amount: int
    price: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    product_id: str | None = None
    sku: str | None = None
    name: str | None = None
    value: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """The checked sale: who, where, which products, the ticket's catalogue entries."""

    contact_id: str
    company_id: str
    user_id: str
    stage_id: str
    lines: tuple[PlannedLine, ...]
    value: Decimal
    estimated_end_at: date
    origin_id: str
    case_id: str
    priority_id: str
    ticket_end_at: date

    def new_products(self) -> tuple[NewProduct, ...]:
        seen: dict[str, NewProduct] = {}
        for line in self.lines:
            if line.product_id is None and line.sku is not None and line.sku not in seen:
                seen[line.sku] = NewProduct(
                    line.sku, line.name or line.sku, line.value or line.price
                )
        return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class CreatedProducts:
    """The products this saga created (none when every line named an existing one)."""

    kind: str = PRODUCT
    ids: tuple[str, ...] = ()
    by_sku: dict[str, str] = field(default_factory=dict)


Ctx = StepContext[SaleRequest]


def line_total(amount: int, price: Decimal, discount: Decimal, tax: Decimal) -> Decimal:
    """round(amount × price × (1 − discount) × (1 + tax), 2), halves rounded up."""
    return (amount * price * (1 - discount) * (1 + tax)).quantize(CENT, rounding=ROUND_HALF_UP)


async def resolve(ctx: Ctx, crm: OpportunityTickets) -> Plan:
    """Every read the sale needs, and every check, before anything is written: NotFound or
    PermanentCrmError naming the input field that does not fit the CRM."""
    request = ctx.input
    try:
        contact = await crm.contact_by_email(request.contact_email)
    except NotFound as exc:
        raise NotFound(
            f"contactEmail: no contact {request.contact_email} in the CRM ({exc.message})",
            code=exc.code,
            status=exc.status,
        ) from exc
    if contact.company_id is None:
        raise PermanentCrmError(
            f"contactEmail: contact {contact.id} ({request.contact_email}) has no company; an "
            "opportunity and a ticket need one",
            code="CONTACT_WITHOUT_COMPANY",
        )
    stage = _pick(await crm.stages(), request.stage_id, "stageId", "stage")
    user_id = request.user_id or (await crm.me()).id
    if request.user_id is not None and user_id not in {u.id for u in await crm.users()}:
        raise NotFound(f"userId: no user {user_id} in the profile", code="NOT_FOUND")
    lines = await _plan_lines(request.lines, crm)
    catalogue = await crm.ticket_catalogue()
    ticket = request.ticket
    end_at = request.estimated_end_at or date.today() + timedelta(days=DEFAULT_DAYS)
    return Plan(
        contact_id=contact.id, company_id=contact.company_id, user_id=user_id,
        stage_id=stage.id, lines=lines, value=sum((line.total for line in lines), Decimal(0)),
        estimated_end_at=end_at,
        origin_id=_pick(catalogue.origins, ticket.origin_id, "ticket.originId", "origin").id,
        case_id=_pick(catalogue.cases, ticket.case_id, "ticket.caseId", "case").id,
        priority_id=_pick(
            catalogue.priorities, ticket.priority_id, "ticket.priorityId", "priority"
        ).id,
        ticket_end_at=ticket.estimated_end_at or end_at,
    )  # fmt: skip


def _pick(entries: tuple[Named, ...], wanted: str | None, field_name: str, what: str) -> Named:
    """The entry with id `wanted`; without one, the catalogue's first."""
    for entry in entries:
        if wanted is None or entry.id == wanted:
            return entry
    if wanted is None:
        raise PermanentCrmError(f"{field_name}: the CRM has no {what} to choose", code="EMPTY")
    raise NotFound(f"{field_name}: no {what} {wanted} in the profile", code="NOT_FOUND")


async def _plan_lines(
    lines: tuple[LineRequest, ...], crm: OpportunityTickets
) -> tuple[PlannedLine, ...]:
    catalogue = await crm.products()
    wanted = {line.product_id for line in lines if line.product_id is not None}
    if wanted - {p.id for p in catalogue}:  # perhaps added since the catalogue was cached
        catalogue = await crm.products(fresh=True)
    by_id = {p.id: p for p in catalogue}
    by_sku = {p.sku: p for p in catalogue if p.sku}
    return tuple(_plan_line(index, line, by_id, by_sku) for index, line in enumerate(lines))


def _plan_line(
    index: int, line: LineRequest, by_id: dict[str, Product], by_sku: dict[str, Product]
) -> PlannedLine:
    known = by_id.get(line.product_id) if line.product_id else by_sku.get(line.sku or "")
    if line.product_id is not None and known is None:
        raise NotFound(
            f"products.{index}.productId: no product {line.product_id} in the CRM",
            code="NOT_FOUND",
        )
    if known is not None:  # an existing product (a sku already in the catalogue is reused)
        price = line.price if line.price is not None else known.value
        total = line_total(line.amount, price, line.discount, line.tax)
        return PlannedLine(line.amount, price, line.discount, line.tax, total, known.id)
    value = line.value or Decimal(0)
    price = line.price if line.price is not None else value
    total = line_total(line.amount, price, line.discount, line.tax)
    return PlannedLine(line.amount, price, line.discount, line.tax, total, None, line.sku,
                       line.name, value)  # fmt: skip


async def create_products(ctx: Ctx, crm: OpportunityTickets) -> CreatedProducts:
    """CreateProduct for each new sku; one an earlier try of this saga made is kept, not made
    again (found by the marker in its description)."""
    new = ctx.output("resolve", Plan).new_products()
    if not new:
        return CreatedProducts()
    made = {p.sku: p.id for p in await crm.find_products(ctx.marker) if p.sku}
    for product in new:
        if product.sku not in made:
            made[product.sku] = (await crm.create_product(product, marker=ctx.marker)).id
    return CreatedProducts(ids=tuple(made.values()), by_sku=made)


async def products_left(ctx: Ctx, crm: OpportunityTickets) -> CreatedProducts | None:
    made = {p.sku: p.id for p in await crm.find_products(ctx.marker) if p.sku}
    return CreatedProducts(ids=tuple(made.values()), by_sku=made) if made else None


async def create_opportunity(ctx: Ctx, crm: OpportunityTickets) -> RecordRef:
    plan, request = ctx.output("resolve", Plan), ctx.input
    skus = ctx.output("create_products", CreatedProducts).by_sku
    lines = tuple(
        OpportunityLine(line.product_id or skus[line.sku or ""], line.amount, line.price,
                        line.discount, line.tax, line.total)
        for line in plan.lines
    )  # fmt: skip
    new = NewOpportunity(
        title=request.title, user_id=plan.user_id, stage_id=plan.stage_id,
        company_id=plan.company_id, contact_id=plan.contact_id, value=plan.value,
        estimated_end_at=plan.estimated_end_at, prospect_type=request.prospect_type,
        operation_type=request.operation_type, lines=lines, notify=request.notify,
    )  # fmt: skip
    return RecordRef(OPPORTUNITY, await crm.create_opportunity(new, marker=ctx.marker))


async def find_opportunity(ctx: Ctx, crm: OpportunityTickets) -> RecordRef | None:
    found = await crm.find_opportunity(ctx.marker)
    return None if found is None else RecordRef(OPPORTUNITY, found)


async def create_ticket(ctx: Ctx, crm: OpportunityTickets) -> RecordRef:
    plan, ticket = ctx.output("resolve", Plan), ctx.input.ticket
    opportunity = ctx.output("create_opportunity", RecordRef)
    new = NewTicket(
        title=ticket.title,
        description=ticket.description or f"{ctx.input.title} (opportunity {opportunity.id})",
        company_id=plan.company_id, contact_id=plan.contact_id, opportunity_id=opportunity.id,
        user_id=plan.user_id, origin_id=plan.origin_id, case_id=plan.case_id,
        priority_id=plan.priority_id, estimated_end_at=plan.ticket_end_at,
        notify=ctx.input.notify,
    )  # fmt: skip
    return RecordRef(TICKET, await crm.create_ticket(new, marker=ctx.marker))


async def find_ticket(ctx: Ctx, crm: OpportunityTickets) -> RecordRef | None:
    found = await crm.find_ticket(ctx.marker)
    return None if found is None else RecordRef(TICKET, found)


def _describe(request: SaleRequest) -> str:
    return f"opportunity {request.title!r} and ticket for {request.contact_email}"


RPCCRM_OPPORTUNITY_TICKET: Flow[SaleRequest, OpportunityTickets] = Flow(
    name=FLOW_NAME,
    input_type=SaleRequest,
    backend=BACKEND,
    input_model=OpportunityTicketInput,
    title="RPC CRM: products, opportunity, ticket; nothing can be undone by the API (seed 001)",
    steps=(
        Step("resolve", resolve, Plan),  # reads only: a failure here wrote nothing
        # The CRM has no delete: a rollback past these leaves them for a person, said so.
        Step(
            "create_products",
            create_products,
            CreatedProducts,
            irreversible=True,
            record="Product",
            leftovers=products_left,
        ),
        Step(
            "create_opportunity",
            create_opportunity,
            RecordRef,
            irreversible=True,
            record="Opportunity",
            find=find_opportunity,
        ),
        Step(
            "create_ticket",
            create_ticket,
            RecordRef,
            irreversible=True,
            record="Ticket",
            find=find_ticket,
        ),
    ),
    describe=_describe,
)
