"""The transform follows the tenant's facts (issue 17, point 4): a source value beyond a
column's limit in the tenant is rejected when the record is transformed, the reason naming the
column and the tenant's limit; the same bundle against a tenant whose columns are wider (an
emulator served from a snapshot saying so) loads those records.

The limits are the table reference's: a phone call's subject holds 200 characters, an invoice
line's quantity is at most 100,000,000,000 (``reference/tables/phonecall.json``,
``invoicedetail.json``).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_ferry import commands
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import run_load
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.reference import facts
from crm_ferry.journal import Journal
from crm_ferry.settings import Settings
from helpers.project import build_provisioned

SUBJECT = ("Call about the programme " * 12).strip() + "."  # 300 characters
QUANTITY = "200000000000"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A provisioned project whose bundle has a call with a 300-character subject and an
    invoice line of 200,000,000,000, and a snapshot of its tenant."""
    base = build_provisioned(tmp_path_factory.mktemp("limits"), clients=8, seed=5)
    bundle = base / "bundle"
    lines = (bundle / "activities.jsonl").read_text(encoding="utf-8").splitlines()
    activities = [json.loads(line) for line in lines]
    call = next(a for a in activities if a["kind"] == "call")
    call["subject"] = SUBJECT
    (bundle / "activities.jsonl").write_text(
        "".join(json.dumps(a) + "\n" for a in activities), encoding="utf-8"
    )
    with (bundle / "invoice_items.csv").open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        head, items = list(reader.fieldnames or []), list(reader)
    items[0]["quantity"] = QUANTITY
    with (bundle / "invoice_items.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, head, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(items)
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        commands.snapshot(Settings.load(base / "project", env={}), client=client)
    (base / "ids.json").write_text(
        json.dumps({"call": call["id"], "item": items[0]["id"]}), encoding="utf-8"
    )
    return base


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Iterator[Path]:
    base = tmp_path / "p"
    shutil.copytree(template, base)
    yield base
    shutil.rmtree(base)


def _reasons(project: Path, run_id: str) -> dict[str, str]:
    with Journal.for_project(project / "project") as j:
        return {str(r.source_id): r.reason for r in j.rejects(run_id)}


def _ids(base: Path) -> dict[str, str]:
    ids: dict[str, str] = json.loads((base / "ids.json").read_text(encoding="utf-8"))
    return ids


def test_the_reference_limits_hold() -> None:
    assert facts("phonecall")["columns"]["subject"]["max_length"] == 200
    assert facts("invoicedetail")["columns"]["quantity"]["max"] == 100_000_000_000


def test_values_beyond_the_tenants_limits_are_rejected_naming_them(project: Path) -> None:
    settings = Settings.load(project / "project")
    with EmulatorApp(data_dir=project / "data") as app, embedded_client(app) as client:
        result = run_load(settings, client=client, skip_sample_gate=True)
    reasons = _reasons(project, result.run_id)
    ids = _ids(project)
    assert reasons[ids["call"]] == (
        "300 characters; phonecall.subject holds at most 200 in the tenant "
        "(set truncate: true on the field to cut it)"
    )
    assert reasons[ids["item"]] == (
        "200000000000 is above invoicedetail.quantity's maximum in the tenant, 100000000000"
    )


def _wider(doc: dict[str, Any]) -> None:
    tables = doc["tables"]
    subject = next(a for a in tables["phonecall"]["Attributes"] if a["LogicalName"] == "subject")
    subject["MaxLength"] = 400
    subject["DatabaseLength"] = 800
    quantity = next(
        a for a in tables["invoicedetail"]["Attributes"] if a["LogicalName"] == "quantity"
    )
    quantity["MaxValue"] = 1_000_000_000_000


def test_the_same_bundle_loads_into_a_tenant_with_wider_columns(project: Path) -> None:
    path = project / "project" / "tenant-snapshot.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    _wider(doc)
    wider = project / "wider-snapshot.json"
    wider.write_text(json.dumps(doc), encoding="utf-8")
    settings = Settings.load(project / "project")
    with EmulatorApp(snapshot=wider) as app, embedded_client(app) as client:
        result = run_load(settings, client=client, skip_sample_gate=True)
        ids = _ids(project)
        assert ids["call"] not in _reasons(project, result.run_id)
        assert ids["item"] not in _reasons(project, result.run_id)
        calls = client.query("phonecall", select=["subject"], filter=f"subject eq '{SUBJECT}'")
        assert [c["subject"] for c in calls] == [SUBJECT]
        lines = client.query("invoicedetail", select=["quantity"], filter=f"quantity eq {QUANTITY}")
        assert len(list(lines)) == 1


def _no_made_calls(doc: dict[str, Any]) -> None:
    """A tenant whose completed phone calls are only Received (status 2, Made, removed)."""
    status = next(
        a for a in doc["tables"]["phonecall"]["Attributes"] if a["LogicalName"] == "statuscode"
    )
    options = status["OptionSet"]["Options"]
    status["OptionSet"]["Options"] = [o for o in options if o["Value"] != 2]


def test_a_status_the_tenant_does_not_have_for_the_state_is_rejected(project: Path) -> None:
    path = project / "project" / "tenant-snapshot.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    _no_made_calls(doc)
    changed = project / "no-made-snapshot.json"
    changed.write_text(json.dumps(doc), encoding="utf-8")
    settings = Settings.load(project / "project")
    with EmulatorApp(snapshot=changed) as app, embedded_client(app) as client:
        result = run_load(settings, client=client, skip_sample_gate=True)
    reasons = set(_reasons(project, result.run_id).values())
    assert (
        "status 2 is not a status of state 1 of phonecall in the tenant (its status reasons "
        "of that state: 4 Received); map the value to one of them"
    ) in reasons
