"""Zoho CRM JSON ↔ our types, and Zoho failures → our error tree. The only module with Zoho names.

Request bodies for Deals / Quotes / Sales_Orders, the COQL query that finds a record by its
marker, parsing of Contacts / Accounts / Products, the token endpoint's answer, and `crm_error`,
the one mapping of a failed response to a CrmError.
Wire facts and their confidence: shared/reference/zoho-crm.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from orchestrator.backends.http import retry_after_s
from orchestrator.crm.errors import (
    CrmError,
    PermanentCrmError,
    RateLimited,
    TransientCrmError,
)
from orchestrator.crm.protocol import Account, Address, Contact, PricedOrder, RecordKind
from orchestrator.crm.tokens import CachedToken

Json = dict[str, Any]

MODULES = {
    RecordKind.DEAL: "Deals",
    RecordKind.QUOTE: "Quotes",
    RecordKind.SALES_ORDER: "Sales_Orders",
}
NAME_FIELDS = {
    RecordKind.DEAL: "Deal_Name",
    RecordKind.QUOTE: "Subject",
    RecordKind.SALES_ORDER: "Subject",
}
_NAME_PREFIXES = {
    RecordKind.DEAL: "PLG Sale",
    RecordKind.QUOTE: "PLG Quote",
    RecordKind.SALES_ORDER: "PLG Sales Order",
}
CONTACTS, ACCOUNTS, PRODUCTS = "Contacts", "Accounts", "Products"
COQL_PATH = "/coql"  # POST {"select_query": "..."}; needs scope ZohoCRM.coql.READ
_FIND_LIMIT = 2  # one record per marker is expected; a second one would be a duplicate
TOKEN_REJECTED = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE"})  # refresh once, retry
# Codes that may succeed later: a server hiccup, a token another worker's refresh evicted,
# the token endpoint's throttle ("Access Denied", sent with HTTP 200).
_TRANSIENT_CODES = frozenset({"INTERNAL_ERROR", "Access Denied", *TOKEN_REJECTED})
_DEFAULT_TOKEN_TTL_S = 3600.0


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    unit_price: Decimal | None
    active: bool


# --- names and request bodies -------------------------------------------------------------------


def record_name(kind: RecordKind, marker: str) -> str:
    """The name field value of a record this service creates; `find` searches for it exactly."""
    return f"{_NAME_PREFIXES[kind]} {marker}"


def insert_body(record: Json) -> Json:
    """One record to insert, with every workflow, approval and blueprint trigger off."""
    return {"data": [record], "trigger": []}


def deal_record(
    order: PricedOrder, marker: str, *, stage: str, pipeline: str, closing_date: date
) -> Json:
    record: Json = {
        "Deal_Name": record_name(RecordKind.DEAL, marker),
        "Stage": stage,
        "Closing_Date": closing_date.isoformat(),
        "Amount": _money(order.total),
        **_parties(order),
        "Description": _description(marker),
    }
    if pipeline:
        record["Pipeline"] = pipeline
    return record


def quote_record(order: PricedOrder, marker: str, *, deal_id: str) -> Json:
    return {
        "Subject": record_name(RecordKind.QUOTE, marker),
        "Deal_Name": {"id": deal_id},
        **_parties(order),
        "Quote_Stage": "Draft",
        **_addresses(order.account),
        "Quoted_Items": _line_items(order),
        "Description": _description(marker),
    }


def sales_order_record(order: PricedOrder, marker: str, *, deal_id: str, quote_id: str) -> Json:
    return {
        "Subject": record_name(RecordKind.SALES_ORDER, marker),
        "Deal_Name": {"id": deal_id},
        "Quote_Name": {"id": quote_id},
        **_parties(order),
        **_addresses(order.account),
        "Ordered_Items": _line_items(order),
        "Description": _description(marker),
    }


def find_query(kind: RecordKind, marker: str) -> Json:
    """The COQL body selecting the records whose name field equals the marker's record name.

    COQL reads live records, unlike the search API, whose index lags writes (zoho-crm.md 2.5)."""
    field = NAME_FIELDS[kind]
    where = f"{field} = {coql_string(record_name(kind, marker))}"
    query = f"select id, {field} from {MODULES[kind]} where {where} limit {_FIND_LIMIT}"
    return {"select_query": query}


def coql_string(value: str) -> str:
    """A quoted COQL string literal: `\\'` for a single quote, as Zoho's COQL expects. Doubling
    a backslash (so a value ending in one cannot end the literal) is assumed, not documented."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _money(amount: Decimal) -> float:
    return float(amount)  # Zoho's currency fields are JSON doubles


def _description(marker: str) -> str:
    return f"Created by salesaga. Saga marker: {marker}"


def _parties(order: PricedOrder) -> Json:
    return {"Contact_Name": {"id": order.contact.id}, "Account_Name": {"id": order.account.id}}


def _addresses(account: Account) -> Json:
    fields: Json = {}
    for prefix, address in (("Billing", account.billing), ("Shipping", account.shipping)):
        for key, value in _address_parts(address).items():
            if value is not None:
                fields[f"{prefix}_{key}"] = value
    return fields


def _address_parts(address: Address) -> dict[str, str | None]:
    return {
        "Street": address.street,
        "City": address.city,
        "State": address.state,
        "Code": address.code,
        "Country": address.country,
    }


def _line_items(order: PricedOrder) -> list[Json]:
    return [
        {
            "Product_Name": {"id": line.product_id},
            "Quantity": line.quantity,
            "List_Price": _money(line.unit_price),
        }
        for line in order.lines
    ]


# --- responses → our types ----------------------------------------------------------------------


def payload(response: httpx.Response) -> object:
    """The decoded JSON body; None for 204, an empty body or a body that is not JSON."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def records(response: httpx.Response) -> list[Json]:
    """The `data` records of a GET or search answer; [] for 204 (nothing found)."""
    if response.status_code == 204:
        return []
    body = payload(response)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise TransientCrmError(
            f"Zoho answered {response.status_code} without a data list",
            code="UNEXPECTED_RESPONSE",
            status=response.status_code,
        )
    return data


def first_record(response: httpx.Response) -> Json | None:
    found = records(response)
    return found[0] if found else None


def written_id(response: httpx.Response) -> str:
    """The id of the one record an insert or delete touched; per-record errors raise even on 2xx."""
    body = payload(response)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise TransientCrmError(
            f"Zoho answered {response.status_code} without a result",
            code="UNEXPECTED_RESPONSE",
            status=response.status_code,
        )
    entry = data[0]
    details = entry.get("details")
    if entry.get("status") != "success" or not isinstance(details, dict) or "id" not in details:
        raise crm_error(response)
    return str(details["id"])


def pick_by_email(found: list[Json], email: str) -> Json | None:
    """Search by e-mail matches every e-mail field: prefer the record whose Email is `email`."""
    wanted = email.casefold()
    for record in found:
        if str(record.get("Email") or "").casefold() == wanted:
            return record
    return found[0] if found else None


def contact(record: Json) -> Contact:
    return Contact(
        id=str(record["id"]),
        first_name=_text(record.get("First_Name")),
        last_name=_text(record.get("Last_Name")),
        email=_text(record.get("Email")),
        account_id=_lookup_id(record.get("Account_Name")),
    )


def account(record: Json) -> Account:
    return Account(
        id=str(record["id"]),
        name=_text(record.get("Account_Name")) or "",
        shipping=_address(record, "Shipping"),
        billing=_address(record, "Billing"),
    )


def product(record: Json) -> Product:
    price = record.get("Unit_Price")
    return Product(
        id=str(record["id"]),
        name=_text(record.get("Product_Name")) or "",
        unit_price=None if price is None else Decimal(str(price)),
        active=record.get("Product_Active") is not False,  # absent from some layouts: active
    )


def found_id(response: httpx.Response, kind: RecordKind, marker: str) -> str | None:
    """The id in a `find_query` answer (200 `data` list, or 204 for none) of the record whose
    name is exactly the marker's: COQL `=` may ignore case (assumed, so checked here)."""
    return named_id(records(response), NAME_FIELDS[kind], record_name(kind, marker))


def named_id(found: list[Json], field: str, name: str) -> str | None:
    """The id of the record whose `field` is exactly `name` (queries may match ignoring case)."""
    for record in found:
        if record.get(field) == name:
            return str(record["id"])
    return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _lookup_id(value: object) -> str | None:
    if isinstance(value, dict) and value.get("id") is not None:
        return str(value["id"])
    return None


def _address(record: Json, prefix: str) -> Address:
    return Address(
        street=_text(record.get(f"{prefix}_Street")),
        city=_text(record.get(f"{prefix}_City")),
        state=_text(record.get(f"{prefix}_State")),
        code=_text(record.get(f"{prefix}_Code")),
        country=_text(record.get(f"{prefix}_Country")),
    )


# --- OAuth --------------------------------------------------------------------------------------


def token_form(client_id: str, client_secret: str, refresh_token: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }


def cached_token(response: httpx.Response, *, now: float | None = None) -> CachedToken:
    """The token endpoint's answer; success means `access_token` is present (errors come as 200).

    Handles the legacy shape where `expires_in_sec` is seconds and `expires_in` milliseconds."""
    body = payload(response)
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise crm_error(response)
    if "expires_in_sec" in body:
        ttl = float(body["expires_in_sec"])
    else:
        ttl = float(body.get("expires_in", _DEFAULT_TOKEN_TTL_S))
    return CachedToken(value=body["access_token"], expires_at=(now or time.time()) + ttl)


def rejected_token(response: httpx.Response) -> bool:
    """A 401 saying the access token is invalid or expired (not a scope problem)."""
    body = payload(response) if response.status_code == 401 else None
    return isinstance(body, dict) and body.get("code") in TOKEN_REJECTED


# --- failures → our errors ----------------------------------------------------------------------


def crm_error(response: httpx.Response) -> CrmError:
    """The one place a Zoho failure (records API or token endpoint) becomes one of our errors."""
    status = response.status_code
    code, message = _error_fields(payload(response), status)
    text = f"Zoho {code or status}: {message}"
    if status == 429 or code == "TOO_MANY_REQUESTS":
        retry_after = retry_after_s(response.headers.get("Retry-After"))
        return RateLimited(text, code=code or "TOO_MANY_REQUESTS", retry_after=retry_after)
    if status >= 500 or code in _TRANSIENT_CODES:
        return TransientCrmError(text, code=code, status=status)
    return PermanentCrmError(text, code=code, status=status)


def _error_fields(body: object, status: int) -> tuple[str | None, str]:
    """Code and message of a token-endpoint error, the first failed per-record entry in
    `data[]`, or a top-level error; the field's api_name is named when Zoho gives it."""
    if not isinstance(body, dict):
        return None, f"HTTP {status}"
    if "error" in body:  # token endpoint: {"error": "invalid_code"} (never echoes a secret)
        error = str(body["error"])
        return error, str(body.get("error_description") or error)
    entries = body.get("data")
    if isinstance(entries, list):
        failed = [e for e in entries if isinstance(e, dict) and e.get("status") != "success"]
        body = failed[0] if failed else body
    code = _text(body.get("code"))
    message = str(body.get("message") or f"HTTP {status}")
    details = body.get("details")
    if isinstance(details, dict) and details.get("api_name"):
        where = details.get("json_path") or details["api_name"]
        message = f"{message}: field {details['api_name']} ({where})"
    return code, message
