"""The Zoho sandbox's memory: records per module, the seed (seed 002's contact, account, products),
issued OAuth tokens, and the record rules Zoho enforces on insert (mandatory fields, lookups).

Search index lag: `search_lag_s` (constructor argument or plain attribute, read at every search)
hides records created less than that many seconds ago from `search`, as Zoho's index delay does
(shared/reference/zoho-crm.md 2.5). `get` and `query` (COQL) always see every live record.

Thread-safe: a uvicorn server thread and a test thread share one SandboxState.
"""

from __future__ import annotations

import copy
import itertools
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from orchestrator.backends.zoho.sandbox.faults import FaultPlan

Record = dict[str, Any]

SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"
SANDBOX_REFRESH_TOKEN = "sandbox-refresh-token"

CONTACT_ID = "550428000008877665"
ACCOUNT_ID = "550428000002233445"
NO_ACCOUNT_CONTACT_ID = "550428000008877001"  # a contact without an Account_Name lookup
PRODUCT_IDS = (
    "550428000000111222",
    "550428000000333444",
    "550428000000555666",
    "550428000000777888",
)
INACTIVE_PRODUCT_ID = "550428000000999000"

MODULES = ("Contacts", "Accounts", "Products", "Deals", "Quotes", "Sales_Orders")
NAME_FIELDS = {
    "Contacts": "Full_Name",
    "Accounts": "Account_Name",
    "Products": "Product_Name",
    "Deals": "Deal_Name",
    "Quotes": "Subject",
    "Sales_Orders": "Subject",
}
MANDATORY = {
    "Contacts": ("Last_Name",),
    "Accounts": ("Account_Name",),
    "Products": ("Product_Name",),
    "Deals": ("Deal_Name", "Stage"),
    "Quotes": ("Subject", "Quoted_Items"),
    "Sales_Orders": ("Subject", "Ordered_Items"),
}
_PARTIES = {"Contact_Name": "Contacts", "Account_Name": "Accounts"}
LOOKUPS: dict[str, dict[str, str]] = {
    "Contacts": {"Account_Name": "Accounts"},
    "Deals": _PARTIES,
    "Quotes": {"Deal_Name": "Deals", **_PARTIES},
    "Sales_Orders": {"Deal_Name": "Deals", "Quote_Name": "Quotes", **_PARTIES},
}
LINE_ITEMS = {"Quotes": "Quoted_Items", "Sales_Orders": "Ordered_Items"}
SANDBOX_USER = {"name": "Sandbox User", "id": "550428000000235011"}
TOKEN_WINDOW_S = 600.0  # Zoho counts token refreshes per 10 minutes

_STREET = "Tahtalı Mah. Kiteyol Sok. No: 24"
_ADDRESS = {
    "Street": _STREET,
    "City": "Bursa",
    "State": "Nilüfer",
    "Code": "16110",
    "Country": "Türkiye",
}
_ACCOUNT_NAME = "Poligon Mühendislik San. ve Tic. Ltd. Şti."


def seed_records() -> dict[str, list[Record]]:
    """Seed 002's contact and account, four active products and one inactive product."""
    account: Record = {
        "id": ACCOUNT_ID,
        "Account_Name": _ACCOUNT_NAME,
        "Phone": "+90 224 000 00 00",
    }
    for prefix in ("Billing", "Shipping"):
        account |= {f"{prefix}_{key}": value for key, value in _ADDRESS.items()}
    lookup = {"id": ACCOUNT_ID, "name": _ACCOUNT_NAME}
    contacts: list[Record] = [
        _contact("550428000008877002", "Ayşe", "Yılmaz", "ayse@poligonmuhendislik.com", lookup)
        | {"Secondary_Email": "info@poligonmuhendislik.com"},
        _contact(CONTACT_ID, "Poligon", "Mühendislik", "info@poligonmuhendislik.com", lookup),
        _contact(NO_ACCOUNT_CONTACT_ID, "Walk-in", "Customer", "walkin@example.com", None),
    ]
    products = [
        _product(PRODUCT_IDS[0], "Industrial Sensor PX-100", 100.0, active=True),
        _product(PRODUCT_IDS[1], "Mounting Bracket MB-40", 40.0, active=True),
        _product(PRODUCT_IDS[2], "Control Unit CU-250", 250.0, active=True),
        _product(PRODUCT_IDS[3], "Cable Set CS-12", 12.5, active=True),
        _product(INACTIVE_PRODUCT_ID, "Legacy Gateway LG-75", 75.0, active=False),
    ]
    return {"Contacts": contacts, "Accounts": [account], "Products": products}


def _contact(record_id: str, first: str, last: str, email: str, account: Record | None) -> Record:
    record: Record = {
        "id": record_id,
        "First_Name": first,
        "Last_Name": last,
        "Full_Name": f"{first} {last}",
        "Email": email,
        "Account_Name": account,
    }
    return record


def _product(record_id: str, name: str, price: float, *, active: bool) -> Record:
    return {
        "id": record_id,
        "Product_Name": name,
        "Product_Code": name.rsplit(" ", 1)[-1],
        "Unit_Price": price,
        "Product_Active": active,
        "Qty_in_Stock": 50.0,
        "Taxable": False,
        "Tax": [],
    }


class SandboxState:
    """Records per module (live and recycle bin), tokens, faults; `app.state.sandbox`."""

    def __init__(
        self, *, refresh_limit: int = 1000, token_ttl_s: int = 3600, search_lag_s: float = 0.0
    ) -> None:
        self.refresh_limit = refresh_limit  # token grants allowed per 10 minutes
        self.token_ttl_s = token_ttl_s
        self.search_lag_s = search_lag_s  # search misses records younger than this
        self.faults = FaultPlan()
        self._lock = threading.Lock()
        self._ids = itertools.count(550428000030000001)
        self.reset()

    def reset(self) -> None:
        """Back to the seed: records, recycle bin, tokens and faults."""
        with self._lock:
            self._live: dict[str, dict[str, Record]] = {module: {} for module in MODULES}
            self._deleted: dict[str, dict[str, Record]] = {module: {} for module in MODULES}
            for module, records in seed_records().items():
                for record in records:
                    self._live[module][record["id"]] = record | {"_meta": {"seed": True}}
            self._created: dict[str, float] = {}  # id → time.monotonic() at creation (not seeds)
            self._tokens: dict[str, float] = {}
            self._refresh_valid = True
            self._grants: deque[float] = deque()
            self.tokens_issued = 0
        self.faults.clear()

    # --- OAuth -------------------------------------------------------------------------------

    def grant(self, client_id: str, client_secret: str, refresh_token: str) -> Record:
        """The token endpoint's body for a refresh-token grant (errors included, as Zoho does)."""
        if (client_id, client_secret) != (SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET):
            return {"error": "invalid_client"}
        now = time.time()
        with self._lock:
            if refresh_token != SANDBOX_REFRESH_TOKEN or not self._refresh_valid:
                return {"error": "invalid_code"}
            while self._grants and self._grants[0] < now - TOKEN_WINDOW_S:
                self._grants.popleft()
            if len(self._grants) >= self.refresh_limit:
                return {
                    "error": "Access Denied",
                    "error_description": "You have made too many requests continuously. "
                    "Please try again after some time.",
                }
            self._grants.append(now)
            self.tokens_issued += 1
            token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
            self._tokens[token] = now + self.token_ttl_s
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl_s}

    def token_valid(self, token: str) -> bool:
        with self._lock:
            return self._tokens.get(token, 0.0) > time.time()

    def revoke_access_tokens(self) -> None:
        """Every issued access token stops working; a refresh yields a working one."""
        with self._lock:
            self._tokens.clear()

    def revoke_refresh_token(self) -> None:
        """The refresh token and its access tokens stop working (token endpoint: invalid_code)."""
        with self._lock:
            self._refresh_valid = False
            self._tokens.clear()

    # --- records -----------------------------------------------------------------------------

    def get(self, module: str, record_id: str) -> Record | None:
        """The live record as the API returns it (no `_meta`), or None."""
        with self._lock:
            record = self._live[module].get(record_id)
            return None if record is None else _public(record)

    def search(self, module: str, matches: Callable[[Record], bool]) -> list[Record]:
        """Live records `matches` accepts and the index already holds (older than
        `search_lag_s`), without subforms (as Zoho lists them); at most 200."""
        indexed_before = time.monotonic() - self.search_lag_s
        with self._lock:
            found = [
                _listed(r)
                for r in self._live[module].values()
                if self._created.get(r["id"], -math.inf) <= indexed_before and matches(r)
            ]
        return found[:200]

    def query(self, module: str, matches: Callable[[Record], bool]) -> list[Record]:
        """Live records `matches` accepts, with no index lag (COQL), in id order, without
        subforms."""
        with self._lock:
            found = [_listed(r) for r in self._live[module].values() if matches(r)]
        return sorted(found, key=lambda record: (len(record["id"]), record["id"]))

    def insert(self, module: str, record: Record, *, index: int, trigger: object) -> Record:
        """Validate and store one record; returns its per-record result entry."""
        with self._lock:
            error = _validate(module, record, index, self._live)
            if error is not None:
                return error
            stored = self._enrich(module, copy.deepcopy(record))
            stored |= _system_fields(str(next(self._ids)))
            stored["_meta"] = {"trigger": copy.deepcopy(trigger)}
            self._live[module][stored["id"]] = stored
            self._created[stored["id"]] = time.monotonic()
        details = {key: stored[key] for key in ("Modified_Time", "Modified_By", "Created_Time")}
        details |= {"id": stored["id"], "Created_By": SANDBOX_USER}
        return {
            "code": "SUCCESS",
            "details": details,
            "message": "record added",
            "status": "success",
        }

    def add(self, module: str, fields: Record) -> str:
        """Store a record without validation (test set-up); returns its id."""
        with self._lock:
            record = copy.deepcopy(fields) | _system_fields(str(next(self._ids)))
            self._live[module][record["id"]] = record | {"_meta": {"added": True}}
            self._created[record["id"]] = time.monotonic()
            return str(record["id"])

    def delete(self, module: str, record_id: str, *, wf_trigger: str | None) -> Record:
        """Move a live record to the recycle bin; returns its per-record result entry."""
        with self._lock:
            record = self._live[module].pop(record_id, None)
            if record is not None:
                meta = record.setdefault("_meta", {})
                meta |= {"wf_trigger": wf_trigger, "deleted_time": _now()}
                self._deleted[module][record_id] = record
        code, message, status = (
            ("SUCCESS", "record deleted", "success")
            if record is not None
            else ("INVALID_DATA", "record not deleted", "error")
        )
        return {"code": code, "details": {"id": record_id}, "message": message, "status": status}

    def records(self, module: str) -> list[Record]:
        """Live records of `module`, with `_meta`, in insertion order."""
        with self._lock:
            return copy.deepcopy(list(self._live[module].values()))

    def deleted(self, module: str) -> list[Record]:
        """The recycle bin of `module`, with `_meta` (trigger, wf_trigger, deleted_time)."""
        with self._lock:
            return copy.deepcopy(list(self._deleted[module].values()))

    def snapshot(self) -> Record:
        """Everything, for GET /__sandbox__/records."""
        modules: dict[str, Record] = {}
        for module in MODULES:
            live, gone = self.records(module), self.deleted(module)
            modules[module] = {
                "count": len(live),
                "deleted_count": len(gone),
                "records": live,
                "deleted": gone,
            }
        return {"modules": modules, "tokens_issued": self.tokens_issued}

    def _enrich(self, module: str, record: Record) -> Record:
        """Lookups get the target's name and lines get ids, as Zoho returns them."""
        for field, target in LOOKUPS.get(module, {}).items():
            if isinstance(record.get(field), dict):
                record[field] = self._named(target, record[field]["id"])
        for line in record.get(LINE_ITEMS.get(module, ""), []):
            line["Product_Name"] = self._named("Products", line["Product_Name"]["id"])
            line["id"] = str(next(self._ids))
        if module == "Contacts":
            record["Full_Name"] = f"{record.get('First_Name') or ''} {record['Last_Name']}".strip()
        return record

    def _named(self, module: str, record_id: str) -> Record:
        return {"id": record_id, "name": self._live[module][record_id].get(NAME_FIELDS[module])}


def _public(record: Record) -> Record:
    return {key: copy.deepcopy(value) for key, value in record.items() if key != "_meta"}


def _listed(record: Record) -> Record:
    """A record as Zoho lists it (search, COQL): no `_meta`, no subforms."""
    subforms = {"_meta", *LINE_ITEMS.values()}
    return {key: copy.deepcopy(value) for key, value in record.items() if key not in subforms}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _system_fields(record_id: str) -> Record:
    now = _now()
    return {
        "id": record_id,
        "Created_Time": now,
        "Modified_Time": now,
        "Created_By": SANDBOX_USER,
        "Modified_By": SANDBOX_USER,
    }


# --- Zoho's insert rules ----------------------------------------------------------------------


def _error(code: str, field: str, path: str, **extra: str) -> Record:
    message = "required field not found" if code == "MANDATORY_NOT_FOUND" else "invalid data"
    details = {"api_name": field, "json_path": path, **extra}
    return {"code": code, "details": details, "message": message, "status": "error"}


def _points_to(value: object, records: dict[str, Record]) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"] in records


def _validate(
    module: str, record: Record, index: int, live: dict[str, dict[str, Record]]
) -> Record | None:
    """The first per-record error Zoho would report for this record, or None."""
    for field in MANDATORY[module]:
        if record.get(field) in (None, "", []):
            return _error("MANDATORY_NOT_FOUND", field, f"$.data[{index}].{field}")
    for field, target in LOOKUPS.get(module, {}).items():
        if record.get(field) is not None and not _points_to(record[field], live[target]):
            return _error("INVALID_DATA", field, f"$.data[{index}].{field}")
    subform = LINE_ITEMS.get(module)
    if subform is None:
        return None
    return _validate_lines(record[subform], f"$.data[{index}].{subform}", subform, live["Products"])


def _validate_lines(
    lines: object, path: str, subform: str, products: dict[str, Record]
) -> Record | None:
    if not isinstance(lines, list):
        return _error("INVALID_DATA", subform, path, expected_data_type="subform")
    for number, line in enumerate(lines):
        at = f"{path}[{number}]"
        if not isinstance(line, dict):
            return _error("INVALID_DATA", subform, at, expected_data_type="jsonobject")
        if line.get("Product_Name") is None:
            return _error(
                "MANDATORY_NOT_FOUND", "Product_Name", f"{at}.Product_Name", parent_api_name=subform
            )
        if not _points_to(line["Product_Name"], products):
            return _error(
                "INVALID_DATA", "Product_Name", f"{at}.Product_Name", parent_api_name=subform
            )
        quantity = line.get("Quantity")
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, int | float) or quantity <= 0
        ):
            return _error("INVALID_DATA", "Quantity", f"{at}.Quantity", parent_api_name=subform)
    return None
