"""The load against the emulator: counts add up, links resolve, times kept, nothing twice,
rollback restores the tenant, delta sends only what changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry import commands
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.demo import write_changed_bundle
from crm_ferry.commands.migrate import run_load
from crm_ferry.errors import MapError
from crm_ferry.model import Activity, Invoice, InvoiceItem, SessionNote
from crm_ferry.reconcile.sample import choose_sample
from crm_ferry.sources.bundle import open_bundle
from helpers.load import Project

TYPE = "@lookuplogicalname"


def orphans(dump: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Lookups in the dump that point to no row."""
    ids: dict[str, set[str]] = {}
    for table, rows in dump.items():
        for row in rows:
            for key, value in row.items():
                if key.endswith("id") and isinstance(value, str) and f"{key}{TYPE}" not in row:
                    ids.setdefault(table, set()).add(value)
    bad = []
    for table, rows in dump.items():
        for row in rows:
            for key, target in row.items():
                if not key.endswith(TYPE):
                    continue
                column = key[: -len(TYPE)]
                value = row.get(column)
                if value and target in dump and value not in ids.get(str(target), set()):
                    bad.append(f"{table}.{column} -> {target}({value})")
    return bad


def test_migrate_counts_links_times_and_totals(project: Project) -> None:
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert result.ok
    for obj, c in result.objects.items():
        assert c.balanced, (obj, c)
    assert result.objects["clients"].written == result.objects["clients"].read
    assert not result.failures
    dump = project.dump()
    assert orphans(dump) == []
    with open_bundle(project.bundle) as b:
        notes = {r.id: r for r in b.read("session_notes") if isinstance(r, SessionNote)}
        acts = {r.id: r for r in b.read("activities") if isinstance(r, Activity)}
        invoices = {r.id: r for r in b.read("invoices") if isinstance(r, Invoice)}
        items = [r for r in b.read("invoice_items") if isinstance(r, InvoiceItem)]
    with open_journal(project.settings) as j:
        rows = {
            (o.source_object, o.source_id, o.table): o.row_id
            for o in j.ops(result.run_id)
            if o.kind == "upsert" and o.phase == 0
        }
    keys = {
        "annotation": "annotationid",
        "phonecall": "activityid",
        "email": "activityid",
        "appointment": "activityid",
        "invoice": "invoiceid",
    }
    by_id = {t: {r[k]: r for r in dump.get(t, [])} for t, k in keys.items()}
    checked = 0
    for (obj, sid, table), rid in rows.items():
        row = by_id.get(table, {}).get(rid)
        if obj == "session_notes" and table == "annotation" and row is not None:
            created = notes[sid].created_at
            assert created is not None
            assert _instant(row["createdon"]) == created, sid
            checked += 1
        if obj == "activities" and row is not None:
            created = acts[sid].occurred_at
            assert created is not None
            assert _instant(row["actualstart"]) == created, sid
            checked += 1
    assert checked > 50
    sums: dict[str, Decimal] = {}
    for item in items:
        if item.invoice_id and item.amount is not None:
            sums[item.invoice_id] = sums.get(item.invoice_id, Decimal(0)) + item.amount
    agreeing = 0
    for inv_id, inv in invoices.items():
        rid = rows.get(("invoices", inv_id, "invoice"))
        if rid is None or inv.total_amount is None:
            continue
        total = Decimal(str(by_id["invoice"][rid]["totalamount"])).quantize(Decimal("0.01"))
        if sums.get(inv_id, Decimal(0)) == inv.total_amount:
            assert total == inv.total_amount, inv.number
            agreeing += 1
    assert agreeing > 20


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_unconfirmed_map_refuses_to_load(project: Project) -> None:
    path = project.settings.project_dir / "mapping.yaml"
    text = path.read_text(encoding="utf-8").replace("status: confirmed", "status: proposed")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MapError) as err:
        run_load(project.settings, client=project.client, skip_sample_gate=True)
    assert "not confirmed" in str(err.value)
    assert "map confirm" in (err.value.hint or "")


def test_migrate_refuses_without_an_accepted_sample(project: Project) -> None:
    with pytest.raises(MapError) as err:
        commands.migrate(project.settings, client=project.client)
    assert "sample" in str(err.value)
    assert "crm-ferry sample" in (err.value.hint or "")
    assert project.dump().get("contact", []) == [] or all(
        "new_practiceid" not in r for r in project.dump()["contact"]
    )


def _subset(project: Project, seed: int, size: int) -> Callable[[Any], bool]:
    with open_bundle(project.bundle) as b:
        return choose_sample(b, size=size, seed=seed).includes


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(1, 10_000), size=st.integers(40, 160))
def test_second_run_writes_nothing(
    make_project: Callable[[str], Project], seed: int, size: int
) -> None:
    """Idempotence: the same bundle (any closed subset of it) loaded twice → the second run
    sends no request and the tenant is byte for byte the same."""
    project = make_project(f"idem-{seed}-{size}")
    include = _subset(project, seed, size)
    first = run_load(project.settings, client=project.client, include=include, kind="sample")
    assert first.ok
    before = project.app.dump()
    second = run_load(project.settings, client=project.client, include=include, kind="sample")
    assert second.ok
    assert second.requests == 0
    assert sum(c.written for c in second.objects.values()) == 0
    assert project.app.dump() == before


def test_rollback_leaves_an_edited_row_and_reports_it(project: Project) -> None:
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    with open_journal(project.settings) as j:
        contact = next(o for o in j.ops(result.run_id) if o.table == "contact")
    project.client.update("contact", contact.row_id, {"lastname": "Edited In Dynamics"})
    report = commands.rollback(project.settings, run_id=result.run_id, client=project.client)
    (res,) = report.results
    edited = [c for c in res.conflicts if c["columns"]]
    assert [c["id"] for c in edited] == [contact.row_id]
    assert "lastname" in edited[0]["columns"]
    # what it points to stays with it (a parent account would cascade-delete it)
    assert all(
        c["reason"] == "a row kept as it is points at it" for c in res.conflicts if not c["columns"]
    )
    row = project.client.retrieve("contact", contact.row_id, select=["lastname"])
    assert row["lastname"] == "Edited In Dynamics"
    assert res.deleted > 100


def test_delta_sends_only_what_changed(project: Project) -> None:
    first = run_load(project.settings, client=project.client, skip_sample_gate=True)
    changed = project.root / "bundle-changed"
    what = write_changed_bundle(project.bundle, changed)
    delta = commands.delta(project.settings, source=changed, client=project.client)
    assert delta.ok
    clients = delta.objects["clients"]
    assert clients.written == len(what["changed"]) + len(what["added"])
    assert clients.unchanged == clients.read - clients.written - clients.rejected
    assert delta.objects["sessions"].written == 0
    assert sorted(f"activities/{i}" for i in delta.disappeared["activities"]) == sorted(
        what["removed"]
    )
    with open_journal(project.settings) as j:
        written = {(o.source_object, o.source_id) for o in j.ops(delta.run_id)}
    assert written == {tuple(k.split("/")) for k in what["changed"] + what["added"]}
    row = project.client.query(
        "contact", select=["telephone1"], filter="new_practiceid eq 'cli_000001'"
    )
    assert next(iter(row))["telephone1"].startswith("(555) 010-")
    assert first.run_id != delta.run_id


def test_purge_removes_contents_and_keeps_the_audit(project: Project) -> None:
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    out = commands.purge(project.settings, run_id=result.run_id)
    assert out.operations > 100
    with open_journal(project.settings) as j:
        ops = j.ops(result.run_id)
        assert all(o.payload is None for o in ops)
        assert {o.state for o in ops} == {"done"}
    folder = project.settings.project_dir / "runs" / result.run_id
    assert list(folder.iterdir()) == []
    runs = commands.runs(project.settings)
    assert json.dumps(runs.as_dict())
    assert runs.runs[0].purged_at
