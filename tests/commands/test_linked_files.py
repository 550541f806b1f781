"""Linked files and client groups end to end, against the in-process emulator: discover lists
every linked file the downloads folder lacks with its record; ``migrate`` loads a matched one
as a note carrying it and follows ``documents.linked`` for the missing one (skip: skipped
with its reason, link: a note holding its URL, fail: nothing loads); the counts add up;
``map check`` warns or errors by the policy; ``verify`` checks each is where the policy
puts it; a member's contact gets its groups' tags."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crm_ferry import commands
from crm_ferry.cli import cli
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import LinkedFilesMissing, run_load
from crm_ferry.commands.verify import verify
from crm_ferry.emulator import EmulatorApp
from crm_ferry.errors import ConfigError
from crm_ferry.journal import Journal
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.model import FileRecord
from crm_ferry.reconcile.linked import CHECK
from crm_ferry.settings import Settings
from crm_ferry.sources import open_bundle
from crm_ferry.sources.generator import truth_path_for
from crm_ferry.transform.ops import target_id
from helpers.load import Project
from helpers.project import build_provisioned

CLIENTS = 30
SEED = 7
DOWNLOADS = {"CRM_FERRY_SOURCE_FILES": "../bundle.downloads"}
"""The project's downloads folder, as the environment sets it (relative to the project)."""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_provisioned(
        tmp_path_factory.mktemp("linked"),
        clients=CLIENTS,
        seed=SEED,
        linked_files=True,
        groups=True,
    )


@pytest.fixture
def make_project(template: Path, tmp_path: Path) -> Iterator[Callable[..., Project]]:
    opened: list[Project] = []

    def make(env: dict[str, str] | None = None, linked: str | None = None) -> Project:
        root = tmp_path / f"p{len(opened)}"
        shutil.copytree(template, root)
        if linked is not None:
            doc = MapDocument.load(root / "project" / "mapping.yaml")
            doc.data["documents"]["linked"] = linked
            doc.save()
        settings = Settings.load(root / "project", env=DOWNLOADS if env is None else env)
        app = EmulatorApp(data_dir=root / "data")
        project = Project(root, root / "bundle", settings, app, embedded_client(app), root / "data")
        opened.append(project)
        return project

    yield make
    for p in opened:
        p.client.close()
        p.app.close()


def truth(project: Project) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(truth_path_for(project.bundle).read_text("utf-8"))
    return data


def missing_file(project: Project) -> FileRecord:
    (fid,) = truth(project)["linked_files"]["missing"]
    with open_bundle(project.bundle) as b:
        return next(r for r in b.read("files") if isinstance(r, FileRecord) and r.id == fid)


def download(project: Project, record: FileRecord) -> bytes:
    """Put the file of ``record`` into the downloads folder (as many bytes as it says)."""
    assert record.linked_name is not None
    data = b"%PDF-1.4 " + b"x" * ((record.size_bytes or 20) - 9)
    (project.root / "bundle.downloads" / record.linked_name).write_bytes(data)
    return data


def note_of(project: Project, file_id: str) -> dict[str, Any]:
    with Journal.for_project(project.settings.project_dir) as j:
        namespace = j.namespace
    row: dict[str, Any] = project.client.retrieve(
        "annotation", target_id(namespace, "attachment", file_id)
    )
    return row


def test_discover_lists_the_missing_linked_file_with_its_client(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    found = commands.discover(project.settings)
    linked = found.linked_files
    assert linked is not None
    missing = missing_file(project)
    (problem,) = linked.problems
    assert (problem.file_id, problem.client_id, problem.status) == (
        missing.id,
        missing.client_id,
        "missing",
    )
    assert problem.client_name
    assert linked.missing == 1
    assert sum(linked.matched.values()) == linked.linked - 1
    res = CliRunner(env=DOWNLOADS).invoke(
        cli, ["--project", str(project.settings.project_dir), "discover", "--no-target", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)["linked_files"]
    assert data["missing"] == 1
    assert isinstance(data["matched"]["size"], int)
    assert data["problems"][0]["file_id"] == missing.id
    shown = CliRunner(env=DOWNLOADS).invoke(
        cli, ["--project", str(project.settings.project_dir), "discover", "--no-target"]
    )
    assert "Linked files not found in the downloads folder" in shown.output
    assert missing.id in shown.output


def test_skip_loads_the_matched_as_documents_and_skips_the_missing(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert result.ok
    for obj, c in result.objects.items():
        assert c.balanced, (obj, c)
    files = result.objects["files"]
    assert files.skipped == 1
    missing = missing_file(project)
    (skip,) = result.left_out
    assert (skip.source_id, skip.role) == (missing.id, "attachment")
    assert "not in the downloads folder" in skip.reason
    assert "documents.linked: skip" in skip.reason
    assert result.left_out_counts == {"files": 1}
    with Journal.for_project(project.settings.project_dir) as j:
        assert not [r for r in j.rejects(result.run_id) if r.source_id == missing.id]
    downloads = project.root / "bundle.downloads"
    for fid, m in truth(project)["linked_files"]["matched"].items():
        note = note_of(project, fid)
        assert base64.b64decode(note["documentbody"]) == (downloads / m["path"]).read_bytes()
        assert note["isdocument"] is True
    load = json.loads(
        (project.settings.project_dir / "runs" / result.run_id / "load.json").read_text()
    )
    assert load["objects"]["files"]["skipped"] == 1
    assert load["left_out"][0]["source_id"] == missing.id


def test_link_notes_the_missing_file_with_its_url(make_project: Callable[..., Project]) -> None:
    project = make_project(linked="link")
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert result.ok
    assert result.objects["files"].skipped == 0
    missing = missing_file(project)
    note = note_of(project, missing.id)
    assert note["notetext"] == f"Linked file, not migrated: {missing.url}"
    assert note["subject"] == missing.linked_name
    assert note["isdocument"] is False
    with Journal.for_project(project.settings.project_dir) as j:
        namespace = j.namespace
    assert note["_objectid_value"] == target_id(namespace, "contact", str(missing.client_id))


def test_fail_refuses_to_start_until_the_file_is_downloaded(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(linked="fail")
    missing = missing_file(project)
    with pytest.raises(LinkedFilesMissing) as refused:
        run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert refused.value.exit_code == 4
    assert "documents.linked: fail; nothing was loaded" in refused.value.message
    assert missing.id in refused.value.message
    assert refused.value.files[0]["file_id"] == missing.id
    assert "download each file" in (refused.value.hint or "")
    with Journal.for_project(project.settings.project_dir) as j:
        assert j.runs() == []
    # downloaded under the name the row gives: the load starts, and carries it
    data = download(project, missing)
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert result.ok
    assert base64.b64decode(note_of(project, missing.id)["documentbody"]) == data


def test_map_check_warns_under_skip_and_errors_under_fail(
    make_project: Callable[..., Project],
) -> None:
    for policy, severity in (("skip", "warning"), ("link", "warning"), ("fail", "error")):
        project = make_project(linked=policy)
        checked = commands.map_check(project.settings, client=project.client)
        (problem,) = [p for p in checked.problems if p.path == "documents.linked"]
        assert problem.severity == severity
        assert missing_file(project).id in problem.message
        assert f"documents.linked: {policy}" in problem.message
        assert checked.ok is (severity == "warning")


def test_a_downloads_folder_that_is_not_there_is_a_config_error(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(env={"CRM_FERRY_SOURCE_FILES": "nowhere"})
    with pytest.raises(ConfigError, match=r"the downloads folder .*nowhere \(\[source\] files\)"):
        commands.discover(project.settings)
    with pytest.raises(ConfigError, match="does not exist"):
        run_load(project.settings, client=project.client, skip_sample_gate=True)
    toml = project.settings.project_dir / "ferry.toml"
    text = toml.read_text().replace("[source]\n", '[source]\nfiles = "../bundle.downloads"\n', 1)
    toml.write_text(text, encoding="utf-8")
    settings = Settings.load(project.settings.project_dir, env={})
    assert settings.source_files is not None
    assert settings.source_files.resolve() == (project.root / "bundle.downloads").resolve()


def test_without_a_downloads_folder_every_linked_file_is_skipped(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(env={})
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert result.ok
    linked = truth(project)["findings"]["files.linked"]
    assert result.objects["files"].skipped == len(linked)
    reasons = [s.reason for s in result.left_out]
    assert len(reasons) == len(linked)
    assert all(r.endswith(": no downloads folder is set ([source] files in ferry.toml) "
                          "(documents.linked: skip)") for r in reasons)  # fmt: skip


def test_verify_counts_the_linked_files_as_their_policy_says(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    assert run_load(project.settings, client=project.client, skip_sample_gate=True).ok
    proved = verify(project.settings, client=project.client)
    counts = proved.proof.sums["linked files"]
    planted = truth(project)["linked_files"]
    assert counts["linked files"] == len(planted["matched"]) + 1
    assert counts["loaded as documents"] == len(planted["matched"])
    assert counts["skipped"] == 1
    assert counts["not as documents.linked says"] == 0
    assert proved.objects["files"].skipped == 1
    assert proved.objects["files"].balanced
    assert not [c for c in proved.proof.checks if c.name == CHECK and not c.passed]
    # downloaded after the load: verify says the tenant lacks it
    missing = missing_file(project)
    download(project, missing)
    late = verify(project.settings, client=project.client)
    (failed,) = [c for c in late.proof.checks if c.name == CHECK and not c.passed]
    assert "downloaded after the load" in failed.detail
    assert missing.id in failed.detail


def test_a_member_s_contact_gets_its_groups_tags(make_project: Callable[..., Project]) -> None:
    project = make_project()
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert result.ok
    assert result.objects["clients"].rejected == 0
    spec = MapDocument.load(project.settings.project_dir / "mapping.yaml").spec()
    tags_map = spec.value_maps["tags"]
    column = tags_map.column.split(".", 1)[1]
    options = {k.casefold(): int(v) for k, v in tags_map.values.items()}  # one per tag, any case
    effective = truth(project)["groups"]["effective_tags"]
    with Journal.for_project(project.settings.project_dir) as j:
        namespace = j.namespace
    checked = 0
    for cid, tags in effective.items():
        row = project.client.retrieve("contact", target_id(namespace, "contact", cid))
        got = {int(v) for v in str(row[column]).split(",")}
        assert got == {options[t.casefold()] for t in tags}, (cid, tags)
        checked += 1
    assert checked >= 3
    assert "cohort-2024" in options  # a tag only a group gives


def test_a_sample_counts_the_skipped_linked_file(make_project: Callable[..., Project]) -> None:
    project = make_project()
    sampled = commands.sample(project.settings, size=5000, client=project.client)
    files = sampled.recon.objects["files"]
    assert files.skipped == 1
    assert files.balanced
    assert not [c for c in sampled.proof.checks if c.name.startswith("source records")]


def test_the_scoping_report_lists_linked_files_and_groups(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    report = commands.scope(project.settings, client=project.client, latency_ms=5.0)
    assert report.json_path is not None
    assert report.html_path is not None
    data = json.loads(report.json_path.read_text("utf-8"))["source"]
    missing = missing_file(project)
    assert data["linked_files"]["missing"] == 1
    assert data["linked_files"]["problems"][0]["file_id"] == missing.id
    assert data["groups"]["clients_gained"] == truth(project)["groups"]["clients_gained"]
    html = report.html_path.read_text("utf-8")
    assert 'id="linked-files"' in html
    assert f"<code>{missing.id}</code>" in html
    assert 'id="client-groups"' in html
    assert "Leadership cohort 2024" in html
