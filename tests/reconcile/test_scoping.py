"""The scoping report (``crm-ferry discover`` with a target) against the in-process emulator."""

from __future__ import annotations

import json
import math
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import crm_ferry.commands._project as connect
from crm_ferry import commands
from crm_ferry.cli import cli
from crm_ferry.commands.discover import scope
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig
from crm_ferry.emulator.core import CoreConfig
from crm_ferry.mapping.owners import collect_coaches
from crm_ferry.model import Client, Reject, Session
from crm_ferry.reconcile.scoping import (
    EXECUTION_SECONDS_PER_WINDOW,
    MS_PER_RECORD,
    REQUESTS_PER_WINDOW,
    WINDOW_SECONDS,
    ScopingReport,
)
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.generator import generate_bundle

BATCH = 25


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scoping") / "bundle"
    generate_bundle(out, clients=40, seed=3)
    return out


def _people(app: EmulatorApp) -> None:
    """Coach usr_0001 matched by email, usr_0004 by UPN, usr_0002 a disabled user."""
    app.add_user("Rebecca", "Martin", "rebecca.martin.1@practice.example.com")
    app.add_user(
        "Chloe", "Singh", "chloe@elsewhere.example.com", upn="chloe.singh.4@practice.example.com"
    )
    app.add_user("Andrew", "Patel", "andrew.patel.2@practice.example.com", disabled=True)


def _settings(root: Path, bundle: Path, **extra: Any) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    return Settings(project_dir=root, source=bundle, batch_size=BATCH, max_concurrency=8, **extra)


@pytest.fixture(scope="module")
def report(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> ScopingReport:
    root = tmp_path_factory.mktemp("project")
    with EmulatorApp() as app, embedded_client(app) as client:
        _people(app)
        return scope(_settings(root, bundle), client=client)


def _accepted(bundle: Path, obj: str) -> list[Any]:
    with open_bundle(bundle) as b:
        return [r for r in b.read(obj) if type(r) is not Reject]


# ---------------------------------------------------------------------------
# The tenant audit


def test_coaches_are_matched_disabled_and_unmatched(report: ScopingReport, bundle: Path) -> None:
    with open_bundle(bundle) as b:
        coaches = collect_coaches(b)
    audit = report.tenant.coaches
    assert audit.total == len(coaches)
    assert audit.matched == 2
    assert audit.disabled == 1
    assert audit.unmatched == len(coaches) - 3
    status = {c["id"]: c["status"] for c in audit.coaches}
    assert status["usr_0001"] == "matched"
    assert status["usr_0004"] == "matched"
    assert status["usr_0002"] == "disabled"
    assert status["usr_0003"] == "unmatched"
    # problems first
    assert [c["status"] for c in audit.coaches][-1] == "matched"


def test_tables_currencies_and_files(report: ScopingReport, bundle: Path) -> None:
    t = report.tenant
    assert t.invoice_table is True
    assert t.custom_table_limit == 15
    assert t.tier == "professional"
    assert t.custom_tables == ()
    assert set(t.new_custom_tables) == {"new_servicetype", "new_session", "new_payment"}
    assert t.custom_tables_after == 3
    assert not t.over_table_limit
    assert "USD" in t.currencies_present
    assert set(t.currencies_used) == {"USD"}
    assert t.currencies_missing == ()
    files = t.files
    assert files.max_upload_bytes == 5_242_880
    assert files.total == len(_accepted(bundle, "files"))
    assert files.in_bundle == len(list((bundle / "files").iterdir()))
    assert files.over_limit == 0
    assert files.blocked == 0
    assert files.migratable == files.in_bundle
    assert t.latency_ms > 0
    assert len(t.latency_samples) == 5
    assert t.bulk_support["contact"] is True
    assert t.bulk_support["phonecall"] is False


def test_custom_tables_count_what_the_tenant_has(bundle: Path, tmp_path: Path) -> None:
    with EmulatorApp() as app, embedded_client(app) as client:
        client.metadata.create_table(
            "new_Widget", display_name="Widget", plural_name="Widgets", primary_name="new_Name"
        )
        used = [t.logical_name for t in client.metadata.tables(custom_only=True)]
        result = scope(_settings(tmp_path, bundle), client=client, latency_ms=1.0)
    assert result.tenant.custom_tables == tuple(sorted(used))
    assert len(result.tenant.custom_tables) == 1
    assert result.tenant.custom_tables_after == 4


def test_files_over_the_tenants_upload_limit(bundle: Path, tmp_path: Path) -> None:
    limit = 1_000
    sizes = {p.name: p.stat().st_size for p in (bundle / "files").iterdir()}
    over = sum(1 for n in sizes.values() if 4 * math.ceil(n / 3) > limit)
    assert over  # the generated files are about 1 KB
    config = EmulatorConfig(core=CoreConfig(maxuploadfilesize=limit))
    with EmulatorApp(config) as app, embedded_client(app) as client:
        result = scope(_settings(tmp_path, bundle), client=client, latency_ms=1.0)
    files = result.tenant.files
    assert files.max_upload_bytes == limit
    assert files.over_limit == over
    assert len(files.over_limit_ids) == over
    assert files.migratable == len(sizes) - over
    assert result.counts.rows.get("attachment", 0) == len(sizes) - over
    reasons = {r.factor: r for r in result.grade.reasons}
    assert reasons["files"].points == 1
    assert f"{over} files over 1,000 bytes" in reasons["files"].detail


def test_missing_invoice_table_uses_custom_tables_and_raises_the_grade(
    bundle: Path, tmp_path: Path
) -> None:
    with EmulatorApp() as app, embedded_client(app) as client:
        has_table = client.metadata.has_table

        def no_invoice(name: str) -> bool:
            return name not in ("invoice", "invoicedetail") and has_table(name)

        client.metadata.has_table = no_invoice  # type: ignore[method-assign,assignment]
        result = scope(_settings(tmp_path, bundle), client=client, latency_ms=1.0)
    assert result.tenant.invoice_table is False
    assert {"new_invoice", "new_invoicelineitem"} <= set(result.tenant.new_custom_tables)
    tables = {s.role: s.table for s in result.estimate.steps if s.operation == "upsert"}
    assert tables["invoice"] == "new_invoice"
    assert tables["invoice_line"] == "new_invoicelineitem"
    assert not any(s.operation == "state" for s in result.estimate.steps)
    reasons = {r.factor: r for r in result.grade.reasons}
    assert reasons["invoice table"].points == 2


# ---------------------------------------------------------------------------
# The estimate


def test_rows_per_role_come_from_the_source(report: ScopingReport, bundle: Path) -> None:
    clients = _accepted(bundle, "clients")
    sessions = _accepted(bundle, "sessions")
    rows = report.counts.rows
    assert rows["contact"] == len(clients)
    orgs = sum(1 for c in clients if isinstance(c, Client) and c.type == "organization")
    assert rows.get("account", 0) == orgs
    assert report.counts.links == orgs
    assert rows["session"] == len(sessions)
    assert rows["invoice"] == len(_accepted(bundle, "invoices"))
    assert rows["invoice_line"] == len(_accepted(bundle, "invoice_items"))
    assert rows["payment"] == len(_accepted(bundle, "payments"))
    notes = len(_accepted(bundle, "session_notes"))
    assert rows["note"] == notes + report.tenant.files.inline_images
    paid = {
        (s.client_id, s.service_type_id)
        for s in sessions
        if isinstance(s, Session) and s.status == "completed" and s.billing_status == "paid"
    }
    assert 0 < rows["opportunity"] <= len(paid) + 1
    activities = _accepted(bundle, "activities")
    kinds = {k: sum(1 for a in activities if a.kind == k) for k in ("call", "email", "meeting")}
    for kind, n in kinds.items():
        assert rows.get(f"activity_{kind}", 0) == n
    assert sum(report.counts.closes.values()) == len(activities)


def test_the_arithmetic_is_consistent(report: ScopingReport) -> None:
    est = report.estimate
    assert est.batch_size == BATCH
    assert est.concurrency == 8
    assert est.users == 1
    for s in est.steps:
        if s.operation == "WinOpportunity":
            assert s.requests == s.rows  # one action per opportunity
            assert s.concurrency == 1
        elif s.role in ("note", "attachment") and s.operation == "upsert":
            assert s.requests >= math.ceil(s.rows / BATCH)
        else:
            assert s.requests == math.ceil(s.rows / BATCH), s
        assert s.ms_per_record in MS_PER_RECORD.values()
        assert s.server_seconds == pytest.approx(s.rows * s.ms_per_record / 1000)
    assert est.requests == sum(s.requests for s in est.steps)
    assert est.records == sum(s.rows for s in est.steps if s.operation == "upsert")
    ops = {s.operation for s in est.steps}
    assert {"upsert", "state", "close", "WinOpportunity", "link"} <= ops
    # phone calls, emails and appointments do not take bulk messages in this tenant
    batch = {s.table for s in est.steps if s.as_dict()["method"] == "$batch"}
    assert {"phonecall", "email", "appointment"} <= batch
    bounds = est.bounds
    assert est.seconds == max(bounds.values())
    assert est.minutes == pytest.approx(est.seconds / 60)
    assert est.minutes * 60 >= est.requests * est.latency_ms / 1000 / est.concurrency
    assert bounds["request limit"] == pytest.approx(
        est.requests / REQUESTS_PER_WINDOW * WINDOW_SECONDS
    )
    assert bounds["execution-time limit"] == pytest.approx(
        est.server_seconds / EXECUTION_SECONDS_PER_WINDOW * WINDOW_SECONDS
    )
    assert any(str(est.requests) in line for line in est.arithmetic())


def test_latency_users_and_batch_size_drive_the_estimate(bundle: Path, tmp_path: Path) -> None:
    raw = {"dataverse": {"extra_client_ids": ["11111111-2222-3333-4444-555555555555"]}}
    with EmulatorApp() as app, embedded_client(app) as client:
        one = scope(_settings(tmp_path / "a", bundle), client=client, latency_ms=400.0).estimate
        two = scope(
            _settings(tmp_path / "b", bundle, raw=raw), client=client, latency_ms=400.0
        ).estimate
    assert one.latency_ms == 400.0
    assert two.users == 2
    assert two.concurrency == 2 * one.concurrency
    assert one.bounds["round trips"] >= one.requests * 0.4 / one.concurrency
    assert two.bounds["request limit"] == pytest.approx(one.bounds["request limit"] / 2)
    assert two.seconds <= one.seconds


# ---------------------------------------------------------------------------
# The grade and the files


def test_the_grade_has_its_reasons(report: ScopingReport) -> None:
    g = report.grade
    assert g.letter in "ABCD"
    assert g.points == sum(r.points for r in g.reasons)
    factors = {r.factor for r in g.reasons}
    assert {"volume", "custom properties", "owners", "custom tables", "files"} <= factors
    owners = next(r for r in g.reasons if r.factor == "owners")
    assert owners.points >= 1
    assert "1 disabled" in owners.detail
    assert all(r.detail for r in g.reasons)
    assert [r.points for r in g.reasons] == sorted((r.points for r in g.reasons), reverse=True)


def test_html_and_json_are_written_private(report: ScopingReport) -> None:
    assert report.html_path is not None
    assert report.json_path is not None
    folder = report.html_path.parent
    assert re.fullmatch(r"scoping-\d{8}T\d{6}Z(-\d+)?", folder.name)
    assert folder.parent.name == "runs"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (report.html_path, report.json_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(report.json_path.read_text(encoding="utf-8"))
    assert data["grade"]["letter"] == report.grade.letter
    assert data["tenant"]["coaches"]["matched"] == 2
    assert data["estimate"]["requests"] == report.estimate.requests
    assert data["source"]["objects"]["clients"]["accepted"] == 40
    html = report.html_path.read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "<caption>Why this grade</caption>" in html
    assert '<th scope="col">' in html
    assert f"Grade {report.grade.letter}" in html
    assert not re.search(r"""(src|href)=["']?https?:""", html)  # self-contained
    assert "usr_0002" in html
    assert "disabled" in html


def test_two_reports_in_one_second_get_two_folders(bundle: Path, tmp_path: Path) -> None:
    with EmulatorApp() as app, embedded_client(app) as client:
        settings = _settings(tmp_path, bundle)
        a = scope(settings, client=client, latency_ms=1.0)
        b = scope(settings, client=client, latency_ms=1.0)
    assert a.html_path is not None
    assert b.html_path is not None
    assert a.html_path.parent != b.html_path.parent


# ---------------------------------------------------------------------------
# The command and the CLI


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorApp]:
    """Every client the commands build talks to one in-process emulator."""
    with EmulatorApp() as emulator:
        _people(emulator)

        def client_from_settings(settings: Settings, **_: Any) -> DataverseClient:
            return embedded_client(emulator)

        monkeypatch.setattr(connect, "client_from_settings", client_from_settings)
        yield emulator


def _project(root: Path, bundle: Path, *, url: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["[source]", f'path = "{bundle}"']
    if url:
        lines += ["[dataverse]", 'url = "https://dataverse.emulator.local"']
    (root / "ferry.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_commands_scope_builds_its_client(app: EmulatorApp, bundle: Path, tmp_path: Path) -> None:
    root = _project(tmp_path / "m", bundle, url=True)
    result = commands.scope(Settings.load(root))
    assert result.tenant.coaches.matched == 2
    assert result.html_path is not None
    assert result.html_path.is_file()


def test_cli_discover_json_with_a_target(app: EmulatorApp, bundle: Path, tmp_path: Path) -> None:
    root = _project(tmp_path / "m", bundle, url=True)
    result = CliRunner().invoke(cli, ["-C", str(root), "discover", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["kind"] == "scoping"
    assert body["tenant"]["coaches"]["disabled"] == 1
    assert body["tenant"]["invoice_table"] is True
    assert body["grade"]["reasons"]
    assert Path(body["paths"]["html"]).is_file()
    assert Path(body["paths"]["json"]).parent.parent == root / "runs"


def test_cli_discover_tables_with_a_target(app: EmulatorApp, bundle: Path, tmp_path: Path) -> None:
    root = _project(tmp_path / "m", bundle, url=False)
    result = CliRunner().invoke(cli, ["-C", str(root), "discover", "--target"])
    assert result.exit_code == 0, result.output
    assert "Duration estimate" in result.stdout
    assert "Complexity: grade" in result.stdout
    assert "Scoping report:" in result.stdout


def test_cli_discover_without_a_target_is_source_only(
    app: EmulatorApp, bundle: Path, tmp_path: Path
) -> None:
    root = _project(tmp_path / "m", bundle, url=True)
    result = CliRunner().invoke(cli, ["-C", str(root), "discover", "--no-target", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert "kind" not in body
    assert body["objects"]["clients"]["accepted"] == 40
    assert not (root / "runs").exists()
    plain = _project(tmp_path / "p", bundle, url=False)
    result = CliRunner().invoke(cli, ["-C", str(plain), "discover", "--json"])
    assert result.exit_code == 0, result.output
    assert "grade" not in json.loads(result.stdout)
