"""Poologics has no search: a lead whose create answer was lost is found again through the
`new_opportunity` event Poologics pushes to the service's receiver (it carries the marker), so the
retry adopts it and no second lead is made. The sandbox really POSTs its events to the API."""

from __future__ import annotations

import asyncio

from orchestrator.backends.base import OpenContext
from orchestrator.backends.poologics.client import open_poologics_crm
from orchestrator.bootstrap import build_deps
from orchestrator.crm.tokens import InMemoryTokenCache
from orchestrator.flows.poologics_opportunity import FLOW_NAME, LeadInput
from orchestrator.saga.state import SagaStatus
from orchestrator.server import create_app
from orchestrator.settings import Settings
from tests.poologics_sandbox import running_poologics_sandbox
from tests.servers import serve_in_thread

SECRET = "lost-create-secret"
LEAD = {"contact": {"name": "Lost Answer"}, "stage": "Won"}


def no_dispatch(saga_id, delay_s=0.0):
    del saga_id, delay_s  # this test advances the saga itself


async def test_a_lead_whose_answer_was_lost_is_adopted_from_its_event(sqlite_url, tmp_path):
    with running_poologics_sandbox() as sandbox:
        settings = Settings(
            database_url=sqlite_url, crms={"poologics": sandbox.settings(read_timeout_s=1.0)},
            mail_backend="sink", mail_sink_dir=str(tmp_path / "mail"), webhook_secret=SECRET,
            retry_base_s=0.05, retry_cap_s=0.2, ambiguous_wait_s=2.5,
            api_keys="k-client-key-for-tests-0",
        )  # fmt: skip
        deps = await build_deps(settings)
        try:
            with serve_in_thread(create_app(settings, no_dispatch, deps=deps)) as url:
                crm = await open_poologics_crm(
                    sandbox.settings(), OpenContext(InMemoryTokenCache())
                )
                await crm.subscribe(
                    "new_opportunity", f"{url}/hooks/poologics/new_opportunity/{SECRET}"
                )
                await crm.aclose()
                sandbox.state.faults.delay(1.6, operation="create_lead")  # served, answer lost
                saga = await deps.engine.start(FLOW_NAME, LeadInput.model_validate(LEAD).to_input())
                while (wakeup := await deps.engine.advance(saga.id)) is not None:
                    await asyncio.sleep(wakeup.after_s)
                final = await deps.store.load(saga.id)
        finally:
            await deps.aclose()
    assert final.status is SagaStatus.SUCCEEDED, final.error
    mine = [lead for lead in sandbox.state.leads() if lead["contact_name"] == "Lost Answer"]
    assert len(mine) == 1 and mine[0]["stage"] == "Won"
    create = final.steps[1]
    assert create.attempts == 2 and create.output["id"] == mine[0]["poologics_id"]
