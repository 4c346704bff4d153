"""The HTTP calls of one Zoho sale, as salesaga's ZohoCrm sends them (orchestrator/backends/zoho/
client.py and wire.py), in plain httpx: the "limit" engine and the DBOS steps both use these.

GET Contacts/{id}; then GET Accounts/{id} and GET Products/{id} per product at once; POST Deals;
POST Quotes; POST Sales_Orders, each create with `"trigger": []`. Names carry the marker.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import httpx

from bench.throughput.config import CLIENT_ID, CLIENT_SECRET, CONTACT, PRODUCTS, REFRESH_TOKEN

Json = dict[str, Any]
LINES = tuple(zip(PRODUCTS, (2, 5), strict=True))
_ADDRESS_KEYS = ("Street", "City", "State", "Code", "Country")


async def open_client(sandbox_url: str, max_connections: int) -> httpx.AsyncClient:
    """A pooled client on {sandbox}/crm/v7 with a token from the sandbox's accounts endpoint."""
    async with httpx.AsyncClient(timeout=30) as token_http:
        form = {"grant_type": "refresh_token", "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}  # fmt: skip
        answer = await token_http.post(f"{sandbox_url}/oauth/v2/token", data=form)
        token = answer.json()["access_token"]
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(
        base_url=f"{sandbox_url}/crm/v7",
        headers={"Authorization": f"Zoho-oauthtoken {token}", "Accept": "application/json"},
        timeout=httpx.Timeout(60, connect=10),
        limits=limits,
    )


def _first(response: httpx.Response) -> Json:
    response.raise_for_status()
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url}: {response.status_code}")
    record: Json = response.json()["data"][0]
    return record


def _written(response: httpx.Response) -> str:
    if response.status_code != 201:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return str(response.json()["data"][0]["details"]["id"])


async def get_contact(http: httpx.AsyncClient, contact_id: str = CONTACT) -> Json:
    return _first(await http.get(f"/Contacts/{contact_id}"))


async def get_account(http: httpx.AsyncClient, account_id: str) -> Json:
    return _first(await http.get(f"/Accounts/{account_id}"))


async def get_product(http: httpx.AsyncClient, product_id: str) -> Json:
    return _first(await http.get(f"/Products/{product_id}"))


def priced(contact: Json, account: Json, products: list[Json]) -> Json:
    """What price_order yields, as JSON: parties, addresses, lines with list prices, total."""
    lines = [
        {"Product_Name": {"id": p["id"]}, "Quantity": qty, "List_Price": float(p["Unit_Price"])}
        for p, (_, qty) in zip(products, LINES, strict=True)
    ]
    addresses = {f"{prefix}_{key}": account[f"{prefix}_{key}"]
                 for prefix in ("Billing", "Shipping") for key in _ADDRESS_KEYS
                 if account.get(f"{prefix}_{key}") is not None}  # fmt: skip
    return {
        "parties": {"Contact_Name": {"id": contact["id"]}, "Account_Name": {"id": account["id"]}},
        "addresses": addresses,
        "lines": lines,
        "total": sum(
            qty * float(p["Unit_Price"]) for p, (_, qty) in zip(products, LINES, strict=True)
        ),
    }


async def create_deal(http: httpx.AsyncClient, order: Json, marker: str) -> str:
    closing = datetime.date.today() + datetime.timedelta(days=30)
    record = {"Deal_Name": f"PLG Sale {marker}", "Stage": "Qualification",
              "Closing_Date": closing.isoformat(), "Amount": order["total"], **order["parties"],
              "Description": f"Created by salesaga. Saga marker: {marker}"}  # fmt: skip
    return _written(await http.post("/Deals", json={"data": [record], "trigger": []}))


async def create_quote(http: httpx.AsyncClient, order: Json, marker: str, deal_id: str) -> str:
    record = {"Subject": f"PLG Quote {marker}", "Deal_Name": {"id": deal_id}, **order["parties"],
              "Quote_Stage": "Draft", **order["addresses"], "Quoted_Items": order["lines"],
              "Description": f"Created by salesaga. Saga marker: {marker}"}  # fmt: skip
    return _written(await http.post("/Quotes", json={"data": [record], "trigger": []}))


async def create_sales_order(
    http: httpx.AsyncClient, order: Json, marker: str, deal_id: str, quote_id: str
) -> str:
    record = {"Subject": f"PLG Sales Order {marker}", "Deal_Name": {"id": deal_id},
              "Quote_Name": {"id": quote_id}, **order["parties"], **order["addresses"],
              "Ordered_Items": order["lines"],
              "Description": f"Created by salesaga. Saga marker: {marker}"}  # fmt: skip
    return _written(await http.post("/Sales_Orders", json={"data": [record], "trigger": []}))


async def plain_sale(http: httpx.AsyncClient, marker: str) -> str:
    """Engine (a), "the limit": the seven calls in order, nothing durable; the order's id."""
    contact = await get_contact(http)
    account, *products = await asyncio.gather(
        get_account(http, contact["Account_Name"]["id"]),
        *(get_product(http, product_id) for product_id, _ in LINES),
    )
    order = priced(contact, account, products)
    deal = await create_deal(http, order, marker)
    quote = await create_quote(http, order, marker, deal)
    return await create_sales_order(http, order, marker, deal, quote)
