"""``crm-ferry discover --snapshot FILE`` (issue 17, point 3): the scoping report's tenant
audit read from a tenant snapshot, served in process, instead of the configured tenant
(which is not contacted); the report says which snapshot, of which environment, taken when,
and what a snapshot cannot tell (the round trip is assumed, unless given)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crm_ferry import commands
from crm_ferry.cli import cli
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.emulator import EmulatorApp
from crm_ferry.reconcile.scoping import ASSUMED_LATENCY_MS, LATENCY_BASES
from crm_ferry.settings import Settings
from helpers.project import build_provisioned
from helpers.watched import configure, watched_tenant


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A provisioned project, a user for a coach the bundle names, and the snapshot."""
    base = build_provisioned(tmp_path_factory.mktemp("discover"), clients=8, seed=5)
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        app.add_user("Quinn", "Reviewer", "quinn.reviewer@crmferry.onmicrosoft.com")
        commands.snapshot(Settings.load(base / "project", env={}), client=client)
    return base


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    for part in ("bundle", "project"):
        shutil.copytree(template / part, tmp_path / part)
    return tmp_path / "project"


@pytest.fixture
def live(template: Path, tmp_path: Path) -> dict[str, Any]:
    """The scoping report's tenant audit read from the tenant itself (the latency given)."""
    with EmulatorApp(data_dir=template / "data") as app, embedded_client(app) as client:
        settings = Settings.load(template / "project", env={})
        report = commands.scope(
            settings, client=client, latency_ms=ASSUMED_LATENCY_MS, out_dir=tmp_path / "live"
        )
    return report.as_dict()


def _discover(project: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["--project", str(project), "discover", *args, "--json"])
    assert result.exit_code == code, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def test_the_audit_is_the_snapshot_tenant_s_and_says_so(
    project: Path, live: dict[str, Any]
) -> None:
    snapshot = project / "tenant-snapshot.json"
    doc = json.loads(snapshot.read_text("utf-8"))
    body = _discover(project, "--snapshot", "tenant-snapshot.json")
    tenant = body["tenant"]
    assert tenant["snapshot"] == {
        "path": str(snapshot),
        "environment_url": doc["environment_url"],
        "taken_at": doc["taken_at"],
    }
    assert tenant["url"] == doc["environment_url"]
    # what the tenant holds reads as the tenant itself gives it
    same = ("custom_tables", "invoice_table", "price_list", "currencies", "coaches", "files")
    for key in same:
        assert tenant[key] == live["tenant"][key], key
    assert "new_session" in tenant["custom_tables"]["names"]
    assert tenant["custom_tables"]["needed_by_default_map"] == []
    assert tenant["bulk_support"] == live["tenant"]["bulk_support"]
    # what a snapshot cannot tell: the round trip (assumed) and the tenant's dop hint
    assert tenant["latency_ms"] == ASSUMED_LATENCY_MS
    assert tenant["latency_samples_ms"] == []
    assert tenant["dop_hint"] is None
    estimate = body["estimate"]
    assert estimate["latency_basis"] == "assumed"
    assert estimate["assumptions"][-1] == LATENCY_BASES["assumed"]
    assert estimate["requests"] == live["estimate"]["requests"]
    assert estimate["seconds"] == live["estimate"]["seconds"]
    assert body["grade"] == live["grade"]
    # the report on disk says so too, in the project's own runs/
    html = Path(body["paths"]["html"])
    assert html.parent.parent == project / "runs"
    page = html.read_text("utf-8")
    assert "read from a tenant snapshot, not from the tenant" in page
    assert str(snapshot) in page
    assert doc["taken_at"] in page
    assert "assumed: not measured" in page
    assert json.loads(Path(body["paths"]["json"]).read_text("utf-8"))["tenant"]["snapshot"]


def test_the_configured_tenant_is_not_contacted(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with watched_tenant() as tenant:
        configure(project, tenant, monkeypatch)
        result = CliRunner().invoke(
            cli, ["--project", str(project), "discover", "--snapshot", "tenant-snapshot.json"]
        )
        assert result.exit_code == 0, result.output
        assert tenant.requests == []
    assert "The tenant audit is read from the snapshot" in result.stdout
    assert "(assumed, not measured)" in result.stdout
    assert "Scoping report:" in result.stdout


def test_a_latency_given_replaces_the_assumed_one(project: Path) -> None:
    body = _discover(project, "--snapshot", "tenant-snapshot.json", "--latency-ms", "42")
    assert body["tenant"]["latency_ms"] == 42.0
    assert body["estimate"]["latency_basis"] == "given"
    assert body["estimate"]["assumptions"][-1] == LATENCY_BASES["given"]


def test_an_invoice_table_the_snapshot_lacks_is_missing(project: Path, tmp_path: Path) -> None:
    """The emulator keeps its built-in tables besides the snapshot's: whether the tenant has
    the invoice table is the snapshot's to say."""
    doc = json.loads((project / "tenant-snapshot.json").read_text("utf-8"))
    del doc["tables"]["invoice"]
    doc["map_tables"] = [t for t in doc["map_tables"] if t != "invoice"]
    for table in doc["tables"].values():
        for part in ("OneToManyRelationships", "ManyToOneRelationships"):
            table[part] = [
                r
                for r in table[part]
                if "invoice" not in (r.get("ReferencingEntity"), r.get("ReferencedEntity"))
            ]
    without = tmp_path / "without-invoice.json"
    without.write_text(json.dumps(doc), encoding="utf-8")
    tenant = _discover(project, "--snapshot", str(without))["tenant"]
    assert tenant["invoice_table"] is False
    assert tenant["snapshot"]["path"] == str(without)


def test_a_missing_snapshot_is_named_with_what_to_do(project: Path) -> None:
    error = _discover(project, "--snapshot", "nowhere.json", code=2)["error"]
    assert error["message"] == f"no tenant snapshot at {project / 'nowhere.json'}"
    assert "crm-ferry snapshot" in error["hint"]
    assert not list((project / "runs").glob("scoping-*"))


def test_no_target_and_a_snapshot_do_not_go_together(project: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--project", str(project), "discover", "--no-target", "--snapshot", "x.json"]
    )
    assert result.exit_code == 2
    assert "--no-target leaves out" in result.output


def test_scope_takes_a_snapshot_or_a_client(project: Path) -> None:
    with EmulatorApp() as app, embedded_client(app) as client, pytest.raises(ValueError):
        commands.scope(
            Settings.load(project, env={}), client=client, snapshot=Path("tenant-snapshot.json")
        )
