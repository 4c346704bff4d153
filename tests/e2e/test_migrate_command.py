"""`salesaga db upgrade`, `salesaga migrate` and `salesaga db current` as an operator runs them,
and serve, worker and the other commands refusing a database that is not at head: exit 1, the
revision it is at, the one needed and what to run, never the password."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from orchestrator.store.migrate import BASELINE, head
from tests.conftest import scratch_database
from tests.integration.test_migrations import load_release_1
from tests.processes import BIN, clean_env, free_port, running

KEY = "migrate-client-key-0123456"  # at least 20 characters

SECRET = "s3cret-pw"  # PostgreSQL trusts local connections: the password is only shown, or not


def salesaga(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BIN / "salesaga", *args], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def at_once(
    cwd: Path, commands: list[tuple[str, ...]], env: dict[str, str]
) -> list[tuple[tuple[str, ...], subprocess.CompletedProcess[str]]]:
    """Run the commands side by side (each is a Python start-up of seconds), in their order."""
    with ThreadPoolExecutor(len(commands)) as pool:
        runs = [pool.submit(salesaga, cwd, *command, **env) for command in commands]
        return [(command, run.result()) for command, run in zip(commands, runs, strict=True)]


@pytest.fixture
def empty_pg() -> Iterator[str]:
    """An empty PostgreSQL database, its URL carrying a password."""
    with scratch_database() as url:
        yield url.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")


REFUSING = [("serve",), ("worker", "--no-beat"), ("consume",), ("recover",),
            ("sagas", "list"), ("messages", "dead-letters")]  # fmt: skip


def test_every_command_refuses_a_database_not_at_head_saying_what_to_run(tmp_path, empty_pg):
    env = {"DATABASE_URL": empty_pg, "BROKER_URL": "redis://127.0.0.1:6379/11"}
    for command, done in at_once(tmp_path, REFUSING, env):
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "has no salesaga schema yet" in done.stderr, (command, done.stderr)
        assert f"this release needs revision {head()}: run `salesaga db upgrade`" in done.stderr
        assert SECRET not in done.stdout + done.stderr, command
        assert "postgres:***@127.0.0.1" in done.stderr

    assert salesaga(tmp_path, "db", "upgrade", **env).returncode == 0
    with psycopg.connect(empty_pg, autocommit=True) as conn:
        conn.execute(f"UPDATE alembic_version SET version_num = '{BASELINE}'")
    for _command, done in at_once(tmp_path, [("serve",), ("worker", "--no-beat")], env):
        assert done.returncode == 1
        assert f"is at revision {BASELINE}, this release needs revision {head()}" in done.stderr


def test_every_command_says_in_one_line_that_the_database_cannot_be_reached(tmp_path):
    down = f"postgresql://postgres:{SECRET}@127.0.0.1:1/salesaga"  # nothing listens on port 1
    missing = f"sqlite:///{tmp_path}/no/such/dir/salesaga.db"
    commands = [*REFUSING, ("db", "upgrade"), ("db", "current"),
                ("sagas", "show", "00000000-0000-0000-0000-000000000000")]  # fmt: skip
    refused = (down, "postgresql://postgres:***@127.0.0.1:1/salesaga", "Connection refused")
    for url, where, reason in [refused,
                               (missing, missing, "unable to open database file")]:  # fmt: skip
        env = {"DATABASE_URL": url, "BROKER_URL": "redis://127.0.0.1:6379/11"}
        for command, done in at_once(tmp_path, commands, env):
            said = done.stdout + done.stderr
            assert done.returncode == 1, (command, said)
            assert f"salesaga: the database at {where}" in done.stderr, (command, said)
            assert reason in done.stderr and "is DATABASE_URL right?" in done.stderr, command
            assert "Traceback" not in said and SECRET not in said, (command, said)


def test_settings_that_are_not_valid_are_named_without_their_values(tmp_path):
    env = {"PORT": "70000", "SMTP_PORT": "0", "SYNC_WAIT_S": "s3cret-ish",
           "SMTP_PASSWORD": SECRET, "DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}  # fmt: skip
    commands = [("serve",), ("worker", "--no-beat"), ("sagas", "list")]
    for command, done in at_once(tmp_path, commands, env):
        said = done.stdout + done.stderr
        assert done.returncode == 1, (command, said)
        assert "salesaga: a setting is not valid" in done.stderr, (command, said)
        assert "PORT: Input should be less than or equal to 65535" in done.stderr
        assert "SMTP_PORT: Input should be greater than or equal to 1" in done.stderr
        assert "SYNC_WAIT_S: Input should be a valid number" in done.stderr
        assert "Traceback" not in said and "s3cret" not in said, (command, said)
    bad_port = salesaga(tmp_path, "serve", "--port", "99999", **env | {"PORT": "8000"})
    assert bad_port.returncode == 2 and "Invalid value for '--port'" in bad_port.stderr


def test_migrate_upgrades_then_serve_starts_and_current_says_head(tmp_path, empty_pg):
    env = {"DATABASE_URL": empty_pg}
    before = salesaga(tmp_path, "db", "current", **env)
    assert before.returncode == 1 and "has no salesaga schema yet" in before.stdout

    migrated = salesaga(tmp_path, "migrate", **env)
    assert migrated.returncode == 0, migrated.stderr
    assert f"upgraded from empty to revision {head()}" in migrated.stdout
    assert SECRET not in migrated.stdout + migrated.stderr
    again = salesaga(tmp_path, "db", "upgrade", **env)
    assert f"already at revision {head()}" in again.stdout

    after = salesaga(tmp_path, "db", "current", **env)
    assert after.returncode == 0 and f"at revision {head()} (head)" in after.stdout
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serving = clean_env(**env, API_KEYS=KEY, PORT=str(port), BROKER_URL="memory://")
    with running([[BIN / "salesaga", "serve"]], cwd=tmp_path, env=serving, url=url):
        assert httpx.get(url + "/flows", headers={"x-api-key": KEY}).status_code == 200


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_db_upgrade_brings_a_release_1_database_to_head(tmp_path, dialect):
    with scratch_database() as pg:
        url = f"sqlite:///{tmp_path / 'r1.db'}" if dialect == "sqlite" else pg
        load_release_1(url)
        assert salesaga(tmp_path, "serve", DATABASE_URL=url).returncode == 1
        done = salesaga(tmp_path, "db", "upgrade", DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
        assert f"upgraded from release 1 (made before migrations) to revision {head()}" in (
            done.stdout
        )
        listed = salesaga(tmp_path, "sagas", "list", "--json", DATABASE_URL=url)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count('"zoho.sale"') == 2
