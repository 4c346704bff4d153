"""`salesaga recover`: one pass by hand finds a saga whose message was lost and finishes it."""

from __future__ import annotations

import asyncio
import subprocess

from orchestrator.crm.protocol import OrderLine
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.store.db import create_schema, make_engine
from orchestrator.store.sql_store import SqlSagaStore
from tests.fakes import FakeSalesCrm
from tests.processes import BIN, clean_env
from tests.zoho_sandbox import running_sandbox, zoho_env

ORDER = SaleRequest("550428000008877665", (OrderLine("550428000000111222", 1),))


async def test_recover_finishes_a_saga_nobody_was_told_about(sqlite_url, tmp_path):
    db = make_engine(sqlite_url)
    await create_schema(db)
    engine = Engine(SqlSagaStore(db), {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, FakeSalesCrm({}))})
    saga = await engine.start(ZOHO_SALE.name, ORDER)  # in the table, never dispatched
    with running_sandbox() as sandbox:
        env = clean_env(DATABASE_URL=sqlite_url, **zoho_env(sandbox.url), MAIL_BACKEND="sink")
        command = [BIN / "salesaga", "recover"]
        done = await asyncio.to_thread(subprocess.run, command, cwd=tmp_path, env=env,
                                       capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "re-dispatched 1 saga" in done.stdout
        deals = [d for d in sandbox.state.records("Deals") if str(saga.id) in d["Deal_Name"]]
    assert len(deals) == 1
    loaded = await SqlSagaStore(db).load(saga.id)
    assert loaded.status.value == "succeeded"
    await db.dispose()
