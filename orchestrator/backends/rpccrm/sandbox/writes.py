"""The RPC CRM sandbox's write methods: CreateCompany, CreateContact, CreateProduct, EditProduct,
CreateOpportunity, CreateTicket. Each checks its parameters in the seed's order (rules.py: the
first failure is the answer) and only then stores; the answer is the stored record.

Required are the seed's fields without its '|' marker. Ids must name a record or catalogue
entry of the call's profile ("The selected stage id is invalid."); a contact must belong to the
company given. CreateProduct / EditProduct: a sku used by another product of the profile →
wire.SKU_TAKEN. CreateOpportunity: `estimated_end_at` strictly DD/MM/YY, `products` required
when `want_products` (each line's product, amount > 0, price ≥ 0, discount and tax 0–1, total),
and `value` the sum of the lines' totals within 0.01; stored with status "active".
CreateTicket: `estimated_end_at` strictly YYYY-MM-DD; stored with status "open".
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from orchestrator.backends.rpccrm.sandbox.reads import (
    Call,
    Handler,
    company_view,
    contact_view,
    opportunity_view,
    product_view,
    scalar,
    ticket_view,
)
from orchestrator.backends.rpccrm.sandbox.rules import (
    Fields,
    Refused,
    array,
    at_least,
    between,
    boolean,
    date_format,
    email,
    exists,
    greater_than,
    id_list,
    integer,
    invalid,
    mapping,
    number,
    one_of,
    text,
)
from orchestrator.backends.rpccrm.sandbox.seed import COUNTRIES, Record, Tables
from orchestrator.backends.rpccrm.wire import OPPORTUNITY_DATE, SKU_TAKEN, TICKET_DATE

VALUE_MISMATCH = "The value must match the products' total."
PRODUCTS_REQUIRED = "The products field is required when want products is true."
_ADDRESS_TEXTS = ("street", "number", "interior_number", "zip", "suburb", "city", "latitude",
                  "longitude")  # fmt: skip
_CONTACT_TEXTS = ("phone_office", "phone_office_extension", "phone_mobile", "phone_other")
_CONTACT_LINKS = ("skype", "linkedin", "twitter")
_PRODUCT_CATALOGUES = {
    "product_discount_id": "discounts",
    "product_validity_id": "validities",
    "product_measury_id": "measures",
    "product_category_id": "categories",
}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _store(db: Tables, table: str, call: Call, fields: Record) -> Record:
    record = {"id": db.next_id(table), "profile_id": call.profile, **fields, "created_at": now()}
    db.records[table][record["id"]] = record
    return record


def _ids(db: Tables, call: Call, catalogue: str) -> set[int]:
    return {entry["id"] for entry in db.catalogue(call.profile, catalogue)}


def _users(db: Tables, call: Call) -> set[int]:
    return {user["id"] for user in db.users.values() if call.profile in user["profiles"]}


def _texts(fields: Fields, keys: Collection[str]) -> Record:
    return {key: fields.opt(key, text) for key in keys}


def _contact_in(db: Tables, call: Call, company_id: int, *, required: bool) -> int | None:
    """`contact_id`: a contact of the profile that belongs to `company_id`."""
    contacts = db.of("contacts", call.profile)
    rule = exists(contacts)
    found = (
        call.fields.need("contact_id", rule) if required else call.fields.opt("contact_id", rule)
    )
    if found is not None and contacts[found]["company_id"] != company_id:
        raise invalid("contact_id")
    return found


def address(value: object, name: str) -> Record:
    """A shipping or billing address: a known country code, a state of it, texts."""
    fields = Fields(mapping(value, name), prefix=f"{name}.")
    country = fields.opt("country", one_of(COUNTRIES))
    states = COUNTRIES[country][1] if country is not None else {}
    state = fields.opt("state", one_of(states))
    return {"country": country, "state": state, **_texts(fields, _ADDRESS_TEXTS)}


def assistant(value: object, name: str) -> Record:
    fields = Fields(mapping(value, name), prefix=f"{name}.")
    names = {key: fields.need(key, text) for key in ("name", "surname")}
    rest = _texts(fields, ("mother_surname", "phone_office", "phone_office_extension"))
    return names | rest | {"email": fields.opt("email", email)} | _texts(fields, _CONTACT_LINKS[:2])


# --- companies and contacts -----------------------------------------------------------------------


def create_company(db: Tables, call: Call) -> Record:
    fields = call.fields
    record = {
        "name": fields.need("name", text),
        "client_number": None,
        "type_id": fields.need("type_id", exists(_ids(db, call, "types"))),
        "industry_id": fields.need("industry_id", exists(_ids(db, call, "industries"))),
        **_texts(fields, ("website", "phone", "billing_name", "rfc")),
        "shipping_address": fields.opt("shipping_address", address),
        "billing_address": fields.opt("billing_address", address),
        "inputs": fields.opt("inputs", mapping) or {},
    }
    stored = _store(db, "companies", call, record)
    stored["client_number"] = f"C{stored['id']:05d}"
    return {"company": company_view(db, stored)}


def create_contact(db: Tables, call: Call) -> Record:
    fields = call.fields
    record = {
        "company_id": fields.need("company_id", exists(db.of("companies", call.profile))),
        "name": fields.need("name", text),
        "surname": fields.need("surname", text),
        "mother_surname": fields.opt("mother_surname", text),
        "title_id": fields.opt("title_id", exists(_ids(db, call, "titles"))),
        "origin_id": fields.need("origin_id", exists(_ids(db, call, "contact_origins"))),
        "position_id": fields.opt("position_id", exists(_ids(db, call, "positions"))),
        "department_id": fields.opt("department_id", exists(_ids(db, call, "departments"))),
        **_texts(fields, _CONTACT_TEXTS),
        "email": fields.opt("email", email),
        **_texts(fields, _CONTACT_LINKS),
        "shipping_address": fields.opt("shipping_address", address),
        "billing_address": fields.opt("billing_address", address),
        "assistant": fields.opt("assistant", assistant),
        "inputs": fields.opt("inputs", mapping) or {},
    }
    return {"contact": contact_view(db, _store(db, "contacts", call, record))}


# --- products -----------------------------------------------------------------------------------


def _sku(db: Tables, call: Call, editing: int | None) -> str | None:
    sku = call.fields.opt("sku", text)
    if sku is None:
        return None
    for product in db.of("products", call.profile).values():
        same = str(product["sku"] or "").strip().casefold() == sku.strip().casefold()
        if same and product["id"] != editing:
            raise Refused(SKU_TAKEN)
    return sku


def _taxes(db: Tables, call: Call) -> list[int] | None:
    taxes = call.fields.opt("taxes", id_list)
    known = _ids(db, call, "taxes")
    for index, ident in enumerate(taxes or []):
        if ident not in known:
            raise invalid(f"taxes.{index}")
    return taxes


def _product_fields(db: Tables, call: Call, editing: int | None) -> Record:
    """The product's fields in the seed's order; optional ones not given are None."""
    fields = call.fields
    record: Record = {
        "name": fields.need("name", text),
        "short_name": fields.opt("short_name", text),
        "value": fields.need("value", at_least(0, number)),
        "sku": _sku(db, call, editing),
        "description": fields.opt("description", text),
        "profile_currency_type_id": fields.opt("profile_currency_type_id", scalar),
    }
    for key, catalogue in _PRODUCT_CATALOGUES.items():
        record[key] = fields.opt(key, exists(_ids(db, call, catalogue)))
    return record | {"taxes": _taxes(db, call), "inputs": fields.opt("inputs", mapping)}


def create_product(db: Tables, call: Call) -> Record:
    record = _product_fields(db, call, None)
    record |= {"taxes": record["taxes"] or [], "inputs": record["inputs"] or {}}
    return {"product": product_view(db, _store(db, "products", call, record))}


def edit_product(db: Tables, call: Call) -> Record:
    """The given fields replace the product's; optional ones left out keep their value."""
    products = db.of("products", call.profile)
    stored = products[call.fields.need("product_id", exists(products))]
    changes = _product_fields(db, call, stored["id"])
    stored |= {key: value for key, value in changes.items() if value is not None}
    stored["updated_at"] = now()
    return {"product": product_view(db, stored)}


# --- opportunities and tickets --------------------------------------------------------------------


def _line(db: Tables, call: Call, index: int, item: object) -> Record:
    name = f"products.{index}"
    fields = Fields(mapping(item, name), prefix=f"{name}.")
    products = db.of("products", call.profile)
    product_id = fields.need("product_id", exists(products))
    return {
        "product_id": product_id,
        "name": products[product_id]["name"],
        "amount": fields.need("amount", greater_than(0, integer)),
        "price": fields.need("price", at_least(0, number)),
        "discount": fields.need("discount", between(0, 1)),
        "tax": fields.need("tax", between(0, 1)),
        "total": fields.need("total", number),
    }


def _lines(db: Tables, call: Call, want_products: bool) -> list[Record]:
    if not want_products:
        return []
    if not call.fields.given("products"):
        raise Refused(PRODUCTS_REQUIRED)
    items = array(call.params["products"], "products")
    return [_line(db, call, index, item) for index, item in enumerate(items)]


def _opportunity_fields(db: Tables, call: Call) -> Record:
    fields = call.fields
    head: Record = {
        "user_id": fields.need("user_id", exists(_users(db, call))),
        "title": fields.need("title", text),
        "value": fields.need("value", at_least(0, number)),
        "estimated_end_at": fields.need("estimated_end_at", date_format(OPPORTUNITY_DATE)),
        "prospect_type": fields.need("prospect_type", one_of(("new", "existing"))),
        "operation_type": fields.need("operation_type", one_of(("new", "renew"))),
        "stage_id": fields.need("stage_id", exists(_ids(db, call, "stages"))),
        "company_id": fields.need("company_id", exists(db.of("companies", call.profile))),
    }
    head["contact_id"] = _contact_in(db, call, head["company_id"], required=True)
    head["campaign_id"] = fields.opt("campaign_id", text)
    head["want_products"] = fields.need("want_products", boolean)
    head["want_tax"] = fields.need("want_tax", boolean)
    head["products"] = _lines(db, call, head["want_products"])
    head["notify"] = fields.need("notify", boolean)
    head["comment"] = fields.opt("comment", text)
    return head


def create_opportunity(db: Tables, call: Call) -> Record:
    record = _opportunity_fields(db, call)
    total = sum(line["total"] for line in record["products"])
    if record["want_products"] and abs(record["value"] - total) > 0.01 + 1e-9:
        raise Refused(VALUE_MISMATCH)
    record["estimated_end_at"] = record["estimated_end_at"].strftime(OPPORTUNITY_DATE)
    record |= {"status": "active", "inputs": {}, "closed_at": None}
    return {"opportunity": opportunity_view(db, _store(db, "opportunities", call, record))}


def create_ticket(db: Tables, call: Call) -> Record:
    fields = call.fields
    record: Record = {
        "title": fields.need("title", text),
        "description": fields.need("description", text),
        "company_id": fields.need("company_id", exists(db.of("companies", call.profile))),
    }
    record["contact_id"] = _contact_in(db, call, record["company_id"], required=False)
    opportunities = db.of("opportunities", call.profile)
    record |= {
        "opportunity_id": fields.opt("opportunity_id", exists(opportunities)),
        "user_id": fields.need("user_id", exists(_users(db, call))),
        "origin_id": fields.need("origin_id", exists(_ids(db, call, "ticket_origins"))),
        "case_id": fields.need("case_id", exists(_ids(db, call, "cases"))),
        "priority_id": fields.need("priority_id", exists(_ids(db, call, "priorities"))),
        "estimated_end_at": fields.need("estimated_end_at", date_format(TICKET_DATE)).strftime(
            TICKET_DATE
        ),
        "status": "open",
        "notify": fields.need("notify", boolean),
        "comment": fields.opt("comment", text),
    }
    return {"ticket": ticket_view(db, _store(db, "tickets", call, record))}


WRITES: dict[str, Handler] = {
    "CreateCompany": create_company, "CreateContact": create_contact,
    "CreateProduct": create_product, "EditProduct": edit_product,
    "CreateOpportunity": create_opportunity, "CreateTicket": create_ticket,
}  # fmt: skip
"""The write methods by name (wire.WRITES)."""
