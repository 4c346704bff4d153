"""The CLI refuses a bad option before it reads anything, naming it (as GET /sagas does)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.cli import cli


@pytest.mark.parametrize(
    ("args", "says"),
    [(["--status", "bogus"], "Invalid value for '--status'"),
     (["--limit", "0"], "Invalid value for '--limit'"),
     (["--limit", "201"], "Invalid value for '--limit'")],
)  # fmt: skip
def test_sagas_list_refuses_a_bad_filter_by_name(args, says, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(cli, ["sagas", "list", *args])
    assert result.exit_code == 2, result.output
    flat = "".join(ch for ch in result.output if ch not in " \n│")  # rich wraps its box
    assert says.replace(" ", "") in flat
    if args[0] == "--status":
        assert "'needs_manual_cleanup'" in flat
