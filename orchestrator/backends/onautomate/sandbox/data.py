"""The OnAutomate sandbox's memory: one pipeline with its stages, contacts, opportunities (deleted
ones kept with a flag), and the rules OnAutomate enforces on a write, answered in its 422 shape.

Seed: the seed's pipeline `bCkKGpDsyPP4peuKowkG` with four stages (two of them the seed's ids),
the seed's John Deo (no opportunity yet) and Elon Musk, who already has the seed's "First Opp"
(for the duplicate rule: a contact may have one opportunity per pipeline unless
`allow_duplicates`).

Thread-safe: a uvicorn server thread and a test thread share one SandboxState.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from orchestrator.backends.onautomate.sandbox.faults import FaultPlan

Record = dict[str, Any]

SANDBOX_TOKEN = "onautomate-sandbox-token"
PIPELINE_ID = "bCkKGpDsyPP4peuKowkG"
STAGE_NEW = "7915dedc-8f18-44d5-8bc3-77c04e994a10"
STAGE_QUALIFIED = "8b897c8f-b859-49c1-88f2-ed590708a85c"
STAGE_PROPOSAL = "3c1f0a52-6d0e-4c8a-9f3e-2b7d51a9e6c4"
STAGE_CLOSED = "d2a94e17-58b3-4f06-a1c9-7e60f3b8c215"
STAGES = {
    STAGE_NEW: "New",
    STAGE_QUALIFIED: "Qualified",
    STAGE_PROPOSAL: "Proposal",
    STAGE_CLOSED: "Closed",
}
CONTACT_ID = "byMEV0NQinDhq8ZfiOi2"  # John Deo, john@deo.com: no opportunity yet
CONTACT_EMAIL = "john@deo.com"
TAKEN_CONTACT_ID = "mTkSCb1UBjb5tk4OvB69"  # Elon Musk, elon@musk.com: has "First Opp"
TAKEN_CONTACT_EMAIL = "elon@musk.com"
EXISTING_OPPORTUNITY_ID = "7XExm1wr8gFeZpl6rQny"
USER_ID = "hxHGVRb1YJUscrCB8eXK"
STATUSES = ("open", "won", "lost", "abandoned")

CONTACT_KEY = "contactId or email"  # the seed's key for "no contact named"
DUPLICATE = {
    "opportunity": {
        "message": "The contact already has an opportunity in this pipeline.",
        "rule": "duplicate",
    }
}
NOT_FOUND = {"msg": "Not Found"}
_WORDS = {
    "stageId": "stage id",
    "contactId": "contact id",
    "monetaryValue": "monetary value",
    "assignedTo": "assigned to",
    "companyName": "company name",
}
# fmt: off
_TEXT_FIELDS = ("title", "status", "stageId", "contactId", "email", "phone", "assignedTo", "name",
                "companyName", "source")
READ_KEYS = ("id", "name", "monetaryValue", "pipelineId", "pipelineStageId", "assignedTo",
             "status", "source", "lastStatusChangeAt", "createdAt", "updatedAt")  # then "contact"
# fmt: on
_ID_CHARS = string.ascii_letters + string.digits


class Rejected(Exception):
    """A call OnAutomate refuses: the HTTP status, OnAutomate's body, extra headers."""

    def __init__(self, status: int, body: object, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


def seed_contacts() -> list[Record]:
    tags = ["cillum sunt in enim", "ea"]
    return [
        _contact(CONTACT_ID, "John Deo", "Tesla Inc", CONTACT_EMAIL, "+1202-555-0107", tags),
        _contact(TAKEN_CONTACT_ID, "Elon Musk", "Tesla", TAKEN_CONTACT_EMAIL, "+1202-555-0199", []),
    ]


def _contact(
    contact_id: str, name: str, company: str, email: str, phone: str, tags: list[str]
) -> Record:
    return {"id": contact_id, "name": name, "companyName": company, "email": email,
            "phone": phone, "tags": tags}  # fmt: skip


def seed_opportunities() -> list[Record]:
    return [
        {
            "id": EXISTING_OPPORTUNITY_ID,
            "name": "First Opp",
            "monetaryValue": 120,
            "pipelineId": PIPELINE_ID,
            "pipelineStageId": STAGE_QUALIFIED,
            "assignedTo": USER_ID,
            "status": "open",
            "source": "form",
            "lastStatusChangeAt": "2020-10-29T09:39:35.472Z",
            "createdAt": "2020-10-29T09:31:30.255Z",
            "updatedAt": "2020-10-29T09:44:02.263Z",
            "contactId": TAKEN_CONTACT_ID,
            "deleted": False,
            "deletedAt": None,
        },
    ]


class SandboxState:
    """Pipelines, contacts, opportunities and faults; `app.state.sandbox`."""

    def __init__(self, *, allow_duplicates: bool = False) -> None:
        self.faults = FaultPlan()
        self._lock = threading.Lock()
        self.reset(allow_duplicates=allow_duplicates)

    def reset(self, *, allow_duplicates: bool = False) -> None:
        """Back to the seed: contacts, opportunities, faults, the duplicate rule."""
        with self._lock:
            self.allow_duplicates = allow_duplicates
            self._pipelines = {PIPELINE_ID: dict(STAGES)}
            self._contacts = {c["id"]: c for c in seed_contacts()}
            self._opportunities = {o["id"]: o for o in seed_opportunities()}
        self.faults.clear()

    def has_pipeline(self, pipeline_id: str) -> bool:
        return pipeline_id in self._pipelines

    # --- the API's operations ----------------------------------------------------------------

    def create(self, pipeline_id: str, body: object) -> Record:
        """Validate, find or create the contact, apply the duplicate rule, store."""
        fields = _object(body)
        with self._lock:
            self._check(pipeline_id, fields)
            contact_id = self._contact_for(pipeline_id, fields, updating=None)
            now = _now()
            stored: Record = {
                "id": _new_id(),
                "pipelineId": pipeline_id,
                "monetaryValue": None,
                "assignedTo": None,
                "source": None,
                "lastStatusChangeAt": now,
                "createdAt": now,
                "deleted": False,
                "deletedAt": None,
            }
            _apply(stored, fields, contact_id, now)
            self._opportunities[stored["id"]] = stored
            return self._view(stored)

    def update(self, pipeline_id: str, opportunity_id: str, body: object) -> Record:
        """PUT …/{id}: the create's rules; optional fields left out keep their values."""
        fields = _object(body)
        with self._lock:
            stored = self._live(pipeline_id, opportunity_id)
            self._check(pipeline_id, fields)
            contact_id = self._contact_for(pipeline_id, fields, updating=opportunity_id)
            _apply(stored, fields, contact_id, _now())
            return self._view(stored)

    def move(self, pipeline_id: str, opportunity_id: str, body: object) -> None:
        """PUT …/{id}/status: `status` and `stageId`, both mandatory and valid."""
        fields = _object(body)
        with self._lock:
            stored = self._live(pipeline_id, opportunity_id)
            errors = _stage_and_status(fields, self._pipelines[pipeline_id])
            if errors:
                raise Rejected(422, errors)
            now = _now()
            if stored["status"] != fields["status"]:
                stored["lastStatusChangeAt"] = now
            stored |= {"status": fields["status"], "pipelineStageId": fields["stageId"]}
            stored["updatedAt"] = now

    def get(self, pipeline_id: str, opportunity_id: str) -> Record:
        with self._lock:
            return self._view(self._live(pipeline_id, opportunity_id))

    def delete(self, pipeline_id: str, opportunity_id: str) -> bool:
        """Flag it deleted; False when there is no live opportunity of that id."""
        with self._lock:
            stored = self._opportunities.get(opportunity_id)
            if stored is None or stored["deleted"] or stored["pipelineId"] != pipeline_id:
                return False
            stored |= {"deleted": True, "deletedAt": _now()}
            return True

    def listing(self, pipeline_id: str) -> list[Record]:
        """The pipeline's live opportunities in the read shape, oldest first."""
        with self._lock:
            return [
                self._view(o)
                for o in self._opportunities.values()
                if o["pipelineId"] == pipeline_id and not o["deleted"]
            ]

    # --- for tests and the UI page -----------------------------------------------------------

    def opportunities(self, *, deleted: bool = True) -> list[Record]:
        """Every opportunity in the read shape plus `deleted` and `deletedAt`, oldest first."""
        with self._lock:
            return [
                self._view(o) | {"deleted": o["deleted"], "deletedAt": o["deletedAt"]}
                for o in self._opportunities.values()
                if deleted or not o["deleted"]
            ]

    def contacts(self) -> list[Record]:
        with self._lock:
            return copy.deepcopy(list(self._contacts.values()))

    def stage_name(self, pipeline_id: str, stage_id: str) -> str | None:
        return self._pipelines.get(pipeline_id, {}).get(stage_id)

    def snapshot(self) -> Record:
        return {"opportunities": self.opportunities(), "contacts": self.contacts()}

    # --- helpers (called with the lock held) -------------------------------------------------

    def _live(self, pipeline_id: str, opportunity_id: str) -> Record:
        stored = self._opportunities.get(opportunity_id)
        if stored is None or stored["deleted"] or stored["pipelineId"] != pipeline_id:
            raise Rejected(404, NOT_FOUND)
        return stored

    def _check(self, pipeline_id: str, fields: Record) -> None:
        errors = _stage_and_status(fields, self._pipelines[pipeline_id], title=True)
        if all(_blank(fields.get(key)) for key in ("contactId", "email", "phone")):
            errors[CONTACT_KEY] = {
                "message": "The contactId or email field is mandatory.",
                "rule": "required",
            }
        errors |= _typed(fields)
        contact_id = fields.get("contactId")
        if isinstance(contact_id, str) and contact_id and contact_id not in self._contacts:
            errors["contactId"] = _invalid("contactId")
        if errors:
            raise Rejected(422, errors)

    def _contact_for(self, pipeline_id: str, fields: Record, *, updating: str | None) -> str:
        """The contact's id (found by contactId, e-mail or phone, else created), after the
        duplicate rule: a found contact may have no other opportunity in the pipeline."""
        found = self._find_contact(fields)
        if found is not None and not self.allow_duplicates:
            for other in self._opportunities.values():
                if (other["pipelineId"], other["contactId"]) == (pipeline_id, found) and not (
                    other["deleted"] or other["id"] == updating
                ):
                    raise Rejected(422, DUPLICATE)
        return found if found is not None else self._new_contact(fields)

    def _find_contact(self, fields: Record) -> str | None:
        if fields.get("contactId"):
            return str(fields["contactId"])
        email, phone = fields.get("email"), fields.get("phone")
        for contact in self._contacts.values():
            if email and str(contact.get("email") or "").casefold() == str(email).casefold():
                return str(contact["id"])
            if not email and phone and contact.get("phone") == phone:
                return str(contact["id"])
        return None

    def _new_contact(self, fields: Record) -> str:
        contact: Record = {"id": _new_id()}
        for key in ("name", "companyName", "email", "phone"):
            contact[key] = fields.get(key) or None
        contact["tags"] = list(fields.get("tags") or [])
        self._contacts[contact["id"]] = contact
        return str(contact["id"])

    def _view(self, stored: Record) -> Record:
        """The seed's read shape of a stored opportunity, its contact inlined."""
        view = {key: copy.deepcopy(stored.get(key)) for key in READ_KEYS}
        view["contact"] = copy.deepcopy(self._contacts.get(stored["contactId"], {}))
        return view


# --- OnAutomate's write rules -------------------------------------------------------------------


def _object(body: object) -> Record:
    if not isinstance(body, dict):
        raise Rejected(400, {"msg": "Bad Request"})
    return body


def _blank(value: object) -> bool:
    return value is None or value == "" or value == []


def _words(field: str) -> str:
    return _WORDS.get(field, field)


def _required(field: str) -> Record:
    return {"message": f"The {_words(field)} field is mandatory.", "rule": "required"}


def _invalid(field: str) -> Record:
    return {"message": f"The {_words(field)} field is invalid.", "rule": "invalid"}


def _stage_and_status(fields: Record, stages: Mapping[str, str], *, title: bool = False) -> Record:
    """title (when asked), status and stageId: mandatory, then valid (the seed's order)."""
    checks: list[tuple[str, Collection[str] | None]] = [("status", STATUSES), ("stageId", stages)]
    if title:
        checks.insert(0, ("title", None))
    errors: Record = {}
    for field, allowed in checks:
        value = fields.get(field)
        if _blank(value):
            errors[field] = _required(field)
        elif not isinstance(value, str) or (allowed is not None and value not in allowed):
            errors[field] = _invalid(field)
    return errors


def _typed(fields: Record) -> Record:
    """Fields of the wrong type (or a malformed e-mail, a negative value): invalid."""
    errors: Record = {}
    for field in _TEXT_FIELDS:
        if not _blank(fields.get(field)) and not isinstance(fields[field], str):
            errors.setdefault(field, _invalid(field))
    email = fields.get("email")
    if isinstance(email, str) and email and "@" not in email:
        errors["email"] = _invalid("email")
    value = fields.get("monetaryValue")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or value < 0
    ):
        errors["monetaryValue"] = _invalid("monetaryValue")
    tags = fields.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        errors["tags"] = _invalid("tags")
    return errors


def _apply(stored: Record, fields: Record, contact_id: str, now: str) -> None:
    """The validated fields onto the stored opportunity; optional ones only when given."""
    if stored.get("status") not in (None, fields["status"]):
        stored["lastStatusChangeAt"] = now
    stored |= {
        "name": fields["title"],
        "status": fields["status"],
        "pipelineStageId": fields["stageId"],
        "contactId": contact_id,
        "updatedAt": now,
    }
    for key in ("monetaryValue", "assignedTo", "source"):
        if fields.get(key) is not None:
            stored[key] = fields[key]


def _new_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(20))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
