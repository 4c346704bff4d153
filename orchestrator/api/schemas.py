"""Request and response shapes of the HTTP API, in the seed's exact field names (seed 002).

Never table rows: the API's shapes and the state tables change for different reasons.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from orchestrator.api.errors import ApiError
from orchestrator.crm.protocol import Account, Address, Contact, OrderLine
from orchestrator.flows.zoho_sale import SaleRequest

MAX_LINES = 200
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
BAD_EMAIL = "Invalid or missing email format."
KEY_REUSED = "Idempotency-Key was already used with a different request body."
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")

Id = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class ProductLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    productId: Id
    quantity: Annotated[StrictInt, Field(gt=0, le=1_000_000)]


class CreateSalesRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    contactId: Id
    products: Annotated[list[ProductLine], Field(min_length=1, max_length=MAX_LINES)]

    def to_sale(self) -> SaleRequest:
        lines = tuple(OrderLine(p.productId, p.quantity) for p in self.products)
        return SaleRequest(self.contactId, lines)


def idempotency_key(header: str | None) -> str | None:
    """The Idempotency-Key header, checked: 1 to 255 visible ASCII characters."""
    if header is None:
        return None
    if not KEY_PATTERN.match(header):
        raise ApiError(400, "Idempotency-Key must be 1 to 255 visible ASCII characters")
    return header


def request_digest(order: CreateSalesRequest) -> str:
    """Same order, same digest, whatever the key order or spacing of the JSON sent."""
    canonical = json.dumps(order.model_dump(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_FRIENDLY = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "list_type": "must be an array",
    "model_type": "must be an object",
    "greater_than": "must be a positive integer",
    "less_than_equal": "is too large",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long",
    "string_pattern_mismatch": "must contain only letters, digits, '-' and '_'",
}


def describe_validation(exc: ValidationError) -> str:
    """One message naming the first bad field, e.g. `products[1].quantity must be ...`."""
    error = exc.errors()[0]
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    kind = error["type"]
    if kind == "too_short" and path == "products":
        return "products must contain at least one product"
    if kind == "too_long" and path == "products":
        return f"products must not contain more than {MAX_LINES} lines"
    text = _FRIENDLY.get(kind, error["msg"])
    return f"{path or 'body'} {text}"


def _address(address: Address) -> dict[str, Any]:
    return {
        "street": address.street,
        "city": address.city,
        "state": address.state,
        "code": address.code,
        "country": address.country,
    }


def contact_body(contact: Contact, account: Account | None) -> dict[str, Any]:
    """The seed's 200 body of GET /getContact."""
    account_info = None
    if account is not None:
        account_info = {
            "id": account.id,
            "Name": account.name,
            "Shipping_Address": _address(account.shipping),
            "Billing_Address": _address(account.billing),
        }
    data = {
        "id": contact.id,
        "First_Name": contact.first_name,
        "Last_Name": contact.last_name,
        "Email": contact.email,
        "Account_Info": account_info,
    }
    return {"status": "success", "data": data}
