"""What a caller sends to start a flow: a pydantic model per flow, in the seed's field names.

The intake (orchestrator/intake/) validates a request body or message against the flow's model,
names the first bad field in the error, and hands `to_input()` to the engine. pydantic is a data
library, not a framework: flows may use it (import-linter forbids only frameworks and I/O).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr

CENT = Decimal("0.01")


def _amount(value: object) -> Decimal:
    """A JSON number only (no strings, no booleans), kept to the cent: 12.5, 12.50 and
    "1E+3"-like spellings of one amount give one input (and one idempotency digest)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    amount = Decimal(str(value))
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise ValueError("must be a number with at most 2 decimal places")
    return amount.quantize(CENT)


Money = Annotated[Decimal, BeforeValidator(_amount), Field(ge=0, max_digits=15, decimal_places=2)]

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

    def crm_lookups(self) -> dict[str, int]:
        """How many CRM records the saga reads or writes one by one because of each list
        field of this input (a sale's distinct products): the intake refuses more than
        MAX_CRM_LOOKUPS, so that one request cannot make hundreds of CRM calls."""
        return {}
