"""Engine (b): the same sale as a DBOS Transact durable workflow, one `@DBOS.step` per Zoho call
(the account and both products at once, as salesaga reads them), on its own PostgreSQL database.
Runs as its own process answering the load protocol (loadgen.py); each sale is one workflow
called from the load loop in this process.

    python -m bench.throughput.engine_dbos --sandbox URL --database postgresql://…/bench_dbos_…
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

import httpx
from dbos import DBOS, DBOSConfig

from bench.throughput import zoho_calls
from bench.throughput.config import PRODUCTS
from bench.throughput.loadgen import serve_commands

Json = dict[str, Any]
_http: list[httpx.AsyncClient] = []  # the process's one pooled client (steps take no client)


def http() -> httpx.AsyncClient:
    return _http[0]


@DBOS.step()
async def get_contact() -> Json:
    return await zoho_calls.get_contact(http())


@DBOS.step()
async def get_account(account_id: str) -> Json:
    return await zoho_calls.get_account(http(), account_id)


@DBOS.step()
async def get_product(product_id: str) -> Json:
    return await zoho_calls.get_product(http(), product_id)


@DBOS.step()
async def create_deal(order: Json, marker: str) -> str:
    return await zoho_calls.create_deal(http(), order, marker)


@DBOS.step()
async def create_quote(order: Json, marker: str, deal_id: str) -> str:
    return await zoho_calls.create_quote(http(), order, marker, deal_id)


@DBOS.step()
async def create_sales_order(order: Json, marker: str, deal_id: str, quote_id: str) -> str:
    return await zoho_calls.create_sales_order(http(), order, marker, deal_id, quote_id)


@DBOS.workflow()
async def sale(marker: str) -> str:
    contact = await get_contact()
    account, *products = await asyncio.gather(
        get_account(contact["Account_Name"]["id"]), *(get_product(p) for p in PRODUCTS)
    )
    order = zoho_calls.priced(contact, account, products)
    deal = await create_deal(order, marker)
    quote = await create_quote(order, marker, deal)
    return await create_sales_order(order, marker, deal, quote)


def configure(database_url: str, pool_size: int) -> None:
    config: DBOSConfig = {
        "name": "salesaga-bench",
        "system_database_url": database_url,
        "sys_db_pool_size": pool_size,
        "log_level": "WARNING",
    }
    DBOS(config=config)
    DBOS.launch()


async def run(sandbox_url: str, database_url: str, pool_size: int) -> None:
    _http.append(await zoho_calls.open_client(sandbox_url, 1000))
    configure(database_url, pool_size)
    run_id = uuid.uuid4().hex[:8]

    async def one_sale(number: int) -> None:
        await sale(f"bench-dbos-{run_id}-{number}")

    try:
        await serve_commands(one_sale)
    finally:
        DBOS.destroy(destroy_registry=True)
        await http().aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--pool-size", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.sandbox, args.database, args.pool_size))


if __name__ == "__main__":
    main()
