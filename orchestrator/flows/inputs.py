"""What a caller sends to start a flow: a pydantic model per flow, in the seed's field names.

The intake (orchestrator/intake/) validates a request body or message against the flow's model,
names the first bad field in the error, and hands `to_input()` to the engine. pydantic is a data
library, not a framework: flows may use it (import-linter forbids only frameworks and I/O).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, WithJsonSchema

CENT = Decimal("0.01")


def _amount(value: object) -> Decimal:
    """A JSON number only (no strings, no booleans), kept to the cent: 12.5, 12.50 and
    "1E+3"-like spellings of one amount give one input (and one idempotency digest)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    amount = Decimal(str(value))
    if not amount.is_finite():
        raise ValueError("must be a number")
    if abs(amount) > MONEY_MAX:  # before quantize(), which fails past 28 digits (1e308 …)
        raise ValueError("must not be negative" if amount < 0 else f"must be at most {MONEY_MAX}")
    if amount != amount.quantize(CENT):
        raise ValueError("must be a number with at most 2 decimal places")
    return amount.quantize(CENT)


# The JSON Schema says what _amount takes: a number (pydantic's own would offer strings too).
MONEY_MAX = 9_999_999_999_999
MONEY_SCHEMA = {"type": "number", "minimum": 0, "maximum": MONEY_MAX, "multipleOf": 0.01}
Money = Annotated[
    Decimal,
    BeforeValidator(_amount),
    Field(ge=0, max_digits=15, decimal_places=2),
    WithJsonSchema(MONEY_SCHEMA),
]


def _whole(value: object) -> object:
    """A JSON integer; 3.0 is one too (JSON Schema's `integer`), 3.5, "3" and true are not."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    return value


# How many of a product a line orders: 1 to 1,000,000 (the JSON Schema given explicitly: the
# bounds cannot be read through the validator).
Quantity = Annotated[
    int,
    BeforeValidator(_whole),
    Field(gt=0, le=1_000_000),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 1_000_000}),
]

# No whitespace nor control characters, one @, a dot after it; the same in Python and in the
# JSON Schema (\s differs between the two only in characters excluded here anyway).
_PART = r"[^@\s\x00-\x20\x7f-\x9f]+"
EMAIL_PATTERN = f"^{_PART}@{_PART}\\.{_PART}$"
Email = Annotated[StrictStr, Field(max_length=254, pattern=EMAIL_PATTERN)]

# An id as CRMs hand them out: letters, digits, '-' and '_'.
Id = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class FlowInput(BaseModel):
    """Base of every flow's input model."""

    model_config = ConfigDict(extra="forbid")

    def to_input(self) -> Any:
        """The value the flow's steps read (its `input_type`)."""
        raise NotImplementedError

    def subject(self) -> str | None:
        """Who or what the saga is about, for lists and search (a contact id, an e-mail)."""
        return None

    # List fields whose every item makes the saga read or write a CRM record one by one (a
    # sale's product lines): the intake refuses more than MAX_CRM_LOOKUPS items in any of them,
    # so that one request cannot make hundreds of CRM calls (the OpenAPI says maxItems).
    LOOKUP_FIELDS: ClassVar[tuple[str, ...]] = ()

    def crm_lookups(self) -> dict[str, int]:
        """The item count of each LOOKUP_FIELDS list."""
        return {name: len(getattr(self, name)) for name in self.LOOKUP_FIELDS}
