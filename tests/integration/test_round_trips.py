"""SQL round trips of one Zoho sale on the worker side, counted on PostgreSQL: a step's success
is written with the next step's claim, so a four-step sale costs five commits."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from orchestrator.crm.protocol import OrderLine, RecordKind
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.saga.state import SagaStatus
from orchestrator.store.queries import saga_detail
from orchestrator.store.sql_store import SqlSagaStore
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 2),))


@pytest.fixture
def db(pg_db):
    return pg_db


class Counted:
    def __init__(self, db) -> None:
        self.statements: list[str] = []
        self.commits = self.rollbacks = 0
        target = db.sync_engine
        sa.event.listen(target, "before_cursor_execute", self._statement)
        sa.event.listen(target, "commit", self._commit)
        sa.event.listen(target, "rollback", self._rollback)

    def _statement(self, conn, cursor, statement, *args) -> None:
        self.statements.append(statement.split(None, 1)[0])

    def _commit(self, conn) -> None:
        self.commits += 1

    def _rollback(self, conn) -> None:
        self.rollbacks += 1


async def test_a_four_step_sale_costs_five_commits_and_one_read(db):
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    engine = Engine(SqlSagaStore(db), {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=FAST)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    counted = Counted(db)
    assert await engine.advance(saga.id) is None
    assert crm.kinds() == [RecordKind.DEAL, RecordKind.QUOTE, RecordKind.SALES_ORDER]
    # four claims (each carrying the previous step's success) and the finish
    assert counted.commits == 5, counted.statements
    assert counted.rollbacks <= 1  # the read-only load
    assert counted.statements.count("SELECT") == 3  # the load (saga, steps) and the NOTIFY
    assert len(counted.statements) <= 21, counted.statements

    detail = await saga_detail(db, saga.id)
    assert detail is not None and detail.saga.status is SagaStatus.SUCCEEDED
    kinds = [e["kind"] for e in detail.events]
    assert kinds.count("step.succeeded") == 4 and kinds.count("step.claimed") == 4
    order = [k for k in kinds if k in ("step.claimed", "step.succeeded")]
    assert order == ["step.claimed", "step.succeeded"] * 4  # the log reads as it happened
