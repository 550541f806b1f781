"""The load verbs on the command line: sample, sample accept, migrate, verify, delta, runs,
rollback and purge with ``--json`` output and their exit codes, against the in-process
emulator (the client the CLI builds from settings is replaced by one wired to it), and
``crm-ferry demo`` end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from crm_ferry.cli import cli
from crm_ferry.commands.demo import write_changed_bundle
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.throttle import RetryPolicy
from crm_ferry.emulator import EmulatorApp
from crm_ferry.journal import Journal
from crm_ferry.load import engine
from helpers.project import build_unprovisioned
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
    assert sample["rejects"] == 4  # the linked file is skipped (documents.linked: skip)
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
    assert verified["ok"] is False  # the planted edge cases, reported
    assert verified["proof"]["summary"]["differences"] == 5
    assert sorted(c["name"] for c in verified["proof"]["failed_checks"]) == [
        "invoice total = source total",
        *["record not loaded"] * 4,
    ]
    assert verified["summary"]["by_class"]["source defect"]["new"] == 4
    assert verified["summary"]["by_class"]["rejected by the map"]["new"] == 1
    assert Path(verified["report"]["html"]).is_file()
    error = _error(_run(project, "verify", "--check", "--json", code=7), "CheckFailed", 7)
    assert error["message"].startswith("verify found 5 difference(s) nobody accepted")
    assert len(error["differences"]) == 5

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


# ---------------------------------------------------------------------------
# Writing commands: exit 8 when something failed, 130 when stopped, runs as they are


def _invoke(project_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project", str(project_dir), *args], catch_exceptions=False)


class _Refusing(httpx.BaseTransport):
    """The emulator's transport, with the requests ``refuse`` picks answered 503."""

    def __init__(self, app: EmulatorApp, refuse: Callable[[httpx.Request], bool]) -> None:
        self.inner = app.transport()
        self.refuse = refuse

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "/api/data/" in str(request.url) and self.refuse(request):
            body = {"error": {"code": "", "message": "Service Unavailable"}}
            return httpx.Response(503, json=body, request=request)
        return self.inner.handle_request(request)


def _wins(request: httpx.Request) -> bool:
    return request.method == "POST" and (
        request.url.path.endswith("/WinOpportunity")
        or (request.url.path.endswith("$batch") and b"WinOpportunity" in request.read())
    )


def _use(monkeypatch: pytest.MonkeyPatch, make: Callable[[], Any]) -> None:
    """The clients the CLI builds from settings: made by ``make`` instead."""
    monkeypatch.setattr(
        "crm_ferry.commands._project.pool_from_settings",
        lambda settings: SimpleNamespace(clients=[make()]),
    )
    monkeypatch.setattr("crm_ferry.commands._project.client_from_settings", lambda s: make())


def test_migrate_exits_8_when_win_opportunity_failed(
    project: ReconProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(
        monkeypatch,
        lambda: embedded_client(
            project.app,
            transport=_Refusing(project.app, _wins),
            retry=RetryPolicy(max_attempts=1),
        ),
    )
    data = _run(project, "migrate", "--skip-sample-gate", "--json", code=8)
    error = _error(data, "Incomplete", 8)
    assert data["state"] == "failed"
    failed = [f for f in data["failures"] if f["kind"] == "action"]
    assert failed
    assert data["objects"]["opportunities (aggregated)"]["failed"] == len(failed)
    assert error["message"] == (
        f"run {data['run_id']}: {len(failed)} operation(s) failed; "
        f"see runs/{data['run_id']}/load.json"
    )
    assert "run `crm-ferry migrate` again to resend them" in error["hint"]
    # on the console: the table, then the error and what to do
    shown = _invoke(project.settings.project_dir, "migrate", "--skip-sample-gate")
    assert shown.exit_code == 8, shown.output
    assert "adds up" in shown.stdout  # the table, with each failure, first
    assert "failed opportunity" in shown.stdout
    assert f"{len(failed)} operation(s) failed" in shown.stderr
    assert "what to do:" in shown.stderr


def test_ctrl_c_stops_migrate_cleanly_and_the_next_migrate_continues(
    project: ReconProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = engine.write_many
    calls = {"n": 0}

    def interrupted_on_the_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return write(*args, **kwargs)

    monkeypatch.setattr(engine, "write_many", interrupted_on_the_third)
    data = _run(project, "migrate", "--skip-sample-gate", "--json", code=130)
    error = _error(data, "Interrupted", 130)
    run_id = data["run_id"]
    assert (data["state"], data["runs"]) == ("interrupted", [run_id])
    assert error["hint"].startswith("run `crm-ferry migrate` again to continue")
    with Journal.for_project(project.settings.project_dir) as j:
        assert j.run(run_id).state == "interrupted"
        assert j.state_counts(run_id).get("pending", 0) > 0
    (listed,) = _run(project, "runs", "--json")["runs"]
    assert (listed["run_id"], listed["state"], listed["live"]) == (run_id, "interrupted", False)

    calls["n"] = 0  # stopped again, on the console this time: it says how to go on
    shown = _invoke(project.settings.project_dir, "migrate", "--skip-sample-gate")
    assert shown.exit_code == 130, shown.output
    assert "run `crm-ferry migrate` again to continue" in shown.stderr
    monkeypatch.setattr(engine, "write_many", write)
    resumed = _run(project, "migrate", "--skip-sample-gate", "--json")
    assert (resumed["run_id"], resumed["resumed"], resumed["state"]) == (run_id, True, "done")
    assert resumed["failures"] == []


def _start_run_in_another_process(project_dir: Path) -> str:
    """A migrate run started by a process that then died: the journal still says running."""
    code = (
        "import sys\nfrom pathlib import Path\nfrom crm_ferry.journal import Journal\n"
        "with Journal.for_project(Path(sys.argv[1])) as j:\n"
        "    print(j.start_run('migrate', note='killed'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(project_dir)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_runs_shows_each_full_run_id_its_outcomes_and_state_in_80_columns(
    project: ReconProject,
) -> None:
    loaded = _run(project, "migrate", "--skip-sample-gate", "--json")
    gone = _start_run_in_another_process(project.settings.project_dir)
    shown = _invoke(project.settings.project_dir, "runs")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, shown.stdout
    header = next(line for line in lines if "written" in line)
    assert header.split() == ["run", "written", "unchanged", "rejected", "failed"]
    (first,) = [line for line in lines if loaded["run_id"] in line]  # the whole id, on one line
    totals = {
        k: sum(c[k] for c in loaded["objects"].values())
        for k in ("written", "unchanged", "rejected", "failed")
    }
    assert first.split()[1:] == [f"{totals[k]:,}" for k in totals]
    assert any(gone in line for line in lines)
    after = lines[next(i for i, line in enumerate(lines) if gone in line) + 1]
    assert after.split()[0] == "interrupted"  # its process is gone
    runs = {r["run_id"]: r for r in _run(project, "runs", "--json")["runs"]}
    assert runs[gone]["state"] == "interrupted"
    assert runs[loaded["run_id"]]["outcomes"] == totals


def test_purge_takes_a_unique_start_of_a_run_id(project: ReconProject) -> None:
    first = _run(project, "migrate", "--skip-sample-gate", "--json")["run_id"]
    second = _start_run_in_another_process(project.settings.project_dir)
    common = next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
    purged = _run(project, "purge", first[: common + 1], "--json")
    assert purged["run_id"] == first
    assert purged["operations"] > 0
    error = _error(_run(project, "purge", first[:common], "--json", code=2), "JournalError", 2)
    assert first in error["message"]
    assert second in error["message"]
    assert "list runs with `crm-ferry runs`" in error["hint"]


@pytest.fixture(scope="module")
def unprovisioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_unprovisioned(tmp_path_factory.mktemp("unprovisioned"), clients=10, seed=3)


def test_provision_exits_8_when_an_operation_failed_and_130_when_interrupted(
    unprovisioned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "p"
    shutil.copytree(unprovisioned, root)
    project_dir = root / "project"
    with EmulatorApp(data_dir=root / "data") as app:
        creates = {"n": 0}

        def third_create(request: httpx.Request) -> bool:
            if request.method == "POST" and "EntityDefinitions" in request.url.path:
                creates["n"] += 1
                return creates["n"] == 3
            return False

        def stop_at_third_create(request: httpx.Request) -> bool:
            if third_create(request):
                raise KeyboardInterrupt
            return False

        _use(monkeypatch, lambda: embedded_client(app, transport=_Refusing(app, third_create)))
        shown = _invoke(project_dir, "provision", "--json")
        assert shown.exit_code == 8, shown.output
        data = json.loads(shown.stdout)
        assert data["error"]["type"] == "ProvisionIncomplete"
        assert "run `crm-ferry provision` again" in data["error"]["hint"]
        assert len(data["applied"]["applied"]) == 2  # what ran before it, listed

        creates["n"] = 0
        _use(
            monkeypatch,
            lambda: embedded_client(app, transport=_Refusing(app, stop_at_third_create)),
        )
        shown = _invoke(project_dir, "provision", "--json")
        assert shown.exit_code == 130, shown.output
        data = json.loads(shown.stdout)
        assert (data["state"], data["error"]["type"]) == ("interrupted", "Interrupted")
        assert data["error"]["hint"].startswith("run `crm-ferry provision` again to continue")
        (schema_run,) = data["runs"]
        assert schema_run.startswith("schema-provision-")

        _use(monkeypatch, lambda: embedded_client(app))
        shown = _invoke(project_dir, "provision", "--json")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["applied"]["applied"]
