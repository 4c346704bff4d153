"""Each record's fate in the words of its undo: deleted, moved to a cancel stage, left in place
because the API cannot remove it — in the e-mail, with what an operator must still do."""

from __future__ import annotations

import re

import pytest

from orchestrator.crm.protocol import RecordKind, RecordRef
from orchestrator.notify.build import record_line
from orchestrator.notify.render import FATE_TEXT, render_failure
from orchestrator.notify.report import RecordFate, RecordLine
from orchestrator.saga.codec import to_json
from orchestrator.saga.definition import UndoKind
from orchestrator.saga.state import StepState, StepStatus
from tests.unit.test_render import IT, make_report, text_section, visible_text

REF = RecordRef(RecordKind.DEAL, "D-1")


def row(status: StepStatus) -> StepState:
    return StepState(index=1, name="create_deal", status=status, output=to_json(RecordRef, REF))


@pytest.mark.parametrize(
    ("status", "undo", "fate", "todo"),
    [
        (StepStatus.COMPENSATED, UndoKind.DELETE, RecordFate.ROLLED_BACK, None),
        (StepStatus.COMPENSATED, UndoKind.CANCEL_STAGE, RecordFate.CANCELLED, None),
        (StepStatus.LEFT_FOR_OPERATOR, UndoKind.NONE, RecordFate.LEFT_IN_PLACE,
         "remove it by hand (the CRM's API cannot)"),
        (StepStatus.COMPENSATION_FAILED, UndoKind.DELETE, RecordFate.LEFT_OVER,
         "delete it by hand"),
        (StepStatus.COMPENSATION_FAILED, UndoKind.CANCEL_STAGE, RecordFate.LEFT_OVER,
         "move it to the cancel stage by hand"),
        (StepStatus.RESOLVED, UndoKind.DELETE, RecordFate.RESOLVED, None),
        (StepStatus.SUCCEEDED, UndoKind.DELETE, RecordFate.KEPT, None),
    ],
)  # fmt: skip
def test_the_fate_follows_the_kind_of_undo(status, undo, fate, todo):
    line = record_line("Deal", RecordRef, row(status), None, undo)
    assert (line.fate, line.todo, line.record_id) == (fate, todo, "D-1")


def test_every_fate_has_words_and_an_html_badge():
    for fate in RecordFate:
        records = (RecordLine("Deal ID", "D-1", fate),)
        mail = render_failure(make_report(records=records), to=IT)
        assert FATE_TEXT[fate] in mail.text
        badge = re.search(rf'data-fate="{fate.value}" style="([^"]*)"', mail.html)
        assert badge is not None and "background" in badge.group(1), fate


def test_a_cancelled_record_is_said_to_be_still_in_the_crm():
    records = (RecordLine("Opportunity ID", "O-1", RecordFate.CANCELLED),)
    mail = render_failure(make_report(records=records, status="compensated"), to=IT)
    assert "moving it to a cancel stage: still in the CRM" in mail.text
    assert "ACTION REQUIRED" not in mail.text and "cleanup needed" not in mail.subject


def test_a_record_the_api_cannot_remove_is_on_the_to_do_list_in_those_words():
    todo = "remove it by hand (the CRM's API cannot)"
    records = (
        RecordLine("Opportunity ID", "O-1", RecordFate.CANCELLED),
        RecordLine("Ticket ID", "T-2", RecordFate.LEFT_IN_PLACE, None, todo),
    )
    mail = render_failure(make_report(records=records, status="needs_manual_cleanup"), to=IT)

    section = text_section(mail.text, "ACTION REQUIRED", "END OF ACTION REQUIRED")
    assert f"1. Ticket ID: T-2: {todo}" in section and "O-1" not in section
    assert "the CRM's API cannot remove it" in mail.text
    html = visible_text(mail.html[mail.html.index('id="cleanup"') :])
    assert "T-2" in html and "the CRM&#39;s API cannot" in html
    assert "cleanup needed" in mail.subject


def test_a_cancelled_record_names_its_stage_when_the_backend_says_it():
    line = record_line("Lead", RecordRef, row(StepStatus.COMPENSATED), None, UndoKind.CANCEL_STAGE,
                       cancel_stage="Lost")  # fmt: skip
    mail = render_failure(make_report(records=(line,), status="compensated"), to=IT)
    assert line.fate is RecordFate.CANCELLED
    assert "Rolled back by moving it to stage Lost: still in the CRM, marked cancelled (not " \
        "deleted)" in mail.text  # fmt: skip
    left = record_line("Lead", RecordRef, row(StepStatus.COMPENSATION_FAILED),
                       None, UndoKind.CANCEL_STAGE, cancel_stage="Lost")  # fmt: skip
    assert left.todo == "move it to stage Lost by hand"
