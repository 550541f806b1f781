"""The global options work before and after the subcommand; a wrong folder is said plainly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_ferry.cli import cli
from crm_ferry.journal import JournalError


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "migration"
    result = CliRunner().invoke(cli, ["init", str(root), "--json"])
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.parametrize(
    "args",
    [
        ["--project", "{root}", "runs", "--json"],
        ["runs", "--project", "{root}", "--json"],
        ["runs", "-C", "{root}", "--json"],
        ["--project", "{root}", "sample", "accept", "--by", "Ada", "--json"],
        ["sample", "accept", "--by", "Ada", "--project", "{root}", "--json"],
    ],
)
def test_project_before_or_after_the_subcommand(project: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, [a.format(root=project) for a in args])
    data = json.loads(result.stdout)
    if args.count("runs"):
        assert result.exit_code == 0, result.output
        assert data == {"runs": []}
    else:  # the project is found: the answer is about its (missing) map
        assert data["error"]["type"] == "MapError", data


def test_traceback_after_the_subcommand_raises_the_error(project: Path) -> None:
    args = ["purge", "no-such-run", "--project", str(project), "--traceback"]
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, JournalError)
    plain = CliRunner().invoke(cli, args[:-1])
    assert plain.exit_code == JournalError.exit_code
    assert "no run 'no-such-run'" in plain.stderr


def test_a_folder_without_ferry_toml_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["runs", "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert f"no ferry.toml in {tmp_path}" in result.stderr
    assert "crm-ferry init" in result.stderr
    assert not (tmp_path / "journal.sqlite").exists()  # nothing written in a wrong folder
