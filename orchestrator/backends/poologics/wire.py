"""Poologics JSON ↔ our types, and Poologics failures → our error tree. The only module with
Poologics' routes, field names, response shapes and error messages (API 1.0.0, seed 000).

What the seed shows is followed as shown. Where it is silent, these assumptions are pinned here
(and the sandbox, orchestrator/backends/poologics/sandbox, behaves exactly so):

1. Every route is `POST <url><route>` with a JSON body `{"params": {…}}` (the seed's samples);
   a body that is not such an object answers HTTP 400 `{"success": false, "error": "Bad
   Request"}`. Answers are the seed's bodies, bare; the adapter also accepts them inside an
   Odoo JSON-RPC envelope `{"jsonrpc": "2.0", "result": …}` (an envelope `error` is a
   permanent RPC_ERROR).
2. `/web/get/key` `{"login", "password"}` needs no key and answers `{"success": true,
   "api_key": "…"}` or the seed's four errors. Every other route carries the key in the header
   `API-KEY`; a missing or bad key answers HTTP 401 (Odoo's default HTML page, never read).
   `/check_key` `{}` answers `{"success": true}`. A key does not expire; it stops working only
   when revoked, and the next login then issues a new one.
3. `/web/dataset/create` `{"model": "crm.lead" | "res.partner", "values": {…}}` answers
   `{"model", "id", "name"}`, id an integer. A lead's values: contact_name (required), email,
   phone, mobile, street, city, zip, state, country, description, stage_id (a stage *name*,
   default "New"), name (default "<contact_name>'s Opportunity"); a contact's: name (required),
   email, phone, mobile, street, city, zip, state, country. Values are strings (null or "" =
   unset). Checked in this order: an unknown model → "Invalid field values provided…"; values
   missing or a required field missing → "Required fields are missing…"; an unknown field →
   "Unable to create opportunity|contact…" with err_msg "Invalid field '<f>' on model
   '<model>'"; a value that is not a string, a malformed email or an unknown stage → "Invalid
   field values provided…". A contact has no free-text field: the marker is not written to it.
4. The saga's marker goes into a lead's description: `"<description>\\n[<marker>]"`, or
   `"[<marker>]"` without one.
5. `/web/dataset/write` `{"model": "crm.lead", "values": {"record_id", "stage_id"}}` answers
   the create's shape. record_id is sent as an integer (a numeric string is accepted). Checked
   in this order: another model → "Unable to update opportunity…" (err_msg "Model '<m>' cannot
   be edited"); record_id missing → "…poologics_id is Required…"; stage_id missing → "Unable to
   update opportunity…" (err_msg "stage_id is Required."); the values by the create's rules (an
   unknown stage → "Invalid field values provided…"); then an unknown record_id → "…No record
   found…" (err_msg "No record found!"). Other lead fields in values are written too.
6. `/web/dataset/get` `{"model": "crm.lead", "record_id": id}` answers the lead itself, under
   the webhook's field names: poologics_id (a string), name, contact_name, email, description,
   street, city, zip, state, country, phone, mobile, stage (its name). Unset fields are null
   (Odoo's `false` is read as null too). An unknown id or model → "No record found with the
   given ID…".
7. `/zapier/integration` `{"trigger": "new_opportunity" | "new_contact" |
   "opportunity_stage_change", "action": "start" | "stop", "url"}` answers `{"success": true}`
   or the seed's errors (the trigger is checked first, then the action). Starting an existing
   subscription succeeds and keeps one; stopping one that does not exist succeeds (an
   idempotent unsubscribe); a url that is not http(s) → "Subscription failed…". The seed's
   "DELETE to stop" is also accepted: `DELETE /zapier/integration` with the same params means
   action "stop".
8. Webhooks: a `POST` to each subscribed url with the seed's output fields as the JSON body
   (opportunity events: the read shape of 6, the stage change included; contact events:
   poologics_id, name, email, phone, mobile, street, city, zip, state, country) and the headers
   `X-Poologics-Event: <trigger>` and `X-Poologics-Delivery: <id>`, one id per event (the same
   for every url and every retry of it). Sent after the create / write is stored:
   new_opportunity on a lead create, new_contact on a contact create, opportunity_stage_change
   on a write that changes the stage; retried with backoff (5 tries) while the receiver answers
   non-2xx or cannot be reached.
9. Errors are HTTP 200 `{"success": false, "error": "…", "err_msg"?: "…"}` with the seed's
   exact messages (ERRORS below, matched exactly, else by err_msg, else a permanent REFUSED).
10. The adapter's choices: the fetched key is cached in the TokenCache under
   `poologics:<login>@<url>` with expires_at ten years ahead (keys do not expire). A lead is
   found again only through a stored `new_opportunity` event whose payload holds the marker
   (no search API). A cancel whose write or read answers "No record found" is permanent
   LEAD_GONE, not done: the API cannot delete, so a person removed it and nothing shows it
   cancelled; a person decides.

Mapping (issue 18 pins it): "An unexpected error occurred…" → TransientCrmError (the only
documented message retried); "No record found with the given ID…" and the write's "No record
found" → NotFound; every other documented message → PermanentCrmError with its code. HTTP 401 →
PermanentCrmError UNAUTHORIZED (client.py first fetches a new key once, unless the key is
configured); 429 → RateLimited; 408 and 5xx → TransientCrmError; other 4xx → PermanentCrmError.
In client.py: not sent → TransientCrmError; sent but unanswered → OutcomeUnknown for a create or
write, TransientCrmError for the rest; a create answered without an id → OutcomeUnknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
from orchestrator.crm.leads import CONTACT, LEAD, Lead, LeadContact, NewLead

Json = dict[str, Any]

GET_KEY_PATH = "/web/get/key"
CHECK_KEY_PATH = "/check_key"
CREATE_PATH = "/web/dataset/create"
WRITE_PATH = "/web/dataset/write"
GET_PATH = "/web/dataset/get"
ZAPIER_PATH = "/zapier/integration"
KEY_HEADER = "API-KEY"
EVENT_HEADER = "X-Poologics-Event"
DELIVERY_HEADER = "X-Poologics-Delivery"

LEAD_MODEL, CONTACT_MODEL = "crm.lead", "res.partner"
MODELS = {LEAD: LEAD_MODEL, CONTACT: CONTACT_MODEL}  # RecordRef.kind → Poologics model
NEW_OPPORTUNITY, NEW_CONTACT = "new_opportunity", "new_contact"
STAGE_CHANGE = "opportunity_stage_change"
TRIGGERS = (NEW_OPPORTUNITY, NEW_CONTACT, STAGE_CHANGE)
START, STOP = "start", "stop"

_SUPPORT = "please try again or contact support@poologics.com"
UNEXPECTED = "An unexpected error occurred. Please contact support@poologics.com"
NOT_FOUND_MESSAGE = "No record found with the given ID. Please verify the ID and try again."
WRITE_NOT_FOUND = f'Unable to edit opportunity ("No record found."), {_SUPPORT}'
WRITE_NOT_FOUND_DETAIL = "No record found!"
RECORD_ID_REQUIRED = f'Unable to edit opportunity ("poologics_id is Required."), {_SUPPORT}'
RECORD_ID_REQUIRED_DETAIL = "poologics_id is Required."
_CREDENTIALS_HINT = " (check POOLOGICS_LOGIN and POOLOGICS_PASSWORD)"


@dataclass(frozen=True, slots=True)
class Documented:
    """One of the seed's error messages and what it becomes."""

    message: str
    code: str
    error: type[CrmError]
    hint: str = ""  # appended to our message for a person


ERRORS: tuple[Documented, ...] = (
    Documented(f"Invalid User, {_SUPPORT}", "INVALID_USER", PermanentCrmError, _CREDENTIALS_HINT),
    Documented(
        f"Invalid password, {_SUPPORT}", "INVALID_PASSWORD", PermanentCrmError, _CREDENTIALS_HINT
    ),
    Documented(f"No Api Key found, {_SUPPORT}", "NO_API_KEY", PermanentCrmError),
    Documented(UNEXPECTED, "UNEXPECTED_ERROR", TransientCrmError),
    Documented(
        f"Subscription failed, Wrong trigger integration, {_SUPPORT}",
        "WRONG_TRIGGER",
        PermanentCrmError,
    ),
    Documented(f"Unknown Error, {_SUPPORT}", "UNKNOWN_ACTION", PermanentCrmError),
    Documented(f"Subscription failed, {_SUPPORT}", "SUBSCRIPTION_FAILED", PermanentCrmError),
    Documented(f"Unsubscribe request failed, {_SUPPORT}", "UNSUBSCRIBE_FAILED", PermanentCrmError),
    Documented(
        "Required fields are missing. Please ensure all necessary data is provided.",
        "REQUIRED_FIELDS",
        PermanentCrmError,
    ),
    Documented(
        "Invalid field values provided. Please check the input and try again.",
        "INVALID_VALUES",
        PermanentCrmError,
    ),
    Documented(f"Unable to create contact, {_SUPPORT}", "CONTACT_NOT_CREATED", PermanentCrmError),
    Documented(
        f"Unable to create opportunity, {_SUPPORT}", "OPPORTUNITY_NOT_CREATED", PermanentCrmError
    ),
    Documented(RECORD_ID_REQUIRED, "RECORD_ID_REQUIRED", PermanentCrmError),
    Documented(WRITE_NOT_FOUND, "NOT_FOUND", NotFound),
    Documented(f"Unable to update opportunity, {_SUPPORT}", "UPDATE_FAILED", PermanentCrmError),
    Documented(NOT_FOUND_MESSAGE, "NOT_FOUND", NotFound),
    Documented(
        "An error occurred while retrieving records. Please try again or contact "
        "support@poologics.com",
        "RETRIEVE_FAILED",
        PermanentCrmError,
    ),
)
BY_MESSAGE = {documented.message: documented for documented in ERRORS}
BY_DETAIL = {  # err_msg → error, when the error text itself is not one of the seed's
    WRITE_NOT_FOUND_DETAIL: BY_MESSAGE[WRITE_NOT_FOUND],
    RECORD_ID_REQUIRED_DETAIL: BY_MESSAGE[RECORD_ID_REQUIRED],
}

_LEAD_FIELDS = ("street", "city", "zip", "state", "country")


# --- request params -----------------------------------------------------------------------------


def body(params: Json) -> Json:
    return {"params": params}


def login_params(login: str, password: str) -> Json:
    return {"login": login, "password": password}


def marked_description(description: str | None, marker: str) -> str:
    """The description a lead is created with: the input's, then the marker in brackets."""
    return f"{description}\n[{marker}]" if description else f"[{marker}]"


def contact_values(contact: LeadContact) -> Json:
    """A res.partner's values under the seed's field names, without None or empty values."""
    fields: Json = {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "mobile": contact.mobile,
        **{key: getattr(contact, key) for key in _LEAD_FIELDS},
    }
    return _filled(fields)


def lead_values(new: NewLead, *, marker: str) -> Json:
    """A crm.lead's values: the contact's fields, the marked description, the stage by name."""
    contact = contact_values(new.contact)
    fields: Json = {
        "contact_name": contact.pop("name"),
        **contact,
        "description": marked_description(new.description, marker),
        "stage_id": new.stage,
    }
    return _filled(fields)


def create_params(model: str, values: Json) -> Json:
    return {"model": model, "values": values}


def record_id(value: str) -> int | str:
    """Our RecordRef id as Poologics' integer id (a non-numeric one is sent as it is)."""
    return int(value) if value.isdigit() else value


def stage_params(record: str, stage: str) -> Json:
    return {"model": LEAD_MODEL, "values": {"record_id": record_id(record), "stage_id": stage}}


def get_params(record: str) -> Json:
    return {"model": LEAD_MODEL, "record_id": record_id(record)}


def zapier_params(trigger: str, action: str, url: str) -> Json:
    return {"trigger": trigger, "action": action, "url": url}


def _filled(fields: Json) -> Json:
    return {key: value for key, value in fields.items() if value not in (None, "")}


# --- responses → our types ----------------------------------------------------------------------


def payload(response: httpx.Response) -> object:
    """The decoded JSON body (out of a JSON-RPC envelope's `result`); None when not JSON."""
    if not response.content:
        return None
    try:
        decoded: object = response.json()
    except ValueError:
        return None
    if isinstance(decoded, dict) and "jsonrpc" in decoded and "result" in decoded:
        return decoded["result"]
    return decoded


def failed(response: httpx.Response) -> bool:
    body = payload(response)
    refused = isinstance(body, dict) and (body.get("success") is False or _rpc_error(body))
    return response.status_code >= 400 or refused


def issued_key(body: object) -> str | None:
    """The api_key of /web/get/key's success body."""
    if isinstance(body, dict) and body.get("success") is True:
        key = body.get("api_key")
        if isinstance(key, str) and key:
            return key
    return None


def succeeded(body: object) -> bool:
    """`{"success": true}` (/check_key, /zapier/integration)."""
    return isinstance(body, dict) and body.get("success") is True


def created_id(body: object) -> str | None:
    """The id of a create's (or write's) `{"model", "id", "name"}`; None without one."""
    if isinstance(body, dict):
        value = body.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.isdigit():
            return value
    return None


def lead(body: object) -> Lead:
    """/web/dataset/get's lead → Lead; TransientCrmError when it is not one."""
    lead_id = event_lead_id(body) if isinstance(body, dict) else None
    if lead_id is None or not isinstance(body, dict):
        raise TransientCrmError("Poologics answered without a lead", code="UNEXPECTED_RESPONSE")
    return Lead(
        id=lead_id,
        name=_text(body.get("name")) or "",
        stage=_text(body.get("stage")) or "",
        contact_name=_text(body.get("contact_name")),
        email=_text(body.get("email")),
        description=_text(body.get("description")),
    )


def event_lead_id(event: dict[str, Any]) -> str | None:
    """The poologics_id of a lead (a webhook payload or get's answer), as a string."""
    value = event.get("poologics_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _text(value: object) -> str | None:
    """A field's text; None for null, Odoo's `false` and "" ."""
    if value is None or value is False or value == "":
        return None
    return str(value)


# --- failures → our errors ----------------------------------------------------------------------


def crm_error(response: httpx.Response, route: str) -> CrmError:
    """The one place a Poologics failure (a status, or a `success: false` body) becomes ours."""
    status, body = response.status_code, payload(response)
    where = f"Poologics {route} answered {status}"
    if status == 401:
        return PermanentCrmError(
            f"{where}: the API key was refused (check POOLOGICS_API_KEY, or POOLOGICS_LOGIN and "
            "POOLOGICS_PASSWORD)",
            code="UNAUTHORIZED",
            status=status,
        )
    if status == 429:
        retry = retry_after_s(response.headers.get("Retry-After"))
        return RateLimited(
            f"{where}: too many requests", code="TOO_MANY_REQUESTS", retry_after=retry
        )
    if status >= 500 or status == 408:
        return TransientCrmError(f"{where}: server error", code="SERVER_ERROR", status=status)
    if status >= 400:
        code = "BAD_REQUEST" if status == 400 else f"HTTP_{status}"
        return PermanentCrmError(f"{where}: {_error_text(body) or code}", code=code, status=status)
    if isinstance(body, dict) and _rpc_error(body):
        return PermanentCrmError(f"{where}: {_rpc_message(body)}", code="RPC_ERROR", status=status)
    return refusal(body, route=route, status=status)


def refusal(body: object, *, route: str, status: int | None = 200) -> CrmError:
    """A `{"success": false, "error", "err_msg"?}` body → the typed error of ERRORS."""
    text = _error_text(body) or "no error message"
    detail = body.get("err_msg") if isinstance(body, dict) else None
    detail_text = detail if isinstance(detail, str) and detail else None
    documented = BY_MESSAGE.get(text.strip()) or BY_DETAIL.get((detail_text or "").strip())
    said = f"{text} ({detail_text})" if detail_text else text
    if documented is None:
        return PermanentCrmError(f"Poologics {route}: {said}", code="REFUSED", status=status)
    return documented.error(
        f"Poologics {route}: {said}{documented.hint}", code=documented.code, status=status
    )


def _error_text(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return None


def _rpc_error(body: Json) -> bool:
    return "jsonrpc" in body and isinstance(body.get("error"), dict)


def _rpc_message(body: Json) -> str:
    error: Json = body["error"]
    data = error.get("data")
    message = data.get("message") if isinstance(data, dict) else None
    return str(message or error.get("message") or "JSON-RPC error")


def read_event(
    trigger: str, headers: Mapping[str, str], payload: dict[str, Any]
) -> tuple[str | None, str | None]:
    """A pushed event's (delivery id, record id): the X-Poologics-Delivery header (our
    assumption; none from a Poologics that sends none) and `poologics_id`, which every trigger's
    output carries. ValueError names what is missing."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of: {', '.join(TRIGGERS)}")
    record = payload.get("poologics_id")
    if isinstance(record, bool) or not isinstance(record, str | int) or str(record) == "":
        raise ValueError("poologics_id is required: the id of the record the event is about")
    if trigger != NEW_CONTACT and not isinstance(payload.get("stage"), str):
        raise ValueError("stage is required in an opportunity event")
    delivery = headers.get(DELIVERY_HEADER.lower()) or headers.get(DELIVERY_HEADER)
    return (delivery[:255] if delivery else None), str(record)
