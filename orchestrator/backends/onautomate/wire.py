"""OnAutomate JSON ↔ our types, and OnAutomate failures → our error tree. The only module with
OnAutomate's field names and response shapes (API V1.1.1, seed 003).

What the seed shows is followed as shown. Where it is silent, these assumptions are pinned here
(and the sandbox, orchestrator/backends/onautomate/sandbox, behaves exactly so):

1. Create (POST /v1/pipelines/{p}/opportunities/) and update (PUT …/{id}) bodies use the seed's
   field names: title, status, stageId, email, phone, assignedTo, monetaryValue, source,
   contactId, name, companyName, tags; None and empty values are left out. An update that
   leaves out an optional field (source, assignedTo, monetaryValue) keeps its stored value.
2. The saga's marker is written into `source`: `"<source> [<marker>]"` when the input has a
   source, else `"[<marker>]"`. Finding is tolerant: an opportunity carries the marker when its
   `source` contains the marker anywhere (whatever the CRM or a person did around it).
3. The read shape (GET, create's and update's answer) is the seed's GET body: id, name (the
   title), monetaryValue, pipelineId, pipelineStageId, assignedTo, status, source, createdAt,
   updatedAt, contact{id, name, companyName, email, phone, tags}. Missing keys read as None.
4. Listing (GET …/opportunities?page=N&<filter>=<value>…) takes the seed's filter names as
   exact-match query parameters (title, stageId, status, monetaryValue, assignedTo, contactId,
   email, name, phone, tags, companyName) and answers, 20 a page,
   `{"opportunities": [read shape…], "meta": {"total": n, "currentPage": p,
   "nextPage": p+1 | null, "prevPage": p-1 | null}}`.
5. Errors: `{"msg": "Unauthorized"}` (401, and 400 on PUT update as the seed shows), `{"msg":
   "Bad Request"}` (400), 422 `{"<field>": {"message": "…", "rule": "required" | "invalid" |
   …}, …}`. The contact's one-opportunity-per-pipeline rule answers 422 `{"opportunity":
   {"message": "The contact already has an opportunity in this pipeline.", "rule":
   "duplicate"}}`. A GET/PUT of an unknown or deleted opportunity answers 404
   `{"msg": "Not Found"}`. 429 may carry Retry-After (seconds or an HTTP date).
6. A `{"msg": …}` body is a failure whatever the status: DELETE answers HTTP 200 for everything
   (`""` = deleted; `{"msg": "Unauthorized"}` / `{"msg": "Bad Request"}` = not deleted), so the
   status alone proves nothing. DELETE of an unknown or already deleted opportunity answers
   200 `{"msg": "Bad Request"}`: the adapter decides by a read afterwards, never by the DELETE.
7. PUT …/{id}/status takes `{"status", "stageId"}` and answers 200 `""` (an empty body too).
8. The contact: `contactId` names an existing one (unknown: 422 `contactId` rule invalid) and
   wins over the rest; else `email` finds (ignoring case) or creates one, else `phone` does.
   Find filters by title plus the first of contactId, email, phone the input has.

Mapping: msg Unauthorized → PermanentCrmError UNAUTHORIZED (a static token: retrying is
useless); 400 / msg Bad Request → PermanentCrmError BAD_REQUEST; 404 → NotFound NOT_FOUND;
422 → PermanentCrmError VALIDATION naming every field and its message, or DuplicateRecord
DUPLICATE_OPPORTUNITY; 429 → RateLimited; 408 and 5xx → TransientCrmError. In client.py: not
sent (connect error) → TransientCrmError; sent but unanswered → OutcomeUnknown for a write,
TransientCrmError for a read; a create answered 2xx without an id → OutcomeUnknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from orchestrator.backends.http import retry_after_s
from orchestrator.crm.errors import (
    CrmError,
    DuplicateRecord,
    NotFound,
    PermanentCrmError,
    RateLimited,
    TransientCrmError,
)
from orchestrator.crm.opportunities import NewOpportunity, Opportunity

Json = dict[str, Any]

PAGE_SIZE = 20  # the listing's page size (seed: "the first matched 20 opportunities")
# Path templates, also the metric labels (ids replaced by placeholders keep labels few).
LIST_PATH = "/v1/pipelines/{p}/opportunities"
CREATE_PATH = "/v1/pipelines/{p}/opportunities/"  # the seed's trailing slash
ONE_PATH = "/v1/pipelines/{p}/opportunities/{id}"
STATUS_PATH = "/v1/pipelines/{p}/opportunities/{id}/status"

DUPLICATE_FIELD, DUPLICATE_RULE = "opportunity", "duplicate"
UNAUTHORIZED, BAD_REQUEST, NOT_FOUND = "Unauthorized", "Bad Request", "Not Found"
_CONTACT_FILTERS = ("contactId", "email", "phone")  # how find names the contact, best first


@dataclass(frozen=True, slots=True)
class OpportunityPage:
    """One page of a listing: its opportunities and the listing's meta."""

    items: tuple[Opportunity, ...]
    total: int
    page: int
    next_page: int | None
    prev_page: int | None


def path(template: str, pipeline_id: str, opportunity_id: str = "") -> str:
    """A path template with its ids filled in (percent-encoded)."""
    return template.replace("{p}", quote(pipeline_id, safe="")).replace(
        "{id}", quote(opportunity_id, safe="")
    )


# --- request bodies -----------------------------------------------------------------------------


def marked_source(source: str | None, marker: str) -> str:
    """The `source` a create writes: the input's source, then the marker in brackets."""
    return f"{source} [{marker}]" if source else f"[{marker}]"


def carries_marker(source: object, marker: str) -> bool:
    return isinstance(source, str) and marker in source


def opportunity_body(new: NewOpportunity, *, source: str | None) -> Json:
    """The create / update body under the seed's field names, without None or empty values."""
    fields: Json = {
        "title": new.title,
        "status": new.status,
        "stageId": new.stage_id,
        "email": new.email,
        "phone": new.phone,
        "assignedTo": new.assigned_to,
        "monetaryValue": None if new.monetary_value is None else _number(new.monetary_value),
        "source": source,
        "contactId": new.contact_id,
        "name": new.name,
        "companyName": new.company_name,
        "tags": list(new.tags),
    }
    return {key: value for key, value in fields.items() if value not in (None, "", [])}


def status_body(*, stage_id: str, status: str) -> Json:
    return {"status": status, "stageId": stage_id}


def find_filters(new: NewOpportunity) -> dict[str, str]:
    """Listing filters narrowing to `new`'s title and contact (contactId, else email or phone)."""
    filters = {"title": new.title}
    named = {"contactId": new.contact_id, "email": new.email, "phone": new.phone}
    for name in _CONTACT_FILTERS:
        if value := named[name]:
            filters[name] = value
            break
    return filters


def list_params(page: int, filters: dict[str, str]) -> dict[str, str]:
    return {"page": str(page), **{key: value for key, value in filters.items() if value}}


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# --- responses → our types ----------------------------------------------------------------------


def payload(response: httpx.Response) -> object:
    """The decoded JSON body; None for an empty body or one that is not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def refusal(body: object) -> str | None:
    """The `msg` of a `{"msg": …}` failure body (sent with any status, DELETE with 200)."""
    if isinstance(body, dict) and isinstance(body.get("msg"), str):
        return str(body["msg"])
    return None


def failed(response: httpx.Response) -> bool:
    return response.status_code >= 400 or refusal(payload(response)) is not None


def opportunity(body: object, *, pipeline_id: str) -> Opportunity:
    """The seed's read shape → Opportunity; TransientCrmError when it is not one."""
    if not isinstance(body, dict) or not body.get("id"):
        raise TransientCrmError(
            "OnAutomate answered without an opportunity", code="UNEXPECTED_RESPONSE"
        )
    contact = body.get("contact")
    contact_id = contact.get("id") if isinstance(contact, dict) else None
    value = body.get("monetaryValue")
    return Opportunity(
        id=str(body["id"]),
        pipeline_id=str(body.get("pipelineId") or pipeline_id),
        title=str(body.get("name") or ""),
        stage_id=str(body.get("pipelineStageId") or ""),
        status=str(body.get("status") or ""),
        monetary_value=None if value is None else Decimal(str(value)),
        contact_id=None if contact_id is None else str(contact_id),
        source=None if body.get("source") is None else str(body["source"]),
    )


def created_id(response: httpx.Response) -> str | None:
    """The id of a create's answer; None when a 2xx came without one."""
    body = payload(response)
    if isinstance(body, dict) and body.get("id"):
        return str(body["id"])
    return None


def page(response: httpx.Response, *, pipeline_id: str) -> OpportunityPage:
    body = payload(response)
    items = body.get("opportunities") if isinstance(body, dict) else None
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(items, list) or not isinstance(meta, dict):
        raise TransientCrmError(
            f"OnAutomate answered {response.status_code} without opportunities and meta",
            code="UNEXPECTED_RESPONSE",
            status=response.status_code,
        )
    current = _page_number(meta.get("currentPage")) or 1
    return OpportunityPage(
        items=tuple(opportunity(item, pipeline_id=pipeline_id) for item in items),
        total=_page_number(meta.get("total")) or 0,
        page=current,
        next_page=_page_number(meta.get("nextPage")),
        prev_page=_page_number(meta.get("prevPage")),
    )


def _page_number(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


# --- failures → our errors ----------------------------------------------------------------------


def crm_error(response: httpx.Response) -> CrmError:
    """The one place an OnAutomate failure (any status, or a `{"msg"}` body) becomes ours."""
    status, body = response.status_code, payload(response)
    msg = refusal(body)
    where = f"{response.request.method} answered {status}"
    if status == 401 or msg == UNAUTHORIZED:
        return PermanentCrmError(
            f"OnAutomate {where}: {msg or UNAUTHORIZED} (check ONAUTOMATE_TOKEN)",
            code="UNAUTHORIZED",
            status=status,
        )
    if status == 429:
        retry = retry_after_s(response.headers.get("Retry-After"))
        text = f"OnAutomate {where}: {msg or 'Too Many Requests'}"
        return RateLimited(text, code="TOO_MANY_REQUESTS", retry_after=retry)
    if status >= 500 or status == 408:
        return TransientCrmError(
            f"OnAutomate {where}: {msg or 'server error'}", code="SERVER_ERROR", status=status
        )
    if status == 422:
        return validation_error(body)
    if status == 404 or msg == NOT_FOUND:
        return NotFound(f"OnAutomate {where}: {msg or NOT_FOUND}", code="NOT_FOUND", status=status)
    if status == 400 or msg is not None:
        return PermanentCrmError(
            f"OnAutomate {where}: {msg or BAD_REQUEST}", code="BAD_REQUEST", status=status
        )
    return PermanentCrmError(f"OnAutomate {where}", code=f"HTTP_{status}", status=status)


def validation_error(body: object) -> PermanentCrmError:
    """422 `{field: {message, rule}}` → DuplicateRecord for the duplicate rule, else
    PermanentCrmError VALIDATION whose message names every field and its message."""
    errors = _field_errors(body)
    for field, message, rule in errors:
        if field == DUPLICATE_FIELD or rule == DUPLICATE_RULE:
            return DuplicateRecord(
                f"OnAutomate refused a second opportunity for this contact: {message}",
                code="DUPLICATE_OPPORTUNITY",
                status=422,
            )
    listed = "; ".join(f"{field}: {message}" for field, message, _ in errors) or "HTTP 422"
    return PermanentCrmError(
        f"OnAutomate rejected the opportunity: {listed}", code="VALIDATION", status=422
    )


def _field_errors(body: object) -> list[tuple[str, str, str | None]]:
    """(field, message, rule) of each entry of a 422 body."""
    if not isinstance(body, dict):
        return []
    errors: list[tuple[str, str, str | None]] = []
    for field, entry in body.items():
        if isinstance(entry, dict):
            message = str(entry.get("message") or entry.get("rule") or "invalid")
            rule = entry.get("rule")
            errors.append((str(field), message, None if rule is None else str(rule)))
        else:
            errors.append((str(field), str(entry), None))
    return errors
