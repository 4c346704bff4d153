"""The method-RPC CRM's JSON ↔ our types, and its failures → our error tree. The only module with
its groups, method names, field names, date formats and error messages (seed 001).

The seed documents methods, not URLs. These assumptions are pinned here (issue 19), and the
sandbox (orchestrator/backends/rpccrm/sandbox) behaves exactly so:

1. Every call is `POST <RPCCRM_URL>/<group>` with the JSON body `{"method": "<Name>",
   "parameters": {…}}`; group is one of GROUPS (the seed's method groups, lower case). A method
   of another group answers `success: false` "Method <Name> does not exist."; an unknown group
   HTTP 404; a body that is not such an object HTTP 400 (`{"success": false, "error": "Bad
   Request."}`).
2. Every answer is `{"success": bool, "response": {…}, "error": "…"}` (`error` "" on success,
   `response` {} on failure).
   Business errors are HTTP 200 with `success: false`: never a success because the status was
   200. Validation messages are Laravel's: "The title field is required.", "The selected
   stage id is invalid." …
3. `Login` (group auth) `{email, password}` → `{token, user: {id, name, email}}`; wrong ones →
   `success: false` "These credentials do not match our records.". Every other method carries
   `Authorization: Bearer <token>`; a missing, unknown or expired token answers HTTP 401
   `{"success": false, "error": "Unauthenticated."}`. The seed gives no token lifetime: the
   adapter caches a token for RPCCRM_TOKEN_TTL_S and logs in again on a 401.
4. Ids are integers (sent as integers, read as strings). Money is a JSON number. Dates:
   DD/MM/YY for opportunities (and every `created_at` range), YYYY-MM-DD for tickets.
5. Records: a user `{id, name, email}`; a stage `{id, name, position}`; a catalogue entry `{id,
   name}`; a contact `{id, name, surname, email, company_id, …}`; a product `{id, name,
   short_name, sku, value, description, taxes, …}`; an opportunity `{id, title, value,
   estimated_end_at, status, stage_id, user_id, company_id, contact_id, products, …}`; a ticket
   `{id, title, description, opportunity_id, company_id, contact_id, …}`.
6. `GetContact` / `GetCompany` / `GetOpportunity` of an unknown record → `success: false`
   "<Record> not found.". `CreateProduct` with a sku in use → "The sku has already been
   taken.". Lists with `pagination` / `page` answer `{total, current_page, last_page, <list>}`.
7. The adapter's markers: a product's and a ticket's description end with `[<marker>]`; an
   opportunity's title ends with ` [<marker>]` (CreateOpportunity has no free-text field; the
   title is what GetOpportunities' `query` searches).

Mapping: HTTP 200 `success: false` → PermanentCrmError REFUSED with the CRM's message (NotFound
when a read of one record answers "… not found."); HTTP 401 → PermanentCrmError UNAUTHENTICATED
(client.py logs in once more and repeats the call first); 429 → RateLimited; 408 and 5xx →
TransientCrmError; other 4xx → PermanentCrmError. An answer that is not the envelope →
TransientCrmError UNEXPECTED_RESPONSE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from orchestrator.backends.http import retry_after_s
from orchestrator.crm.errors import (
    CrmError,
    NotFound,
    PermanentCrmError,
    RateLimited,
    TransientCrmError,
)
from orchestrator.crm.opportunity_tickets import (
    Contact,
    Named,
    NewOpportunity,
    NewProduct,
    NewTicket,
    Product,
    User,
)

Json = dict[str, Any]

GROUPS: Mapping[str, tuple[str, ...]] = {
    "auth": ("Login",),
    "profiles": ("GetProfiles", "GetStages", "GetCountries", "GetStates", "GetUsers"),
    "companies": (
        "GetCompanies", "GetTypes", "GetIndustries", "GetInputs", "CreateCompany", "GetCompany",
    ),
    "contacts": (
        "GetContacts", "GetOrigins", "GetTitles", "GetDepartments", "GetPositions", "GetInputs",
        "CreateContact", "GetContact",
    ),
    "products": (
        "GetProducts", "GetCategories", "GetValidities", "GetDiscounts", "GetMeasures",
        "GetTaxes", "GetInputs", "CreateProduct", "EditProduct",
    ),
    "opportunities": ("GetInputs", "GetOpportunities", "CreateOpportunity", "GetOpportunity"),
    "tickets": ("GetTickets", "GetOrigins", "GetCases", "GetPriorities", "CreateTicket"),
}  # fmt: skip
"""The seed's methods by group: the URL path segment each is POSTed to."""

RESULT_KEYS: Mapping[str, str] = {
    "GetProfiles": "profiles", "GetStages": "stages", "GetCountries": "countries",
    "GetStates": "states", "GetUsers": "users", "GetCompanies": "companies", "GetTypes": "types",
    "GetIndustries": "industries", "GetInputs": "inputs", "CreateCompany": "company",
    "GetCompany": "company", "GetContacts": "contacts", "GetOrigins": "origins",
    "GetTitles": "titles", "GetDepartments": "departments", "GetPositions": "positions",
    "CreateContact": "contact", "GetContact": "contact", "GetProducts": "products",
    "GetCategories": "categories", "GetValidities": "validities", "GetDiscounts": "discounts",
    "GetMeasures": "measures", "GetTaxes": "taxes", "CreateProduct": "product",
    "EditProduct": "product", "GetOpportunities": "opportunities",
    "CreateOpportunity": "opportunity", "GetOpportunity": "opportunity", "GetTickets": "tickets",
    "GetCases": "cases", "GetPriorities": "priorities", "CreateTicket": "ticket",
}  # fmt: skip
"""Where each method's answer keeps its data inside `response` (Login: token and user)."""

WRITES = frozenset({"CreateCompany", "CreateContact", "CreateProduct", "EditProduct",
                    "CreateOpportunity", "CreateTicket"})  # fmt: skip
READS_ONE = frozenset({"GetContact", "GetCompany", "GetOpportunity"})  # failure → NotFound
NO_PROFILE = frozenset({"Login", "GetProfiles", "GetCountries", "GetStates"})

AUTH_GROUP, LOGIN = "auth", "Login"
UNAUTHENTICATED = "Unauthenticated."
BAD_CREDENTIALS = "These credentials do not match our records."
SKU_TAKEN = "The sku has already been taken."
NOT_FOUND_SUFFIX = " not found."  # "Contact not found.", "Company not found." …
OPPORTUNITY_DATE = "%d/%m/%y"
TICKET_DATE = "%Y-%m-%d"
PAGE_SIZE = 500  # the seed's default `pagination`


def group_of(method: str, group: str | None = None) -> str:
    """The group `method` is POSTed to (`group` must be given for GetInputs and GetOrigins,
    which several groups have). ValueError for a method the seed does not document."""
    groups = [name for name, methods in GROUPS.items() if method in methods]
    if group is not None:
        if group not in groups:
            raise ValueError(f"{method} is not a method of {group!r} (it is in {groups})")
        return group
    if len(groups) != 1:
        raise ValueError(f"{method} is in {groups or 'no group'}: say which group")
    return groups[0]


def body(method: str, parameters: Json) -> Json:
    return {"method": method, "parameters": parameters}


def number(value: str) -> int | str:
    """An id as the CRM takes it: an integer when it is one."""
    return int(value) if value.isdigit() else value


def marked(text: str | None, marker: str) -> str:
    tag = f"[{marker}]"
    return f"{text}\n{tag}" if text else tag


def marked_title(title: str, marker: str) -> str:
    return f"{title} [{marker}]"


def product_params(new: NewProduct, *, marker: str) -> Json:
    return {"name": new.name, "sku": new.sku, "value": float(new.value),
            "description": marked(None, marker)}  # fmt: skip


def opportunity_params(new: NewOpportunity, *, marker: str) -> Json:
    lines = [
        {"product_id": number(line.product_id), "amount": line.amount, "price": float(line.price),
         "discount": float(line.discount), "tax": float(line.tax), "total": float(line.total)}
        for line in new.lines
    ]  # fmt: skip
    params: Json = {
        "user_id": number(new.user_id), "title": marked_title(new.title, marker),
        "value": float(new.value),
        "estimated_end_at": new.estimated_end_at.strftime(OPPORTUNITY_DATE),
        "prospect_type": new.prospect_type, "operation_type": new.operation_type,
        "stage_id": number(new.stage_id), "company_id": number(new.company_id),
        "contact_id": number(new.contact_id), "want_products": bool(lines),
        "want_tax": any(line.tax > 0 for line in new.lines), "products": lines,
        "notify": new.notify,
    }  # fmt: skip
    if new.comment:
        params["comment"] = new.comment
    return params


def ticket_params(new: NewTicket, *, marker: str) -> Json:
    return {
        "title": new.title, "description": marked(new.description, marker),
        "company_id": number(new.company_id), "contact_id": number(new.contact_id),
        "opportunity_id": number(new.opportunity_id), "user_id": number(new.user_id),
        "origin_id": number(new.origin_id), "case_id": number(new.case_id),
        "priority_id": number(new.priority_id),
        "estimated_end_at": new.estimated_end_at.strftime(TICKET_DATE), "notify": new.notify,
    }  # fmt: skip


# --- answers ------------------------------------------------------------------------------------


def envelope(response: httpx.Response, method: str) -> Json:
    """The answer's `response` object; any failure raises (see the mapping above)."""
    if response.status_code >= 400:
        raise http_error(response, method)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
        raise TransientCrmError(
            f"RPC CRM {method}: the answer is not the documented envelope "
            f"(HTTP {response.status_code})",
            code="UNEXPECTED_RESPONSE",
            status=response.status_code,
        )
    if not answer["success"]:
        raise refusal(method, _error_text(answer), response.status_code)
    data = answer.get("response")
    return data if isinstance(data, dict) else {}


def refusal(method: str, error: str | None, status: int) -> CrmError:
    text = f"RPC CRM {method}: {error or 'refused without a message'}"
    missing = method in READS_ONE and (error or "").endswith(NOT_FOUND_SUFFIX)
    kind = NotFound if missing else PermanentCrmError
    return kind(text, code="NOT_FOUND" if kind is NotFound else "REFUSED", status=status)


def http_error(response: httpx.Response, method: str) -> CrmError:
    status = response.status_code
    detail = _error_text(_json_or_none(response)) or response.reason_phrase
    text = f"RPC CRM {method}: HTTP {status} {detail}".rstrip()
    if status == 401:
        return PermanentCrmError(text, code="UNAUTHENTICATED", status=status)
    if status == 429:
        return RateLimited(
            text,
            code="RATE_LIMITED",
            retry_after=retry_after_s(response.headers.get("Retry-After")),
        )
    if status == 408 or status >= 500:
        return TransientCrmError(text, code=f"HTTP_{status}", status=status)
    return PermanentCrmError(text, code=f"HTTP_{status}", status=status)


def _json_or_none(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(answer: object) -> str | None:
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, str) and error:
            return error
    return None


def result(data: Json, method: str) -> Any:
    """The method's data inside `response` (RESULT_KEYS); missing → UNEXPECTED_RESPONSE."""
    key = RESULT_KEYS[method]
    if key not in data:
        raise TransientCrmError(
            f"RPC CRM {method}: the answer has no {key!r}", code="UNEXPECTED_RESPONSE"
        )
    return data[key]


def items(value: object) -> list[Json]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def text_id(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str) and str(value):
        return str(value)
    return None


def named(item: Json) -> Named | None:
    ident = text_id(item.get("id"))
    return None if ident is None else Named(ident, str(item.get("name") or ""))


def named_all(value: object) -> tuple[Named, ...]:
    return tuple(entry for item in items(value) if (entry := named(item)) is not None)


def user(item: Json) -> User | None:
    ident = text_id(item.get("id"))
    if ident is None:
        return None
    email = item.get("email")
    return User(ident, str(item.get("name") or ""), email if isinstance(email, str) else None)


def users(value: object) -> tuple[User, ...]:
    return tuple(entry for item in items(value) if (entry := user(item)) is not None)


def contact(item: object) -> Contact | None:
    if not isinstance(item, dict) or (ident := text_id(item.get("id"))) is None:
        return None
    name = " ".join(str(item[k]) for k in ("name", "surname") if item.get(k))
    email = item.get("email")
    return Contact(
        ident, name, email if isinstance(email, str) else None, text_id(item.get("company_id"))
    )


def product(item: object) -> Product | None:
    if not isinstance(item, dict) or (ident := text_id(item.get("id"))) is None:
        return None
    value = item.get("value")
    money = Decimal(str(value)) if isinstance(value, int | float | str) and value != "" else None
    sku, description = item.get("sku"), item.get("description")
    return Product(
        ident,
        str(item.get("name") or ""),
        sku if isinstance(sku, str) and sku else None,
        money if money is not None and money.is_finite() else Decimal(0),
        description if isinstance(description, str) else None,
    )


def products(value: object) -> tuple[Product, ...]:
    return tuple(entry for item in items(value) if (entry := product(item)) is not None)


def record_id(value: object, method: str) -> str:
    """The id of the record a create answered; without one it may still exist: raised as
    UNEXPECTED_RESPONSE (client.py makes it OutcomeUnknown)."""
    ident = text_id(value.get("id")) if isinstance(value, dict) else None
    if ident is None:
        raise TransientCrmError(
            f"RPC CRM {method}: the answer has no record id", code="UNEXPECTED_RESPONSE"
        )
    return ident


def marked_by(texts: Sequence[object], marker: str) -> bool:
    tag = f"[{marker}]"
    return any(isinstance(text, str) and tag in text for text in texts)


def token(data: Json) -> tuple[str, User | None]:
    value = data.get("token")
    if not isinstance(value, str) or not value:
        raise TransientCrmError(
            "RPC CRM Login: the answer has no token", code="UNEXPECTED_RESPONSE"
        )
    who = data.get("user")
    return value, user(who) if isinstance(who, dict) else None


def last_page(data: Json) -> int:
    value = data.get("last_page")
    return value if isinstance(value, int) and value > 0 else 1


def iso(value: date) -> str:
    return value.isoformat()
