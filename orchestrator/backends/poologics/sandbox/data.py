"""The Poologics sandbox's memory: users and their API keys, stages, contacts (res.partner),
leads (crm.lead), webhook subscriptions, and the rules Poologics enforces on a write, answered
with the seed's error bodies (HTTP 200 `{"success": false, …}`).

Seed: the user SANDBOX_LOGIN / SANDBOX_PASSWORD with the key SANDBOX_API_KEY (revocable: the
next login then issues a new key) and NO_KEY_LOGIN, a user without a key ("No Api Key found");
the stages New, Lead, Qualified, Proposition, Won, Lost; three contacts (4301–4303) and one
lead (492), so the next ids are the seed's samples (contact 4304, lead 493).

Thread-safe: a uvicorn server thread, the webhook thread and a test thread share one state.
"""

from __future__ import annotations

import copy
import itertools
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from orchestrator.backends.poologics.sandbox.faults import FaultPlan, error_body
from orchestrator.backends.poologics.sandbox.webhooks import (
    DEFAULT_BACKOFF_S,
    DEFAULT_TRIES,
    Webhooks,
)

Record = dict[str, Any]

SANDBOX_LOGIN = "sandbox@poologics.test"
SANDBOX_PASSWORD = "poologics-sandbox-password"
SANDBOX_API_KEY = "poologics-sandbox-api-key"  # the sandbox user's key until it is revoked
NO_KEY_LOGIN = "nokey@poologics.test"  # a user with no API key: "No Api Key found"
NO_KEY_PASSWORD = "poologics-nokey-password"
STAGES = ("New", "Lead", "Qualified", "Proposition", "Won", "Lost")
DEFAULT_STAGE = "New"
LEAD_MODEL, CONTACT_MODEL = "crm.lead", "res.partner"
NEW_OPPORTUNITY, NEW_CONTACT = "new_opportunity", "new_contact"
STAGE_CHANGE = "opportunity_stage_change"
TRIGGERS = (NEW_OPPORTUNITY, NEW_CONTACT, STAGE_CHANGE)
CONTACT_ID, LEAD_ID = 4301, 492  # John Doe, and "Azure Interior's Opportunity" (Qualified)

_ADDRESS = ("street", "city", "zip", "state", "country")
CONTACT_FIELDS = ("name", "email", "phone", "mobile", *_ADDRESS)
LEAD_FIELDS = ("contact_name", "email", "phone", "mobile", *_ADDRESS, "description", "stage_id",
               "name")  # fmt: skip
LEAD_KEYS = ("poologics_id", "name", "contact_name", "email", "description", *_ADDRESS, "phone",
             "mobile", "stage")  # fmt: skip
CONTACT_KEYS = ("poologics_id", *CONTACT_FIELDS)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Rejected(Exception):
    """A call Poologics refuses: the HTTP status, its body (None: Odoo's 401 page), headers."""

    def __init__(
        self, status: int, body: Record | None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def refused(name: str, err_msg: str | None = None) -> Rejected:
    """The seed's error `name` (faults.ERRORS), as Poologics answers it: HTTP 200."""
    return Rejected(200, error_body(name, err_msg))


def seed_contacts() -> list[Record]:
    return [
        _contact(CONTACT_ID, "John Doe", "john@example.com", "Springfield", "12345"),
        _contact(4302, "Azure Interior", "azure.interior24@example.com", "Fremont", "94538"),
        _contact(4303, "Deco Addict", "deco.addict82@example.com", "Pleasant Hill", "94523"),
    ]


def _contact(contact_id: int, name: str, email: str, city: str, zip_code: str) -> Record:
    return {"id": contact_id, "name": name, "email": email, "phone": "1234567890",
            "mobile": "0987654321", "street": "123 St", "city": city, "zip": zip_code,
            "state": "California", "country": "United States"}  # fmt: skip


def seed_leads() -> list[Record]:
    contact = seed_contacts()[1]
    fields = {key: contact[key] for key in ("email", "phone", "mobile", *_ADDRESS)}
    return [{"id": LEAD_ID, "name": "Azure Interior's Opportunity", "contact_name": contact["name"],
             "description": "Details", "stage": "Qualified", **fields}]  # fmt: skip


def _users() -> dict[str, Record]:
    return {
        SANDBOX_LOGIN: {"password": SANDBOX_PASSWORD, "key": SANDBOX_API_KEY, "issues_keys": True},
        NO_KEY_LOGIN: {"password": NO_KEY_PASSWORD, "key": None, "issues_keys": False},
    }


class SandboxState:
    """Users, stages, records, subscriptions, webhook deliveries and faults; `app.state.sandbox`.
    `logins` counts keys handed out by /web/get/key, `key_checks` answered /check_key calls."""

    def __init__(
        self, *, webhook_tries: int = DEFAULT_TRIES, webhook_backoff_s: float = DEFAULT_BACKOFF_S
    ) -> None:
        self.faults = FaultPlan()
        self.webhooks = Webhooks(tries=webhook_tries, backoff_s=webhook_backoff_s)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to the seed: users and keys, records, subscriptions, deliveries, faults."""
        with self._lock:
            self._users = _users()
            self._stages = list(STAGES)
            self._contacts = {c["id"]: c for c in seed_contacts()}
            self._leads = {lead["id"]: lead for lead in seed_leads()}
            self._ids: dict[str, Iterator[int]] = {
                CONTACT_MODEL: itertools.count(max(self._contacts) + 1),
                LEAD_MODEL: itertools.count(max(self._leads) + 1),
            }
            self._subscriptions: dict[str, list[str]] = {trigger: [] for trigger in TRIGGERS}
            self.logins = 0
            self.key_checks = 0
        self.faults.clear()
        self.webhooks.reset()

    def close(self) -> None:
        """Stop the webhook thread."""
        self.webhooks.close()

    # --- keys ---------------------------------------------------------------------------------

    def get_key(self, params: Record) -> Record:
        """/web/get/key: the user's key (a new one after a revoke), or the seed's errors."""
        login, password = params.get("login"), params.get("password")
        with self._lock:
            user = self._users.get(login) if isinstance(login, str) else None
            if user is None:
                raise refused("invalid_user")
            if not isinstance(password, str) or not secrets.compare_digest(
                password.encode(), str(user["password"]).encode()
            ):
                raise refused("invalid_password")
            if user["key"] is None and user["issues_keys"]:
                user["key"] = f"pk_{secrets.token_hex(16)}"
            if user["key"] is None:
                raise refused("no_api_key")
            self.logins += 1
            return {"success": True, "api_key": user["key"]}

    def key_valid(self, key: str) -> bool:
        with self._lock:
            keys = [str(user["key"]) for user in self._users.values() if user["key"]]
        return any(secrets.compare_digest(key.encode(), known.encode()) for known in keys)

    def check_key(self) -> Record:
        with self._lock:
            self.key_checks += 1
        return {"success": True}

    def revoke_key(self, login: str = SANDBOX_LOGIN) -> None:
        """The user's current key stops working; their next login issues a new one."""
        with self._lock:
            self._users[login]["key"] = None

    # --- records ------------------------------------------------------------------------------

    def create(self, params: Record) -> Record:
        """/web/dataset/create of a crm.lead or res.partner; then its event."""
        model, values = params.get("model"), params.get("values")
        if model not in (LEAD_MODEL, CONTACT_MODEL):
            raise refused("invalid_values")
        lead = model == LEAD_MODEL
        fields = _validated(values, lead=lead, stages=self._stages, unknown=_unknown_create(lead))
        with self._lock:
            stored: Record = {"id": next(self._ids[str(model)])}
            if lead:
                stored |= _new_lead(fields)
                self._leads[stored["id"]] = stored
            else:
                stored |= {key: fields.get(key) for key in CONTACT_FIELDS}
                self._contacts[stored["id"]] = stored
            view = _lead_view(stored) if lead else _contact_view(stored)
        self._event(NEW_OPPORTUNITY if lead else NEW_CONTACT, view)
        return {"model": model, "id": stored["id"], "name": stored["name"]}

    def write(self, params: Record) -> Record:
        """/web/dataset/write of a crm.lead (record_id, stage_id …); then the stage's event."""
        model, values = params.get("model"), params.get("values")
        if model != LEAD_MODEL:
            raise refused("update_failed", f"Model '{model}' cannot be edited")
        if not isinstance(values, dict) or values.get("record_id") in (None, ""):
            raise refused("record_id_required")
        changes = {key: value for key, value in values.items() if key != "record_id"}
        if changes.get("stage_id") in (None, ""):
            raise refused("update_failed", "stage_id is Required.")
        fields = _validated(
            changes, lead=True, stages=self._stages, unknown="update_failed", create=False
        )
        with self._lock:
            stored = self._leads.get(_int_id(values["record_id"]))
            if stored is None:
                raise refused("record_not_found")
            moved = stored["stage"] != fields["stage_id"]
            stored |= {key: value for key, value in fields.items() if key != "stage_id"}
            stored["stage"] = fields["stage_id"]
            view = _lead_view(stored)
        if moved:
            self._event(STAGE_CHANGE, view)
        return {"model": LEAD_MODEL, "id": stored["id"], "name": stored["name"]}

    def get(self, params: Record) -> Record:
        """/web/dataset/get of a crm.lead: its read shape."""
        with self._lock:
            stored = self._leads.get(_int_id(params.get("record_id")))
            if params.get("model") != LEAD_MODEL or stored is None:
                raise refused("not_found")
            return _lead_view(stored)

    # --- webhooks -----------------------------------------------------------------------------

    def zapier(self, params: Record, *, action: str | None = None) -> Record:
        """/zapier/integration: start or stop a subscription (both idempotent)."""
        trigger, url = params.get("trigger"), params.get("url")
        action = action if action is not None else params.get("action")
        if trigger not in TRIGGERS:
            raise refused("wrong_trigger")
        if action not in ("start", "stop"):
            raise refused("unknown_action")
        with self._lock:
            urls = self._subscriptions[str(trigger)]
            if action == "start":
                if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
                    raise refused("subscription_failed")
                if url not in urls:
                    urls.append(url)
            elif not isinstance(url, str) or not url:
                raise refused("unsubscribe_failed")
            elif url in urls:
                urls.remove(url)
        return {"success": True}

    def _event(self, trigger: str, view: Record) -> None:
        with self._lock:
            urls = list(self._subscriptions[trigger])
        if urls:
            self.webhooks.send(trigger, view, urls)

    # --- for tests, the control routes and the UI page ------------------------------------------

    def leads(self) -> list[Record]:
        with self._lock:
            return [_lead_view(lead) for lead in self._leads.values()]

    def contacts(self) -> list[Record]:
        with self._lock:
            return [_contact_view(contact) for contact in self._contacts.values()]

    def subscriptions(self) -> dict[str, list[str]]:
        with self._lock:
            return copy.deepcopy(self._subscriptions)

    def deliveries(self) -> list[Record]:
        """Every webhook try so far (webhooks.Webhooks.attempts)."""
        return self.webhooks.attempts()

    def record(self, model: str, record_id: str) -> Record | None:
        """A lead or contact in its read shape, for the UI page."""
        with self._lock:
            table = self._leads if model == LEAD_MODEL else self._contacts
            found = table.get(_int_id(record_id)) if model in (LEAD_MODEL, CONTACT_MODEL) else None
            if found is None:
                return None
            return _lead_view(found) if model == LEAD_MODEL else _contact_view(found)

    def snapshot(self) -> Record:
        return {"leads": self.leads(), "contacts": self.contacts(),
                "subscriptions": self.subscriptions(), "deliveries": self.deliveries(),
                "logins": self.logins, "key_checks": self.key_checks}  # fmt: skip


# --- Poologics' write rules ---------------------------------------------------------------------


def _unknown_create(lead: bool) -> str:
    return "opportunity_failed" if lead else "contact_failed"


def _validated(
    values: object, *, lead: bool, stages: list[str], unknown: str, create: bool = True
) -> Record:
    """Required fields (of a create), then unknown fields, then values (strings; email; stage
    by name)."""
    if not isinstance(values, dict):
        raise refused("required_fields")
    required = "contact_name" if lead else "name"
    if create and values.get(required) in (None, ""):
        raise refused("required_fields")
    allowed, model = (LEAD_FIELDS, LEAD_MODEL) if lead else (CONTACT_FIELDS, CONTACT_MODEL)
    for key in values:
        if key not in allowed:
            raise refused(unknown, f"Invalid field '{key}' on model '{model}'")
    fields = {key: value for key, value in values.items() if value not in (None, "")}
    if not all(isinstance(value, str) for value in fields.values()):
        raise refused("invalid_values")
    if "email" in fields and not _EMAIL.match(fields["email"]):
        raise refused("invalid_values")
    if "stage_id" in fields and fields["stage_id"] not in stages:
        raise refused("invalid_values")
    return fields


def _new_lead(fields: Record) -> Record:
    stored = {key: fields.get(key) for key in LEAD_FIELDS if key not in ("stage_id", "name")}
    stored["name"] = fields.get("name") or f"{fields['contact_name']}'s Opportunity"
    stored["stage"] = fields.get("stage_id") or DEFAULT_STAGE
    return stored


def _int_id(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _lead_view(stored: Record) -> Record:
    """The read shape of a lead (get's answer and the opportunity events' body)."""
    return {"poologics_id": str(stored["id"])} | {key: stored.get(key) for key in LEAD_KEYS[1:]}


def _contact_view(stored: Record) -> Record:
    return {"poologics_id": str(stored["id"])} | {key: stored.get(key) for key in CONTACT_KEYS[1:]}
