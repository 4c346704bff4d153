"""SQL round trips of one Zoho sale on the worker side, counted on PostgreSQL: a step's success
is written with the next step's claim, so a four-step sale costs five commits."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
import sqlalchemy as sa

from orchestrator.crm.protocol import OrderLine, RecordKind
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.saga.state import Change, Event, SagaStatus
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


def _commands(monkeypatch) -> list[str]:
    """BEGIN, COMMIT and ROLLBACK as psycopg sends them (SQLAlchemy's commit and rollback
    events fire also where psycopg, with no transaction open, sends nothing)."""
    sent: list[str] = []
    exec_command = psycopg.AsyncConnection._exec_command

    def recording(self, command, *args, **kwargs):
        sent.append(bytes(command).decode() if isinstance(command, bytes) else str(command))
        return exec_command(self, command, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "_exec_command", recording)
    return sent


async def test_a_four_step_sale_costs_one_read_and_fivesingle_statement_writes(db, monkeypatch):
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    engine = Engine(SqlSagaStore(db), {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=FAST)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    counted = Counted(db)
    commands = _commands(monkeypatch)
    assert await engine.advance(saga.id) is None
    assert crm.kinds() == [RecordKind.DEAL, RecordKind.QUOTE, RecordKind.SALES_ORDER]
    # the load (saga and steps joined), four claims (each carrying the previous step's
    # success) and the finish (with its NOTIFY): one statement each, no BEGIN, no COMMIT
    assert counted.statements == ["SELECT"] + ["WITH"] * 5
    assert commands == []

    detail = await saga_detail(db, saga.id)
    assert detail is not None and detail.saga.status is SagaStatus.SUCCEEDED
    kinds = [e["kind"] for e in detail.events]
    assert kinds.count("step.succeeded") == 4 and kinds.count("step.claimed") == 4
    order = [k for k in kinds if k in ("step.claimed", "step.succeeded")]
    assert order == ["step.claimed", "step.succeeded"] * 4  # the log reads as it happened

    # each write was one transaction of the server's: events share the id of the transaction
    # that wrote them; a step's success and the next claim came in the same one
    async with db.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT kind, xmin::text AS xact FROM saga_event WHERE saga_id = :id ORDER BY id"
        ), {"id": saga.id})).all()  # fmt: skip
    xacts = [xact for kind, xact in rows if kind not in ("saga.created",)]
    assert len(set(xacts)) == 5
    by_kind = list(zip([k for k, _ in rows][1:], xacts, strict=True))
    claims = [x for k, x in by_kind if k == "step.claimed"]
    successes = [x for k, x in by_kind if k == "step.succeeded"]
    assert successes[:3] == claims[1:]  # step n's success written with step n+1's claim


async def test_a_lost_compare_and_set_writes_nothing(db):
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    store = SqlSagaStore(db)
    engine = Engine(store, {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)}, retry=FAST)
    saga = await engine.start(ZOHO_SALE.name, ORDER)
    stale = await store.load(saga.id)
    assert stale is not None
    assert await engine.advance(saga.id) is None  # moves the saga on: its version changed
    before = await saga_detail(db, saga.id)
    stale.steps[0].attempts = 99
    stale.status = SagaStatus.FAILED
    change = Change(stale, stale.version, (stale.steps[0],), (Event("step.claimed", "x", 99),))
    assert await store.apply(change) is False
    after = await saga_detail(db, saga.id)
    assert after is not None and before is not None
    assert after.saga.status is SagaStatus.SUCCEEDED and after.saga.steps[0].attempts != 99
    assert len(after.events) == len(before.events)
