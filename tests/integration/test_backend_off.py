"""A saga whose backend is off in this process (not configured here, or switched off since) is
left as it is by the engine, can still be resolved by an operator, and is refused — with the
reason — any action that needs its CRM."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.backends.onautomate.sandbox.data import CONTACT_ID, STAGE_NEW
from orchestrator.backends.zoho.settings import ZohoSettings
from orchestrator.bootstrap import build_deps
from orchestrator.flows.onautomate_opportunity import FLOW_NAME, OpportunityInput
from orchestrator.saga.actions import Action, ActionRefused
from orchestrator.saga.errors import BackendOff
from orchestrator.saga.state import SagaStatus
from orchestrator.settings import Settings
from tests.onautomate_sandbox import running_onautomate_sandbox

INPUT = {"title": "Switched off", "stageId": STAGE_NEW, "status": "open", "contactId": CONTACT_ID,
         "finalStatus": "won"}  # fmt: skip
ZOHO_ONLY = {"zoho": ZohoSettings(client_id="a", client_secret="b", refresh_token="c")}


def settings(url: str, tmp_path, crms) -> Settings:
    return Settings(database_url=url, crms=crms, mail_backend="sink",
                    mail_sink_dir=str(tmp_path / "mail"), retry_base_s=0.01, retry_cap_s=0.02,
                    compensation_max_attempts=2)  # fmt: skip


async def test_a_saga_of_a_backend_that_is_off_is_left_alone_and_can_be_resolved(
    sqlite_url, tmp_path
):
    with running_onautomate_sandbox() as sandbox:
        sandbox.state.faults.fail("status", status=422, field="status", rule="invalid")
        sandbox.state.faults.refuse("delete", times=100)
        on = await build_deps(settings(sqlite_url, tmp_path, {"onautomate": sandbox.settings()}))
        saga = await on.engine.start(FLOW_NAME, OpportunityInput.model_validate(INPUT).to_input())
        while (wakeup := await on.engine.advance(saga.id)) is not None:
            await asyncio.sleep(wakeup.after_s)
        assert (await on.store.load(saga.id)).status is SagaStatus.COMPENSATION_FAILED
        await on.aclose()

    off = await build_deps(settings(sqlite_url, tmp_path, ZOHO_ONLY))
    try:
        assert FLOW_NAME not in off.flows  # cannot be started here
        with pytest.raises(BackendOff, match="backend onautomate is not configured"):
            await off.engine.advance(saga.id)
        for action in (Action.RETRY, Action.COMPENSATE):
            with pytest.raises(ActionRefused, match="backend onautomate is not configured"):
                await off.engine.act(saga.id, action, actor="operator:t")
        resolved = await off.engine.act(saga.id, Action.RESOLVE, actor="operator:t",
                                        comment="deleted in OnAutomate by hand")  # fmt: skip
        assert resolved.steps[0].status.value == "resolved_by_hand"
        assert off.links(FLOW_NAME) is None  # no adapter: no links, but the record is shown
    finally:
        await off.aclose()
