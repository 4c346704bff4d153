"""The OnAutomate flow on the engine, the SQL store and the sandbox over HTTP: a create whose
answer is lost is found again by its marker, so the retry makes no second opportunity."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.backends.onautomate.sandbox.data import CONTACT_ID, STAGE_NEW
from orchestrator.bootstrap import build_deps
from orchestrator.flows.onautomate_opportunity import FLOW_NAME, OpportunityInput
from orchestrator.saga.state import SagaStatus
from orchestrator.settings import Settings
from orchestrator.store.queries import saga_detail
from tests.onautomate_sandbox import running_onautomate_sandbox

INPUT = {"title": "Lost answer", "stageId": STAGE_NEW, "status": "open", "contactId": CONTACT_ID,
         "finalStatus": "won"}  # fmt: skip


@pytest.fixture
async def deps(sqlite_url, tmp_path):
    with running_onautomate_sandbox() as sandbox:
        settings = Settings(
            database_url=sqlite_url, crms={"onautomate": sandbox.settings(read_timeout_s=1.0)},
            mail_backend="sink", mail_sink_dir=str(tmp_path / "mail"), retry_base_s=0.05,
            retry_cap_s=0.2, ambiguous_wait_s=2.0,
        )  # fmt: skip
        built = await build_deps(settings)
        yield built, sandbox
        await built.aclose()


async def run(deps, saga_id):
    while (wakeup := await deps.engine.advance(saga_id)) is not None:
        await asyncio.sleep(wakeup.after_s)
    return await deps.store.load(saga_id)


async def test_a_create_whose_answer_was_lost_makes_one_opportunity(deps):
    deps, sandbox = deps
    sandbox.state.faults.delay(1.6, operation="create")  # served after the client gave up
    request = OpportunityInput.model_validate(INPUT).to_input()
    saga = await deps.engine.start(FLOW_NAME, request)

    final = await run(deps, saga.id)

    assert final.status is SagaStatus.SUCCEEDED, final.error
    mine = [o for o in sandbox.state.opportunities() if o["name"] == "Lost answer"]
    assert len(mine) == 1 and mine[0]["status"] == "won"
    assert final.steps[0].attempts == 2 and final.steps[0].output["id"] == mine[0]["id"]
    events = (await saga_detail(deps.db, saga.id)).events
    retry = next(e for e in events if e["kind"] == "step.retry")
    assert retry["detail"]["code"] == "NO_ANSWER"
    succeeded = next(e for e in events if e["kind"] == "step.succeeded")
    assert succeeded["detail"]["adopted"] is True


async def test_only_the_flows_of_configured_backends_run(deps):
    deps, _ = deps
    assert set(deps.flows) == {FLOW_NAME}
    assert set(deps.crms) == {"onautomate"}
