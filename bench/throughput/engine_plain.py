"""Engine (a), "the limit": the sale's Zoho calls from a plain async httpx script, nothing
durable, no database. Runs as its own process answering the load protocol (loadgen.py).

    python -m bench.throughput.engine_plain --sandbox http://127.0.0.1:PORT/zoho-sandbox
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

from bench.throughput import zoho_calls
from bench.throughput.loadgen import serve_commands


async def run(sandbox_url: str, max_connections: int) -> None:
    http = await zoho_calls.open_client(sandbox_url, max_connections)
    run_id = uuid.uuid4().hex[:8]

    async def one_sale(number: int) -> None:
        await zoho_calls.plain_sale(http, f"bench-plain-{run_id}-{number}")

    try:
        await serve_commands(one_sale)
    finally:
        await http.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--max-connections", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.sandbox, args.max_connections))


if __name__ == "__main__":
    main()
