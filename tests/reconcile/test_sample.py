"""The sample: it covers every stratum the bundle has (checked against the generator's ground
truth), its diff is all-match except the planted edge cases, each reported with the right
verdict, a corrupted write is caught, the migration is gated on an accepted sample for the
current map, and the report opens in a browser."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_ferry import commands
from crm_ferry.cli import render
from crm_ferry.commands.migrate import require_sample_gate
from crm_ferry.commands.sample import SampleResult
from crm_ferry.commands.sample import sample as run_sample
from crm_ferry.commands.sample import sample_accept as accept_sample
from crm_ferry.emulator.faults import Corruption, FaultSchedule
from crm_ferry.errors import MapError
from crm_ferry.journal import Journal, JournalError, SampleInfo
from crm_ferry.mapping.spec import MAP_FILE, MapDocument
from crm_ferry.model import (
    Activity,
    Client,
    Invoice,
    InvoiceItem,
    Session,
    SessionNote,
)
from crm_ferry.reconcile.sample import SampleSelection, choose_sample
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.discover import discover_source
from helpers.browser import chromium
from helpers.journal import journal_rows
from helpers.reconcile import (
    ReconProject,
    copy_project,
    recon_project,
    recon_template,
)

__all__ = ["recon_project", "recon_template"]  # fixtures, used by name

NOT_LOADED = "record not loaded"
INVOICE_TOTAL = "invoice total = source total"
# the objects a dangling reference of the generated bundle starts from, and the reason the
# load gives for rejecting it
DANGLING_REASON = "is not in the export (dangling reference)"


def _read(bundle: Path) -> dict[str, list[Any]]:
    with open_bundle(bundle) as b:
        return {obj: list(b.read(obj)) for obj in b.objects}


@pytest.fixture(scope="module")
def sampled(
    recon_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ReconProject, SampleResult]]:
    """One sample run on a clean copy, shared by the read-only tests below."""
    project = copy_project(recon_template, tmp_path_factory.mktemp("sampled") / "p")
    try:
        yield project, run_sample(project.settings, client=project.client)
    finally:
        project.client.close()
        project.app.close()


# ---------------------------------------------------------------------------------------
# (a) coverage


def _selection(project_bundle: Path, settings: Any) -> SampleSelection:
    discovery = discover_source(project_bundle, column_map=settings.column_map)
    with open_bundle(project_bundle) as b:
        return choose_sample(b, discovery=discovery)


def test_sample_covers_every_stratum_of_the_bundle(
    sampled: tuple[ReconProject, SampleResult],
) -> None:
    project, result = sampled
    selection = result.selection
    truth = project.truth
    records = _read(project.bundle)
    ids = selection.ids

    # the strata the bundle has, computed here from the bundle and its ground truth
    sessions = [r for r in records["sessions"] if isinstance(r, Session)]
    invoices = [r for r in records["invoices"] if isinstance(r, Invoice)]
    expected = {f"client:{t}" for t in ("individual", "organization")}
    expected |= {f"session_status:{s.status}" for s in sessions if s.status}
    expected |= {f"invoice_status:{i.status}" for i in invoices if i.status}
    expected |= {f"activity:{a.kind}" for a in records["activities"] if isinstance(a, Activity)}
    expected |= {f"custom:{t}" for t in truth["custom_properties"].values()}
    expected |= {"note:inline_image", "file:attachment"}
    expected |= {f"finding:{k}" for k, found in truth["findings"].items() if found}
    expected |= {f"dangling:{k}" for k, found in truth["dangling"].items() if found}
    assert {"session_status:no_show", "invoice_status:void", "custom:boolean"} <= expected
    assert {"finding:files.over_upload_limit", "finding:files.linked"} <= expected
    assert set(selection.strata) == expected
    assert selection.uncovered == []
    assert set(selection.coverage) == expected
    assert 200 <= selection.size <= 500, selection.size

    # every planted edge case is in the sample itself, not only its stratum
    for kind, planted in truth["findings"].items():
        if not planted:
            continue
        obj = kind.split(".")[0]
        if obj == "users":  # a coach: users always come along; one of their clients is in
            coached = {
                c.id
                for c in records["clients"]
                if isinstance(c, Client) and c.coach_id in planted and c.id in ids["clients"]
            }
            assert selection.coverage[f"finding:{kind}"] in coached, kind
            continue
        assert set(planted) & ids[obj], kind
        if obj == "clients":
            assert selection.coverage[f"finding:{kind}"] in planted, kind
    for kind, planted in truth["dangling"].items():
        obj = kind.split(".")[0]
        assert set(planted) <= ids[obj], kind
        covering = selection.coverage[f"dangling:{kind}"]
        assert covering in planted or covering == f"{obj}/{planted[0]}", kind

    # referentially closed: every sampled child's parent is sampled (dangling ones aside)
    dangling = {sid for found in truth["dangling"].values() for sid in found}
    notes = [n for n in records["session_notes"] if isinstance(n, SessionNote)]
    items = [i for i in records["invoice_items"] if isinstance(i, InvoiceItem)]
    closure = [
        ("sessions", sessions, "client_id", "clients"),
        ("session_notes", notes, "session_id", "sessions"),
        ("invoices", invoices, "client_id", "clients"),
        ("invoice_items", items, "invoice_id", "invoices"),
        ("payments", records["payments"], "invoice_id", "invoices"),
        ("activities", records["activities"], "client_id", "clients"),
        ("files", records["files"], "client_id", "clients"),
    ]
    for obj, rows, column, parent in closure:
        for row in rows:
            if row.id in ids[obj] and row.id not in dangling and getattr(row, column):
                assert getattr(row, column) in ids[parent], (obj, row.id)
    for client in records["clients"]:
        if isinstance(client, Client) and client.id in ids["clients"] and client.family_id:
            assert client.family_id in ids["families"]


def test_the_choice_is_deterministic_in_the_seed(
    sampled: tuple[ReconProject, SampleResult],
) -> None:
    project, result = sampled
    again = _selection(project.bundle, project.settings)
    assert again.ids == result.selection.ids
    assert again.coverage == result.selection.coverage


# ---------------------------------------------------------------------------------------
# (b) the diff: all match except the planted edge cases


def _row_of(project: ReconProject, obj: str, source_id: str, role: str) -> str:
    found = journal_rows(
        project.settings.project_dir,
        "SELECT DISTINCT row_id FROM idmap WHERE source_object = ? AND source_id = ? AND role = ?",
        (obj, source_id, role),
    )
    assert len(found) == 1, (obj, source_id, found)
    return str(found[0][0])


def test_sample_diff_matches_except_the_planted_edge_cases(
    sampled: tuple[ReconProject, SampleResult],
) -> None:
    project, result = sampled
    truth = project.truth
    proof = result.proof
    assert result.load.ok
    assert proof.rows, "nothing compared"
    assert {r.verdict for r in proof.rows} == {"match"}
    assert all(c["written"] == c["found"] for c in proof.counts.values()), proof.counts
    assert {"contact", "account", "annotation", "invoice", "invoicedetail"} <= set(proof.counts)
    assert proof.sums["lookups"]["checked"] > 100
    assert proof.sums["lookups"]["orphans"] == 0

    failed = [c for c in proof.checks if not c.passed]
    # the invoice whose lines do not add up to its total, and nothing else about invoices
    (mismatch_id,) = truth["findings"]["invoices.items_total_mismatch"]
    invoice = next(
        r
        for r in _read(project.bundle)["invoices"]
        if isinstance(r, Invoice) and r.id == mismatch_id
    )
    totals = [c for c in failed if c.name == INVOICE_TOTAL]
    assert [(c.table, c.record) for c in totals] == [
        ("invoice", _row_of(project, "invoices", mismatch_id, "invoice"))
    ]
    assert totals[0].detail.startswith(f"{invoice.number}: the source lines sum to ")
    assert f"but the source total is {invoice.total_amount:.2f}" in totals[0].detail
    assert "a difference in the export, reported, not corrected" in totals[0].detail
    passed_totals = [c for c in proof.checks if c.name == INVOICE_TOTAL and c.passed]
    assert len(passed_totals) == len(result.selection.ids["invoices"]) - 1

    # the linked file, not downloaded: skipped, as documents.linked says (no difference)
    linked = truth["findings"]["files.linked"]
    assert [s.source_id for s in result.load.left_out] == linked
    assert result.recon.objects["files"].skipped == len(linked)
    # oversized files and dangling references: not loaded, with their reason
    expected: dict[tuple[str, str], str] = {}
    for fid in truth["findings"]["files.over_upload_limit"]:
        expected[("files", fid)] = "is over the tenant's upload limit of 5242880"
    for kind, planted in truth["dangling"].items():
        obj = kind.split(".")[0]
        if obj == "clients":
            continue  # a client whose coach is missing is loaded, owned by the fallback user
        for sid in planted:
            expected[(obj, sid)] = DANGLING_REASON
    assert len(expected) == 4
    not_loaded = {(c.table, c.record): c for c in failed if c.name == NOT_LOADED}
    assert set(not_loaded) == set(expected)
    for key, reason in expected.items():
        assert reason in not_loaded[key].detail, (key, not_loaded[key].detail)
        # a dangling reference is the export's own defect; the files, the map's choice
        cls = "source defect" if reason == DANGLING_REASON else "rejected by the map"
        assert not_loaded[key].classification == cls, key
    assert totals[0].classification == "source defect"
    assert len(failed) == len(totals) + len(not_loaded)
    assert proof.differences == len(failed)
    assert len(result.rejects) == len(not_loaded)

    # the client whose coach is missing was loaded and compared like every other one
    (orphan_client,) = truth["dangling"]["clients.coach_id -> users"]
    assert any(r.source_key == f"clients/{orphan_client}" for r in proof.rows)


def test_sample_report_files(sampled: tuple[ReconProject, SampleResult]) -> None:
    project, result = sampled
    paths = result.report
    for path in (paths.html, paths.json, paths.csv):
        assert path.parent == project.settings.project_dir / "runs" / result.run_id
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(paths.json.read_text("utf-8"))
    assert data["title"] == "Sample migration: reconciliation"
    assert data["summary"]["strata covered"] == (
        f"{len(result.selection.strata)} of {len(result.selection.strata)}"
    )
    assert data["fields"]["total"]["mismatch"] == 0
    assert len(data["rows"]) == len(result.proof.rows)
    checks = data["checks"]["rows"]
    failed = {(c["name"], c["table"], c["record"]) for c in checks if not c["passed"]}
    assert failed == {(c.name, c.table, c.record) for c in result.proof.checks if not c.passed}
    assert {(d["table"], d["record"]) for d in data["differences"]} == {
        (t, r) for _, t, r in failed
    }
    csv_text = paths.csv.read_bytes().decode("utf-8")
    assert csv_text.startswith('"kind","id","classification","status","table","record",')
    assert csv_text.count('\r\n"check",') == len(result.proof.checks)
    assert csv_text.count('\r\n"difference",') == len(result.recon.differences)
    (row,) = journal_rows(
        project.settings.project_dir,
        "SELECT report, verdicts, accepted_by FROM samples WHERE run_id = ?",
        (result.run_id,),
    )
    assert row[0] == str(paths.html)
    assert json.loads(row[1]) == {"match": len(result.proof.rows)}
    assert row[2] is None


def test_the_sample_reports_its_size_clients_and_records_alike(
    sampled: tuple[ReconProject, SampleResult],
) -> None:
    """The size asked for, the clients chosen and the records chosen, loaded and rejected:
    the same numbers in the result, in --json, in the report and on the console."""
    project, result = sampled
    facts = result.facts
    chosen = sorted(result.selection.ids["clients"])
    assert facts["requested size"] == 300
    assert (facts["clients chosen"], facts["chosen clients"]) == (len(chosen), chosen)
    assert facts["records chosen"] == result.selection.size
    assert facts["records chosen"] == (
        facts["records loaded"] + facts["records rejected"] + facts["records skipped"]
    )
    assert facts["records rejected"] == len(result.rejects) == 4
    assert facts["records skipped"] == 1  # the linked file, not downloaded
    assert sum(t.loaded for t in result.recon.objects.values()) == facts["records loaded"]

    as_json = json.loads(json.dumps(result.as_dict()))
    assert as_json["requested_size"] == 300
    assert as_json["sample"] == facts
    assert as_json["selection"]["size"] == facts["records chosen"]
    report = json.loads(result.report.json.read_text("utf-8"))
    assert {k: report["summary"][k] for k in facts} == facts
    with render.console.capture() as captured:
        render.render_sample(result)
    text = " ".join(captured.get().split())
    assert (
        f"Sample: 300 records asked for; {facts['records chosen']:,} records of "
        f"{len(chosen)} clients chosen; {facts['records loaded']:,} loaded, 4 rejected, "
        "1 skipped"
    ) in text
    ((note,),) = journal_rows(
        project.settings.project_dir, "SELECT note FROM runs WHERE run_id = ?", (result.run_id,)
    )
    assert note == (
        f"sample: 300 records asked for, {facts['records chosen']} records of "
        f"{len(chosen)} clients chosen"
    )


def test_a_sample_made_again_compares_every_sampled_row(
    sampled: tuple[ReconProject, SampleResult],
) -> None:
    """Made again on the same map, the sample writes nothing; its report still compares
    every sampled row (not only the rows this run wrote)."""
    project, first = sampled
    again = run_sample(project.settings, client=project.client)
    assert again.load.requests == 0
    assert again.run_id != first.run_id
    key = [(r.table, r.record_id, r.field) for r in first.proof.rows]
    assert sorted((r.table, r.record_id, r.field) for r in again.proof.rows) == sorted(key)
    assert {r.verdict for r in again.proof.rows} == {"match"}


# ---------------------------------------------------------------------------------------
# (c) a value changed on write is caught


def test_sample_catches_a_value_corrupted_on_write(
    recon_project: Callable[..., ReconProject],
) -> None:
    project = recon_project(
        faults=FaultSchedule(corrupt=Corruption(table="contact", column="lastname", every=4))
    )
    result = run_sample(project.settings, client=project.client)
    corrupted = project.app.faults.corrupted
    assert corrupted, "the fault corrupted nothing"
    assert all(w.sent != w.stored for w in corrupted)
    bad = [r for r in result.proof.rows if r.verdict != "match"]
    assert {r.verdict for r in bad} == {"mismatch"}
    assert sorted((r.table, r.field, r.expected, r.actual) for r in bad) == sorted(
        ("contact", "lastname", w.sent, w.stored) for w in corrupted
    )
    # named by record: the row id and the source record it holds
    for r in bad:
        assert r.record_id == _row_of(project, "clients", r.source_key.split("/")[1], "contact")
    data = json.loads(result.report.json.read_text("utf-8"))
    assert data["fields"]["total"]["mismatch"] == len(corrupted)
    reported = [r for r in data["rows"] if r["verdict"] == "mismatch"]
    assert {(r["table"], r["record_id"], r["field"], r["actual"]) for r in reported} == {
        (r.table, r.record_id, r.field, r.actual) for r in bad
    }
    assert data["rows"][: len(reported)] == reported  # differences first
    assert result.proof.differences == len(corrupted) + len(
        [c for c in result.proof.checks if not c.passed]
    )
    # each a migration difference of its own, named by table, record and column
    migration = {
        (d.table, d.record, d.column)
        for d in result.recon.differences
        if d.classification == "migration difference"
    }
    assert migration == {(r.table, r.record_id, r.field) for r in bad}


# ---------------------------------------------------------------------------------------
# (d) the gate: migrate needs an accepted sample of the current map


def test_migrate_is_gated_on_an_accepted_sample_of_the_current_map(
    recon_project: Callable[..., ReconProject],
) -> None:
    project = recon_project()
    settings = project.settings
    with pytest.raises(MapError) as refused:
        commands.migrate(settings, client=project.client)
    assert "no accepted sample for the confirmed map" in refused.value.message
    assert refused.value.hint is not None
    assert "crm-ferry sample" in refused.value.hint
    assert "crm-ferry sample accept --by NAME" in refused.value.hint
    with pytest.raises(MapError) as nothing:
        accept_sample(settings, by="Ada Lovelace")
    assert nothing.value.message == "there is no sample to accept"

    sample = run_sample(settings, client=project.client)
    with pytest.raises(MapError) as nameless:
        accept_sample(settings, by="  ")
    assert nameless.value.hint == "pass --by NAME"

    # the map changes after the sample was made: that sample cannot be accepted
    path = settings.project_dir / MAP_FILE
    original = path.read_text("utf-8")
    assert "confirm_threshold: 0.8\n" in original
    path.write_text(original.replace("confirm_threshold: 0.8\n", "confirm_threshold: 0.7\n"))
    with pytest.raises(MapError) as stale:
        accept_sample(settings, by="Ada Lovelace")
    assert stale.value.message == (
        f"the latest sample ({sample.run_id}) was made with another version of the map"
    )
    assert stale.value.hint == "run `crm-ferry sample` again for the current map"
    path.write_text(original)

    accepted = accept_sample(settings, by="Ada Lovelace")
    assert (accepted.run_id, accepted.accepted_by) == (sample.run_id, "Ada Lovelace")
    assert accepted.report == str(sample.report.html)
    assert accepted.gate_open
    assert accepted.accepted_at is not None
    # without ids, every difference of the sample is accepted, with the default reason
    assert {a.difference.diff_id for a in accepted.differences.accepted} == {
        d.id for d in sample.recon.differences
    }
    assert {a.reason for a in accepted.differences.accepted} == {"accepted with the sample"}
    migrated = commands.migrate(settings, client=project.client)
    assert migrated.ok
    assert migrated.objects["clients"].read == 40
    assert migrated.objects["clients"].balanced


def _gate(settings: Any) -> SampleInfo:
    """What ``migrate`` asks first: the accepted sample of the current map (or a MapError)."""
    spec = MapDocument.load(settings.project_dir / MAP_FILE).spec()
    with Journal.for_project(settings.project_dir) as j:
        return require_sample_gate(j, spec)


def test_the_gate_opens_once_every_difference_but_the_source_defects_is_accepted(
    recon_project: Callable[..., ReconProject],
) -> None:
    project = recon_project()
    settings = project.settings
    sample = run_sample(settings, client=project.client)
    found = sample.recon.differences
    defects = [d for d in found if d.classification == "source defect"]
    rejected = [d for d in found if d.classification == "rejected by the map"]
    assert len(defects) == 4
    assert len(rejected) == 1  # the oversized file (the linked one is skipped, no difference)
    assert len(found) == len(defects) + len(rejected)

    # a source defect accepted: the map's reject still wants a decision, the gate stays shut
    first = accept_sample(settings, by="Ada", reason="seen", ids=[defects[0].id])
    assert not first.gate_open
    assert first.accepted_at is None
    assert [a.difference.diff_id for a in first.differences.accepted] == [defects[0].id]
    assert [d.diff_id for d in first.blocking] == [rejected[0].id]
    with pytest.raises(MapError):
        _gate(settings)
    # an id is the same typed in capitals; one the sample does not hold is refused, named
    with pytest.raises(JournalError) as unknown:
        accept_sample(settings, by="Ada", ids=["zzzzzzzzzz"])
    assert "'zzzzzzzzzz'" in unknown.value.message
    second = accept_sample(settings, by="Ada", reason="moved by hand", ids=[rejected[0].id.upper()])
    # the source defects are left: they are in the export, accepted at verify; the gate opens
    assert second.gate_open
    assert {d.diff_id for d in second.differences.remaining} == {d.id for d in defects[1:]}
    assert second.blocking == []

    # a sample made again shows what was accepted, by whom and why
    again = run_sample(settings, client=project.client)
    shown = {d.id: d.accepted for d in again.recon.differences}
    assert set(shown) == {d.id for d in found}
    for d in rejected:
        accepted = shown[d.id]
        assert accepted is not None
        assert (accepted.by, accepted.reason) == ("Ada", "moved by hand")
    assert shown[defects[0].id] is not None
    assert all(shown[d.id] is None for d in defects[1:])
    assert _gate(settings).run_id == sample.run_id  # the gate for migrate is open


# ---------------------------------------------------------------------------------------
# (e) the report in a browser


def test_sample_report_in_headless_chromium(
    sampled: tuple[ReconProject, SampleResult], tmp_path: Path, artifacts_dir: Path
) -> None:
    _, result = sampled
    failed = [c for c in result.proof.checks if not c.passed]
    shot = tmp_path / "sample-report.png"
    with chromium(tmp_path, height=900, offline=True) as browser:
        page, errors = browser.page, browser.errors
        page.goto(result.report.html.as_uri())
        assert page.title() == "Sample migration: reconciliation"
        count = page.locator("[data-count=differences]")
        assert count.inner_text() == str(len(failed))
        # the sample's own numbers, as the console and --json give them
        for key in ("requested size", "clients chosen", "records chosen", "records loaded"):
            cell = page.locator("#facts tr", has_text=key).locator("td")
            assert cell.inner_text() == f"{result.facts[key]:,}", key
        # one collapsible section per table that has differences, open while some are new
        tables = {c.table for c in failed}
        assert page.locator("#differences details.group").count() == len(tables)
        files = page.locator("#differences-files")
        assert files.get_attribute("open") is not None
        assert files.locator("tbody tr[data-row]:visible").count() == 1
        # the field-level diff per table and column, closed until opened
        contact = page.locator("#fields-contact")
        column_rows = contact.locator("table.columns tbody tr")
        assert not column_rows.first.is_visible()
        contact.locator("summary").first.click()
        assert column_rows.first.is_visible()
        assert contact.locator("tr[data-column=lastname] td").first.inner_text() == str(
            sum(1 for r in result.proof.rows if (r.table, r.field) == ("contact", "lastname"))
        )
        page.screenshot(path=str(shot))
        assert errors == []
    assert shot.stat().st_size > 0
    shutil.copy2(shot, artifacts_dir / "sample-report.png")
