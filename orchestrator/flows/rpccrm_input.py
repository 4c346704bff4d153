"""What a caller sends to start `rpccrm.opportunity_ticket`, and the request the steps read.

Field names are the issue's (camelCase): `contactEmail`, `title`, `stageId`, `userId`,
`estimatedEndAt` (YYYY-MM-DD), `products` (each `productId`, or `sku`, `name` and `value`, with
`amount`, `price`, `discount`, `tax`) and `ticket` (`title`, `description`, `originId`,
`caseId`, `priorityId`, `estimatedEndAt`). Ids may be sent as integers or digit strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    WithJsonSchema,
    model_validator,
)

from orchestrator.flows.inputs import Email, FlowInput, Money, Quantity

Text = Annotated[StrictStr, Field(min_length=1, max_length=255)]
FRACTION_PLACES = Decimal("0.0001")


def _id(value: object) -> object:
    """An integer id (not a boolean; 7.0 is an integer in JSON) is read as its digits; anything
    else is left to the type."""
    if isinstance(value, float) and value.is_integer() and 0 <= value < 2**53:
        return str(int(value))
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _day(value: object) -> date:
    """YYYY-MM-DD only (pydantic's own date parsing also takes timestamps)."""
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date as YYYY-MM-DD") from None


def _fraction(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number from 0 to 1")
    number = Decimal(str(value))
    if not number.is_finite() or not 0 <= number <= 1:  # quantize() fails on 1e308 and the like
        raise ValueError("must be a number from 0 to 1")
    if number != number.quantize(FRACTION_PLACES):
        raise ValueError("must be a number from 0 to 1 with at most 4 decimal places")
    return number.quantize(FRACTION_PLACES)


# Each JSON Schema given explicitly: pydantic cannot read it through the validators.
CrmId = Annotated[StrictStr, BeforeValidator(_id), Field(pattern=r"^[0-9]{1,18}$"),
                  WithJsonSchema({"anyOf": [{"type": "string", "pattern": "^[0-9]{1,18}$"},
                                            {"type": "integer", "minimum": 0,
                                             "maximum": 999_999_999_999_999_999}]})]  # fmt: skip
Day = Annotated[date, BeforeValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]
Fraction = Annotated[Decimal, BeforeValidator(_fraction), Field(ge=0, le=1), WithJsonSchema(
    {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.0001})]  # fmt: skip
Amount = Quantity


class ProductLineInput(BaseModel):
    # _names_a_product, said in the JSON Schema too (GET /flows, the OpenAPI document)
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["productId"], "properties": {"productId": {"type": "string"},
         "sku": {"type": "null"}, "name": {"type": "null"}, "value": {"type": "null"}}},
        {"required": ["sku", "name", "value"], "properties": {"productId": {"type": "null"},
         "sku": {"type": "string"}, "name": {"type": "string"}, "value": {"type": "number"}}},
    ]})  # fmt: skip

    productId: CrmId | None = None
    sku: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    name: Text | None = None
    value: Money | None = None
    amount: Amount
    price: Money | None = None
    discount: Fraction = Decimal(0)
    tax: Fraction = Decimal(0)

    @model_validator(mode="after")
    def _names_a_product(self) -> ProductLineInput:
        new = (self.sku, self.name, self.value)
        if self.productId is not None and any(part is not None for part in new):
            raise ValueError("give productId, or sku, name and value: not both")
        if self.productId is None and any(part is None for part in new):
            raise ValueError("must name a product: productId, or sku, name and value")
        return self


class TicketInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text
    description: Annotated[StrictStr, Field(max_length=4000)] | None = None
    originId: CrmId | None = None
    caseId: CrmId | None = None
    priorityId: CrmId | None = None
    estimatedEndAt: Day | None = None


@dataclass(frozen=True, slots=True)
class LineRequest:
    amount: int
    discount: Decimal
    tax: Decimal
    price: Decimal | None = None  # None: the product's value
    product_id: str | None = None  # an existing product, or:
    sku: str | None = None  # a product by sku (created when no product has it)
    name: str | None = None
    value: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TicketRequest:
    title: str
    description: str | None = None
    origin_id: str | None = None  # None: the catalogue's first
    case_id: str | None = None
    priority_id: str | None = None
    estimated_end_at: date | None = None  # None: the opportunity's


@dataclass(frozen=True, slots=True)
class SaleRequest:
    contact_email: str
    title: str
    stage_id: str
    lines: tuple[LineRequest, ...]
    ticket: TicketRequest
    user_id: str | None = None  # None: the user the service logs in as
    estimated_end_at: date | None = None  # None: 30 days after the saga checked its input
    prospect_type: str = "new"
    operation_type: str = "new"
    notify: bool = False


class OpportunityTicketInput(FlowInput):
    LOOKUP_FIELDS = ("products",)  # each line's product is looked up, or created

    contactEmail: Email
    title: Text
    stageId: CrmId
    userId: CrmId | None = None
    estimatedEndAt: Day | None = None
    products: Annotated[list[ProductLineInput], Field(min_length=1, max_length=100)]
    ticket: TicketInput
    prospectType: Literal["new", "existing"] = "new"
    operationType: Literal["new", "renew"] = "new"
    notify: StrictBool = False

    def to_input(self) -> SaleRequest:
        lines = tuple(
            LineRequest(line.amount, line.discount, line.tax, line.price, line.productId,
                        line.sku, line.name, line.value)
            for line in self.products
        )  # fmt: skip
        t = self.ticket
        ticket = TicketRequest(t.title, t.description, t.originId, t.caseId, t.priorityId,
                               t.estimatedEndAt)  # fmt: skip
        return SaleRequest(
            self.contactEmail, self.title, self.stageId, lines, ticket, self.userId,
            self.estimatedEndAt, self.prospectType, self.operationType, self.notify,
        )  # fmt: skip

    def subject(self) -> str:
        return self.contactEmail
