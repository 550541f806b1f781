"""The load verbs on the command line: sample, sample accept, migrate, verify, delta, runs,
rollback and purge with ``--json`` output and their exit codes, against the in-process
emulator (the client the CLI builds from settings is replaced by one wired to it), and
``crm-ferry demo`` end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result

from crm_ferry.cli import cli
from crm_ferry.commands.demo import write_changed_bundle
from crm_ferry.commands.emulator import embedded_client
from helpers.reconcile import ReconProject, recon_project, recon_template

__all__ = ["recon_project", "recon_template"]  # fixtures, used by name


@pytest.fixture
def project(
    recon_project: Callable[..., ReconProject], monkeypatch: pytest.MonkeyPatch
) -> ReconProject:
    """A provisioned project whose configured environment is the in-process emulator."""
    p = recon_project()

    def pool_from_settings(settings: Any) -> Any:
        return SimpleNamespace(clients=[embedded_client(p.app)])

    monkeypatch.setattr("crm_ferry.commands._project.pool_from_settings", pool_from_settings)
    return p


def _run(project: ReconProject, *args: str, code: int = 0) -> dict[str, Any]:
    result: Result = CliRunner().invoke(
        cli, ["--project", str(project.settings.project_dir), *args], catch_exceptions=False
    )
    assert result.exit_code == code, (args, result.output, result.stderr)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _error(data: dict[str, Any], kind: str, code: int) -> dict[str, Any]:
    error: dict[str, Any] = data["error"]
    assert (error["type"], error["exit_code"]) == (kind, code)
    return error


def test_the_load_verbs_with_json_and_exit_codes(project: ReconProject, tmp_path: Path) -> None:
    # the full migration is gated on an accepted sample: exit 4 and what to do
    error = _error(_run(project, "migrate", "--json", code=4), "MapError", 4)
    assert "no accepted sample" in error["message"]
    assert "crm-ferry sample accept --by NAME" in error["hint"]
    _error(_run(project, "verify", "--json", code=4), "MapError", 4)
    _error(_run(project, "sample", "accept", "--by", "Ada", "--json", code=4), "MapError", 4)

    sample = _run(project, "sample", "--json")
    assert sample["selection"]["uncovered"] == []
    assert 200 <= sample["selection"]["size"] <= 500
    assert sample["proof"]["summary"]["fields compared"] > 1000
    assert sample["proof"]["summary"].get("fields mismatch", 0) == 0
    assert sample["rejects"] == 5
    for path in sample["report"].values():
        assert Path(path).is_file()
    accepted = _run(project, "sample", "accept", "--by", "Ada Lovelace", "--json")
    assert accepted["run_id"] == sample["run_id"]
    assert accepted["accepted_by"] == "Ada Lovelace"
    assert accepted["report"] == sample["report"]["html"]

    migrated = _run(project, "migrate", "--json")
    assert (migrated["kind"], migrated["state"], migrated["failures"]) == ("migrate", "done", [])
    clients = migrated["objects"]["clients"]
    assert clients["read"] == 40
    assert clients["written"] + clients["unchanged"] == 40

    verified = _run(project, "verify", "--json", "--fields", "20")
    assert verified["ok"] is False  # the planted invoice total, reported
    assert verified["proof"]["summary"]["differences"] == 1
    assert [c["name"] for c in verified["proof"]["failed_checks"]] == [
        "invoice total = source total"
    ]
    assert Path(verified["report"]["html"]).is_file()
    error = _error(_run(project, "verify", "--check", "--json", code=7), "CheckFailed", 7)
    assert error["message"].startswith("verify found 1 difference(s); see ")

    changed = tmp_path / "cutover"
    what = write_changed_bundle(project.bundle, changed, changes=3)
    delta = _run(project, "delta", "--source", str(changed), "--json")
    assert (delta["kind"], delta["state"], delta["failures"]) == ("delta", "done", [])
    assert delta["objects"]["clients"]["written"] == len(what["changed"]) + len(what["added"])
    assert sorted(delta["disappeared"]["activities"]) == sorted(
        r.split("/")[1] for r in what["removed"]
    )

    runs = _run(project, "runs", "--json")["runs"]
    assert [(r["kind"], r["state"]) for r in runs] == [
        ("sample", "done"),
        ("migrate", "done"),
        ("delta", "done"),
    ]
    delta_run = runs[-1]["run_id"]
    assert delta["run_id"] == delta_run

    error = _error(_run(project, "rollback", "--json", code=2), "ConfigError", 2)
    assert error["hint"] == "pass a RUN id or --all"
    preview = _run(project, "rollback", "--all", "--preview", "--json")
    assert preview["preview"] is True
    assert [r["run_id"] for r in preview["runs"]] == [r["run_id"] for r in reversed(runs)]
    undone = _run(project, "rollback", delta_run, "--json")
    assert undone["preview"] is False
    (result,) = undone["runs"]
    assert result["run_id"] == delta_run
    assert result["deleted"] >= len(what["added"])  # the new clients (and what they hold)
    assert result["restored"] >= len(what["changed"])
    assert result["conflicts"] == []
    assert result["failures"] == []
    kinds = [(r["kind"], r["state"]) for r in _run(project, "runs", "--json")["runs"]]
    assert ("delta", "rolled_back") in kinds

    _error(_run(project, "purge", "--json", code=2), "ConfigError", 2)
    purged = _run(project, "purge", sample["run_id"], "--json")
    assert purged["run_id"] == sample["run_id"]
    assert purged["operations"] > 0
    run_dir = project.settings.project_dir / "runs" / sample["run_id"]
    assert purged["folders"] == [str(run_dir)]
    assert list(run_dir.iterdir()) == []


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = CliRunner().invoke(
        cli,
        [
            "--project",
            str(tmp_path),
            "demo",
            "--clients",
            "30",
            "--json",
            "--workdir",
            str(workdir),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["workdir"] == str(workdir)
    assert set(data["reports"]) == {"sample", "verify", "references"}
    for path in data["reports"].values():
        assert Path(path).exists(), path
    assert Path(data["reports"]["sample"]).name == "report.html"
    steps = [s["step"] for s in data["steps"]]
    assert steps[0] == "generate"
    assert steps[-1] == "references"
    assert data["results"]["migrate"]["state"] == "done"
    assert data["results"]["migrate"]["failures"] == []
    assert data["results"]["sample"]["selection"]["uncovered"] == []
