"""SQL round trips of one Zoho sale on the worker side, counted on PostgreSQL: a step's success
is written with the next step's claim, so a four-step sale costs one read and five commits, each
sent as one batch."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from orchestrator.crm.protocol import OrderLine, RecordKind
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.saga.state import SagaStatus
from orchestrator.store.db import SqlCounts, create_schema, make_engine
from orchestrator.store.queries import saga_detail
from orchestrator.store.sql_store import SqlSagaStore
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 2),))


@pytest.fixture
async def db(pg_url):
    engine = make_engine(pg_url)
    await create_schema(engine)
    yield engine
    await engine.dispose()


class Reads:
    """The statements SQLAlchemy sends (the writes go past it, pipelined: SqlCounts)."""

    def __init__(self, db) -> None:
        self.statements: list[str] = []
        sa.event.listen(db.sync_engine, "before_cursor_execute", self._statement)

    def _statement(self, conn, cursor, statement, *args) -> None:
        self.statements.append(statement.split(None, 1)[0])


async def test_a_four_step_sale_costs_five_commits_and_one_read(db):
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    engine = Engine(SqlSagaStore(db), {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=FAST)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    counts, reads = SqlCounts.attach(db), Reads(db)
    assert await engine.advance(saga.id) is None
    assert crm.kinds() == [RecordKind.DEAL, RecordKind.QUOTE, RecordKind.SALES_ORDER]
    # four claims (each carrying the previous step's success) and the finish, each one
    # transaction of saga row + step rows + events, sent as one batch
    assert (counts.commits, counts.rollbacks) == (5, 0)  # the load reads outside a transaction
    assert reads.statements == ["SELECT", "SELECT"]  # the load: saga row, step rows
    # rows: the load 2; claims 4 + 5 + 5 + 5 (saga, step(s), events; from the second on with the
    # carried success); the finish 5 (saga, step, two events, NOTIFY)
    assert counts.statements == 26, counts.as_dict()

    detail = await saga_detail(db, saga.id)
    assert detail is not None and detail.saga.status is SagaStatus.SUCCEEDED
    kinds = [e["kind"] for e in detail.events]
    assert kinds.count("step.succeeded") == 4 and kinds.count("step.claimed") == 4
    order = [k for k in kinds if k in ("step.claimed", "step.succeeded")]
    assert order == ["step.claimed", "step.succeeded"] * 4  # the log reads as it happened
