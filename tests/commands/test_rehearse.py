"""``crm-ferry rehearse`` (issue 17, point 3): provision → sample → migrate → verify →
rollback for the project, against an emulator started in process from its tenant snapshot.

The rehearsal never contacts the configured tenant, keeps its journal, reports and emulator
data in ``rehearsal/<UTC time>/`` (the project's own journal and ``runs/`` stay as they
were), leaves the served tenant as it found it (or, with ``--keep``, the migrated data in
its emulator folder), refuses without a snapshot or a confirmed map, and exits non-zero
when a step fails (8) or verify finds migration differences (7)."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from crm_ferry import commands
from crm_ferry.cli import cli, render
from crm_ferry.commands.emulator import SnapshotTenant, embedded_client
from crm_ferry.emulator import EmulatorApp
from crm_ferry.errors import Interrupted
from crm_ferry.journal import Journal
from crm_ferry.reconcile.classify import MIGRATION
from crm_ferry.reconcile.scoping import SnapshotOrigin
from crm_ferry.settings import Settings
from helpers.project import build_provisioned, build_unprovisioned
from helpers.watched import configure, watched_tenant

rehearsal = importlib.import_module("crm_ferry.commands.rehearse")
"""The module (``crm_ferry.commands.rehearse`` is the function, as the package exports it)."""
REJECTS = Path(__file__).parents[1] / "cases" / "promises" / "rejects"
"""Hand-written bundles; in ``load``, records lost to another record's problem."""
WIDTH = 80


def _snapshot(base: Path) -> Path:
    """The snapshot of ``base``'s tenant, in its project (as `crm-ferry snapshot` writes it)."""
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        return commands.snapshot(Settings.load(base / "project", env={}), client=client).path


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose tenant has the map's schema (provisioned before the snapshot)."""
    base = build_provisioned(tmp_path_factory.mktemp("provisioned"), clients=8, seed=5)
    _snapshot(base)
    return base


@pytest.fixture(scope="module")
def unprovisioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose snapshot was taken before provisioning: the rehearsal provisions."""
    base = build_unprovisioned(tmp_path_factory.mktemp("unprovisioned"), clients=8, seed=5)
    _snapshot(base)
    return base


def _copy(template: Path, tmp_path: Path, *, threshold: str | None = "10%") -> Path:
    """A copy of ``template``'s bundle and project; its project folder. The generated bundle
    plants a few defects, over the default 2% of an object's records: ``threshold``."""
    for part in ("bundle", "project"):
        shutil.copytree(template / part, tmp_path / part)
    project = tmp_path / "project"
    if threshold is not None:
        config = project / "ferry.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace('# reject_threshold = "2%"', f'reject_threshold = "{threshold}"'),
            encoding="utf-8",
        )
    return project


def _run(project: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["--project", str(project), "rehearse", *args, "--json"])
    assert result.exit_code == code, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[EmulatorApp]:
    """The emulators the rehearsals start, as they start them."""
    apps: list[EmulatorApp] = []
    real = rehearsal.snapshot_tenant

    @contextmanager
    def spy(path: Path, **options: Any) -> Iterator[SnapshotTenant]:
        with real(path, **options) as tenant:
            apps.append(tenant.app)
            yield tenant

    monkeypatch.setattr(rehearsal, "snapshot_tenant", spy)
    return apps


def _stored(folder: Path) -> dict[str, Any]:
    """What the emulator stored under ``folder`` (rows and metadata), read back."""
    with EmulatorApp(data_dir=folder) as app:
        return dict(app.dump())


# ---------------------------------------------------------------------------
# The whole rehearsal


def test_a_rehearsal_provisions_loads_verifies_and_leaves_the_tenant_as_it_was(
    unprovisioned: Path, tmp_path: Path, served: list[EmulatorApp]
) -> None:
    project = _copy(unprovisioned, tmp_path)
    before: list[dict[str, Any]] = []
    heard: list[str] = []
    done = commands.rehearse(
        Settings.load(project, env={}),
        size=40,
        on_start=lambda _r: before.append(dict(served[-1].dump())),
        on_step=lambda s: heard.append(s.name),
    )
    assert heard == list(rehearsal.STEPS)
    steps = {s.name: s for s in done.steps}
    assert {n: s.result for n, s in steps.items()} == dict.fromkeys(rehearsal.STEPS, "ok")
    assert done.ok
    assert done.incomplete() is None
    # the snapshot lacked the map's schema: provisioned, and reversed with the rows
    assert steps["provision"].counts["applied"] == steps["provision"].counts["operations"] > 0
    assert steps["rollback"].counts["schema_reversed"] == steps["provision"].counts["applied"]
    assert steps["migrate"].counts["written"] > 0
    assert steps["verify"].counts["migration_differences"] == 0
    assert steps["rollback"].counts["deleted"] > 0
    assert steps["rollback"].counts["rows_left"] == 0
    # the emulator's store after the rollback is the served tenant before the rehearsal
    (start,) = before
    assert start["records"]["systemuser"]  # the snapshot's users were there
    assert _stored(done.emulator_data) == start


def test_the_rehearsal_keeps_to_a_folder_of_its_own(provisioned: Path, tmp_path: Path) -> None:
    project = _copy(provisioned, tmp_path)
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    body = _run(project, "--size", "40")
    folder = Path(body["folder"])
    assert folder.parent == project / "rehearsal"
    assert re.fullmatch(r"\d{8}T\d{6}Z", folder.name)
    assert (folder.stat().st_mode & 0o777) == 0o700
    # the project holds nothing new but the rehearsal folder
    after = sorted(p.relative_to(project) for p in project.rglob("*"))
    assert [p for p in after if p.parts[0] != "rehearsal"] == before
    with Journal.for_project(project) as j:
        assert j.runs() == []
    # the rehearsal's journal, reports, map, settings and emulator data are in its folder
    with Journal.for_project(folder) as j:
        kinds = [r.kind for r in j.runs()]
    assert {"sample", "migrate", "rollback"} <= set(kinds)
    assert body["journal"] == str(folder / "journal.sqlite")
    for report in body["reports"].values():
        assert Path(report).is_file()
        assert Path(report).is_relative_to(folder / "runs")
    assert set(body["reports"]) == {"sample", "verify"}
    assert (folder / "mapping.yaml").read_bytes() == (project / "mapping.yaml").read_bytes()
    assert Path(body["emulator_data"]) == folder / "emulator"
    assert json.loads((folder / "rehearsal.json").read_text("utf-8"))["steps"] == body["steps"]
    toml = (folder / "ferry.toml").read_text("utf-8")
    assert "[dataverse]" not in toml
    assert "rehearse" in toml
    assert (project / "rehearsal" / ".gitignore").read_text("utf-8").splitlines()[-1] == "*"
    # which snapshot, of which tenant, taken when
    snapshot = json.loads((project / "tenant-snapshot.json").read_text("utf-8"))
    assert body["snapshot"] == {
        "path": str(project / "tenant-snapshot.json"),
        "environment_url": snapshot["environment_url"],
        "taken_at": snapshot["taken_at"],
    }
    # a second rehearsal gets its own folder
    again = Path(_run(project, "--size", "40")["folder"])
    assert again != folder
    assert again.parent == folder.parent


def test_the_json_gives_every_step_as_numbers(provisioned: Path, tmp_path: Path) -> None:
    body = _run(_copy(provisioned, tmp_path), "--size", "40")
    assert body["ok"] is True
    assert "error" not in body
    assert [s["step"] for s in body["steps"]] == list(rehearsal.STEPS)
    for step in body["steps"]:
        assert set(step) == {"step", "result", "seconds", "counts", "detail", "error"}
        assert step["result"] == "ok"
        assert isinstance(step["seconds"], float)
        assert step["counts"]
        assert all(type(n) is int for n in step["counts"].values())
        assert step["error"] is None
    counts = {s["step"]: s["counts"] for s in body["steps"]}
    # the snapshot was taken after provisioning: the tenant has the schema already
    assert counts["provision"] == {"operations": 0, "applied": 0}
    assert set(counts["sample"]) == {"records", "loaded", "rejected", "differences"}
    migrated = counts["migrate"]
    outcomes = ("written", "unchanged", "rejected", "failed", "skipped")
    assert migrated["records"] == sum(migrated[k] for k in outcomes)
    assert migrated["written"] > 0
    assert set(counts["verify"]) == {
        "rows",
        "compared",
        "migration_differences",
        "source_defects",
        "rejected_by_the_map",
    }
    assert counts["rollback"]["rows_left"] == 0
    assert body["seconds"] == pytest.approx(sum(s["seconds"] for s in body["steps"]), abs=0.01)


def test_the_configured_tenant_is_never_contacted(
    provisioned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project is connected to a tenant (URL, authority, secret) that records every
    request: the rehearsal, printed as a person sees it, sends it none."""
    project = _copy(provisioned, tmp_path)
    with watched_tenant() as tenant:
        configure(project, tenant, monkeypatch)
        assert Settings.load(project).environment_url == tenant.url
        result = CliRunner().invoke(cli, ["--project", str(project), "rehearse", "--size", "40"])
        assert result.exit_code == 0, result.output
        assert tenant.requests == []
    # each step's outcome as it finished, then the summary and where everything is
    for name in rehearsal.STEPS:
        assert re.search(rf"^✓ {name} +\d+\.\d s", result.stderr, flags=re.MULTILINE), name
    assert "Rehearsing against the snapshot" in result.stderr
    table = result.stdout.split("Against the snapshot", 1)[0]
    assert "Rehearsal" in table
    assert max(len(line) for line in table.splitlines()) <= WIDTH
    for name in rehearsal.STEPS:
        assert re.search(rf"^ ?{name} +ok ", table, flags=re.MULTILINE), name
    folder = next((project / "rehearsal").glob("2*"))
    assert f"Its journal, reports and emulator data are in {folder}" in result.stdout


def test_keep_leaves_the_migrated_data_to_look_at(
    provisioned: Path, tmp_path: Path, served: list[EmulatorApp]
) -> None:
    project = _copy(provisioned, tmp_path)
    body = _run(project, "--size", "40", "--keep")
    rollback = body["steps"][-1]
    assert rollback["step"] == "rollback"
    assert rollback["result"] == "kept"
    assert body["kept"] is True
    assert body["serve"] == f"crm-ferry emulator serve --data {body['emulator_data']}"
    migrated = next(s for s in body["steps"] if s["step"] == "migrate")["counts"]["written"]
    # the folder's emulator data holds the migrated rows, as `emulator dump` shows them
    dumped = CliRunner().invoke(
        cli, ["emulator", "dump", "--data", body["emulator_data"], "--table", "contact", "--json"]
    )
    assert dumped.exit_code == 0, dumped.output
    contacts = json.loads(dumped.stdout)["records"]["contact"]
    assert len([c for c in contacts if c.get("new_practiceid")]) == 8
    assert migrated >= 8
    stored = _stored(Path(body["emulator_data"]))
    assert stored["records"]["contact"] == contacts


# ---------------------------------------------------------------------------
# Refusals, before anything is made


def test_without_a_snapshot_the_error_names_the_file_and_what_to_do(
    provisioned: Path, tmp_path: Path
) -> None:
    project = _copy(provisioned, tmp_path)
    (project / "tenant-snapshot.json").unlink()
    error = _run(project, code=2)["error"]
    assert error["message"] == f"no tenant snapshot at {project / 'tenant-snapshot.json'}"
    assert "`crm-ferry snapshot`" in error["hint"]
    missing = tmp_path / "elsewhere.json"
    error = _run(project, "--snapshot", str(missing), code=2)["error"]
    assert error["message"] == f"no tenant snapshot at {missing}"
    assert "--snapshot FILE" in error["hint"]
    assert not (project / "rehearsal").exists()


def test_another_snapshot_can_be_named(provisioned: Path, tmp_path: Path) -> None:
    project = _copy(provisioned, tmp_path)
    moved = project / "snapshots" / "contoso.json"
    moved.parent.mkdir()
    (project / "tenant-snapshot.json").rename(moved)
    body = _run(project, "--snapshot", "snapshots/contoso.json", "--size", "40")
    assert body["snapshot"]["path"] == str(moved)
    assert body["ok"]


def test_a_snapshot_the_emulator_cannot_represent_is_refused(
    provisioned: Path, tmp_path: Path
) -> None:
    project = _copy(provisioned, tmp_path)
    path = project / "tenant-snapshot.json"
    doc = json.loads(path.read_text("utf-8"))
    doc["tables"]["account"]["IsManaged"] = True
    path.write_text(json.dumps(doc), encoding="utf-8")
    error = _run(project, code=2)["error"]
    assert "table account: IsManaged is True in the snapshot" in error["message"]
    assert list((project / "rehearsal").iterdir()) == [project / "rehearsal" / ".gitignore"]


def test_the_map_must_be_confirmed_as_for_migrate(provisioned: Path, tmp_path: Path) -> None:
    project = _copy(provisioned, tmp_path)
    path = project / "mapping.yaml"
    text = path.read_text("utf-8")
    assert "status: confirmed" in text
    path.write_text(text.replace("status: confirmed", "status: proposed", 1), encoding="utf-8")
    error = _run(project, code=4)["error"]
    assert error["type"] == "MapError"
    assert "confirm" in error["message"] + error["hint"]
    assert not (project / "rehearsal").exists()


# ---------------------------------------------------------------------------
# A rehearsal that finds problems


def test_a_step_that_fails_fails_the_rehearsal(provisioned: Path, tmp_path: Path) -> None:
    """With the default reject threshold (2%), the generated bundle's planted defects make
    migrate incomplete (exit 8): it loaded what it could, so verify proves that, and the
    rollback undoes it."""
    project = _copy(provisioned, tmp_path, threshold=None)
    body = _run(project, "--size", "40", code=8)
    results = {s["step"]: s["result"] for s in body["steps"]}
    assert results == {
        "provision": "ok",
        "sample": "ok",
        "migrate": "failed",
        "verify": "ok",
        "rollback": "ok",
    }
    migrate = next(s for s in body["steps"] if s["step"] == "migrate")
    assert migrate["error"]["type"] == "Incomplete"
    assert "reject threshold" in migrate["error"]["message"]
    assert body["ok"] is False
    assert body["error"]["type"] == "Incomplete"
    assert body["error"]["message"].startswith("the rehearsal's migrate failed: ")
    assert body["folder"] in body["error"]["hint"]


@pytest.fixture
def lost_records(tmp_path: Path) -> Path:
    """A project on the hand-written bundle whose sessions are lost with a rejected client
    (migration differences), its map confirmed and its tenant's snapshot taken."""
    base = tmp_path / "lost"
    source = shutil.copytree(REJECTS / "load", base / "bundle")
    with EmulatorApp() as app, embedded_client(app) as client:
        app.add_user("Cora", "One", "cora.one@example.com")
        commands.init(Settings.load(base), directory=base / "project", source=str(source))
        project = base / "project"
        with (project / "ferry.toml").open("a", encoding="utf-8") as fh:
            fh.write('\nreject_threshold = "100%"\n')  # the file ends with its [load] table
        settings = Settings.load(project, env={})
        commands.map_propose(settings, client=client)
        commands.map_confirm(settings, by="Ada Lovelace", client=client)
        commands.snapshot(settings, client=client)
    return project


def test_migration_differences_fail_the_rehearsal(lost_records: Path) -> None:
    body = _run(lost_records, code=7)
    verify = next(s for s in body["steps"] if s["step"] == "verify")
    assert verify["result"] == "differences"
    assert verify["counts"]["migration_differences"] == 5
    assert body["steps"][-1]["result"] == "ok"  # rolled back all the same
    assert body["error"]["type"] == "CheckFailed"
    assert "5 migration difference(s)" in body["error"]["message"]
    assert body["reports"]["verify"] in body["error"]["message"]
    report = json.loads(Path(body["reports"]["verify"]).with_suffix(".json").read_text("utf-8"))
    classes = [d["classification"] for d in report["differences"]]
    assert classes.count(MIGRATION) == 5


def test_ctrl_c_in_a_step_says_how_to_go_on(
    lost_records: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(rehearsal, "verify", stop)
    with pytest.raises(Interrupted) as caught:
        commands.rehearse(Settings.load(lost_records, env={}))
    assert caught.value.message.startswith("crm-ferry rehearse was interrupted in its verify")
    assert "`crm-ferry rehearse` again" in str(caught.value.hint)
    assert caught.value.exit_code == 130


# ---------------------------------------------------------------------------
# The summary at 80 columns


def _rendered(monkeypatch: pytest.MonkeyPatch, draw: Callable[..., None], *args: Any) -> str:
    narrow = Console(width=WIDTH, record=True, highlight=False, color_system=None)
    monkeypatch.setattr(render, "console", narrow)
    draw(*args)
    return narrow.export_text()


def test_the_summary_fits_80_columns_whatever_the_counts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    big = 10**12
    origin = SnapshotOrigin(str(tmp_path / "tenant-snapshot.json"), "https://x", "2026-01-01")
    done = commands.Rehearsal(tmp_path / "rehearsal" / "20260101T000000Z", origin, kept=True)
    for name in rehearsal.STEPS:
        counts = dict.fromkeys(("records", "written", "rejected", "failed", "requests"), big)
        done.steps.append(commands.RehearsalStep(name, "ok", 12345.6, counts))
    text = _rendered(monkeypatch, render.render_rehearsal, done)
    table = text.split("Against", 1)[0]
    assert max(len(line) for line in table.splitlines()) <= WIDTH
    for name in rehearsal.STEPS:
        assert re.search(rf"^ ?{name} +ok .*12345\.6 s", table, flags=re.MULTILINE)
    assert f"{big:,}" in table
    assert done.serve_command in text
    assert os.fspath(done.folder) in text
