"""The RPC CRM sandbox's memory: the seed's records (seed.py), the tokens Login hands out, what
was called, and the dispatch of an authenticated method call to its handler (reads.py,
writes.py) after the `profile_id` check.

Seed (the constants below): the user SANDBOX_EMAIL / SANDBOX_PASSWORD (id 10, "Sandbox Sales")
with the profiles PROFILE_ID (1) and OTHER_PROFILE_ID (2), Ana Ortega (11, profile 1 only, no
password); profile 1's stages 101–104, companies 300 (Acme Logistics) and 301 (Globex),
contacts 400 (Maria Lopez, Acme), 401 (John Smith, Globex) and 402 (Solo Trader, no company),
products 500 (SKU-CHAIR, 120.0), 501 (SKU-DESK, 450.0) and 502 (no sku), taxes 551 (IVA 16%)
and 552, ticket origins 601–602, cases 701–702, priorities 801–803, opportunity 900 and ticket
1000; profile 2 has only its stages (105, 106).

A token lasts `token_ttl_s`; `expire_tokens()` ends them all at once. `logins` counts tokens
handed out; `calls` counts every call of a known method (Login included) that passed the token
check, faulted and refused ones too; `writes()` names the write methods called, in order.

Thread-safe: a uvicorn server thread and a test thread share one SandboxState.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter

from orchestrator.backends.rpccrm.sandbox.faults import FaultPlan
from orchestrator.backends.rpccrm.sandbox.reads import (
    CATALOGUES,
    READS,
    VIEWS,
    Call,
    Handler,
    catalogue,
    user_view,
    views,
)
from orchestrator.backends.rpccrm.sandbox.rules import Fields, Refused, email, profile_of, text
from orchestrator.backends.rpccrm.sandbox.seed import (
    CASE_INSTALLATION,
    CASE_SUPPORT,
    CHAIR_SKU,
    COMPANY_ID,
    COMPANY_NAME,
    COMPANY_TYPE_CLIENT,
    COMPANY_TYPE_PROSPECT,
    CONTACT_EMAIL,
    CONTACT_ID,
    CONTACT_ORIGIN_REFERRAL,
    CONTACT_ORIGIN_WEBSITE,
    DESK_SKU,
    INDUSTRY_LOGISTICS,
    INDUSTRY_MANUFACTURING,
    NO_COMPANY_CONTACT_EMAIL,
    NO_COMPANY_CONTACT_ID,
    NO_COMPANY_EMAIL,
    OPPORTUNITY_ID,
    OPPORTUNITY_TITLE,
    OTHER_COMPANY_ID,
    OTHER_COMPANY_NAME,
    OTHER_CONTACT_EMAIL,
    OTHER_CONTACT_ID,
    OTHER_PROFILE_ID,
    OTHER_PROFILE_STAGES,
    OTHER_USER_EMAIL,
    OTHER_USER_ID,
    OTHER_USER_NAME,
    PRIORITY_HIGH,
    PRIORITY_LOW,
    PRIORITY_NORMAL,
    PRODUCT_CHAIR,
    PRODUCT_DESK,
    PRODUCT_NO_SKU,
    PROFILE_ID,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_USER_ID,
    SANDBOX_USER_NAME,
    STAGE_NEGOTIATION,
    STAGE_PROPOSAL,
    STAGE_PROSPECTING,
    STAGE_WON,
    TAX_EXEMPT,
    TAX_IVA,
    TICKET_ID,
    TICKET_ORIGIN_EMAIL,
    TICKET_ORIGIN_PHONE,
    TITLE_MR,
    TITLE_MS,
    USER_ID,
    Record,
    new_tables,
)
from orchestrator.backends.rpccrm.sandbox.writes import WRITES
from orchestrator.backends.rpccrm.wire import BAD_CREDENTIALS, NO_PROFILE
from orchestrator.backends.rpccrm.wire import WRITES as WRITE_METHODS

__all__ = [
    "CASE_INSTALLATION", "CASE_SUPPORT", "CHAIR_SKU", "COMPANY_ID", "COMPANY_NAME",
    "COMPANY_TYPE_CLIENT", "COMPANY_TYPE_PROSPECT", "CONTACT_EMAIL", "CONTACT_ID",
    "CONTACT_ORIGIN_REFERRAL", "CONTACT_ORIGIN_WEBSITE", "DESK_SKU", "INDUSTRY_LOGISTICS",
    "INDUSTRY_MANUFACTURING", "NO_COMPANY_CONTACT_EMAIL", "NO_COMPANY_CONTACT_ID",
    "NO_COMPANY_EMAIL", "OPPORTUNITY_ID", "OPPORTUNITY_TITLE", "OTHER_COMPANY_ID",
    "OTHER_COMPANY_NAME", "OTHER_CONTACT_EMAIL", "OTHER_CONTACT_ID", "OTHER_PROFILE_ID",
    "OTHER_PROFILE_STAGES", "OTHER_USER_EMAIL", "OTHER_USER_ID", "OTHER_USER_NAME",
    "PRIORITY_HIGH", "PRIORITY_LOW", "PRIORITY_NORMAL", "PRODUCT_CHAIR", "PRODUCT_DESK",
    "PRODUCT_NO_SKU", "PROFILE_ID", "SANDBOX_EMAIL", "SANDBOX_PASSWORD", "SANDBOX_USER_ID",
    "SANDBOX_USER_NAME", "STAGE_NEGOTIATION", "STAGE_PROPOSAL", "STAGE_PROSPECTING",
    "STAGE_WON", "TAX_EXEMPT", "TAX_IVA", "TICKET_ID", "TICKET_ORIGIN_EMAIL",
    "TICKET_ORIGIN_PHONE", "TITLE_MR", "TITLE_MS", "UI_KINDS", "USER_ID", "Record", "Refused",
    "SandboxState",
]  # fmt: skip

DEFAULT_TOKEN_TTL_S = 3600.0
UI_KINDS = {"product": "products", "opportunity": "opportunities", "ticket": "tickets",
            "company": "companies", "contact": "contacts"}  # fmt: skip
"""The UI page's kinds (/ui/{kind}/{id}) → seed.TABLES."""


def handler(group: str, method: str) -> Handler:
    """The handler of `method` as POSTed to `group` (KeyError for none)."""
    if (group, method) in CATALOGUES:
        return catalogue
    return WRITES.get(method) or READS[method]


def _credentials_match(user: Record, address: str, password: str) -> bool:
    known = user["password"]  # None: the user cannot log in
    same = user["email"].casefold() == address.casefold() and known is not None
    return same and secrets.compare_digest(password.encode(), str(known).encode())


class SandboxState:
    """Records, tokens, counters and faults of one sandbox; `app.state.sandbox`."""

    def __init__(self, *, token_ttl_s: float = DEFAULT_TOKEN_TTL_S) -> None:
        self.token_ttl_s = token_ttl_s
        self.faults = FaultPlan()
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to the seed: records, tokens, counters, faults."""
        with self._lock:
            self._db = new_tables()
            self._tokens: dict[str, tuple[int, float]] = {}  # token → user id, expiry (monotonic)
            self.logins = 0
            self._calls: Counter[str] = Counter()
            self._writes: list[str] = []
        self.faults.clear()

    # --- tokens -------------------------------------------------------------------------------

    def login(self, params: Record) -> Record:
        """Login: a new token and the user, or BAD_CREDENTIALS."""
        fields = Fields(params)
        address, password = fields.need("email", email), fields.need("password", text)
        with self._lock:
            for user in self._db.users.values():
                if _credentials_match(user, address, password):
                    return self._issue(user)
        raise Refused(BAD_CREDENTIALS)

    def _issue(self, user: Record) -> Record:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (user["id"], time.monotonic() + self.token_ttl_s)
        self.logins += 1
        return {"token": token, "user": user_view(user)}

    def user_of(self, token: str) -> int | None:
        """The id of the user `token` was issued to; None when unknown or expired."""
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                return None
            if time.monotonic() >= found[1]:
                del self._tokens[token]
                return None
            return found[0]

    def expire_tokens(self) -> None:
        """Every token issued so far stops working now (the next Login issues a new one)."""
        with self._lock:
            self._tokens.clear()

    # --- calls --------------------------------------------------------------------------------

    def count(self, method: str) -> None:
        with self._lock:
            self._calls[method] += 1
            if method in WRITE_METHODS:
                self._writes.append(method)

    @property
    def calls(self) -> Counter[str]:
        """A copy of the calls by method name (0 for a method never called)."""
        with self._lock:
            return Counter(self._calls)

    def writes(self) -> list[str]:
        with self._lock:
            return list(self._writes)

    def call(self, group: str, method: str, params: Record, user_id: int) -> Record:
        """An authenticated call of `method` (one of wire.GROUPS[group]): its `response`."""
        with self._lock:
            user = self._db.users[user_id]
            profile = 0 if method in NO_PROFILE else profile_of(params, user["profiles"])
            return handler(group, method)(self._db, Call(group, method, params, user, profile))

    # --- for tests, the control routes and the UI page ----------------------------------------

    def _all(self, table: str) -> list[Record]:
        with self._lock:
            return views(self._db, table, self._db.records[table].values())

    def products(self) -> list[Record]:
        return self._all("products")

    def opportunities(self) -> list[Record]:
        """Every opportunity as CreateOpportunity answers it (with its product lines)."""
        return self._all("opportunities")

    def tickets(self) -> list[Record]:
        return self._all("tickets")

    def companies(self) -> list[Record]:
        return self._all("companies")

    def contacts(self) -> list[Record]:
        return self._all("contacts")

    def record(self, kind: str, record_id: str) -> Record | None:
        """One record of a UI kind (UI_KINDS) in its answer shape; None if there is none."""
        table = UI_KINDS.get(kind)
        if table is None or not record_id.isdigit():
            return None
        with self._lock:
            found = self._db.records[table].get(int(record_id))
            return VIEWS[table](self._db, found) if found is not None else None

    def snapshot(self) -> Record:
        records: Record = {table: self._all(table) for table in UI_KINDS.values()}
        return records | {"logins": self.logins, "calls": dict(self.calls)}
