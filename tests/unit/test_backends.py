"""Backends as plug-ins: which are used, which refuse to start, which run on their sandbox."""

from __future__ import annotations

import pytest

from orchestrator.backends import BACKENDS
from orchestrator.backends.zoho.settings import ZohoSettings
from orchestrator.bootstrap import BackendMisconfigured, plan_backends
from orchestrator.flows import FLOWS
from orchestrator.settings import Settings

ZOHO_VARS = ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN")


@pytest.fixture(autouse=True)
def no_crm_environment(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith(("ZOHO_", "ONAUTOMATE_", "POOLOGICS_", "RPCCRM_", "CRM_", "PUBLIC_URL")):
            monkeypatch.delenv(name)


def modes(settings: Settings) -> dict[str, str]:
    return {plan.backend.name: plan.mode for plan in plan_backends(settings)}


def test_every_flow_names_a_registered_backend():
    names = {backend.name for backend in BACKENDS}
    assert {flow.backend for flow in FLOWS.values()} <= names


def test_without_settings_a_backend_is_off_and_no_sandbox_is_used():
    assert set(modes(Settings()).values()) == {"off"}


def test_crm_sandbox_runs_every_backend_without_settings_on_its_sandbox():
    settings = Settings(crm_sandbox=True, port=8123)
    assert set(modes(settings).values()) == {"sandbox"}
    zoho = next(p for p in plan_backends(settings) if p.backend.name == "zoho")
    assert zoho.settings.api_domain == "http://127.0.0.1:8123/zoho-sandbox"


def test_complete_settings_are_used_even_with_the_sandbox_on(monkeypatch):
    for name in ZOHO_VARS:
        monkeypatch.setenv(name, "x")
    assert modes(Settings(crm_sandbox=True))["zoho"] == "crm"


@pytest.mark.parametrize("given", [("ZOHO_CLIENT_ID",), ("ZOHO_CLIENT_ID", "ZOHO_REFRESH_TOKEN"),
                                   ("ZOHO_API_DOMAIN",)])  # fmt: skip
def test_partial_settings_refuse_naming_what_is_missing(monkeypatch, given):
    for name in given:
        monkeypatch.setenv(name, "https://x" if name.endswith("DOMAIN") else "x")
    with pytest.raises(BackendMisconfigured) as refused:
        plan_backends(Settings(crm_sandbox=True))
    missing = [name for name in ZOHO_VARS if name not in given]
    assert f"Zoho CRM: {', '.join(missing)} not set" in str(refused.value)


def test_the_rpc_crm_needs_its_url_user_password_and_profile(monkeypatch):
    monkeypatch.setenv("RPCCRM_URL", "https://crm.example/api")
    monkeypatch.setenv("RPCCRM_PASSWORD", "s3cr3t")
    with pytest.raises(BackendMisconfigured) as refused:
        plan_backends(Settings())
    assert "RPC CRM: RPCCRM_EMAIL, RPCCRM_PROFILE_ID not set" in str(refused.value)
    assert "s3cr3t" not in str(refused.value)
    monkeypatch.setenv("RPCCRM_EMAIL", "sales@example.com")
    monkeypatch.setenv("RPCCRM_PROFILE_ID", "7")
    assert modes(Settings())["rpccrm"] == "crm"


def test_the_rpc_crm_token_and_catalogue_lifetimes_alone_do_not_turn_it_on(monkeypatch):
    monkeypatch.setenv("RPCCRM_TOKEN_TTL_S", "60")
    monkeypatch.setenv("RPCCRM_CATALOGUE_TTL_S", "0")
    assert modes(Settings())["rpccrm"] == "off"
    (rpc,) = [p for p in plan_backends(Settings(crm_sandbox=True)) if p.backend.name == "rpccrm"]
    assert (rpc.settings.token_ttl_s, rpc.settings.catalogue_ttl_s) == (60.0, 0.0)


def test_settings_objects_given_in_crms_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("ZOHO_CLIENT_ID", "partial")
    given = ZohoSettings(client_id="a", client_secret="b", refresh_token="c")
    assert modes(Settings(crms={"zoho": given}))["zoho"] == "crm"


def test_a_secret_is_not_in_the_refusal(monkeypatch):
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", "s3cr3t-value")
    with pytest.raises(BackendMisconfigured) as refused:
        plan_backends(Settings())
    assert "s3cr3t-value" not in str(refused.value)


def test_timeouts_alone_are_not_partial_settings_and_the_sandbox_keeps_them(monkeypatch):
    monkeypatch.setenv("ZOHO_READ_TIMEOUT_S", "2")
    assert modes(Settings())["zoho"] == "off"
    (zoho,) = [p for p in plan_backends(Settings(crm_sandbox=True)) if p.backend.name == "zoho"]
    assert zoho.settings.read_timeout_s == 2.0
    assert zoho.settings.client_id == "sandbox-client"


def test_empty_variables_are_unset_as_compose_passes_them(monkeypatch):
    for name in (
        *ZOHO_VARS,
        "ONAUTOMATE_TOKEN",
        "ONAUTOMATE_PIPELINE_ID",
        "POOLOGICS_URL",
        "RPCCRM_URL",
        "RPCCRM_PASSWORD",
    ):
        monkeypatch.setenv(name, "")
    assert set(modes(Settings()).values()) == {"off"}
    plans = plan_backends(Settings(crm_sandbox=True, public_url="http://api:8000/"))
    zoho = next(p for p in plans if p.backend.name == "zoho")
    assert zoho.settings.api_domain == "http://api:8000/zoho-sandbox"


def test_the_compose_file_starts_on_its_defaults_with_every_backend_off(monkeypatch):
    """compose.yaml's environment with every ${VAR:-default} at its default: fail closed, no
    backend runs (and no sandbox is served) until its settings or CRM_SANDBOX=true are given."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "compose.yaml").read_text()
    found = re.findall(r"^\s+([A-Z_]+): \$\{\1:-([^}]*)\}", text, flags=re.M)
    assert ("CRM_SANDBOX", "false") in found
    for name, default in found:
        monkeypatch.setenv(name, default)
    settings = Settings()
    assert not settings.crm_sandbox
    assert set(modes(settings).values()) == {"off"}
    monkeypatch.setenv("CRM_SANDBOX", "true")  # the demo
    assert set(modes(Settings()).values()) == {"sandbox"}
