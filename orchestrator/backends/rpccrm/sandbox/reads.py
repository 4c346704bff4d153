"""The RPC CRM sandbox's read methods, and the answer shape of every record (views).

Catalogues answer their entries under RESULT_KEYS[method]; GetInputs and GetOrigins answer the
entries of the group they are POSTed to. GetCompanies, GetContacts and GetOpportunities filter
(ids, `query`: a case-insensitive substring of a company's name, a contact's name, surname or
e-mail, an opportunity's title) and paginate (`pagination`, default wire.PAGE_SIZE; `page`):
`{total, current_page, last_page, <list>}`. GetTickets and GetProducts answer everything.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from orchestrator.backends.rpccrm.sandbox.rules import (
    Fields,
    Refused,
    at_least,
    boolean,
    id_list,
    integer,
    one_of,
    text,
)
from orchestrator.backends.rpccrm.sandbox.seed import COUNTRIES, Record, Tables
from orchestrator.backends.rpccrm.wire import PAGE_SIZE, RESULT_KEYS

SEARCH_CONTACT, SEARCH_COMPANY = ("id", "email"), ("id", "client_number")
STATUSES = ("active", "pending", "won", "lost")
EMBEDS = ("user", "company", "contact", "products")  # GetOpportunity(ies)' with_<embed>
CATALOGUES = {
    ("profiles", "GetStages"): "stages",
    ("companies", "GetTypes"): "types",
    ("companies", "GetIndustries"): "industries",
    ("companies", "GetInputs"): "company_inputs",
    ("contacts", "GetOrigins"): "contact_origins",
    ("contacts", "GetTitles"): "titles",
    ("contacts", "GetDepartments"): "departments",
    ("contacts", "GetPositions"): "positions",
    ("contacts", "GetInputs"): "contact_inputs",
    ("products", "GetCategories"): "categories",
    ("products", "GetValidities"): "validities",
    ("products", "GetDiscounts"): "discounts",
    ("products", "GetMeasures"): "measures",
    ("products", "GetTaxes"): "taxes",
    ("products", "GetInputs"): "product_inputs",
    ("opportunities", "GetInputs"): "opportunity_inputs",
    ("tickets", "GetOrigins"): "ticket_origins",
    ("tickets", "GetCases"): "cases",
    ("tickets", "GetPriorities"): "priorities",
}
"""(group, method) → the catalogue (seed.Tables.catalogues) it answers."""


@dataclass(frozen=True)
class Call:
    """One authenticated method call: its parameters, the token's user and the validated
    `profile_id` (0 for the methods that take none: wire.NO_PROFILE)."""

    group: str
    method: str
    params: Record
    user: Record
    profile: int

    @property
    def fields(self) -> Fields:
        return Fields(self.params)


Handler = Callable[[Tables, Call], Record]


# --- views: the answer shape ----------------------------------------------------------------------


def public(record: Record) -> Record:
    return {key: copy.deepcopy(value) for key, value in record.items() if key != "profile_id"}


def user_view(user: Record) -> Record:
    return {"id": user["id"], "name": user["name"], "email": user["email"]}


def company_view(db: Tables, record: Record, *, contacts: bool = False) -> Record:
    view = public(record)
    if contacts:
        mine = db.of("contacts", record["profile_id"]).values()
        view["contacts"] = [contact_view(db, c) for c in mine if c["company_id"] == record["id"]]
    return view


def contact_view(db: Tables, record: Record) -> Record:
    company = db.records["companies"].get(record["company_id"])
    brief = {"id": company["id"], "name": company["name"]} if company else None
    return public(record) | {"company": brief}


def product_view(db: Tables, record: Record) -> Record:
    taxes = {tax["id"]: tax for tax in db.catalogue(record["profile_id"], "taxes")}
    view = public(record)
    view["taxes"] = [copy.deepcopy(taxes[ident]) for ident in record["taxes"] if ident in taxes]
    return view


def opportunity_view(db: Tables, record: Record, embeds: Collection[str] = ("products",)) -> Record:
    """With its product lines by default (the create's answer); GetOpportunity(ies) embed
    what their with_* flags ask for."""
    view = {key: value for key, value in public(record).items() if key != "products"}
    if "products" in embeds:
        view["products"] = copy.deepcopy(record["products"])
    if "user" in embeds:
        found = db.users.get(record["user_id"])
        view["user"] = user_view(found) if found else None
    if "company" in embeds:
        company = db.records["companies"].get(record["company_id"])
        view["company"] = company_view(db, company) if company else None
    if "contact" in embeds:
        contact = db.records["contacts"].get(record["contact_id"])
        view["contact"] = contact_view(db, contact) if contact else None
    return view


def ticket_view(_db: Tables, record: Record) -> Record:
    return public(record)


# --- helpers ------------------------------------------------------------------------------------


def matches(query: str | None, *texts: object) -> bool:
    if not query:
        return True
    wanted = query.casefold()
    return any(isinstance(t, str) and wanted in t.casefold() for t in texts)


def in_ids(fields: Fields, key: str, value: object) -> bool:
    """The record's `value` is one of the ids of the array filter `key` (no filter: True)."""
    wanted = fields.opt(key, id_list)
    return wanted is None or value in wanted


def page(fields: Fields, items: list[Record], key: str) -> Record:
    per = fields.opt("pagination", at_least(1, integer)) or PAGE_SIZE
    current = fields.opt("page", at_least(1, integer)) or 1
    last = max(1, math.ceil(len(items) / per))
    chunk = items[(current - 1) * per : current * per]
    return {"total": len(items), "current_page": current, "last_page": last, key: chunk}


def flag(fields: Fields, key: str) -> bool:
    return bool(fields.opt(key, boolean))


def embeds(fields: Fields) -> set[str]:
    return {name for name in EMBEDS if flag(fields, f"with_{name}")}


def scalar(value: object, name: str) -> str:
    """A string or an integer (`search_value`), as text."""
    return str(integer(value, name)) if isinstance(value, int) else text(value, name).strip()


def _search(fields: Fields, options: Collection[str]) -> tuple[str, str]:
    return fields.need("search_by", one_of(options)), fields.need("search_value", scalar)


# --- the methods ----------------------------------------------------------------------------------


def catalogue(db: Tables, call: Call) -> Record:
    entries = db.catalogue(call.profile, CATALOGUES[call.group, call.method])
    return {RESULT_KEYS[call.method]: copy.deepcopy(entries)}


def get_profiles(db: Tables, call: Call) -> Record:
    return {"profiles": [public(db.profiles[ident]) for ident in call.user["profiles"]]}


def get_countries(_db: Tables, _call: Call) -> Record:
    return {"countries": [{"code": code, "name": name} for code, (name, _) in COUNTRIES.items()]}


def get_states(_db: Tables, call: Call) -> Record:
    code = call.fields.need("country", one_of(COUNTRIES))
    states = [{"code": key, "name": name} for key, name in COUNTRIES[code][1].items()]
    return {"country": code, "states": states}


def get_users(db: Tables, call: Call) -> Record:
    users = [user_view(u) for u in db.users.values() if call.profile in u["profiles"]]
    return {"users": users}


def get_companies(db: Tables, call: Call) -> Record:
    fields = call.fields
    query, contacts = fields.opt("query", text), flag(fields, "with_contacts")
    found = [
        company_view(db, c, contacts=contacts)
        for c in db.of("companies", call.profile).values()
        if in_ids(fields, "company_type", c["type_id"])
        and in_ids(fields, "company_industry", c["industry_id"])
        and matches(query, c["name"], c["billing_name"], c["client_number"])
    ]
    return page(fields, found, "companies")


def get_company(db: Tables, call: Call) -> Record:
    by, value = _search(call.fields, SEARCH_COMPANY)
    for company in db.of("companies", call.profile).values():
        if str(company[by]).casefold() == value.casefold():
            return {"company": company_view(db, company)}
    raise Refused("Company not found.")


def get_contacts(db: Tables, call: Call) -> Record:
    fields = call.fields
    query = fields.opt("query", text)
    company = fields.opt("company_id", integer)
    keys = ("origin_id", "title_id", "position_id", "department_id")
    found = [
        contact_view(db, c)
        for c in db.of("contacts", call.profile).values()
        if company in (None, c["company_id"])
        and all(in_ids(fields, key, c[key]) for key in keys)
        and matches(query, c["name"], c["surname"], f"{c['name']} {c['surname']}", c["email"])
    ]
    return page(fields, found, "contacts")


def get_contact(db: Tables, call: Call) -> Record:
    by, value = _search(call.fields, SEARCH_CONTACT)
    company = call.fields.opt("company_id", integer)
    for contact in db.of("contacts", call.profile).values():
        same = str(contact[by] or "").casefold() == value.casefold()
        if same and company in (None, contact["company_id"]):
            return {"contact": contact_view(db, contact)}
    raise Refused("Contact not found.")


def get_products(db: Tables, call: Call) -> Record:
    return {"products": [product_view(db, p) for p in db.of("products", call.profile).values()]}


def _opportunity_filters(fields: Fields) -> Callable[[Record], bool]:
    user = fields.opt("user_id", integer)
    status = fields.opt("status", one_of(STATUSES))
    prospect = fields.opt("contact_type", one_of(("new", "existing")))
    operation = fields.opt("operation_type", one_of(("new", "renew")))
    query = fields.opt("query", text)

    def keep(o: Record) -> bool:
        wanted = (user, status, prospect, operation)
        seen = (o["user_id"], o["status"], o["prospect_type"], o["operation_type"])
        same = all(w is None or w == s for w, s in zip(wanted, seen, strict=True))
        return same and in_ids(fields, "stage", o["stage_id"]) and matches(query, o["title"])

    return keep


def get_opportunities(db: Tables, call: Call) -> Record:
    fields = call.fields
    keep, shown = _opportunity_filters(fields), embeds(fields)
    records = db.of("opportunities", call.profile).values()
    found = [opportunity_view(db, o, shown) for o in records if keep(o)]
    return page(fields, found, "opportunities")


def get_opportunity(db: Tables, call: Call) -> Record:
    ident = call.fields.need("opportunity_id", integer)
    found = db.of("opportunities", call.profile).get(ident)
    if found is None:
        raise Refused("Opportunity not found.")
    return {"opportunity": opportunity_view(db, found, embeds(call.fields))}


def get_tickets(db: Tables, call: Call) -> Record:
    return {"tickets": [ticket_view(db, t) for t in db.of("tickets", call.profile).values()]}


READS: dict[str, Handler] = {
    "GetProfiles": get_profiles, "GetCountries": get_countries, "GetStates": get_states,
    "GetUsers": get_users, "GetCompanies": get_companies, "GetCompany": get_company,
    "GetContacts": get_contacts, "GetContact": get_contact, "GetProducts": get_products,
    "GetOpportunities": get_opportunities, "GetOpportunity": get_opportunity,
    "GetTickets": get_tickets,
}  # fmt: skip
"""The read methods by name; the catalogue methods (CATALOGUES) are answered by `catalogue`."""


def views(db: Tables, table: str, records: Iterable[Record]) -> list[Record]:
    """Records of `table` (seed.TABLES) in their full answer shape."""
    view = VIEWS[table]
    return [view(db, record) for record in records]


VIEWS: dict[str, Callable[[Tables, Record], Record]] = {
    "companies": company_view, "contacts": contact_view, "products": product_view,
    "opportunities": opportunity_view, "tickets": ticket_view,
}  # fmt: skip
