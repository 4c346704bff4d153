"""Failure e-mail rendering: facts in both parts, escaping, cleanup section, StrictUndefined."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jinja2
import pytest

from orchestrator.notify.render import DEFAULT_TEMPLATES_DIR, FATE_TEXT, render_failure
from orchestrator.notify.report import FailureReport, RecordFate, RecordLine

IT = "it@poligonmuhendislik.com"
CRM = "https://crm.zoho.eu/crm/org1/tab"


def make_report(
    *,
    error: str = "Sales Order creation failed: INVALID_DATA (Product_Details)",
    records: tuple[RecordLine, ...] | None = None,
    failed_step: str | None = "create_sales_order",
    contact: str | None = "550428000008877665 (Poligon Mühendislik)",
    status: str = "compensation_failed",
) -> FailureReport:
    if records is None:
        records = (
            RecordLine("Deal ID", "550428000010000001", RecordFate.ROLLED_BACK),
            RecordLine("Quote ID", "550428000010000002", RecordFate.LEFT_OVER, f"{CRM}/Quotes/2"),
            RecordLine("Sales Order ID", None, RecordFate.NOT_CREATED),
        )
    return FailureReport(
        saga_id="saga-7f3a9c",
        flow="zoho_sale",
        status=status,
        error=error,
        failed_step=failed_step,
        contact=contact,
        occurred_at=datetime(2025, 3, 4, 15, 6, 7, tzinfo=UTC),
        records=records,
    )


def visible_text(html: str) -> str:
    """The HTML part as a reader sees it: tags dropped, whitespace collapsed (entities kept)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def text_section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end)]


def test_every_fact_appears_in_both_parts() -> None:
    report = make_report()
    mail = render_failure(report, to=IT)

    assert mail.to == IT
    facts = [
        report.saga_id,
        report.flow,
        report.status,
        "create_sales_order",
        "550428000008877665",
        "Poligon Mühendislik",
        "2025-03-04T15:06:07Z",
        "Sales Order creation failed: INVALID_DATA (Product_Details)",
        "Deal ID",
        "550428000010000001",
        "Quote ID",
        "550428000010000002",
        "Sales Order ID",
        FATE_TEXT[RecordFate.ROLLED_BACK],
        FATE_TEXT[RecordFate.LEFT_OVER],
        FATE_TEXT[RecordFate.NOT_CREATED],
    ]
    html_text = visible_text(mail.html)
    for fact in facts:
        assert fact in mail.text, fact
        assert fact in html_text, fact
    assert f"{CRM}/Quotes/2" in mail.text
    assert f'href="{CRM}/Quotes/2"' in mail.html


def test_kept_fate_and_missing_optionals_render() -> None:
    report = make_report(
        failed_step=None,
        contact=None,
        status="failed",
        records=(RecordLine("Deal ID", "D-1", RecordFate.KEPT),),
    )
    mail = render_failure(report, to=IT)

    for part in (mail.text, visible_text(mail.html)):
        assert FATE_TEXT[RecordFate.KEPT] in part
        assert "(not recorded)" in part
        assert "(unknown)" in part


def test_subject_names_error_and_saga_on_one_line() -> None:
    report = make_report(error="first line\nsecond line " + "x" * 200)
    subject = render_failure(report, to=IT).subject

    assert subject.startswith("[salesaga] Sale failed")
    assert "first line second line" in subject
    assert subject.endswith(f"(saga {report.saga_id})")
    assert "\n" not in subject
    assert len(subject) < 160


def test_subject_flags_cleanup_only_when_records_are_left_over() -> None:
    left = render_failure(make_report(), to=IT).subject
    clean = render_failure(
        make_report(records=(RecordLine("Deal ID", "D-1", RecordFate.ROLLED_BACK),)), to=IT
    ).subject

    assert "cleanup needed" in left
    assert "cleanup needed" not in clean


def test_html_escapes_the_error_but_text_keeps_it_verbatim() -> None:
    error = 'CRM said <script>alert("x")</script> & gave up'
    mail = render_failure(make_report(error=error), to=IT)

    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; gave up" in mail.html
    assert error in mail.text


def test_non_http_url_is_not_linked() -> None:
    records = (RecordLine("Deal ID", "D-1", RecordFate.LEFT_OVER, "javascript:alert(1)"),)
    mail = render_failure(make_report(records=records), to=IT)

    assert "javascript:" not in mail.html
    assert "javascript:" not in mail.text
    assert "D-1" in mail.text


def test_left_over_records_get_the_cleanup_section_in_reverse_creation_order() -> None:
    records = (
        RecordLine("Deal ID", "D-1", RecordFate.LEFT_OVER, f"{CRM}/Deals/1"),
        RecordLine("Quote ID", "Q-2", RecordFate.ROLLED_BACK),
        RecordLine("Sales Order ID", "SO-3", RecordFate.LEFT_OVER),
    )
    mail = render_failure(make_report(records=records), to=IT)

    section = text_section(mail.text, "ACTION REQUIRED", "END OF ACTION REQUIRED")
    assert "1. Sales Order ID: SO-3" in section
    assert "2. Deal ID: D-1" in section
    assert f"{CRM}/Deals/1" in section
    assert "Q-2" not in section

    html = mail.html[mail.html.index('id="cleanup"') :]
    html_section = visible_text(html[: html.index("</div>\n</td></tr>")])
    assert "Action required" in html_section
    assert html_section.index("SO-3") < html_section.index("D-1")
    assert "Q-2" not in html_section
    assert f'href="{CRM}/Deals/1"' in html


def test_no_cleanup_section_without_left_over_records() -> None:
    records = (
        RecordLine("Deal ID", "D-1", RecordFate.ROLLED_BACK),
        RecordLine("Quote ID", None, RecordFate.NOT_CREATED),
        RecordLine("Sales Order ID", None, RecordFate.NOT_CREATED),
    )
    mail = render_failure(make_report(records=records, status="compensated"), to=IT)

    assert "ACTION REQUIRED" not in mail.text
    assert 'id="cleanup"' not in mail.html
    assert "Action required" not in mail.html


def test_time_is_shown_in_utc_whatever_the_input_zone() -> None:
    istanbul = timezone(timedelta(hours=3))
    local = replace(make_report(), occurred_at=datetime(2025, 3, 4, 18, 6, 7, tzinfo=istanbul))
    mail = render_failure(local, to=IT)

    assert "2025-03-04T15:06:07Z" in mail.text
    assert "2025-03-04T15:06:07Z" in mail.html


def test_rendering_is_a_pure_function_of_the_report() -> None:
    report = make_report()

    assert render_failure(report, to=IT) == render_failure(report, to=IT)


def test_strict_undefined_turns_a_template_typo_into_an_error(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_TEMPLATES_DIR, tmp_path, dirs_exist_ok=True)
    txt = tmp_path / "email" / "sale_failed.txt"
    source = txt.read_text()
    assert "report.flow" in source
    txt.write_text(source.replace("report.flow", "report.flwo"))

    with pytest.raises(jinja2.UndefinedError):
        render_failure(make_report(), to=IT, templates_dir=tmp_path)


def test_copied_templates_render_the_same_as_the_defaults(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_TEMPLATES_DIR, tmp_path, dirs_exist_ok=True)
    report = make_report()

    assert render_failure(report, to=IT, templates_dir=tmp_path) == render_failure(report, to=IT)
