"""Signing off a migration on the command line: ``verify --check`` on a generated bundle
fails naming the planted edge cases, each classified (the export's own differences as
source defects, the files the map does not migrate as rejected by the map); ``verify
accept`` of exactly those records who, when and why, and ``--check`` passes; then one value
the service stores differently (the emulator's ``corrupt`` fault) is a new migration
difference, and ``--check`` fails again, naming its table, record and column."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result

from crm_ferry import commands
from crm_ferry.cli import cli
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.app import EmulatorConfig
from crm_ferry.emulator.faults import Corruption, FaultSchedule
from crm_ferry.reconcile.classify import ID_LENGTH, difference_id, normal_id
from helpers.journal import journal_rows
from helpers.reconcile import ReconProject, copy_project, recon_template

__all__ = ["recon_template"]  # fixtures, used by name

SOURCE_DEFECT = "source defect"
REJECTED = "rejected by the map"
MIGRATION = "migration difference"


class Tenant:
    """The project's emulator, which a test may reopen over the same data with faults."""

    def __init__(self, project: ReconProject) -> None:
        self.project = project
        self.app = project.app

    def reopen(self, faults: FaultSchedule) -> EmulatorApp:
        self.project.client.close()
        self.app.close()
        self.app = EmulatorApp(EmulatorConfig(faults=faults), data_dir=self.project.root / "data")
        return self.app


@pytest.fixture
def tenant(
    recon_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tenant]:
    """A migrated project whose configured environment is the in-process emulator."""
    project = copy_project(recon_template, tmp_path / "p")
    here = Tenant(project)
    monkeypatch.setattr(
        "crm_ferry.commands._project.pool_from_settings",
        lambda settings: SimpleNamespace(clients=[embedded_client(here.app)]),
    )
    try:
        assert commands.migrate(project.settings, client=project.client, skip_sample_gate=True).ok
        yield here
    finally:
        project.client.close()
        here.app.close()


def _run(tenant: Tenant, *args: str, code: int = 0, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(
        cli,
        ["--project", str(tenant.project.settings.project_dir), *args],
        catch_exceptions=False,
        input=stdin,
    )
    assert result.exit_code == code, (args, result.output, result.stderr)
    return result


def _json(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _row_of(project: ReconProject, table: str, source_id: str) -> str:
    ((row,),) = journal_rows(
        project.settings.project_dir,
        "SELECT row_id FROM idmap WHERE tbl = ? AND source_id = ? AND op_key LIKE '%/upsert/0'",
        (table, source_id),
    )
    return str(row)


def _planted(project: ReconProject) -> dict[tuple[str, str, str, str], str]:
    """The generator's ground truth, as verify must report it: (class, table, record,
    column) → what."""
    truth = project.truth
    (invoice,) = truth["findings"]["invoices.items_total_mismatch"]
    out = {
        (SOURCE_DEFECT, "invoice", _row_of(project, "invoice", invoice), "totalamount"): (
            "invoice total = source total"
        )
    }
    for kind, planted in truth["dangling"].items():
        obj, _, rest = kind.partition(".")
        if obj == "clients":
            continue  # a client whose coach is missing is loaded, owned by the fallback user
        column = rest.split(" ")[0]
        for sid in planted:
            out[(SOURCE_DEFECT, obj, sid, column)] = "record not loaded"
    # the file over the upload limit; the linked one, not downloaded, is skipped (no difference)
    for sid in truth["findings"]["files.over_upload_limit"]:
        out[(REJECTED, "files", sid, "size_bytes")] = "record not loaded"
    return out


def test_verify_check_accept_and_a_new_difference(tenant: Tenant) -> None:
    project = tenant.project
    planted = _planted(project)
    assert len(planted) == 5
    ids = {key: difference_id(*key) for key in planted}

    # 1. every planted edge case is a difference nobody accepted yet, classified and named
    failed = _json(_run(tenant, "verify", "--check", "--json", code=7))["error"]
    assert (failed["type"], failed["exit_code"]) == ("CheckFailed", 7)
    listed = {
        (d["classification"], d["table"], d["record"], d["column"]): d
        for d in failed["differences"]
    }
    assert set(listed) == set(planted)
    for key, what in planted.items():
        assert listed[key]["what"] == what
        assert listed[key]["id"] == ids[key]
        assert f"{ids[key]}  {key[0]}: {key[1]} {key[2]} {key[3]}" in failed["message"]
    assert "crm-ferry verify accept --by NAME --reason TEXT" in failed["hint"]
    report = json.loads(Path(failed["report"]).with_name("report.json").read_text("utf-8"))
    assert report["summary"]["new"] == 5
    assert report["summary"]["by_class"][SOURCE_DEFECT] == {"total": 4, "new": 4, "accepted": 0}
    assert report["summary"]["by_class"][REJECTED] == {"total": 1, "new": 1, "accepted": 0}

    # the console names them too, ids whole on an 80-column terminal
    shown = _run(tenant, "verify", code=0).stdout
    for ident in ids.values():
        assert ident in shown
    assert all(len(line) <= 80 for line in shown.splitlines() if "│" in line)

    # 2. an id the verification did not find is refused, naming it (nothing is accepted)
    refused = _json(
        _run(
            tenant,
            "verify",
            "accept",
            "--by",
            "Ada",
            "--reason",
            "x",
            "q1q1q1q1q1",
            "--json",
            code=2,
        )
    )["error"]
    assert refused["type"] == "JournalError"
    assert "'q1q1q1q1q1'" in refused["message"]
    nameless = _run(
        tenant, "verify", "accept", "--by", " ", "--reason", "x", ids[next(iter(ids))], code=4
    )
    assert "pass --by NAME" in nameless.stderr

    # 3. the source defects accepted by id (typed in capitals, as read out): the map's rejects
    # are still new, so --check still fails, naming only them
    defects = [ident for key, ident in ids.items() if key[0] == SOURCE_DEFECT]
    why = "known defects of the export, agreed with the client"
    out = _json(
        _run(
            tenant,
            "verify",
            "accept",
            "--by",
            "Ada Lovelace",
            "--reason",
            why,
            *(i.upper() for i in defects),
            "--json",
        )
    )
    assert sorted(a["id"] for a in out["accepted"]) == sorted(defects)
    assert {(a["accepted_by"], a["reason"]) for a in out["accepted"]} == {("Ada Lovelace", why)}
    assert {d["classification"] for d in out["remaining"]} == {REJECTED}
    again = _json(_run(tenant, "verify", "--check", "--json", code=7))["error"]
    assert {d["classification"] for d in again["differences"]} == {REJECTED}
    assert again["message"].startswith("verify found 1 difference(s) nobody accepted (4 accepted)")

    # 4. no ids: every difference nobody accepted is listed, and accepted once confirmed
    asked = _run(
        tenant,
        "verify",
        "accept",
        "--by",
        "Ada Lovelace",
        "--reason",
        "moved by hand",
        stdin="n\n",
        code=1,
    )
    assert "Accept these 1 difference(s) as Ada Lovelace?" in asked.stderr
    confirmed = _run(
        tenant, "verify", "accept", "--by", "Ada Lovelace", "--reason", "moved by hand", stdin="y\n"
    )
    for key, ident in ids.items():
        if key[0] == REJECTED:
            assert ident in confirmed.stderr  # listed before the question
            assert ident in confirmed.stdout  # and then as accepted
    passed = _json(_run(tenant, "verify", "--check", "--json"))
    assert passed["ok"] is True
    assert passed["summary"]["new"] == 0
    assert passed["summary"]["accepted"] == 5
    # totals are JSON numbers, never text
    totals = passed["totals"]
    assert isinstance(totals["invoices"]["source total"], float)
    assert totals["invoices"]["source total"] != totals["invoices"]["Dataverse total"]
    assert totals["payments"]["source"] == totals["payments"]["Dataverse"] > 0
    assert totals["lookups"]["orphans"] == 0
    assert all(
        isinstance(v, int | float) and not isinstance(v, bool)
        for per in (*totals.values(), *passed["proof"]["sums"].values())
        for v in per.values()
    )
    # accepted differences stay in the report, each with who, when and why
    signed = json.loads(Path(passed["report"]["json"]).read_text("utf-8"))
    by_id = {d["id"]: d for d in signed["differences"]}
    assert set(by_id) == set(ids.values())
    for key, ident in ids.items():
        accepted = by_id[ident]["accepted"]
        assert by_id[ident]["status"] == "accepted"
        assert accepted["by"] == "Ada Lovelace"
        assert accepted["reason"] == (why if key[0] == SOURCE_DEFECT else "moved by hand")
        assert accepted["at"].endswith("Z")
    html = Path(passed["report"]["html"]).read_text("utf-8")
    assert "Every difference is accepted" in html
    assert html.count("accepted</span> by Ada Lovelace") == 5

    # 5. the service stores another last name than the one written (a faulty plug-in): a
    # new migration difference, and --check fails again, naming table, record and column
    row, payload = journal_rows(
        project.settings.project_dir,
        "SELECT row_id, payload FROM idmap WHERE tbl = 'contact' AND op_key LIKE '%/upsert/0' "
        "ORDER BY source_id LIMIT 1",
    )[0]
    lastname = json.loads(payload)["lastname"]
    app = tenant.reopen(
        FaultSchedule(corrupt=Corruption(table="contact", column="lastname", match=row))
    )
    with embedded_client(app) as writer:
        writer.update("contact", row, {"lastname": lastname})
    (corrupted,) = app.faults.corrupted
    assert corrupted.sent == lastname
    assert corrupted.stored != lastname
    new = _json(_run(tenant, "verify", "--check", "--full", "--json", code=7))["error"]
    (only,) = new["differences"]
    assert (only["classification"], only["table"], only["record"], only["column"]) == (
        MIGRATION,
        "contact",
        row,
        "lastname",
    )
    assert only["what"] == "value differs"
    assert new["message"].startswith("verify found 1 difference(s) nobody accepted (5 accepted)")
    assert f"{only['id']}  {MIGRATION}: contact {row} lastname" in new["message"]
    assert f"--reason TEXT {only['id']}`" in new["hint"]


def test_difference_ids_are_stable_short_and_typeable() -> None:
    a = difference_id(
        SOURCE_DEFECT, "invoice", "5B71CE3D-573C-57AA-A5E5-A0D102FBBE8F", "totalamount"
    )
    assert a == difference_id(
        SOURCE_DEFECT, "invoice", "5b71ce3d-573c-57aa-a5e5-a0d102fbbe8f", "totalamount"
    )
    assert len(a) == ID_LENGTH
    assert set(a) <= set("0123456789abcdefghjkmnpqrstvwxyz")  # no i, l, o, u
    assert normal_id(f"  {a.upper()} ") == a
    assert normal_id("1o1l1i") == "101111"
    # each part counts: another class, table, record or column is another difference
    others = {
        difference_id(MIGRATION, "invoice", "r", "c"),
        difference_id(SOURCE_DEFECT, "invoice", "r", "c"),
        difference_id(SOURCE_DEFECT, "contact", "r", "c"),
        difference_id(SOURCE_DEFECT, "invoice", "s", "c"),
        difference_id(SOURCE_DEFECT, "invoice", "r", "d"),
    }
    assert len(others) == 5
