"""Request and response shapes of the HTTP API, in the seed's exact field names (seed 002).

Never table rows: the API's shapes and the state tables change for different reasons.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any

from fastapi import Path, Query

from orchestrator.api.errors import ApiError
from orchestrator.crm.protocol import Account, Address, Contact
from orchestrator.flows.inputs import EMAIL_PATTERN
from orchestrator.flows.zoho_sale import SaleInput, SaleRequest
from orchestrator.intake import KEY_PATTERN

EMAIL = re.compile(EMAIL_PATTERN)
BAD_EMAIL = "Invalid or missing email format."
MAX_STORED_KEY = 255  # saga.idempotency_key
KEY_REUSED = "Idempotency-Key was already used with a different request body."


class CreateSalesRequest(SaleInput):
    """The body of POST /createSales: the Zoho sale flow's input model (seed 002)."""

    def to_sale(self) -> SaleRequest:
        return self.to_input()


def idempotency_key(header: str | None, caller: str) -> str | None:
    """The Idempotency-Key header, checked (1 to 255 visible ASCII characters), as the saga
    keeps it: scoped to the caller's key name, so two callers never share (or learn of) each
    other's keys. `http <name> <key>`: no space in either part, and a message's `msg <id>`
    can never equal it; too long for the column with its prefix, it is hashed."""
    if header is None:
        return None
    if not KEY_PATTERN.match(header):
        raise ApiError(400, "Idempotency-Key must be 1 to 255 visible ASCII characters",
                       field="Idempotency-Key")  # fmt: skip
    scoped = f"http {caller} {header}"
    if len(scoped) <= MAX_STORED_KEY:
        return scoped
    return "http-sha256 " + hashlib.sha256(f"{caller} {header}".encode()).hexdigest()


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


# A row id (BIGINT) in a path or a query: larger than the column can hold is a 400 naming the
# parameter, not an OverflowError from the driver.
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a row id (1 … 2^63−1)")]
AfterId = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="an event id (0 … 2^63−1)")]
