"""Loading keys: names, roles, digests only, a minimum length, the README's development keys
refused outside `salesaga dev`; each refusal names the entry and never shows a key."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import SecretStr

from orchestrator.api.auth import AuthError, Role
from orchestrator.api.keys import (
    DEV_CLIENT_KEY,
    MIN_KEY_CHARS,
    KeyConfigError,
    digest_of,
    file_entry,
    key_ring,
    new_key,
)

LONG = "a-client-key-long-enough-1"
OPS = "an-operator-key-long-enough-2"


def secrets(*values: str) -> list[SecretStr]:
    return [SecretStr(v) for v in values]


def test_named_and_bare_keys_are_found_with_their_role_and_name():
    ring = key_ring(secrets(f"erp:{LONG}"), secrets(OPS))
    erp, ops = ring.identify(LONG), ring.identify(OPS)
    assert (erp.role, erp.name, erp.actor) == (Role.CLIENT, "erp", "client:erp")
    assert ops.role is Role.OPERATOR and ops.name == digest_of(OPS).hex()[:8]
    assert ops.actor == f"operator:{digest_of(OPS).hex()[:8]}"  # as before names existed
    for bad in (None, "", "erp", f"erp:{LONG}", LONG + "x"):
        with pytest.raises(AuthError) as refused:
            ring.identify(bad)
        assert refused.value.status == 401


def test_a_key_holding_a_colon_after_no_name_stays_whole():
    key = "x y:z-with-a-colon-inside-0"  # "x y" is no name: the whole entry is the key
    assert key_ring(secrets(key), []).identify(key).role is Role.CLIENT


@pytest.mark.parametrize(
    ("clients", "operators", "says"),
    [
        (["short-key"], [], f"API_KEYS entry 1: the key is shorter than {MIN_KEY_CHARS}"),
        ([LONG], ["ops:tiny"], "OPERATOR_API_KEYS entry 1 (ops): the key is shorter"),
        ([f"a:{LONG}", f"a:{OPS}"], [], "names must be unique: a is used twice"),
        ([LONG], [LONG], "one key is configured twice"),
        ([DEV_CLIENT_KEY], [], "the README's public development key"),
    ],
)
def test_unusable_keys_are_refused_naming_the_entry_never_the_key(clients, operators, says):
    with pytest.raises(KeyConfigError) as refused:
        key_ring(secrets(*clients), secrets(*operators))
    assert says in str(refused.value)
    for value in (*clients, *operators):
        key = value.partition(":")[2] if ":" in value else value
        assert key not in str(refused.value)


def test_the_development_keys_are_taken_by_dev_only():
    ring = key_ring(secrets(DEV_CLIENT_KEY), [], dev=True)
    assert ring.identify(DEV_CLIENT_KEY).role is Role.CLIENT


def test_a_keys_file_holds_digests_with_roles_and_limits(tmp_path):
    key = new_key()
    assert len(key) >= 43
    path = tmp_path / "keys.toml"
    path.write_text(file_entry("ops-alice", Role.OPERATOR, key) + "rate_limit_per_min = 60\n")
    assert key not in path.read_text() and digest_of(key).hex() in path.read_text()
    ring = key_ring([], [], str(path))
    assert ring.identify(key).actor == "operator:ops-alice"
    assert ring.identify(key).rate_limit_per_min == 60


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[key]]\nname = "a"\nrole = "admin"\nsha256 = "' + "0" * 64 + '"\n',
         "key 1 (a): role must be client or operator"),
        ('[[key]]\nname = "a"\nrole = "client"\nsha256 = "abc"\n', "sha256 must be 64"),
        ('[[key]]\nname = "a b"\nrole = "client"\n', "key 1: name must be"),
        ('[[key]]\nname = "a"\nrole = "client"\nsha256 = "' + "0" * 64 + '"\n'
         "rate_limit_per_min = 0\n", "rate_limit_per_min must be a whole number > 0"),
        ("key = 3\n", "`key` must be an array of tables"),
        ("[[key\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_keys_file_is_refused_naming_the_entry(tmp_path, text, says):
    path = tmp_path / "keys.toml"
    path.write_text(text)
    with pytest.raises(KeyConfigError) as refused:
        key_ring([], [], str(path))
    assert says in str(refused.value)


def test_serve_refuses_a_short_key_and_says_which_without_showing_it(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "API_KEYS": "erp:s3cr3t-but-short", "HOME": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}  # fmt: skip
    command = [sys.executable, "-m", "orchestrator.cli", "serve", "--port", "1"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "API_KEYS entry 1 (erp): the key is shorter than 20 characters" in done.stderr
    assert "s3cr3t-but-short" not in done.stdout + done.stderr
