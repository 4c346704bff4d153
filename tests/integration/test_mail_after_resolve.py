"""A failure e-mail still queued when an operator resolves its saga is sent after the resolve.

The HTML template once had no badge for `resolved_by_hand`: rendering raised UndefinedError at
delivery, so the outbox retried that e-mail forever and never sent it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from orchestrator.crm.errors import PermanentCrmError
from orchestrator.crm.protocol import OrderLine
from orchestrator.flows import FLOWS
from orchestrator.flows.zoho_sale import ZOHO_SALE, SaleRequest
from orchestrator.notify.notices import FailureMail
from orchestrator.notify.outbox import Outbox
from orchestrator.notify.report import OutgoingEmail
from orchestrator.saga.actions import Action
from orchestrator.saga.engine import BoundFlow, Engine
from orchestrator.saga.memory import FAST
from orchestrator.saga.policy import RetryPolicy
from orchestrator.saga.state import FAILURE_NOTICE, SagaStatus, StepStatus
from orchestrator.store.sql_store import SqlSagaStore
from tests.fakes import FakeSalesCrm

ORDER = SaleRequest("C-1", (OrderLine("P-1", 2),))


class DownThenUpMailer:
    def __init__(self) -> None:
        self.up = False
        self.sent: list[OutgoingEmail] = []

    async def send(self, message: OutgoingEmail) -> None:
        if not self.up:
            raise ConnectionRefusedError("SMTP down")
        self.sent.append(message)


@pytest.fixture
def db(sqlite_db):
    return sqlite_db


async def test_a_mail_queued_before_a_resolve_is_sent_after_it(db):
    crm = FakeSalesCrm({"P-1": Decimal("10")})
    crm.fail_next("create_quote", PermanentCrmError("price book missing", code="INVALID_DATA"))
    for _ in range(FAST.max_attempts):
        crm.fail_next("delete", PermanentCrmError("no permission", code="NO_PERMISSION"))
    engine = Engine(SqlSagaStore(db), {ZOHO_SALE.name: BoundFlow(ZOHO_SALE, crm)},
                    retry=FAST, undo_retry=FAST)  # fmt: skip
    mailer = DownThenUpMailer()
    outbox = Outbox(db, {FAILURE_NOTICE: FailureMail(mailer, "it@example.com", FLOWS)},
                    retry=RetryPolicy(100, 0.0, 0.0))  # fmt: skip

    saga = await engine.start(ZOHO_SALE.name, ORDER)
    while await engine.advance(saga.id) is not None:
        pass
    assert (await engine.store.load(saga.id)).status is SagaStatus.COMPENSATION_FAILED
    assert await outbox.deliver_for(saga.id) == 0  # SMTP down: the e-mail stays queued

    resolved = await engine.act(saga.id, Action.RESOLVE, actor="operator:ab", comment="deleted")
    assert resolved.steps[1].status is StepStatus.RESOLVED
    mailer.up = True
    assert await outbox.deliver_for(saga.id) == 1
    assert await outbox.backlog() == 0

    (mail,) = mailer.sent
    assert 'data-fate="resolved_by_hand"' in mail.html
    assert "Cleaned up by hand" in mail.text
