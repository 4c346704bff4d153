"""Made the fixtures here, run on release 1's own code (not collected, not imported):

    git archive 13ccfee | tar -x -C /tmp/r1
    PYTHONPATH=/tmp/r1 python tests/integration/release1/make_rows.py sqlite:////tmp/r1.db

One sale run to the end, one started and never advanced; the database is left as release 1
left it (sqlite.sql and postgresql.sql say how each was dumped).
"""

import asyncio
import sys
from decimal import Decimal

from orchestrator.crm.protocol import OrderLine
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.store.db import create_schema, make_engine
from orchestrator.store.sql_store import SqlSagaStore
from tests.fakes import FakeSalesCrm


async def main(url: str) -> None:
    db = make_engine(url)
    await create_schema(db)
    crm = FakeSalesCrm({"P-1": Decimal("12.50")})
    flows = {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}
    engine = Engine(SqlSagaStore(db), flows, retry=FAST, undo_retry=FAST)
    order = SaleRequest("C-1", (OrderLine("P-1", 2),))
    done = await engine.start(
        ZOHO_SALE.name, order, subject="C-1", idempotency_key="release-1-done"
    )
    while (wakeup := await engine.advance(done.id)) is not None:
        await asyncio.sleep(wakeup.after_s)
    order = SaleRequest("C-1", (OrderLine("P-1", 1),))
    await engine.start(ZOHO_SALE.name, order, subject="C-1", idempotency_key="release-1-waiting")
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
