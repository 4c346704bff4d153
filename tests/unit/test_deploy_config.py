"""Issue 22 finding 7: the deployment files fail closed.

compose.yaml has no fallback to the README's public development keys nor any other secret
default, requires the keys and the database password, keeps the CRM sandbox off, and publishes
only the API's port to the network; the Dockerfile runs the service as a fixed non-root user.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRETISH = re.compile(r"KEY|SECRET|PASSWORD|TOKEN", re.IGNORECASE)
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
REFERENCE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")
DEV_VALUES = ("dev-client-key", "dev-operator-key", "dev-webhook-secret")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def environments() -> dict[str, dict[str, str]]:
    return {name: svc.get("environment") or {} for name, svc in compose()["services"].items()}


def defaults(value: str) -> dict[str, str]:
    """NAME -> the default it falls back to when unset ('' when none)."""
    return {m[1]: m[3] for m in REFERENCE.finditer(str(value)) if m[2] in (":-", "-")}


def test_compose_never_falls_back_to_a_development_key_or_any_secret() -> None:
    text = (ROOT / "compose.yaml").read_text()
    for dev_value in DEV_VALUES:
        assert dev_value not in text
    for service, env in environments().items():
        for name, value in env.items():
            for var, default in defaults(value).items():
                if SECRETISH.search(var):
                    assert default == "", f"{service}: {name} falls back to {default!r}"
            if SECRETISH.search(name):
                # never a literal: a secret comes from the environment of whoever deploys
                assert REFERENCE.fullmatch(str(value).strip()), f"{service}: {name}={value!r}"


def test_compose_refuses_to_start_without_the_keys_and_database_password() -> None:
    env = environments()
    required = {"API_KEYS", "OPERATOR_API_KEYS"}
    for service in ("api", "worker", "consumer"):
        for name in required:
            match = REFERENCE.fullmatch(env[service][name])
            assert match and match[1] == name and match[2] == ":?", (service, name)
        url = env[service]["DATABASE_URL"]
        userinfo = url.split("://", 1)[1].split("@", 1)[0]
        assert re.fullmatch(r"salesaga:\$\{POSTGRES_PASSWORD:\?[^}]+\}", userinfo), url
    assert env["postgres"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_compose_keeps_the_crm_sandbox_off_unless_asked() -> None:
    for service in ("api", "worker", "consumer"):
        assert environments()[service]["CRM_SANDBOX"] == "${CRM_SANDBOX:-false}"


def test_compose_publishes_only_the_api_port_beyond_this_host() -> None:
    public: dict[str, list[str]] = {}
    for name, svc in compose()["services"].items():
        for port in svc.get("ports", []):
            spec = str(port)
            if not spec.startswith(("127.0.0.1:", "[::1]:", "localhost:")):
                public.setdefault(name, []).append(spec)
    assert public == {"api": ["8000:8000"]}
    services = compose()["services"]
    assert "ports" not in services["postgres"] and "ports" not in services["redis"]


def dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.split(None, 1) for line in lines if line and not line.startswith("#"))
    ]


def test_the_image_runs_as_a_fixed_non_root_user() -> None:
    instructions = dockerfile()
    users = [arg for op, arg in instructions if op == "USER"]
    assert users, "the Dockerfile sets no USER: the service would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) >= 1000, users[-1]  # numeric: runAsNonRoot can check it
    assert not gid or (gid.isdigit() and int(gid) != 0)
    created = " ".join(arg for op, arg in instructions if op == "RUN")
    assert re.search(rf"useradd\b.*--uid {uid}\b", created)
    # the user comes last: nothing after it runs as root, and the command runs as the user
    last_user = max(i for i, (op, _) in enumerate(instructions) if op == "USER")
    assert all(op != "RUN" for op, _ in instructions[last_user:])
    assert instructions[-1][0] == "CMD"


def test_compose_migrates_before_the_service_starts() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["salesaga", "db", "upgrade"]
    for name in ("api", "worker", "consumer"):
        needs = services[name]["depends_on"]
        assert needs["migrate"] == {"condition": "service_completed_successfully"}, name
