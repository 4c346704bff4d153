"""The operator console in a real headless Chromium (Debian's, driven by Playwright) against the
whole service: API + Celery worker + PostgreSQL + Zoho sandbox + SMTP.

SALESAGA_SCREENSHOTS=1 also writes docs/screenshots/console-list.png and console-saga.png.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from orchestrator.console.session import (
    csrf_ok,
    login_form_ok,
    new_login_form,
    new_session,
)
from orchestrator.flows.zoho_sale import FLOW_NAME
from tests.e2e.conftest import CLIENT_KEY, IT_EMAIL, OPERATOR_KEY, operator_client

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
OPERATOR = f"operator:{hashlib.sha256(OPERATOR_KEY.encode()).hexdigest()[:8]}"
SESSION_COOKIE = "salesaga_console"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    assert Path(CHROMIUM).exists(), "scripts/setup installs Debian's chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, svc):
    context = browser.new_context(base_url=str(svc.api.base_url),
                                  viewport={"width": 1280, "height": 900})  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.confirms, blocked = [], []  # type: ignore[attr-defined]

    def confirm(dialog) -> None:  # the confirm() before each action
        page.confirms.append(dialog.message)  # type: ignore[attr-defined]
        dialog.accept()

    page.on("dialog", confirm)
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text
            else None)  # fmt: skip
    yield page
    context.close()
    assert blocked == [], "the console's Content-Security-Policy blocked part of a page"


def login(page, key: str = OPERATOR_KEY, start: str | None = "/console"):
    """Sign in on the login page `start` leads to (None: the login page already shown)."""
    if start is not None:
        page.goto(start)
    page.fill("#key", key)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page


def screenshot(page, name: str) -> None:
    if os.environ.get("SALESAGA_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def failed_sale(svc, *, deal_delete_fails: bool = False) -> str:
    """A sale whose Quote is rejected: compensated, or compensation_failed when the Deal's
    delete keeps failing too."""
    svc.sandbox.state.faults.fail("Quotes", operation="create", status=400)
    if deal_delete_fails:
        svc.sandbox.state.faults.fail("Deals", operation="delete", status=500, times=50)
    response = svc.create_sales()
    assert response.status_code == 500, response.text
    return response.json()["sagaId"]


def api_counts(svc) -> dict:
    response = svc.operator.get("/sagas", params={"limit": 1})
    assert response.status_code == 200, response.text
    return response.json()["counts"]


# --- login and sessions ------------------------------------------------------------------------


def test_login_refuses_client_and_wrong_keys_and_accepts_the_operator_key(svc, page):
    page.goto("/console/sagas/00000000-0000-0000-0000-000000000000")
    assert "/console/login?next=" in page.url
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]

    login(page, CLIENT_KEY, start=None)
    expect(page.locator("#login-error")).to_contain_text("client API key")
    login(page, "not-a-key", start=None)
    expect(page.locator("#login-error")).to_have_text("That key is not valid.")
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]

    login(page, OPERATOR_KEY, start=None)  # lands where it was going
    assert page.url.endswith("/console/sagas/00000000-0000-0000-0000-000000000000")
    expect(page.locator("#problem")).to_contain_text("There is no saga")
    [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console" and cookie["secure"] is False  # plain http here
    assert 7.9 * 3600 < cookie["expires"] - time.time() <= 8 * 3600
    assert OPERATOR_KEY not in cookie["value"]

    page.click("header button")  # log out
    page.goto("/console")
    assert "/console/login" in page.url


def test_pages_without_a_valid_session_redirect_to_login(svc):
    saga_id = svc.create_sales().json()["sagaId"]
    with httpx.Client(base_url=str(svc.api.base_url), timeout=30) as anonymous:
        for path in ("/console", f"/console/sagas/{saga_id}"):
            response = anonymous.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/console/login?next=%2Fconsole")
        anonymous.cookies.set(SESSION_COOKIE, "eyJmIjoiMDAwMDAwMDAifQ.forged", path="/console")
        assert anonymous.get("/console").status_code == 303
        posted = anonymous.post(f"/console/sagas/{saga_id}/compensate", data={"csrf": "x"})
        assert posted.status_code == 303
    assert svc.saga(saga_id)["status"] == "succeeded"


def test_an_action_without_the_csrf_token_is_refused(svc):
    saga_id = failed_sale(svc)
    with operator_client(svc) as client:
        for form in ({}, {"csrf": "not-the-token"}):
            response = client.post(f"/console/sagas/{saga_id}/retry", data=form)
            assert response.status_code == 403
        assert svc.saga(saga_id)["status"] == "compensated"
        page_html = client.get(f"/console/sagas/{saga_id}").text
        token = re.search(r'name="csrf" value="([^"]+)"', page_html)
        assert token is not None
        accepted = client.post(f"/console/sagas/{saga_id}/retry", data={"csrf": token[1]})
        assert accepted.status_code == 303
    saga = svc.wait_for_status(saga_id, "succeeded")
    assert saga["status"] == "succeeded"


def test_a_tampered_expired_or_foreign_login_form_is_not_accepted():
    now = datetime.now(UTC)
    token, cookie = new_login_form(now, b"secret-a")
    assert login_form_ok(cookie, token, now, b"secret-a")
    assert not login_form_ok(cookie, token, now, b"secret-b")  # signed elsewhere
    assert not login_form_ok(cookie, token, now + timedelta(hours=1, seconds=1), b"secret-a")
    assert not login_form_ok(cookie, token[:-1], now, b"secret-a")
    assert not login_form_ok(None, token, now, b"secret-a")
    body, signature = cookie.split(".")
    forged = body.replace(body[2], "A" if body[2] != "A" else "B", 1)
    assert not login_form_ok(f"{forged}.{signature}", token, now, b"secret-a")
    session = new_session("operator:912cc499", "912cc499", now)
    assert not csrf_ok(session, None) and not csrf_ok(session, session.csrf[:-1])
    assert csrf_ok(session, session.csrf)


# --- list and saga page ------------------------------------------------------------------------


def test_list_shows_the_counts_and_a_failed_saga(svc, page):
    saga_id = failed_sale(svc)
    before = api_counts(svc)["status"].get("compensated", 0)
    login(page)
    after = api_counts(svc)["status"].get("compensated", 0)
    shown = int(page.locator("#counts [data-status=compensated] .n").inner_text())
    assert min(before, after) <= shown <= max(before, after) and shown >= 1
    flows = int(page.locator(f"#counts [data-flow='{FLOW_NAME}'] .n").inner_text())
    assert flows == api_counts(svc)["flow"][FLOW_NAME] >= 1

    row = page.locator(f"#sagas tr[data-saga='{saga_id}']")
    expect(row.locator(".badge")).to_have_text("compensated")
    expect(row).to_contain_text("create_quote")
    screenshot(page, "console-list.png")

    page.select_option("select[name=status]", "succeeded")
    page.click("#filters button[type=submit]")
    expect(page.locator(f"#sagas tr[data-saga='{saga_id}']")).to_have_count(0)
    page.select_option("select[name=status]", "")
    page.fill("input[name=q]", saga_id)
    page.click("#filters button[type=submit]")
    expect(page.locator("#sagas tbody tr")).to_have_count(1)
    page.click(f"#sagas a[href='/console/sagas/{saga_id}']")
    expect(page.locator("#saga-id")).to_have_text(saga_id)


def test_saga_page_shows_the_records_the_email_as_sent_and_the_event_log(svc, page):
    saga_id = failed_sale(svc)
    [deleted_deal] = svc.sandbox.state.deleted("Deals")
    assert svc.mails_for(saga_id)
    api = svc.saga(saga_id)
    login(page, start=f"/console/sagas/{saga_id}")
    expect(page.locator("#saga-status")).to_have_text("compensated")
    assert page.locator("meta[http-equiv=refresh]").count() == 0  # terminal: no refreshing

    deal = page.locator("#records tr[data-record='Deal']")
    expect(deal.locator(".record-id")).to_have_text(deleted_deal["id"])
    expect(deal.locator(".badge")).to_have_text("rolled_back")
    expect(page.locator("#records tr[data-record='Quote'] .badge")).to_have_text("not_created")
    expect(page.locator("#steps tr[data-step='create_quote'] .badge")).to_have_text("failed")

    mail = page.locator("#mails .mail")
    expect(mail).to_have_count(1)
    expect(mail.locator(".mail-to")).to_have_text(IT_EMAIL)
    expect(mail.locator(".badge")).to_have_text("sent")
    expect(mail.locator(".mail-subject")).to_contain_text(saga_id)
    expect(mail.locator("pre.mail-body")).to_contain_text(deleted_deal["id"])

    kinds = page.locator("#events tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.kind)"
    )
    assert kinds == [event["kind"] for event in api["events"]] and len(kinds) >= 3
    screenshot(page, "console-saga.png")


# --- actions -----------------------------------------------------------------------------------


def test_retry_from_the_console_completes_the_sale_and_logs_the_operator(svc, page):
    saga_id = failed_sale(svc)
    assert svc.left_in_crm() == {"Deals": 0, "Quotes": 0, "Sales_Orders": 0}
    login(page, start=f"/console/sagas/{saga_id}")
    page.click("#retry")
    expect(page.locator("#flash")).to_contain_text("Retry started")
    assert len(page.confirms) == 1  # the console's script ran under its CSP and asked first
    expect(page.locator("#saga-status")).to_have_text("succeeded", timeout=20_000)

    assert svc.left_in_crm() == {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}
    for label, module in (("Deal", "Deals"), ("Quote", "Quotes"), ("Sales Order", "Sales_Orders")):
        row = page.locator(f"#records tr[data-record='{label}']")
        expect(row.locator(".record-id")).to_have_text(svc.live(module)[0]["id"])
        expect(row.locator(".badge")).to_have_text("kept")
    retry = page.locator("#events tr[data-kind='operator.retry']")
    expect(retry).to_have_count(1)
    expect(retry.locator(".actor")).to_have_text(OPERATOR)
    assert [e["actor"] for e in svc.saga(saga_id)["events"] if e["kind"] == "operator.retry"] == [
        OPERATOR
    ]


def test_resolve_needs_a_comment_and_roll_back_now_removes_the_leftover(svc, page):
    saga_id = failed_sale(svc, deal_delete_fails=True)
    assert svc.saga(saga_id)["status"] == "compensation_failed"
    login(page, start=f"/console/sagas/{saga_id}")

    page.click("#resolve")  # no comment
    expect(page.locator("#flash")).to_contain_text("Refused: comment is required")
    expect(page.locator("#saga-status")).to_have_text("compensation_failed")
    assert len(svc.live("Deals")) == 1

    svc.sandbox.state.faults.clear()
    page.click("#compensate")
    expect(page.locator("#flash")).to_contain_text("Rollback started")
    expect(page.locator("#saga-status")).to_have_text("compensated", timeout=20_000)
    assert svc.left_in_crm() == {"Deals": 0, "Quotes": 0, "Sales_Orders": 0}
    expect(page.locator("#records tr[data-record='Deal'] .badge")).to_have_text("rolled_back")
    rollback = page.locator("#events tr[data-kind='operator.compensate']")
    expect(rollback.locator(".actor")).to_have_text(OPERATOR)
    expect(page.locator("#events tr[data-kind='operator.resolve']")).to_have_count(0)


def test_a_running_saga_refreshes_itself_and_shows_the_engines_refusal(svc, page, monkeypatch):
    monkeypatch.setattr(svc.settings, "sync_wait_s", 0.3)
    svc.sandbox.state.faults.delay(6.0, module="Deals", operation="create")
    response = svc.create_sales()
    assert response.status_code == 202
    saga_id = response.json()["sagaId"]
    login(page, start=f"/console/sagas/{saga_id}")
    expect(page.locator("#saga-status")).to_have_text("running")
    assert page.locator("meta[http-equiv=refresh]").count() == 1

    page.click("#compensate")  # the Deal call is in flight on a worker: the engine says no
    expect(page.locator("#flash")).to_contain_text("is running on a worker")
    expect(page.locator("#saga-status")).to_have_text("succeeded", timeout=20_000)  # by itself
    assert svc.left_in_crm() == {"Deals": 1, "Quotes": 1, "Sales_Orders": 1}
