"""scripts/audit (issue 22 finding 9, pip-audit in CI): a known vulnerability fails the run, and
an audit that could not reach any vulnerability service says so instead of passing quietly.

pip-audit is replaced by a stand-in (PIP_AUDIT) that answers as each service would."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE = r"""#!/usr/bin/env bash
# args: ... -s SERVICE ... -o PATH ...
while [ $# -gt 0 ]; do
  case "$1" in -s) service=$2; shift ;; -o) out=$2; shift ;; esac; shift
done
answer=$(eval echo "\$FAKE_$service")
case "$answer" in
  down) echo "requests.exceptions.ConnectionError: Failed to resolve ($service)" >&2; exit 1 ;;
  broken) echo "error: the lock does not parse" >&2; exit 1 ;;
  *) cat "$FAKE_DIR/$answer.json" > "$out"; [ "$answer" = vuln ] && exit 1; exit 0 ;;
esac
"""

REPORTS = {
    "clean": [{"name": "jinja2", "version": "3.1.6", "vulns": []}],
    "vuln": [
        {
            "name": "jinja2",
            "version": "3.1.2",
            "vulns": [{"id": "GHSA-h5c8", "fix_versions": ["3.1.3"]}],
        }
    ],
    "skipped": [{"name": "jinja2", "skip_reason": "Dependency not found on PyPI: jinja2 (3.1.6)"}],
    "partial": [
        {"name": "jinja2", "version": "3.1.6", "vulns": []},
        {"name": "rich", "skip_reason": "Dependency not found on PyPI: rich (15.0.0)"},
    ],
}


def run_audit(
    tmp_path: Path, strict: bool = False, **answers: str
) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "pip-audit"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    for name, deps in REPORTS.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"dependencies": deps, "fixes": []}))
    env = {**os.environ, "PIP_AUDIT": str(fake), "FAKE_DIR": str(tmp_path)}
    env |= {f"FAKE_{service}": answer for service, answer in answers.items()}
    env["AUDIT_STRICT"] = "1" if strict else "0"
    return subprocess.run(
        ["bash", str(ROOT / "scripts/audit")], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_clean_audit_passes_and_names_the_service(tmp_path) -> None:
    done = run_audit(tmp_path, osv="clean", pypi="vuln")
    assert done.returncode == 0, done.stderr
    assert "pip-audit (osv): 1 packages" in done.stderr and "no known vulnerability" in done.stderr


def test_a_known_vulnerability_fails_naming_package_id_and_fix(tmp_path) -> None:
    done = run_audit(tmp_path, osv="down", pypi="vuln")
    assert done.returncode == 1
    assert "VULNERABLE jinja2==3.1.2: GHSA-h5c8 (fixed in: 3.1.3)" in done.stderr


@pytest.mark.parametrize("strict", [False, True])
def test_no_reachable_service_says_the_audit_did_not_run(tmp_path, strict) -> None:
    done = run_audit(tmp_path, strict=strict, osv="down", pypi="down")
    assert done.returncode == (1 if strict else 0)
    assert "pip-audit could NOT run" in done.stderr
    assert "no known vulnerability" not in done.stderr


@pytest.mark.parametrize("strict", [False, True])
def test_packages_the_service_does_not_know_are_reported_unaudited(tmp_path, strict) -> None:
    done = run_audit(tmp_path, strict=strict, osv="down", pypi="skipped")
    assert done.returncode == (1 if strict else 0)
    assert "pip-audit could NOT run" in done.stderr and "not audited" in done.stderr
    partial = run_audit(tmp_path, strict=strict, osv="partial", pypi="clean")
    assert partial.returncode == (1 if strict else 0)
    assert "could NOT audit 1 of 2 packages" in partial.stderr


def test_any_other_failure_of_pip_audit_fails(tmp_path) -> None:
    done = run_audit(tmp_path, osv="broken", pypi="clean")
    assert done.returncode == 1
    assert "the lock does not parse" in done.stderr
