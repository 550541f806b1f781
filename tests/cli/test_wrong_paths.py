"""Wrong paths are said plainly (issue 15, point 2): a verb that needs a project names the
folder without ``ferry.toml`` (or that does not exist) before anything else; ``init
--source`` refuses a bundle that is not there and records one that is so that it resolves
from the project; ``init`` ends by saying how to give the secret and run ``doctor``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.cli import cli
from crm_ferry.errors import ConfigError, SourceError
from crm_ferry.settings import SECRET_ENV, Settings
from crm_ferry.sources.generator import generate_bundle

PROJECT_VERBS = [
    ["map", "propose"],
    ["map", "show"],
    ["map", "check"],
    ["map", "confirm", "--by", "Ada"],
    ["provision", "--dry-run"],
    ["sample"],
    ["sample", "accept", "--by", "Ada"],
    ["migrate"],
    ["migrate", "--source", "{bundle}"],
    ["delta", "--source", "{bundle}"],
    ["verify"],
    ["verify", "accept", "--by", "Ada", "--reason", "agreed"],
    ["rollback", "--all", "--preview"],
    ["runs"],
    ["purge", "--all"],
    ["references"],
    ["doctor"],
]
"""Every verb that works in a project, as a new user would type it."""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "export"
    generate_bundle(out, clients=3, seed=1)
    return out


def _run(args: list[str], bundle: Path, cwd: Path) -> tuple[int, str]:
    runner = CliRunner()
    here = Path.cwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(cli, [a.format(bundle=bundle) for a in args])
    finally:
        os.chdir(here)
    return result.exit_code, result.stderr


@pytest.mark.parametrize("args", PROJECT_VERBS, ids=" ".join)
def test_outside_a_project_the_missing_ferry_toml_is_said_first(
    args: list[str], bundle: Path, tmp_path: Path
) -> None:
    code, err = _run(args, bundle, tmp_path)
    assert code == ConfigError.exit_code, err
    assert err.startswith(f"error: no ferry.toml in {tmp_path}\n"), err
    assert "crm-ferry init" in err
    assert list(tmp_path.iterdir()) == []  # nothing written in a folder that is no project


@pytest.mark.parametrize("args", PROJECT_VERBS, ids=" ".join)
def test_a_project_folder_that_does_not_exist_is_said(
    args: list[str], bundle: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nonexistent"
    code, err = _run(["--project", str(missing), *args], bundle, tmp_path)
    assert code == ConfigError.exit_code, err
    assert err.startswith(f"error: the project folder {missing} does not exist\n"), err
    assert not missing.exists()


@settings(max_examples=20)
@given(
    name=st.text(
        alphabet=st.characters(codec="utf-8", categories=("L", "N"), include_characters="-_. "),
        min_size=1,
        max_size=20,
    ).filter(lambda s: s.strip(". ") == s and s not in {"", "."}),
    verb=st.sampled_from([v for v in PROJECT_VERBS if "{bundle}" not in v]),
    exists=st.booleans(),
)
def test_any_wrong_project_folder_is_named(name: str, verb: list[str], exists: bool) -> None:
    """Whatever the folder is called, and whether it is missing or only lacks ferry.toml,
    the first line names it and what is wrong with it."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / name
        if exists:
            folder.mkdir()
        result = CliRunner().invoke(cli, ["--project", str(folder), *verb])
        assert result.exit_code == ConfigError.exit_code, result.stderr
        first = result.stderr.splitlines()[0]
        wrong = f"no ferry.toml in {folder}" if exists else f"folder {folder} does not exist"
        assert wrong in first, result.stderr


def test_doctor_configured_by_the_environment_needs_no_ferry_toml(tmp_path: Path) -> None:
    """Settings can come from CRM_FERRY_* alone: then doctor goes on to the secret."""
    env = {"CRM_FERRY_DATAVERSE_URL": "https://contoso.crm.dynamics.com"}
    env["CRM_FERRY_DATAVERSE_CLIENT_ID"] = "11111111-0000-4000-8000-000000000001"
    result = CliRunner(env=env).invoke(cli, ["--project", str(tmp_path), "doctor"])
    assert result.exit_code == ConfigError.exit_code
    assert "no client secret" in result.stderr


def test_init_refuses_a_source_that_does_not_exist(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["init", str(tmp_path / "p"), "--source", str(tmp_path / "nope.zip")]
    )
    assert result.exit_code == SourceError.exit_code, result.output
    assert f"{tmp_path / 'nope.zip'}: no such folder or zip file" in result.stderr
    assert "--source" in result.stderr  # what to do
    assert not (tmp_path / "p").exists()  # no project made around a wrong path


def test_init_records_a_source_given_from_here_so_that_it_resolves(
    bundle: Path, tmp_path: Path
) -> None:
    """As in the README: `crm-ferry init my-migration --source export.zip`, then `cd
    my-migration`: the path typed is relative to the current folder, and ferry.toml holds
    it relative to the project."""
    (tmp_path / "export").symlink_to(bundle, target_is_directory=True)
    code, err = _run(["init", "my-migration", "--source", "export"], bundle, tmp_path)
    assert code == 0, err
    settings = Settings.load(tmp_path / "my-migration", env={})
    assert settings.source is not None
    assert settings.source.resolve() == bundle.resolve()
    assert 'path = "../export"' in (tmp_path / "my-migration" / "ferry.toml").read_text("utf-8")


def test_init_next_lines_say_the_secret_and_doctor(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    next_lines = result.stdout.split("Next:", 1)[1]
    assert f"export {SECRET_ENV}=" in next_lines
    assert "crm-ferry doctor" in next_lines
    assert next_lines.index(SECRET_ENV) < next_lines.index("crm-ferry doctor")
    assert next_lines.index("crm-ferry doctor") < next_lines.index("crm-ferry discover")
