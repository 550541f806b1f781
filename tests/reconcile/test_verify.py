"""Verify after a migration: a clean load proves out (only the planted edge cases are
reported, each classified: the export's own differences as source defects, the files the
map does not migrate as rejected by the map), and a value corrupted on write, a record
edited or deleted in Dynamics and a lookup to a row that does not exist are each caught as
migration differences, naming table, record and field."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_ferry import commands
from crm_ferry.commands.verify import verify as run_verify
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.emulator.faults import Corruption, FaultSchedule
from crm_ferry.errors import CheckFailed, MapError
from crm_ferry.reconcile.verify import Proof, _orphans, read_rows
from helpers.journal import journal_rows
from helpers.reconcile import ReconProject, recon_project, recon_template

__all__ = ["recon_project", "recon_template"]  # fixtures, used by name

INVOICE_TOTAL = "invoice total = source total"
OWN = "Dataverse's own "
NOT_LOADED = "record not loaded"
PLANTED = 5
"""Differences of a clean migration of the generated bundle: the invoice whose lines do not
add up to its total, three dangling references and the file the map does not migrate (the
linked file, not downloaded, is skipped as ``documents.linked: skip`` says: no difference)."""
LOOKUP = "@Microsoft.Dynamics.CRM.lookuplogicalname"


def _rows_of(project: ReconProject, table: str) -> dict[str, str]:
    """source id → row id of the rows of ``table`` (first write of each)."""
    found = journal_rows(
        project.settings.project_dir,
        "SELECT source_id, row_id FROM idmap WHERE tbl = ? AND op_key LIKE '%/upsert/0'",
        (table,),
    )
    return {str(s): str(r) for s, r in found}


def _report_of(error: CheckFailed) -> dict[str, Any]:
    html = Path(error.attrs()["report"])
    assert f"see {html}" in error.message.splitlines()[0]
    data: dict[str, Any] = json.loads(html.with_name("report.json").read_text("utf-8"))
    return data


def _check_orphan_lookups(project: ReconProject) -> None:
    """Rows are read with their lookups' target tables, and a lookup to a row that is not
    there is reported by table, record and column."""
    ids = sorted(_rows_of(project, "new_session").values())[:3]
    actual = read_rows(project.client, "new_session", ids)
    assert set(actual) == set(ids)
    victim = ids[0]
    targets = {k[: -len(LOOKUP)]: v for k, v in actual[victim].items() if k.endswith(LOOKUP)}
    assert "contact" in targets.values() or "account" in targets.values(), targets
    column, table = next((k, v) for k, v in targets.items() if v in ("contact", "account"))
    gone = "00000000-0000-4000-8000-000000000001"
    actual[victim][column] = gone
    proof = Proof()
    _orphans(proof, project.client, {"new_session": actual}, {"new_session": set(ids)})
    assert [(c.name, c.table, c.record, c.passed) for c in proof.checks] == [
        ("lookup points to an existing row", "new_session", victim, False)
    ]
    assert proof.checks[0].detail == f"{column[1:-6]} -> {table}({gone}) does not exist"
    assert proof.sums["lookups"]["orphans"] == 1


def test_verify_after_a_clean_migration_then_edits_in_dynamics(
    recon_project: Callable[..., ReconProject],
) -> None:
    project = recon_project()
    settings, client = project.settings, project.client
    with pytest.raises(MapError) as nothing:
        run_verify(settings, client=client)
    assert nothing.value.message == "nothing has been loaded yet"
    migrated = commands.migrate(settings, client=client, skip_sample_gate=True)
    assert migrated.ok

    result = run_verify(settings, client=client, full=True)
    proof = result.proof
    assert {r.verdict for r in proof.rows} == {"match"}
    assert len({(r.table, r.record_id) for r in proof.rows}) == sum(
        c["written"] for c in proof.counts.values()
    )
    assert all(c["written"] == c["found"] for c in proof.counts.values()), proof.counts
    assert proof.sums["lookups"]["checked"] > 1000
    assert proof.sums["lookups"]["orphans"] == 0
    # the planted invoice whose lines do not add up to its total: reported, a source defect
    # (Dataverse computes the total from the lines); and the records not loaded
    failed = [c for c in proof.checks if not c.passed]
    (mismatch_id,) = project.truth["findings"]["invoices.items_total_mismatch"]
    assert [
        (c.name, c.table, c.record, c.classification) for c in failed if c.table == "invoice"
    ] == [(INVOICE_TOTAL, "invoice", _rows_of(project, "invoice")[mismatch_id], "source defect")]
    assert {c.name for c in failed} == {INVOICE_TOTAL, NOT_LOADED}
    assert not result.ok
    assert proof.differences == PLANTED
    assert {d.classification for d in result.differences} == {
        "source defect",
        "rejected by the map",
    }
    invoices = proof.sums["invoices"]
    assert invoices["invoices whose lines agree with their total"] == (
        project.truth["counts"]["invoices"] - 1
    )
    # the totals Dataverse computes itself (an aggregate over the rows holding a source id)
    # agree with the rows read
    assert invoices["Dataverse total (computed by Dataverse)"] == invoices["Dataverse total"]
    payments = proof.sums["payments"]
    assert payments["Dataverse total (computed by Dataverse)"] == payments["Dataverse"]
    assert {c.name for c in proof.checks if c.name.startswith(OWN)} == {
        f"{OWN}invoices total = the invoices read",
        f"{OWN}payments total = the payments read",
    }
    # every source record is loaded, rejected or (the linked file) skipped, and the rejects
    # are the planted ones
    for obj, c in result.objects.items():
        assert c.balanced, obj
        assert c.source == c.loaded + c.rejected + c.skipped, obj
    rejected = {obj: c.rejected for obj, c in result.objects.items() if c.rejected}
    assert rejected == {"sessions": 1, "session_notes": 1, "invoice_items": 1, "files": 1}
    assert {obj: c.skipped for obj, c in result.objects.items() if c.skipped} == {"files": 1}
    assert result.objects["clients"].as_dict() == {
        "source": 40,
        "loaded": 40,
        "rejected": 0,
        "skipped": 0,
        "reasons": {},
    }
    assert result.objects["sessions"].reasons == {
        "client … is not in the export (dangling reference)": 1
    }
    for path in (result.report.html, result.report.json, result.report.csv):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert result.report.html.parent.name.startswith("verify-")

    # a random subset of the rows, field by field; counts and sums still cover every row
    subset = run_verify(settings, client=client, fields=25, seed=3)
    compared = {(r.table, r.record_id) for r in subset.proof.rows if r.field != "documentbody"}
    assert len(compared) == 25
    documents = [r for r in subset.proof.rows if r.field == "documentbody"]  # every one, always
    assert len(documents) == sum(1 for r in proof.rows if r.field == "documentbody") > 0
    assert subset.proof.counts == proof.counts
    assert subset.report.html.parent != result.report.html.parent  # not overwritten
    _check_orphan_lookups(project)

    # edits in Dynamics after the load: a changed name, a deleted phone call
    contacts = _rows_of(project, "contact")
    edited_source, edited = sorted(contacts.items())[0]
    client.update("contact", edited, {"lastname": "Edited-In-Dynamics"})
    calls = _rows_of(project, "phonecall")
    deleted = sorted(calls.values())[0]
    client.delete("phonecall", deleted)
    with pytest.raises(CheckFailed) as caught:
        run_verify(settings, client=client, full=True, check=True)
    assert caught.value.exit_code == 7
    # the edited field, the missing row, and the table with a row fewer than written
    assert caught.value.message.startswith(
        f"verify found {PLANTED + 3} difference(s) nobody accepted (0 accepted); see "
    )
    assert caught.value.hint is not None
    assert "`crm-ferry verify accept --by NAME --reason TEXT" in caught.value.hint
    data = _report_of(caught.value)
    bad = [r for r in data["rows"] if r["verdict"] != "match"]
    assert [(r["table"], r["record_id"], r["field"], r["verdict"]) for r in bad] == [
        ("contact", edited, "lastname", "mismatch"),
        ("phonecall", deleted, "*", "missing"),
    ]
    assert bad[0]["actual"] == "Edited-In-Dynamics"
    assert bad[0]["source_key"] == f"clients/{edited_source}"
    assert data["fields"]["by_table"]["phonecall"]["columns"]["*"]["missing"] == 1
    migration = {
        (d["table"], d["record"], d["column"], d["what"])
        for d in data["differences"]
        if d["classification"] == "migration difference"
    }
    assert migration == {
        ("contact", edited, "lastname", "value differs"),
        ("phonecall", deleted, "*", "row missing"),
        ("phonecall", "*", "(rows)", "rows found = rows written"),
    }
    for line in (f"contact {edited} lastname", f"phonecall {deleted} *"):
        assert line in caught.value.message

    # an invoice that no longer holds its source id: Dataverse counts one fewer than read
    ours = set(_rows_of(project, "invoice").values())
    open_ones = client.query("invoice", select=["invoiceid"], filter="statecode eq 0")
    invoice = sorted(r["invoiceid"] for r in open_ones if r["invoiceid"] in ours)[0]
    client.update("invoice", invoice, {"new_practiceid": None})  # paid ones are read-only
    after = run_verify(settings, client=client)
    [own] = [c for c in after.proof.checks if c.name == f"{OWN}invoices total = the invoices read"]
    assert not own.passed
    assert (own.table, own.record, own.column) == ("invoice", "*", "totalamount")
    assert own.detail.startswith(
        f"Dataverse counts {project.truth['counts']['invoices'] - 1} rows holding a source id"
    )


def test_verify_check_catches_values_corrupted_on_write(
    recon_project: Callable[..., ReconProject],
) -> None:
    """The emulator stores another value than the one sent (bulk messages and $batch parts
    alike) while every request succeeds: the load says all is well, verify does not."""
    project = recon_project(
        faults=FaultSchedule(
            corrupt=[
                Corruption(table="contact", column="lastname", every=7),  # UpsertMultiple
                {"table": "phonecall", "column": "subject", "every": 5},  # $batch parts
            ]
        )
    )
    migrated = commands.migrate(project.settings, client=project.client, skip_sample_gate=True)
    assert migrated.ok
    assert not migrated.failures
    corrupted = project.app.faults.corrupted
    assert {w.table for w in corrupted} == {"contact", "phonecall"}
    assert len([w for w in corrupted if w.table == "contact"]) == 40 // 7

    with pytest.raises(CheckFailed) as caught:
        run_verify(project.settings, client=project.client, full=True, check=True)
    data = _report_of(caught.value)
    bad = [r for r in data["rows"] if r["verdict"] != "match"]
    assert {r["verdict"] for r in bad} == {"mismatch"}
    assert sorted((r["table"], r["field"], r["expected"], r["actual"]) for r in bad) == sorted(
        (w.table, w.column, w.sent, w.stored) for w in corrupted
    )
    rows = {**_rows_of(project, "contact"), **_rows_of(project, "phonecall")}
    for r in bad:
        obj, _, source_id = r["source_key"].partition("/")
        assert (obj, rows[source_id]) == (
            {"contact": "clients", "phonecall": "activities"}[r["table"]],
            r["record_id"],
        )
    differences = len(bad) + PLANTED
    assert caught.value.message.startswith(f"verify found {differences} difference(s) ")
    named = {(d["table"], d["record"], d["column"]) for d in caught.value.attrs()["differences"]}
    assert {(r["table"], r["record_id"], r["field"]) for r in bad} <= named


def test_corrupt_fault_options() -> None:
    from crm_ferry.emulator.app import emulator_config
    from crm_ferry.emulator.faults import corrupt_value
    from crm_ferry.errors import ConfigError

    rule = Corruption.parse("contact.lastname:10@cli_000003")
    assert (rule.table, rule.column, rule.every, rule.match) == (
        "contact",
        "lastname",
        10,
        "cli_000003",
    )
    config = emulator_config(fault_corrupt=["contact.lastname", "phonecall.subject:3"])
    assert [(c.table, c.column, c.every) for c in config.faults.corruptions] == [
        ("contact", "lastname", 1),
        ("phonecall", "subject", 3),
    ]
    for bad in ("contact", "contact.lastname:x", "contact.lastname:0"):
        with pytest.raises(ConfigError):
            emulator_config(fault_corrupt=[bad])
    assert corrupt_value("Smith") == "Xmith"
    assert corrupt_value("Xu") == "Yu"
    assert corrupt_value("2024-05-01") == "2024-05-02"
    assert corrupt_value("2024-05-01T08:30:00Z") == "2024-05-02T08:30:00Z"
    assert corrupt_value("12.50") == "13.50"
    assert corrupt_value(3) == 4
    assert corrupt_value(True) is False
    assert corrupt_value(None) is None


class _Unreadable:
    """A client whose reads of a table fail, as when the user may not read it."""

    def retrieve_many(self, table: str, ids: Any, **_: Any) -> dict[str, Any]:
        raise DataverseError(f"no privilege to read {table}", status=403)


def test_a_lookup_table_that_cannot_be_read_is_a_failed_check_not_a_pass() -> None:
    """Lookups into a table verify cannot read are unchecked: neither orphans nor passed,
    and the check that could not run fails (so ``verify --check`` fails on it)."""
    row = {
        "_parentcustomerid_value": "00000000-0000-4000-8000-000000000002",
        f"_parentcustomerid_value{LOOKUP}": "account",
    }
    proof = Proof()
    _orphans(proof, _Unreadable(), {"contact": {"c1": row}}, {"contact": {"c1"}})  # type: ignore[arg-type]
    assert [(c.name, c.table, c.passed) for c in proof.checks] == [
        ("lookup target table readable", "account", False)
    ]
    assert "unchecked: 1 looked-up row(s)" in proof.checks[0].detail
    assert proof.sums["lookups"] == {"checked": 0, "orphans": 0, "unchecked": 1}
    assert proof.differences == 1
