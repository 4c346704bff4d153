"""rpccrm.opportunity_ticket on the engine, the SQL store and the RPC CRM sandbox over HTTP:
totals, new skus, every read-only check before a write, the irreversible writes left for a
person, `success: false` under HTTP 200, a token expiring mid-saga and lost answers."""

from __future__ import annotations

import asyncio
import email
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator.backends.rpccrm.sandbox import data as seed
from orchestrator.bootstrap import build_deps
from orchestrator.flows.rpccrm_input import OpportunityTicketInput
from orchestrator.flows.rpccrm_opportunity_ticket import FLOW_NAME
from orchestrator.saga.state import SagaStatus, StepStatus
from orchestrator.settings import Settings
from orchestrator.store.queries import saga_detail
from tests.rpccrm_sandbox import running_rpccrm_sandbox

CHAIR = {"productId": seed.PRODUCT_CHAIR, "amount": 2, "discount": 0.1, "tax": 0.16}
LAMP = {"sku": "SKU-LAMP", "name": "Desk lamp", "value": 35.5, "amount": 3}
SALE = {
    "contactEmail": seed.CONTACT_EMAIL, "title": "Office refit", "stageId": seed.STAGE_PROPOSAL,
    "estimatedEndAt": "2027-01-31", "products": [CHAIR, LAMP],
    "ticket": {"title": "Install the chairs", "priorityId": seed.PRIORITY_HIGH},
}  # fmt: skip


@pytest.fixture(scope="module")
def server():
    with running_rpccrm_sandbox() as running:
        yield running


@pytest.fixture
async def env(server, sqlite_url, tmp_path):
    server.state.reset()
    settings = Settings(
        database_url=sqlite_url, crms={"rpccrm": server.settings(read_timeout_s=1.0)},
        mail_backend="sink", mail_sink_dir=str(tmp_path / "mail"), retry_base_s=0.05,
        retry_cap_s=0.2, ambiguous_wait_s=2.0,
    )  # fmt: skip
    deps = await build_deps(settings)
    yield deps, server, tmp_path / "mail"
    await deps.aclose()


async def run(deps, body):
    saga = await deps.engine.start(
        FLOW_NAME, OpportunityTicketInput.model_validate(body).to_input()
    )
    while (wakeup := await deps.engine.advance(saga.id)) is not None:
        await asyncio.sleep(wakeup.after_s)
    return await deps.store.load(saga.id)


def mine(records, marker):
    return [r for r in records if marker in (r.get("title") or "") + (r.get("description") or "")]


async def test_an_opportunity_with_two_products_and_its_ticket(env):
    deps, sandbox, _ = env
    final = await run(deps, SALE)
    assert final.status is SagaStatus.SUCCEEDED, final.error
    marker = f"salesaga-{final.id}"
    [lamp] = [p for p in sandbox.state.products() if p["sku"] == "SKU-LAMP"]
    assert marker in lamp["description"] and lamp["value"] == 35.5
    [opportunity] = mine(sandbox.state.opportunities(), marker)
    # 2 × 120 × 0.9 × 1.16 = 250.56 and 3 × 35.50 = 106.50
    assert Decimal(str(opportunity["value"])) == Decimal("357.06")
    assert opportunity["estimated_end_at"] == "31/01/27"
    assert opportunity["title"].startswith("Office refit")
    lines = {(line["product_id"], Decimal(str(line["total"]))) for line in opportunity["products"]}
    assert lines == {(seed.PRODUCT_CHAIR, Decimal("250.56")), (lamp["id"], Decimal("106.5"))}
    assert (opportunity["user_id"], opportunity["contact_id"], opportunity["company_id"]) == (
        seed.USER_ID, seed.CONTACT_ID, seed.COMPANY_ID)  # fmt: skip
    [ticket] = mine(sandbox.state.tickets(), marker)
    assert ticket["opportunity_id"] == opportunity["id"]
    assert (ticket["company_id"], ticket["contact_id"]) == (seed.COMPANY_ID, seed.CONTACT_ID)
    assert (
        ticket["priority_id"] == seed.PRIORITY_HIGH and ticket["estimated_end_at"] == "2027-01-31"
    )
    assert final.steps[1].output["ids"] == [str(lamp["id"])]


async def test_a_new_sku_is_created_once_then_used_by_the_next_sale(env):
    deps, sandbox, _ = env
    first, second = await run(deps, SALE), await run(deps, SALE)
    assert (first.status, second.status) == (SagaStatus.SUCCEEDED, SagaStatus.SUCCEEDED)
    assert len([p for p in sandbox.state.products() if p["sku"] == "SKU-LAMP"]) == 1
    assert second.steps[1].output["ids"] == []  # nothing created the second time
    assert sandbox.state.writes().count("CreateProduct") == 1


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"contactEmail": "nobody@example.com"}, "contactEmail: no contact nobody@example.com"),
        ({"stageId": "999"}, "stageId: no stage 999"),
        ({"userId": "999"}, "userId: no user 999"),
        ({"products": [{"productId": "999", "amount": 1}]}, "products.0.productId: no product 999"),
        ({"ticket": {"title": "t", "priorityId": "999"}}, "ticket.priorityId: no priority 999"),
        ({"contactEmail": seed.NO_COMPANY_EMAIL}, "has no company"),
    ],
)
async def test_what_the_crm_does_not_have_fails_the_saga_before_any_write(env, change, says):
    deps, sandbox, _ = env
    final = await run(deps, {**SALE, **change})
    assert final.status is SagaStatus.FAILED
    assert final.failed_step == "resolve" and says in final.error
    assert sandbox.state.writes() == []


async def test_a_failing_ticket_leaves_the_opportunity_and_product_for_a_person(env):
    deps, sandbox, mail = env
    sandbox.state.faults.fail("CreateTicket", error="The selected case id is invalid.")
    final = await run(deps, SALE)
    assert final.status is SagaStatus.NEEDS_MANUAL_CLEANUP
    statuses = [step.status for step in final.steps]
    assert statuses == [StepStatus.SUCCEEDED, StepStatus.LEFT_FOR_OPERATOR,
                        StepStatus.LEFT_FOR_OPERATOR, StepStatus.FAILED]  # fmt: skip
    assert "The selected case id is invalid." in final.error
    [opportunity] = mine(sandbox.state.opportunities(), f"salesaga-{final.id}")
    [lamp] = [p for p in sandbox.state.products() if p["sku"] == "SKU-LAMP"]
    text = _mail_text(mail, str(final.id))
    assert f"Opportunity ID: {opportunity['id']}" in text or str(opportunity["id"]) in text
    assert str(lamp["id"]) in text and "remove it by hand" in text
    detail = await saga_detail(deps.db, final.id)
    left = [e for e in detail.events if e["kind"] == "undo.left_for_operator"]
    assert {e["step"] for e in left} == {"create_products", "create_opportunity"}


async def test_success_false_under_http_200_is_a_failure(env):
    deps, sandbox, _ = env
    sandbox.state.faults.fail("CreateOpportunity", error="The title field is required.")
    final = await run(deps, {**SALE, "products": [CHAIR]})  # no new product: nothing written
    assert final.status is SagaStatus.FAILED
    assert final.failed_step == "create_opportunity"
    assert "The title field is required." in final.error
    assert sandbox.state.opportunities() == [] or not mine(
        sandbox.state.opportunities(), f"salesaga-{final.id}"
    )


async def test_a_second_product_failing_lists_the_first_for_a_person(env):
    deps, sandbox, mail = env
    sandbox.state.faults.fail("CreateProduct", error="The value must be a number.",
                              body_contains="SKU-B")  # fmt: skip
    a = {"sku": "SKU-A", "name": "A", "value": 1, "amount": 1}
    b = {"sku": "SKU-B", "name": "B", "value": 2, "amount": 1}
    final = await run(deps, {**SALE, "products": [a, b]})
    assert final.status is SagaStatus.NEEDS_MANUAL_CLEANUP
    [made] = [p for p in sandbox.state.products() if p["sku"] == "SKU-A"]
    assert final.steps[1].output["ids"] == [str(made["id"])]
    assert str(made["id"]) in _mail_text(mail, str(final.id))


async def test_a_token_expiring_mid_saga_logs_in_once_more(env):
    deps, sandbox, _ = env
    sandbox.state.faults.delay(0.1, method="CreateOpportunity")  # the token expires meanwhile

    async def expire_during_the_create():
        while not sandbox.state.calls.get("CreateOpportunity"):
            await asyncio.sleep(0.01)
        sandbox.state.expire_tokens()

    expiring = asyncio.create_task(expire_during_the_create())
    final = await run(deps, SALE)
    await expiring
    assert final.status is SagaStatus.SUCCEEDED, final.error
    assert sandbox.state.logins == 2
    marker = f"salesaga-{final.id}"
    assert len(mine(sandbox.state.opportunities(), marker)) == 1
    assert len(mine(sandbox.state.tickets(), marker)) == 1


async def test_a_lost_create_answer_makes_one_opportunity(env):
    deps, sandbox, _ = env
    sandbox.state.faults.delay(1.6, method="CreateOpportunity")  # stored after we gave up
    final = await run(deps, SALE)
    assert final.status is SagaStatus.SUCCEEDED, final.error
    assert len(mine(sandbox.state.opportunities(), f"salesaga-{final.id}")) == 1
    create = final.steps[2]
    assert create.attempts == 2
    events = (await saga_detail(deps.db, final.id)).events
    adopted = [e for e in events if e["kind"] == "step.succeeded" and e["step"] == create.name]
    assert adopted[0]["detail"]["adopted"] is True


async def test_a_lost_product_answer_makes_one_product(env):
    deps, sandbox, _ = env
    sandbox.state.faults.delay(1.6, method="CreateProduct")
    final = await run(deps, SALE)
    assert final.status is SagaStatus.SUCCEEDED, final.error
    assert len([p for p in sandbox.state.products() if p["sku"] == "SKU-LAMP"]) == 1
    assert final.steps[1].attempts == 2


def _mail_text(mail_dir: Path, saga_id: str) -> str:
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        text = "".join(
            part.get_payload(decode=True).decode()
            for part in message.walk()
            if part.get_content_type() == "text/plain"
        )
        if saga_id in text:
            return text
    raise AssertionError(f"no e-mail about saga {saga_id} in {mail_dir}")
