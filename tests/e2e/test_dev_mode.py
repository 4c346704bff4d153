"""`salesaga dev` as a user runs it: one process on embedded defaults (SQLite file, in-process
broker, built-in Zoho sandbox, e-mails to a local sink), then `salesaga sagas list|show`."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import BIN, clean_env, free_port, running

ORDER = {"contactId": "550428000008877665",
         "products": [{"productId": "550428000000111222", "quantity": 2}]}  # fmt: skip
CLIENT = {"x-api-key": "dev-client-key"}


@pytest.fixture
def dev_server(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [BIN / "salesaga", "dev", "--port", str(port)]
    with running([command], cwd=tmp_path, env=clean_env(), url=url):
        yield url, tmp_path


def salesaga(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BIN / "salesaga", *args], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_dev_runs_a_sale_a_rollback_and_the_cli_sees_both(dev_server):
    url, cwd = dev_server
    ok = httpx.post(url + "/createSales", json=ORDER, headers=CLIENT, timeout=30)
    assert ok.status_code == 200, ok.text

    fault = {"module": "Quotes", "operation": "create", "status": 400}
    httpx.post(url + "/zoho-sandbox/__sandbox__/faults", json=fault).raise_for_status()
    failed = httpx.post(url + "/createSales", json=ORDER, headers=CLIENT, timeout=30)
    assert failed.status_code == 500
    failed_id = failed.json()["sagaId"]

    deadline = time.monotonic() + 10
    mails = []
    while not mails and time.monotonic() < deadline:
        mails = list((cwd / ".salesaga" / "mail").glob("*.eml"))
        time.sleep(0.1)
    [mail] = mails
    assert failed_id in mail.read_text(errors="replace")
    assert (cwd / "salesaga.db").exists()

    listing = salesaga(cwd, "sagas", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    statuses = {item["id"]: item["status"] for item in json.loads(listing.stdout)["items"]}
    assert statuses == {ok.json()["sagaId"]: "succeeded", failed_id: "compensated"}

    shown = salesaga(cwd, "sagas", "show", failed_id, "--json")
    assert json.loads(shown.stdout)["failedStep"] == "create_quote"
    table = salesaga(cwd, "sagas", "show", failed_id)
    assert "create_quote" in table.stdout and "compensated" in table.stdout

    remote = salesaga(Path("/"), "sagas", "show", failed_id, "--json",
                      SALESAGA_URL=url, SALESAGA_API_KEY="dev-operator-key")  # fmt: skip
    assert json.loads(remote.stdout)["status"] == "compensated"
    remote_list = salesaga(Path("/"), "sagas", "list", "--json",
                           SALESAGA_URL=url, SALESAGA_API_KEY="dev-client-key")  # fmt: skip
    assert remote_list.returncode != 0  # listing needs an operator key
    assert "dev-client-key" not in remote_list.stdout + remote_list.stderr


def test_cli_acts_on_sagas_and_tails_events(dev_server):
    url, cwd = dev_server
    remote = {"SALESAGA_URL": url, "SALESAGA_API_KEY": "dev-operator-key"}
    fault = {"module": "Quotes", "operation": "create", "status": 400}
    httpx.post(url + "/zoho-sandbox/__sandbox__/faults", json=fault).raise_for_status()
    failed_id = httpx.post(url + "/createSales", json=ORDER, headers=CLIENT, timeout=30).json()[
        "sagaId"
    ]

    tail = subprocess.Popen([BIN / "salesaga", "sagas", "tail", "--json", "--count", "3",
                             "--every", "0.2"], cwd=cwd, env=clean_env(**remote),
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(1.5)  # let tail note where the log ends
    retried = salesaga(cwd, "sagas", "retry", failed_id, "--comment", "fixed", "--json", **remote)
    assert retried.returncode == 0, retried.stderr
    out, _ = tail.communicate(timeout=30)
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["sagaId"] for e in events] == [failed_id] * 3
    assert events[0]["kind"] == "operator.retry" and events[0]["actor"].startswith("operator:")

    deadline = time.monotonic() + 20
    while (
        json.loads(salesaga(cwd, "sagas", "show", failed_id, "--json").stdout)["status"]
        != "succeeded"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    refused = salesaga(
        cwd, "sagas", "compensate", failed_id
    )  # local: it succeeded, nothing to undo
    assert refused.returncode == 1 and "succeeded" in refused.stderr
    no_comment = salesaga(cwd, "sagas", "resolve", failed_id)
    assert no_comment.returncode != 0 and "comment" in no_comment.stderr.lower()


def readme_payloads(after: str) -> list[dict]:
    """The JSON bodies (`-d '…'`) of the README's curl commands posting to `after`."""
    import re

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    pattern = re.escape(after) + r"\s[^\n]*(?:\\\n[^\n]*)*?-d '(.*?)'"
    return [json.loads(body) for body in re.findall(pattern, text, flags=re.DOTALL)]


def test_the_readme_onautomate_example_succeeds_and_its_fault_rolls_back(dev_server):
    url, cwd = dev_server
    body, other_contact = readme_payloads("http://127.0.0.1:8000/sagas")[:2]
    (fault,) = readme_payloads("http://127.0.0.1:8000/onautomate-sandbox/__sandbox__/faults")
    assert httpx.get(url + "/docs").status_code == 200  # dev serves the Swagger UI (API_DOCS)
    flows = httpx.get(url + "/flows", headers=CLIENT).json()["items"]
    assert {item["flow"] for item in flows} == {
        "zoho.sale",
        "onautomate.opportunity",
        "poologics.opportunity",
        "rpccrm.opportunity_ticket",
    }

    ok = httpx.post(url + "/sagas", json=body, headers=CLIENT, timeout=30)
    assert ok.status_code == 200, ok.text
    assert ok.json()["sagaStatus"] == "succeeded"

    httpx.post(url + "/onautomate-sandbox/__sandbox__/faults", json=fault).raise_for_status()
    failed = httpx.post(url + "/sagas", json=other_contact, headers=CLIENT, timeout=30)
    assert failed.status_code == 500 and failed.json()["sagaStatus"] == "compensated"
    saga_id = failed.json()["sagaId"]
    records = httpx.get(url + "/onautomate-sandbox/__sandbox__/records").json()["opportunities"]
    made = [o for o in records if o["name"] == body["input"]["title"]]
    assert [o["deleted"] for o in made] == [False, True]  # the first kept, the second deleted

    again = httpx.post(url + "/sagas", json=body, headers=CLIENT, timeout=30)
    assert again.status_code == 500 and again.json()["sagaStatus"] == "failed"
    assert "already has an opportunity" in again.json()["error"]

    deadline = time.monotonic() + 10
    mail = None
    while mail is None and time.monotonic() < deadline:
        mail = next((m for m in (cwd / ".salesaga" / "mail").glob("*.eml")
                     if saga_id in m.read_text(errors="replace")), None)  # fmt: skip
        time.sleep(0.1)
    assert mail is not None and made[1]["id"] in mail.read_text(errors="replace")

    bad = httpx.post(url + "/sagas", headers=CLIENT, timeout=30,
                     json={**body, "input": {**body["input"], "status": "closed"}})  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["message"] == "input.status must be one of: open, won, lost or abandoned"


def test_the_readme_poologics_example_reaches_won_and_its_fault_leaves_the_lead_in_lost(
    dev_server,
):
    url, cwd = dev_server
    won, after_fault = readme_payloads("http://127.0.0.1:8000/sagas")[2:4]
    (fault,) = readme_payloads("http://127.0.0.1:8000/poologics-sandbox/__sandbox__/faults")
    deadline = time.monotonic() + 30  # dev subscribes itself once it is up
    while not any(httpx.get(url + "/poologics-sandbox/__sandbox__/records").json()[
        "subscriptions"].values()):  # fmt: skip
        assert time.monotonic() < deadline, "salesaga dev did not subscribe to Poologics events"
        time.sleep(0.2)
    ok = httpx.post(url + "/sagas", json=won, headers=CLIENT, timeout=30)
    assert ok.status_code == 200 and ok.json()["sagaStatus"] == "succeeded", ok.text
    # dev subscribed itself to the sandbox's webhooks: the lead's events reach its saga
    operator = {"x-api-key": "dev-operator-key"}
    deadline, triggers = time.monotonic() + 15, set()
    while triggers != {"new_opportunity", "opportunity_stage_change"} and (
        time.monotonic() < deadline
    ):
        items = httpx.get(url + "/crm-events", params={"saga": ok.json()["sagaId"]},
                          headers=operator).json()["items"]  # fmt: skip
        triggers = {item["trigger"] for item in items}
        time.sleep(0.2)
    records = httpx.get(url + "/poologics-sandbox/__sandbox__/records").json()
    assert triggers == {"new_opportunity", "opportunity_stage_change"}, records["deliveries"]

    httpx.post(url + "/poologics-sandbox/__sandbox__/faults", json=fault).raise_for_status()
    failed = httpx.post(url + "/sagas", json=after_fault, headers=CLIENT, timeout=30)
    assert failed.status_code == 500 and failed.json()["sagaStatus"] == "compensated"
    leads = httpx.get(url + "/poologics-sandbox/__sandbox__/records").json()["leads"]
    stages = {lead["contact_name"]: lead["stage"] for lead in leads}
    assert (stages["Ada Lovelace"], stages["Grace Hopper"]) == ("Won", "Lost")

    saga_id = failed.json()["sagaId"]
    deadline = time.monotonic() + 10
    mails: list[str] = []
    while not mails and time.monotonic() < deadline:
        mails = [m.read_text(errors="replace") for m in (cwd / ".salesaga" / "mail").glob("*.eml")
                 if saga_id in m.read_text(errors="replace")]  # fmt: skip
        time.sleep(0.1)
    (mail,) = mails
    assert "stage Lost" in mail and "not deleted" in mail


def test_the_readme_rpccrm_example_succeeds_and_its_refused_ticket_is_left_for_a_person(
    dev_server,
):
    url, cwd = dev_server
    sale, after_fault = readme_payloads("http://127.0.0.1:8000/sagas")[4:6]
    (fault,) = readme_payloads("http://127.0.0.1:8000/rpccrm-sandbox/__sandbox__/faults")
    ok = httpx.post(url + "/sagas", json=sale, headers=CLIENT, timeout=30)
    assert ok.status_code == 200 and ok.json()["sagaStatus"] == "succeeded", ok.text
    records = httpx.get(url + "/rpccrm-sandbox/__sandbox__/records").json()
    tag = f"[salesaga-{ok.json()['sagaId']}]"
    (made,) = [o for o in records["opportunities"] if tag in o["title"]]
    assert made["value"] == 357.06 and len(made["products"]) == 2
    assert [t["opportunity_id"] for t in records["tickets"] if tag in t["description"]] == [
        made["id"]
    ]

    httpx.post(url + "/rpccrm-sandbox/__sandbox__/faults", json=fault).raise_for_status()
    failed = httpx.post(url + "/sagas", json=after_fault, headers=CLIENT, timeout=30)
    assert failed.status_code == 500, failed.text
    assert failed.json()["sagaStatus"] == "needs_manual_cleanup"
    saga_id = failed.json()["sagaId"]
    saga = httpx.get(url + f"/sagas/{saga_id}", headers=CLIENT).json()
    fates = {r["record"]: (r["id"], r["fate"]) for r in saga["records"]}
    opportunity_id, fate = fates["Opportunity"]
    assert fate == "left_in_place" and fates["Product"][1] == "left_in_place"
    deadline = time.monotonic() + 10
    mails: list[str] = []
    while not mails and time.monotonic() < deadline:
        mails = [m.read_text(errors="replace") for m in (cwd / ".salesaga" / "mail").glob("*.eml")
                 if saga_id in m.read_text(errors="replace")]  # fmt: skip
        time.sleep(0.1)
    (mail,) = mails
    assert f"Opportunity ID: {opportunity_id}: remove it by hand" in mail
