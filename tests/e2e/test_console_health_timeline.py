"""Issue 23 in a real headless Chromium against the whole service (API + Celery worker +
PostgreSQL + Zoho sandbox + SMTP): the saga page's timeline, the home page's health panel
(refreshed in place by console.js), both without JavaScript, and `salesaga sagas show` drawing
the same timeline in a terminal.

The database is shared by every e2e test of the run: the panel's figures are checked as changes
from what it showed before, never as absolute numbers.

SALESAGA_SCREENSHOTS=1 also writes docs/screenshots/console-home.png and
console-saga-timeline.png.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import time

import httpx
from playwright.sync_api import expect

from orchestrator.console.health import CACHE_S
from orchestrator.saga.state import SagaStatus
from tests.e2e.conftest import OPERATOR_KEY, operator_client
from tests.e2e.test_console import (  # noqa: F401  (browser, page: fixtures)
    browser,
    failed_sale,
    login,
    page,
    screenshot,
)
from tests.processes import BIN, clean_env

CHART_H = 70  # orchestrator/console/health.py draws the columns 70 units tall
STATUSES = [s.value for s in SagaStatus]  # stacked bottom to top in this order

# Everything the timeline shows, read in one go (the DOM order is the drawing order).
TIMELINE_JS = """() => {
  const svg = document.querySelector("figure#timeline svg");
  const num = (el, name) => Number(el.getAttribute(name));
  return {
    role: svg.getAttribute("role"),
    live: svg.dataset.live,
    title: svg.querySelector(":scope > title").textContent,
    desc: svg.querySelector(":scope > desc").textContent,
    links: svg.querySelectorAll("a").length,
    lanes: [...svg.querySelectorAll("g.lane")].map(g => ({
      key: g.dataset.lane, failed: g.classList.contains("failed"),
      undo: g.classList.contains("undo"), y: num(g.querySelector("rect.stripe"), "y"),
      text: g.querySelector("text.lane-title").firstChild.textContent.trim()})),
    bars: [...svg.querySelectorAll("rect.bar")].map(r => ({
      kind: r.dataset.kind, lane: r.dataset.lane, x: num(r, "x"), w: num(r, "width"),
      h: num(r, "height"), title: r.querySelector("title").textContent,
      linked: r.parentElement.tagName.toLowerCase() === "a"})),
    marks: [...svg.querySelectorAll("text.mark")].map(t => ({
      kind: t.dataset.kind, lane: t.dataset.lane, x: num(t, "x"),
      symbol: t.firstChild.textContent.trim(), title: t.querySelector("title").textContent})),
    rows: [...document.querySelectorAll("details.timeline-text table#timeline-text tbody tr")]
      .map(tr => [...tr.querySelectorAll("td")].map(td => td.textContent.trim())),
  };
}"""

# The health panel, read in one go: console.js may swap it between two separate reads.
PANEL_JS = """() => {
  const chart = id => {
    const f = document.getElementById(id);
    return {
      total: Number(f.dataset.total),
      desc: f.querySelector("desc").textContent,
      key: [...f.querySelectorAll(".chart-key span")].map(s => s.textContent.trim()),
      columns: [...f.querySelectorAll("g.column")].map(g => ({
        label: g.dataset.label,
        x: Number(g.querySelector("rect.hover").getAttribute("x")),
        parts: [...g.querySelectorAll("rect.part")].map(r => ({
          status: r.dataset.status, y: Number(r.getAttribute("y")),
          h: Number(r.getAttribute("height"))}))})),
    };
  };
  const row = selector => {
    const tr = document.querySelector("#outcomes tr" + selector);
    if (!tr) { return null; }
    const cell = name => tr.querySelector("td." + name).textContent.trim();
    return {ended: Number(cell("ended")), bad: Number(cell("not-succeeded")), rate: cell("rate"),
            p50: cell("p50"), p95: cell("p95")};
  };
  const waiting = document.getElementById("needs-operator");
  return {
    hour: chart("chart-hour"), day: chart("chart-day"),
    flow: row('[data-flow="zoho.sale"]'), backend: row('[data-backend="zoho"]'),
    waitingZero: waiting.dataset.waiting === "0",
    waitingText: (waiting.querySelector("strong") || waiting).textContent.trim(),
    waitingLinks: [...waiting.querySelectorAll("li a")].map(a => a.getAttribute("href")),
  };
}"""


def timeline(tab) -> dict:
    return tab.evaluate(TIMELINE_JS)


def panel(tab) -> dict:
    return tab.evaluate(PANEL_JS)


def flow_lanes(saga: dict) -> list[str]:
    """The saga lane, then a lane per step in the flow's order."""
    steps = sorted(saga["steps"], key=lambda s: s["index"])
    return ["saga", *(f"step:{s['name']}" for s in steps)]


def bars_in(t: dict, lane: str) -> list[dict]:
    return sorted((b for b in t["bars"] if b["lane"] == lane), key=lambda b: b["x"])


def links_expected(svc) -> bool:
    """Whether this service links Zoho records to Zoho's UI (ZOHO_RECORD_URL)."""
    return bool(svc.settings.crms["zoho"].record_url)


def column_counts(column: dict) -> dict[str, int]:
    """`10:05–10:10 UTC: 3 succeeded, 1 compensated` → {succeeded: 3, compensated: 1}."""
    said = column["label"].split("UTC: ", 1)[1]
    if said == "none":
        return {}
    return {status: int(n) for n, status in (part.split(" ") for part in said.split(", "))}


def chart_counts(chart: dict) -> dict[str, int]:
    """Sagas per status over the chart's columns, each column checked against its own label:
    a part per status it names, stacked, heights in proportion to the counts."""
    peak = int(re.search(r"Tallest bar: (\d+)\.", chart["desc"])[1])
    totals: dict[str, int] = {}
    xs = [c["x"] for c in chart["columns"]]
    assert xs == sorted(xs), "columns run left to right, oldest first"
    for column in chart["columns"]:
        counts = column_counts(column)
        assert {p["status"] for p in column["parts"]} == set(counts), column
        bottom = CHART_H
        for part in column["parts"]:
            assert abs(part["h"] - CHART_H * counts[part["status"]] / peak) < 0.11, column
            assert abs(part["y"] + part["h"] - bottom) < 0.11, column  # stacked, no gaps
            bottom = part["y"]
        for status, n in counts.items():
            totals[status] = totals.get(status, 0) + n
    assert chart["total"] == sum(totals.values())
    order = sorted(totals, key=STATUSES.index)  # the key lists them in the stacking order
    assert chart["key"] == ([f"{s} {totals[s]}" for s in order] if totals else ["none started"])
    return totals


def seconds(text: str) -> float:
    """`≈ 45 ms`, `≈ 1.20 s`, `≈ 2 min 3 s` → seconds."""
    units = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}
    pairs = re.findall(r"([\d.]+) (ms|s|min|h)\b", text)
    assert pairs, text
    return sum(float(n) * units[u] for n, u in pairs)


def retried_then_stuck_sale(svc) -> str:
    """Quote create answers 503 twice, then 400; the Deal's delete keeps failing:
    compensation_failed after retries on both sides."""
    svc.sandbox.state.faults.fail("Quotes", operation="create", status=503, times=2)
    saga_id = failed_sale(svc, deal_delete_fails=True)
    svc.sandbox.state.faults.clear()
    return saga_id


# --- the saga page's timeline -----------------------------------------------------------------


def test_a_compensated_sale_draws_its_steps_the_failed_step_and_the_undo(svc, page):  # noqa: F811
    saga_id = failed_sale(svc)
    saga = svc.saga(saga_id)
    assert saga["status"] == "compensated" and saga["failedStep"] == "create_quote"
    [deleted_deal] = svc.sandbox.state.deleted("Deals")
    login(page, start=f"/console/sagas/{saga_id}")
    t = timeline(page)

    assert t["role"] == "img" and t["title"] == f"Timeline of saga {saga_id}"
    assert t["live"] == "no" and "failed: create_quote" in t["desc"]
    lanes = [lane["key"] for lane in t["lanes"]]
    assert lanes == [*flow_lanes(saga), "undo:create_deal"]  # flow order, then the undos
    assert [lane["y"] for lane in t["lanes"]] == sorted(lane["y"] for lane in t["lanes"])
    assert [lane["undo"] for lane in t["lanes"]] == [False] * (len(lanes) - 1) + [True]
    assert [lane["key"] for lane in t["lanes"] if lane["failed"]] == ["step:create_quote"]
    failed_lane = page.locator('g.lane.failed[data-lane="step:create_quote"] text.lane-title')
    expect(failed_lane).to_have_count(1)
    assert (failed_lane.text_content() or "").startswith("✕ create_quote")

    ran = [b for b in t["bars"] if b["kind"] == "ran"]
    assert [b["lane"] for b in ran] == ["step:price_order", "step:create_deal"]
    assert ran[0]["x"] < ran[1]["x"], "the steps ran one after the other, in the flow's order"
    [failed] = bars_in(t, "step:create_quote")
    assert failed["kind"] == "failed" and failed["x"] >= ran[1]["x"] + ran[1]["w"] - 0.11
    assert "failed for good" in failed["title"] and "INVALID_DATA" in failed["title"]
    assert bars_in(t, "step:create_sales_order") == []  # never ran
    [undone] = bars_in(t, "undo:create_deal")
    assert undone["kind"] == "undone" and undone["x"] > failed["x"]
    assert f"deleted, record {deleted_deal['id']}" in undone["title"]
    saga_marks = [m["title"] for m in t["marks"] if m["kind"] == "saga"]
    assert [m["symbol"] for m in t["marks"]] == ["◆"] * len(t["marks"])
    assert saga_marks[1:] == ["started", "compensating", "compensated"]
    assert saga_marks[0].startswith("created by client:")

    # the text alternative: a row per bar and mark, in time order, with the same words
    assert len(t["rows"]) == len(t["bars"]) + len(t["marks"])
    assert all(at.startswith("+") for at, _, _ in t["rows"])
    assert sorted(f"{lane}, {words}" for _, lane, words in t["rows"] if lane != "saga") == sorted(
        b["title"] for b in t["bars"]
    )
    assert any("INVALID_DATA" in words for _, lane, words in t["rows"] if lane == "create_quote")

    # a record link on the timeline exactly when the records table links to the CRM too
    crm_links = page.locator("#records a", has_text="open in CRM").count()
    assert (t["links"] > 0) == (crm_links > 0) == links_expected(svc)
    assert [b["lane"] for b in t["bars"] if b["linked"]] == (
        ["step:create_deal"] if links_expected(svc) else []
    )


def test_a_retried_step_shows_its_failed_attempts_and_backoff_waits_before_it_ran(svc, page):  # noqa: F811
    svc.sandbox.state.faults.fail("Quotes", operation="create", status=503, times=2)
    response = svc.create_sales()
    assert response.status_code == 200, response.text
    saga_id = response.json()["sagaId"]
    assert svc.saga(saga_id)["status"] == "succeeded"
    login(page, start=f"/console/sagas/{saga_id}")
    t = timeline(page)

    quote = bars_in(t, "step:create_quote")
    assert [b["kind"] for b in quote] == ["retried", "wait", "retried", "wait", "ran"]
    for before, after in itertools.pairwise(quote):  # in time order, none overlapping
        assert before["x"] + before["w"] <= after["x"] + 0.11, (before, after)
    assert all(b["h"] < quote[0]["h"] for b in quote if b["kind"] == "wait")  # thinner
    for b in quote:
        if b["kind"] == "retried":
            assert "failed, will retry" in b["title"] and "INTERNAL_ERROR" in b["title"]
        if b["kind"] == "wait":
            assert "before trying again" in b["title"]
    assert quote[-1]["title"].startswith("create_quote, attempt 3: succeeded")
    [sales_order] = bars_in(t, "step:create_sales_order")
    assert sales_order["kind"] == "ran" and sales_order["x"] >= quote[-1]["x"]
    assert not [lane for lane in t["lanes"] if lane["failed"] or lane["undo"]]
    assert "2 backoff waits" in t["desc"] and "failed:" not in t["desc"]


def test_a_compensation_failed_sale_waits_on_the_home_page_and_its_undo_lane_failed(svc, page):  # noqa: F811
    saga_id = retried_then_stuck_sale(svc)
    saga = svc.saga(saga_id)
    assert saga["status"] == "compensation_failed"
    login(page)
    href = f'a[href="/console/sagas/{saga_id}"]'
    link = page.locator(f"#needs-operator {href}")
    waiting = page.locator("#needs-operator strong")
    # the panel may be up to CACHE_S old when the page loads; console.js brings it up to date
    expect(waiting).to_contain_text("for an operator", timeout=15_000)
    expect(page.locator("#needs-operator")).not_to_have_attribute("data-waiting", "0")
    shown = panel(page)
    n = int(shown["waitingText"].split(" ")[0])
    if n <= 10:  # all of them are listed (an earlier test's may be older than this one)
        expect(link).to_have_count(1, timeout=15_000)
        item = page.locator("#needs-operator li", has=page.locator(href))
        expect(item.locator(".badge")).to_have_text("compensation_failed")
        expect(item).to_contain_text("zoho.sale")
    else:  # only the ten oldest: the rest behind the status filters
        more = page.locator('#needs-operator a[href="/console?status=compensation_failed"]')
        expect(more).to_have_count(1)
    shown = panel(page)
    ids = [href.rsplit("/", 1)[1] for href in shown["waitingLinks"]]
    updated = [svc.saga(i)["updatedAt"] for i in ids]
    assert updated == sorted(updated), "the longest-waiting first"
    assert {svc.saga(i)["status"] for i in ids} <= {"compensation_failed", "needs_manual_cleanup"}

    if n <= 10:
        with page.expect_navigation():
            link.click()
    else:
        page.goto(f"/console/sagas/{saga_id}")
    expect(page.locator("#saga-status")).to_have_text("compensation_failed")
    t = timeline(page)
    failed = {lane["key"]: lane["text"] for lane in t["lanes"] if lane["failed"]}
    assert failed == {"step:create_quote": "✕ create_quote",
                      "undo:create_deal": "✕ undo create_deal"}  # fmt: skip
    undo = bars_in(t, "undo:create_deal")
    assert [b["kind"] for b in undo] == ["undo_retried", "wait", "undo_retried", "wait",
                                         "undo_failed"]  # fmt: skip
    assert "failed for good" in undo[-1]["title"] and "INTERNAL_ERROR" in undo[-1]["title"]
    quote = bars_in(t, "step:create_quote")
    assert [b["kind"] for b in quote] == ["retried", "wait", "retried", "wait", "failed"]
    assert quote[-1]["x"] < undo[0]["x"]
    assert "failed: create_quote, undo create_deal" in t["desc"]
    screenshot(page, "console-saga-timeline.png")


def test_an_operator_retry_later_is_flagged_and_the_quiet_gap_cut_short(svc, page):  # noqa: F811
    saga_id = failed_sale(svc)
    time.sleep(3)  # nothing happens meanwhile: far longer than everything the saga did
    retried = svc.operator.post(f"/sagas/{saga_id}/retry", json={"comment": "quote fixed"})
    assert retried.status_code in (200, 202), retried.text
    assert svc.wait_for_status(saga_id, "succeeded")["status"] == "succeeded"
    login(page, start=f"/console/sagas/{saga_id}")
    t = timeline(page)

    [operator] = [m for m in t["marks"] if m["kind"] == "operator"]
    assert operator["lane"] == "saga" and operator["symbol"] == "⚑"
    assert operator["title"].startswith("retry by operator:")
    assert operator["title"].endswith(": “quote fixed”")
    cut = page.locator("figure#timeline svg g.cut")
    expect(cut).to_have_count(1)
    label = cut.locator("rect title").text_content() or ""
    found = re.fullmatch(r"([\d.]+ s later): nothing happened meanwhile \(cut short\)", label)
    assert found and 2.0 < seconds(found[1]) < 4.0, label
    x, w = (float(cut.locator("rect").get_attribute(a) or "nan") for a in ("x", "width"))
    quote = bars_in(t, "step:create_quote")
    assert [b["kind"] for b in quote] == ["failed", "ran"]
    assert quote[0]["x"] + quote[0]["w"] <= x + 0.11 and quote[1]["x"] >= x + w - 0.11
    assert operator["x"] >= x + w - 0.11  # the retry is what ended the quiet
    # the axis: round moments from 0, then where the time resumes "3.02 s later", then from there
    ticks = page.locator("figure#timeline svg g.tick").evaluate_all(
        """ticks => ticks.map(g => [Number(g.querySelector("line").getAttribute("x1")),
                                 g.querySelector("text").textContent.trim(),
                                 g.querySelector("text").getAttribute("text-anchor")])"""
    )
    [resumes] = [i for i, (_, text, _) in enumerate(ticks) if text.endswith("later")]
    assert ticks[resumes][1:] == [found[1], "start"] and abs(ticks[resumes][0] - (x + w)) < 0.11
    assert ticks[0][1] == "0" and all(at < x for at, _, _ in ticks[:resumes])
    assert all(at > x + w and text.startswith("+") for at, text, _ in ticks[resumes + 1 :])
    assert [at for at, _, _ in ticks] == sorted(at for at, _, _ in ticks)
    assert any("retry by operator:" in words for _, lane, words in t["rows"] if lane == "saga")


# --- the home page's health panel -------------------------------------------------------------


def test_the_charts_and_outcomes_count_the_sales_just_made(svc, page):  # noqa: F811
    time.sleep(CACHE_S + 0.3)  # what the panel shows first includes every saga made before
    login(page)
    before = panel(page)
    before_hour, before_day = chart_counts(before["hour"]), chart_counts(before["day"])

    for _ in range(3):
        assert svc.create_sales().status_code == 200
    failed_sale(svc)
    failed_sale(svc, deal_delete_fails=True)
    svc.sandbox.state.faults.clear()

    total = before["hour"]["total"] + 5
    expect(page.locator("#chart-hour")).to_have_attribute("data-total", str(total), timeout=20_000)
    page.reload()  # the list below the panel as of now too (for the screenshot)
    expect(page.locator("#chart-hour")).to_have_attribute("data-total", str(total))
    after = panel(page)
    made = {"succeeded": 3, "compensated": 1, "compensation_failed": 1}
    for key, counts in (("hour", before_hour), ("day", before_day)):
        now = chart_counts(after[key])
        assert after[key]["total"] == before[key]["total"] + 5, key
        assert {s: now.get(s, 0) - counts.get(s, 0) for s in made} == made, key
        assert set(now) >= set(made)

    for row in ("flow", "backend"):  # zoho.sale is the only Zoho flow these tests run
        was = before[row] or {"ended": 0, "bad": 0}
        now = after[row]
        assert now["ended"] == was["ended"] + 5 and now["bad"] == was["bad"] + 2, row
        assert now["rate"] == f"{100 * now['bad'] / now['ended']:.1f} %"
        assert now["p50"].startswith("≈") and now["p95"].startswith("≈")
        assert seconds(now["p50"]) <= seconds(now["p95"])
    assert not after["waitingZero"] and after["waitingText"].endswith("for an operator")
    screenshot(page, "console-home.png")


def test_the_panel_refreshes_in_place_without_reloading_the_page(svc, page):  # noqa: F811
    with httpx.Client(base_url=str(svc.api.base_url), timeout=30) as anonymous:
        assert anonymous.get("/console/health").status_code == 401
    with operator_client(svc) as client:
        fragment = client.get("/console/health")
        assert fragment.status_code == 200
        assert fragment.text.lstrip().startswith('<section id="health"')
        assert "<html" not in fragment.text  # the panel alone, ready to be swapped in

    login(page)
    health = page.locator('section#health[data-refresh="/console/health"][data-every="5"]')
    expect(health).to_have_count(1)
    page.evaluate("""() => {
      window.__marker = 42;
      window.__refreshed = 0;
      document.addEventListener("health-refreshed", () => { window.__refreshed += 1; });
      document.getElementById("health").dataset.old = "yes";
    }""")
    before = int(page.locator("#chart-hour").get_attribute("data-total"))
    page.fill("input[name=q]", "half-typed")  # what an operator was typing stays

    assert svc.create_sales().status_code == 200
    grown = "n => Number(document.getElementById('chart-hour').dataset.total) > n"
    page.wait_for_function(grown, arg=before, timeout=20_000)

    assert page.evaluate("window.__marker") == 42, "the page was reloaded"
    assert page.evaluate("window.__refreshed") >= 1
    expect(page.locator("#health")).to_have_count(1)
    expect(page.locator("#health")).not_to_have_attribute("data-old", "yes")  # swapped
    expect(page.locator("input[name=q]")).to_have_value("half-typed")
    # the `page` fixture checks that the Content-Security-Policy blocked nothing


# --- without JavaScript, and in the terminal --------------------------------------------------


def test_without_javascript_the_timeline_and_the_panel_are_still_there(svc, browser):  # noqa: F811
    saga_id = failed_sale(svc)
    context = browser.new_context(base_url=str(svc.api.base_url), java_script_enabled=False,
                                  viewport={"width": 1280, "height": 900})  # fmt: skip
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, start=f"/console/sagas/{saga_id}")
        assert page.url.endswith(f"/console/sagas/{saga_id}")
        svg = page.locator("figure#timeline svg[role=img]")
        expect(svg).to_have_count(1)
        expect(svg.locator('rect.bar[data-kind="failed"][data-lane="step:create_quote"]'))
        expect(svg.locator('rect.bar[data-kind="undone"][data-lane="undo:create_deal"]'))
        assert svg.locator("rect.bar").count() == 4
        assert svg.locator("text.mark").count() == 4
        rows = page.locator("details.timeline-text table#timeline-text tbody tr")
        expect(rows).to_have_count(8)
        page.click("details.timeline-text summary")  # <details> opens without a script
        expect(rows.filter(has_text="failed for good")).to_contain_text("INVALID_DATA")

        page.goto("/console")
        expect(page.locator("section#health #chart-hour")).to_have_count(1)
        expect(page.locator("#outcomes tr[data-flow='zoho.sale'] td.p50")).to_contain_text("≈")
    finally:
        context.close()


def test_the_cli_draws_the_same_timeline_in_the_terminal(svc):
    saga_id = failed_sale(svc)
    env = clean_env(SALESAGA_URL=str(svc.api.base_url).rstrip("/"),
                    SALESAGA_API_KEY=OPERATOR_KEY, COLUMNS="120")  # fmt: skip
    shown = subprocess.run([BIN / "salesaga", "sagas", "show", saga_id], env=env,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert saga_id in out and "status=compensated" in out
    tracks = {}
    for line in out.splitlines():
        found = re.match(r"^(✕ )?(saga|price_order|create_\w+|undo create_deal) +(\S.*)$", line)
        if found and found[2] not in tracks and set(found[3]) & set("█◆"):
            tracks[found[2]] = (found[1], found[3])
    assert list(tracks) == [
        "saga",
        "price_order",
        "create_deal",
        "create_quote",
        "undo create_deal",
    ]
    assert tracks["create_quote"][0] == "✕ " and "█" in tracks["create_quote"][1]
    assert "◆" in tracks["saga"][1]
    assert re.search(r"^create_sales_order *$", out, flags=re.MULTILINE)  # a lane, empty
    assert "✕ create_quote" in out
    # the timeline as text: the failure's own words
    flat = " ".join(out.split())
    assert "failed for good: Zoho INVALID_DATA: invalid data" in flat
    assert "deleted, record" in flat and "compensated" in flat
    assert all(len(line) <= 120 for line in out.splitlines())
