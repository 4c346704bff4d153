"""The console's dead-letters page in a real headless Chromium: a message the service refused is
shown with its reason and payload, fixed in the page and replayed into a saga that completes."""

from __future__ import annotations

import json
import re
import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import ORDER
from tests.e2e.test_console import (  # noqa: F401
    OPERATOR,
    browser,
    login,
    operator_client,
    page,
    screenshot,
)
from tests.e2e.test_message_producer import ONE_SALE, produce


def dead_letter(message_id: str) -> int:
    bad = {**ORDER, "products": [{**ORDER["products"][0], "quantity": "2"}]}
    [result] = produce("salesaga.create_sales", bad, message_id=message_id)
    assert result["reason"] == "products[0].quantity must be an integer"
    return result["deadLetterId"]


def test_an_operator_fixes_and_replays_a_dead_letter_in_the_console(svc, page):  # noqa: F811
    message_id = f"order-{uuid.uuid4()}"
    letter_id = dead_letter(message_id)

    login(page, start="/console/dead-letters?status=new")
    card = page.locator(f".letter[data-id='{letter_id}']")
    expect(card.locator(".letter-reason")).to_have_text("products[0].quantity must be an integer")
    expect(card.locator(".letter-message-id")).to_have_text(message_id)
    screenshot(page, "console-dead-letters.png")
    payload = card.locator("textarea[name=payload]")
    payload.fill(payload.input_value().replace('"quantity": "2"', '"quantity": 2'))
    with page.expect_navigation():
        card.locator("button[type=submit]").click()

    assert re.search(r"/console/sagas/[0-9a-f-]{36}$", page.url), page.url
    expect(page.locator("#flash")).to_contain_text(f"Dead letter {letter_id} replayed")
    saga_id = page.url.rsplit("/", 1)[1]
    saga = svc.wait_for_status(saga_id, "succeeded")
    assert saga["status"] == "succeeded" and saga["messageId"] == message_id
    assert svc.left_in_crm() == ONE_SALE
    [received] = [e for e in saga["events"] if e["kind"] == "message.received"]
    assert (received["actor"], received["detail"]["deadLetterId"]) == (OPERATOR, letter_id)
    page.goto("/console/dead-letters?status=replayed")
    expect(page.locator(f".letter[data-id='{letter_id}'] a")).to_have_text(saga_id)


def test_a_replay_still_invalid_or_without_csrf_changes_nothing(svc):
    letter_id = dead_letter(f"order-{uuid.uuid4()}")
    with operator_client(svc) as client:
        refused = client.post(f"/console/dead-letters/{letter_id}/replay", data={"csrf": "x"})
        assert refused.status_code == 303
        html = client.get("/console/dead-letters").text
        assert "This form has expired" in html
        token = re.search(r'name="csrf" value="([^"]+)"', html)[1]
        as_is = client.post(f"/console/dead-letters/{letter_id}/replay", data={"csrf": token})
        assert as_is.headers["location"] == "/console/dead-letters"
        assert "still invalid: products[0].quantity must be an integer" in client.get(
            "/console/dead-letters").text  # fmt: skip
    letter = svc.operator.get(f"/dead-letters/{letter_id}").json()
    assert letter["status"] == "new" and json.loads(letter["payload"])["products"]
