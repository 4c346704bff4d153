"""The RPC CRM sandbox's seed: two profiles of the sandbox user, their catalogues, companies,
contacts, products, one opportunity and one ticket, and the ids tests name them by.

Records are kept in their answer shape plus `profile_id` (the profile they belong to; dropped
from answers); a product keeps its tax ids (answers show the tax objects), an opportunity its
product lines. Ids are integers; each table has its own counter (the next id follows the
largest seeded one).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

SANDBOX_EMAIL = "sales@rpccrm.example"
SANDBOX_PASSWORD = "sandbox-password"
SANDBOX_USER_ID, SANDBOX_USER_NAME = 10, "Sandbox Sales"
OTHER_USER_ID, OTHER_USER_NAME, OTHER_USER_EMAIL = 11, "Ana Ortega", "ana@rpccrm.example"
USER_ID = SANDBOX_USER_ID  # the user the service logs in as: the default owner
PROFILE_ID, OTHER_PROFILE_ID = 1, 2  # both the sandbox user's; Ana has profile 1 only
STAGE_PROSPECTING, STAGE_PROPOSAL, STAGE_NEGOTIATION, STAGE_WON = 101, 102, 103, 104
OTHER_PROFILE_STAGES = (105, 106)  # profile 2's "Lead" and "Closed"
COMPANY_TYPE_CLIENT, COMPANY_TYPE_PROSPECT = 111, 112
INDUSTRY_LOGISTICS, INDUSTRY_MANUFACTURING = 121, 122
COMPANY_ID, COMPANY_NAME = 300, "Acme Logistics"
OTHER_COMPANY_ID, OTHER_COMPANY_NAME = 301, "Globex"
CONTACT_ORIGIN_WEBSITE, CONTACT_ORIGIN_REFERRAL = 141, 142
TITLE_MR, TITLE_MS = 151, 152
DEPARTMENT_PURCHASING, DEPARTMENT_OPERATIONS = 161, 162
POSITION_MANAGER, POSITION_BUYER = 171, 172
CONTACT_ID, CONTACT_EMAIL = 400, "maria@acme.example"  # Maria Lopez, of Acme Logistics
OTHER_CONTACT_ID, OTHER_CONTACT_EMAIL = 401, "john@globex.example"  # John Smith, of Globex
NO_COMPANY_CONTACT_ID, NO_COMPANY_CONTACT_EMAIL = 402, "solo@example.com"  # Solo Trader
NO_COMPANY_EMAIL = NO_COMPANY_CONTACT_EMAIL
PRODUCT_CHAIR, CHAIR_SKU = 500, "SKU-CHAIR"  # Office chair, 120.0
PRODUCT_DESK, DESK_SKU = 501, "SKU-DESK"  # Standing desk, 450.0
PRODUCT_NO_SKU = 502  # Installation service, 80.0, no sku
CATEGORY_FURNITURE, CATEGORY_SERVICES = 511, 512
VALIDITY_MONTH, VALIDITY_YEAR = 521, 522
DISCOUNT_NONE, DISCOUNT_TEN = 531, 532
MEASURE_PIECE, MEASURE_HOUR = 541, 542
TAX_IVA, TAX_EXEMPT = 551, 552  # "IVA 16%" 0.16, "Exento" 0.0
TICKET_ORIGIN_EMAIL, TICKET_ORIGIN_PHONE = 601, 602
CASE_INSTALLATION, CASE_SUPPORT = 701, 702
PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH = 801, 802, 803
OPPORTUNITY_ID, OPPORTUNITY_TITLE = 900, "Acme office refit"  # 10 chairs, stage Proposal
TICKET_ID = 1000  # "Chair assembly", for opportunity 900
COUNTRIES: dict[str, tuple[str, dict[str, str]]] = {
    "MX": ("México", {"CMX": "Ciudad de México", "JAL": "Jalisco", "NLE": "Nuevo León"}),
    "US": ("United States", {"CA": "California", "NY": "New York", "TX": "Texas"}),
}
SEEDED_AT = "2026-01-05T09:00:00.000000Z"
TABLES = ("companies", "contacts", "products", "opportunities", "tickets")


@dataclass
class Tables:
    """Everything the sandbox stores; the lock of data.SandboxState guards it."""

    users: dict[int, Record]  # {id, name, email, password (None: cannot log in), profiles}
    profiles: dict[int, Record]  # {id, name}
    catalogues: dict[int, dict[str, list[Record]]]  # profile → catalogue name → entries
    records: dict[str, dict[int, Record]]  # TABLES' name → id → record
    _ids: dict[str, Iterator[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in TABLES:
            self._ids[name] = itertools.count(max(self.records[name], default=0) + 1)

    def next_id(self, table: str) -> int:
        return next(self._ids[table])

    def of(self, table: str, profile: int) -> dict[int, Record]:
        """The records of `table` in `profile`, by id."""
        return {key: r for key, r in self.records[table].items() if r["profile_id"] == profile}

    def catalogue(self, profile: int, name: str) -> list[Record]:
        return self.catalogues.get(profile, {}).get(name, [])


def _entries(*pairs: tuple[int, str]) -> list[Record]:
    return [{"id": ident, "name": name} for ident, name in pairs]


def _profile_one() -> dict[str, list[Record]]:
    stages = ("Prospecting", "Proposal", "Negotiation", "Won")
    return {
        "stages": [{"id": STAGE_PROSPECTING + n, "name": name, "position": n + 1}
                   for n, name in enumerate(stages)],
        "types": _entries((COMPANY_TYPE_CLIENT, "Client"), (COMPANY_TYPE_PROSPECT, "Prospect")),
        "industries": _entries((INDUSTRY_LOGISTICS, "Logistics"),
                               (INDUSTRY_MANUFACTURING, "Manufacturing")),
        "company_inputs": [{"id": 131, "name": "Segment", "slug": "segment", "type": "text"}],
        "contact_origins": _entries((CONTACT_ORIGIN_WEBSITE, "Website"),
                                    (CONTACT_ORIGIN_REFERRAL, "Referral")),
        "titles": _entries((TITLE_MR, "Mr."), (TITLE_MS, "Ms.")),
        "departments": _entries((DEPARTMENT_PURCHASING, "Purchasing"),
                                (DEPARTMENT_OPERATIONS, "Operations")),
        "positions": _entries((POSITION_MANAGER, "Manager"), (POSITION_BUYER, "Buyer")),
        "contact_inputs": [{"id": 181, "name": "Birthday", "slug": "birthday", "type": "date"}],
        "categories": _entries((CATEGORY_FURNITURE, "Furniture"), (CATEGORY_SERVICES, "Services")),
        "validities": _entries((VALIDITY_MONTH, "30 days"), (VALIDITY_YEAR, "1 year")),
        "discounts": [{"id": DISCOUNT_NONE, "name": "None", "value": 0.0},
                      {"id": DISCOUNT_TEN, "name": "10%", "value": 0.1}],
        "measures": _entries((MEASURE_PIECE, "Piece"), (MEASURE_HOUR, "Hour")),
        "taxes": [{"id": TAX_IVA, "name": "IVA 16%", "value": 0.16},
                  {"id": TAX_EXEMPT, "name": "Exento", "value": 0.0}],
        "product_inputs": [{"id": 561, "name": "Warranty", "slug": "warranty", "type": "text"}],
        "opportunity_inputs": [{"id": 191, "name": "Campaign", "slug": "campaign",
                                "type": "text"}],
        "ticket_origins": _entries((TICKET_ORIGIN_EMAIL, "Email"), (TICKET_ORIGIN_PHONE, "Phone")),
        "cases": _entries((CASE_INSTALLATION, "Installation"), (CASE_SUPPORT, "Support")),
        "priorities": _entries((PRIORITY_LOW, "Low"), (PRIORITY_NORMAL, "Normal"),
                               (PRIORITY_HIGH, "High")),
    }  # fmt: skip


def _profile_two() -> dict[str, list[Record]]:
    lead, closed = OTHER_PROFILE_STAGES
    return {"stages": [{"id": lead, "name": "Lead", "position": 1},
                       {"id": closed, "name": "Closed", "position": 2}]}  # fmt: skip


def _company(ident: int, name: str, type_id: int, industry_id: int) -> Record:
    return {"id": ident, "profile_id": PROFILE_ID, "name": name, "client_number": f"C{ident:05d}",
            "type_id": type_id, "industry_id": industry_id, "website": None, "phone": None,
            "billing_name": name, "rfc": None, "shipping_address": None, "billing_address": None,
            "inputs": {}, "created_at": SEEDED_AT}  # fmt: skip


def _contact(ident: int, name: str, surname: str, email: str, company_id: int | None) -> Record:
    return {"id": ident, "profile_id": PROFILE_ID, "name": name, "surname": surname,
            "mother_surname": None, "email": email, "company_id": company_id,
            "title_id": None, "origin_id": CONTACT_ORIGIN_WEBSITE, "position_id": None,
            "department_id": None, "phone_office": None, "phone_office_extension": None,
            "phone_mobile": None, "phone_other": None, "skype": None, "linkedin": None,
            "twitter": None, "shipping_address": None, "billing_address": None,
            "assistant": None, "inputs": {}, "created_at": SEEDED_AT}  # fmt: skip


def _product(ident: int, name: str, sku: str | None, value: float, category: int) -> Record:
    return {"id": ident, "profile_id": PROFILE_ID, "name": name, "short_name": name, "sku": sku,
            "value": value, "description": None, "profile_currency_type_id": None,
            "product_discount_id": None, "product_validity_id": None,
            "product_measury_id": MEASURE_PIECE, "product_category_id": category,
            "taxes": [TAX_IVA], "inputs": {}, "created_at": SEEDED_AT}  # fmt: skip


def _opportunity() -> Record:
    line = {
        "product_id": PRODUCT_CHAIR,
        "name": "Office chair",
        "amount": 10,
        "price": 120.0,
        "discount": 0.1,
        "tax": 0.16,
        "total": 1252.8,
    }
    return {"id": OPPORTUNITY_ID, "profile_id": PROFILE_ID, "title": OPPORTUNITY_TITLE,
            "value": 1252.8, "estimated_end_at": "30/06/26", "status": "active",
            "stage_id": STAGE_PROPOSAL, "user_id": OTHER_USER_ID, "company_id": COMPANY_ID,
            "contact_id": CONTACT_ID, "prospect_type": "existing", "operation_type": "new",
            "campaign_id": None, "want_products": True, "want_tax": True, "notify": False,
            "comment": None, "products": [line], "inputs": {}, "closed_at": None,
            "created_at": SEEDED_AT}  # fmt: skip


def _ticket() -> Record:
    return {"id": TICKET_ID, "profile_id": PROFILE_ID, "title": "Chair assembly",
            "description": "Assemble the ten chairs.", "opportunity_id": OPPORTUNITY_ID,
            "company_id": COMPANY_ID, "contact_id": CONTACT_ID, "user_id": OTHER_USER_ID,
            "origin_id": TICKET_ORIGIN_EMAIL, "case_id": CASE_INSTALLATION,
            "priority_id": PRIORITY_NORMAL, "estimated_end_at": "2026-07-15", "status": "open",
            "notify": False, "comment": None, "created_at": SEEDED_AT}  # fmt: skip


def _by_id(*records: Record) -> dict[int, Record]:
    return {record["id"]: record for record in records}


def new_tables() -> Tables:
    """A fresh copy of the seed."""
    users = _by_id(
        {"id": SANDBOX_USER_ID, "name": SANDBOX_USER_NAME, "email": SANDBOX_EMAIL,
         "password": SANDBOX_PASSWORD, "profiles": [PROFILE_ID, OTHER_PROFILE_ID]},
        {"id": OTHER_USER_ID, "name": OTHER_USER_NAME, "email": OTHER_USER_EMAIL,
         "password": None, "profiles": [PROFILE_ID]},
    )  # fmt: skip
    records = {
        "companies": _by_id(
            _company(COMPANY_ID, COMPANY_NAME, COMPANY_TYPE_CLIENT, INDUSTRY_LOGISTICS),
            _company(OTHER_COMPANY_ID, OTHER_COMPANY_NAME, COMPANY_TYPE_PROSPECT,
                     INDUSTRY_MANUFACTURING),
        ),
        "contacts": _by_id(
            _contact(CONTACT_ID, "Maria", "Lopez", CONTACT_EMAIL, COMPANY_ID),
            _contact(OTHER_CONTACT_ID, "John", "Smith", OTHER_CONTACT_EMAIL, OTHER_COMPANY_ID),
            _contact(NO_COMPANY_CONTACT_ID, "Solo", "Trader", NO_COMPANY_CONTACT_EMAIL, None),
        ),
        "products": _by_id(
            _product(PRODUCT_CHAIR, "Office chair", CHAIR_SKU, 120.0, CATEGORY_FURNITURE),
            _product(PRODUCT_DESK, "Standing desk", DESK_SKU, 450.0, CATEGORY_FURNITURE),
            _product(PRODUCT_NO_SKU, "Installation service", None, 80.0, CATEGORY_SERVICES),
        ),
        "opportunities": _by_id(_opportunity()),
        "tickets": _by_id(_ticket()),
    }  # fmt: skip
    profiles = _by_id({"id": PROFILE_ID, "name": "Sandbox Sales MX"},
                      {"id": OTHER_PROFILE_ID, "name": "Sandbox Sales US"})  # fmt: skip
    catalogues = {PROFILE_ID: _profile_one(), OTHER_PROFILE_ID: _profile_two()}
    return Tables(users=users, profiles=profiles, catalogues=catalogues, records=records)
