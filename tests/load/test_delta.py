"""``crm-ferry delta`` against newer exports: per object the records changed, added,
unchanged and removed from the source (opportunities, which are aggregates of sessions, as
their own object); what each policy for removed records does in the tenant and journals
before sending; several deltas in a row, each a run of its own."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from crm_ferry import commands
from crm_ferry.cli import cli, render
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.demo import write_changed_bundle
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.batch import BatchItem, BatchOperation
from crm_ferry.errors import ConfigError
from crm_ferry.journal import IdMapEntry, Journal, JournalError, JournalOp
from crm_ferry.load.engine import LoadResult
from crm_ferry.load.removal import PHASE_REMOVE, REMOVED_POLICIES
from crm_ferry.settings import REMOVED_POLICIES as SETTINGS_POLICIES
from crm_ferry.settings import Settings
from helpers.load import (
    Project,
    Row,
    comparable,
    copy_bundle,
    read_rows,
    remove_client,
    remove_records,
    rewrite_rows,
)

CLIENT = "cli_000005"
"""A client with a household, sessions (one paid), an invoice with a line and payments,
notes and activities: removing it removes something of almost every object."""
INACTIVE_TABLES = frozenset({"contact", "account", "new_session", "new_payment"})
"""Tables of the map with an Inactive state (contacts, accounts, custom tables)."""
LATER = "2026-12-01T09:00:00"
"""An ``updated_at`` later than :func:`write_changed_bundle`'s."""


# -- what the migrate run left, read from the journal and the bundle -------------------------


def _journal(project: Project) -> Journal:
    return open_journal(project.settings)


def _rejected(project: Project) -> dict[str, set[str]]:
    """Per object, the records the migrate run rejected (they have no rows)."""
    with _journal(project) as j:
        first = j.runs()[0]
        assert first.kind == "migrate"
        out: dict[str, set[str]] = defaultdict(set)
        for r in j.rejects(first.run_id):
            if r.source_id:
                out[r.object].add(r.source_id)
    return out


def _entries(project: Project) -> list[IdMapEntry]:
    with _journal(project) as j:
        return list(j.idmap())


def _rows_of(
    entries: Sequence[IdMapEntry], removed: Mapping[str, Sequence[str]]
) -> dict[tuple[str, str], IdMapEntry]:
    """(table, row id) → first write of every row of the removed records (aggregates by
    their ``opportunities`` ids)."""
    out: dict[tuple[str, str], IdMapEntry] = {}
    for e in entries:
        if not e.op_key.endswith("/upsert/0"):
            continue
        obj = "opportunities" if e.role == "opportunity" else e.source_object
        if e.source_id in removed.get(obj, ()):
            out[(e.table, e.row_id)] = e
    return out


def _aggregate_of(row: Row) -> str:
    return f"{row['client_id']}/{row['service_type_id']}/{(row['currency'] or 'USD').upper()}"


def _paid(row: Row) -> bool:
    return row["status"] == "completed" and row["billing_status"] == "paid"


def _aggregates(project: Project, bundle: Path) -> dict[str, list[str]]:
    """Aggregate id → the ids of the loaded paid sessions it sums, checked against the
    opportunities the migrate run wrote."""
    rejected = _rejected(project)
    out: dict[str, list[str]] = defaultdict(list)
    for row in read_rows(bundle, "sessions"):
        loaded = row["id"] not in rejected["sessions"]
        if _paid(row) and loaded and row["client_id"] not in rejected["clients"]:
            out[_aggregate_of(row)].append(row["id"])
    written = {
        e.source_id for e in _entries(project) if e.role == "opportunity" and e.kind == "upsert"
    }
    assert written == set(out), "the aggregates are not what this test thinks they are"
    return dict(out)


def _sessions_with_dependents(bundle: Path) -> set[str]:
    """Sessions whose rows other rows point to (notes and files become notes on them)."""
    notes = {r["session_id"] for r in read_rows(bundle, "session_notes")}
    files = {r["session_id"] for r in read_rows(bundle, "files") if r["session_id"]}
    return notes | files


def _accepted(result: LoadResult, obj: str) -> int:
    c = result.objects[obj]
    return c.read - c.rejected - c.skipped


class SendWatch:
    """A progress sink that, when sending begins, reads the run's removal operations from
    the journal (on a connection of its own): what was journaled before anything was sent."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.at_send: list[JournalOp] | None = None

    def start(self, task: str, total: int | None = None) -> None:
        if task.startswith("load ") and self.at_send is None:  # the first table sent
            with _journal(self.project) as j:
                run = j.unfinished(["delta"])
                assert run is not None
                self.at_send = j.removal_ops(run.run_id)

    def advance(self, task: str, amount: int = 1) -> None:
        pass

    def finish(self, task: str) -> None:
        pass


@pytest.fixture
def deletes_sent(migrated: Project, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs of the DELETE parts the client sends, in the order it sends them."""
    sent: list[str] = []
    client = migrated.client
    real = client.execute_batch

    def execute_batch(items: Sequence[BatchItem], **kwargs: Any) -> Any:
        sent.extend(i.url for i in items if isinstance(i, BatchOperation) and i.method == "DELETE")
        return real(items, **kwargs)

    monkeypatch.setattr(client, "execute_batch", execute_batch)
    return sent


def _state(project: Project, table: str, ids: Sequence[str]) -> dict[str, tuple[Any, Any]]:
    rows = project.client.retrieve_many(table, list(ids), select=["statecode", "statuscode"])
    return {i: (rows[i.lower()].get("statecode"), rows[i.lower()].get("statuscode")) for i in ids}


# -- what a delta reports ----------------------------------------------------------------------


def test_removed_sessions_are_reported_as_sessions_and_their_opportunities_as_changed(
    migrated: Project,
) -> None:
    bundle = migrated.bundle
    aggregates = _aggregates(migrated, bundle)
    busy = _sessions_with_dependents(bundle)
    rejected = _rejected(migrated)
    # one paid session from each of two opportunities that keep other sessions (changed),
    # the only session of a third (removed), and a session that is not paid (no opportunity)
    shared = {
        k: free[0]
        for k, ids in aggregates.items()
        if len(ids) > 1 and (free := [i for i in ids if i not in busy])
    }
    alone = [k for k, ids in aggregates.items() if not busy & set(ids)]
    unpaid = next(
        r["id"]
        for r in read_rows(bundle, "sessions")
        if not _paid(r) and r["id"] not in busy | rejected["sessions"]
    )
    changed_opps = sorted(set(shared) - set(alone[:1]))[:2]
    removed_opp = alone[0]
    assert len(changed_opps) == 2
    gone = [shared[k] for k in changed_opps] + aggregates[removed_opp] + [unpaid]
    newer = copy_bundle(bundle, migrated.root / "newer")
    remove_records(newer, {"sessions": gone})
    before = migrated.dump()

    result = commands.delta(migrated.settings, source=newer, client=migrated.client)

    assert result.ok
    assert result.disappeared == {"sessions": sorted(gone), "opportunities": [removed_opp]}
    assert result.changes["sessions"] == {
        "changed": 0,
        "added": 0,
        "unchanged": _accepted(result, "sessions"),
        "removed": len(gone),
    }
    assert result.changes["opportunities"] == {
        "changed": 2,
        "added": 0,
        "unchanged": len(aggregates) - 3,
        "removed": 1,
    }
    for obj, change in result.changes.items():
        if obj not in ("sessions", "opportunities"):
            assert change == {
                "changed": 0,
                "added": 0,
                "unchanged": _accepted(result, obj),
                "removed": 0,
            }, obj
    # the changed opportunities are re-sent with their new totals, and nothing else is sent
    with _journal(migrated) as j:
        ops = j.ops(result.run_id)
        counts = j.run(result.run_id).counts
    assert {(o.role, o.source_id) for o in ops} == {("opportunity", k) for k in changed_opps}
    assert {o.kind for o in ops} == {"upsert", "action"}
    for key in changed_opps:
        upsert = next(o for o in ops if o.source_id == key and o.kind == "upsert")
        assert upsert.payload is not None
        assert upsert.payload["new_sessioncount"] == len(aggregates[key]) - 1
    # report: the removed sessions' rows stay as they were
    after = migrated.dump()
    assert after["new_session"] == before["new_session"]
    assert counts["changes"] == result.changes
    assert counts["disappeared"] == {"sessions": len(gone), "opportunities": 1}
    assert counts["removal"]["policy"] == "report"
    assert result.as_dict()["changes"]["opportunities"]["changed"] == 2


def test_changed_added_and_unchanged_are_exact(migrated: Project) -> None:
    bundle = migrated.bundle
    aggregates = _aggregates(migrated, bundle)
    rejected = _rejected(migrated)
    newer = migrated.root / "newer"
    what = write_changed_bundle(bundle, newer)  # 5 clients changed, 2 added, 2 activities gone
    sessions = [r for r in read_rows(newer, "sessions") if r["id"] not in rejected["sessions"]]
    # a session that is not paid gets another location (its opportunity stays as it is) ...
    moved = next(r["id"] for r in sessions if not _paid(r))
    # ... a paid one of an opportunity another price (that opportunity changes) ...
    repriced = aggregates[next(k for k, ids in aggregates.items() if len(ids) > 1)][0]
    # ... and a client's first paid session of a service type is new (so is its opportunity)
    first = next(
        r for r in sessions if _paid(r) and aggregates.get(_aggregate_of(r), [""])[0] == r["id"]
    )
    services = {r["id"] for r in read_rows(newer, "service_types")}
    had = {k.split("/")[1] for k in aggregates if k.startswith(first["client_id"] + "/")}
    service = sorted(services - had - rejected["service_types"])[0]
    new_session = {**first, "id": "ses_9000001", "service_type_id": service, "updated_at": LATER}

    def edit(row: Row) -> Row:
        if row["id"] == moved:
            return {**row, "location": "Room 4", "updated_at": LATER}
        if row["id"] == repriced:
            return {**row, "price": "999.00", "updated_at": LATER}
        return row

    rewrite_rows(newer, "sessions", edit=edit, add=[new_session])

    result = commands.delta(migrated.settings, source=newer, client=migrated.client)

    assert result.ok
    assert result.changes["clients"] == {
        "changed": len(what["changed"]),
        "added": len(what["added"]),
        "unchanged": _accepted(result, "clients") - 7,
        "removed": 0,
    }
    assert result.changes["sessions"] == {
        "changed": 2,
        "added": 1,
        "unchanged": _accepted(result, "sessions") - 3,
        "removed": 0,
    }
    assert result.changes["opportunities"] == {
        "changed": 1,
        "added": 1,
        "unchanged": len(aggregates) - 1,
        "removed": 0,
    }
    assert result.changes["activities"]["removed"] == len(what["removed"]) == 2
    assert result.changes["activities"]["changed"] == result.changes["activities"]["added"] == 0
    assert "client_properties" not in result.changes
    assert result.objects["clients"].written == 7
    with _journal(migrated) as j:
        assert j.run(result.run_id).counts["changes"] == result.changes
        added = {o.source_id for o in j.ops(result.run_id) if not o.existed}
    assert {"ses_9000001", _aggregate_of(new_session)} <= added


def test_report_changes_nothing_in_the_tenant(migrated: Project) -> None:
    newer = copy_bundle(migrated.bundle, migrated.root / "newer")
    gone = remove_client(newer, CLIENT)
    rejected = _rejected(migrated)
    aggregates = _aggregates(migrated, migrated.bundle)
    before = migrated.dump()

    result = commands.delta(migrated.settings, source=newer, client=migrated.client)

    assert result.ok
    expected = {
        obj: sorted(set(ids) - rejected[obj])
        for obj, ids in gone.items()
        if set(ids) - rejected[obj]
    }
    assert {k: v for k, v in result.disappeared.items() if k != "opportunities"} == expected
    assert result.disappeared["opportunities"] == sorted(
        k for k in aggregates if k.startswith(CLIENT + "/")
    )
    assert migrated.dump() == before
    with _journal(migrated) as j:
        assert j.ops(result.run_id) == []
    assert result.removal is not None
    assert result.removal.policy == "report"
    assert all(c.done == 0 for c in result.removal.objects.values())


# -- what the policies do ----------------------------------------------------------------------


def test_deactivate_sets_the_rows_inactive_and_journals_them_first(migrated: Project) -> None:
    newer = copy_bundle(migrated.bundle, migrated.root / "newer")
    remove_client(newer, CLIENT)
    watch = SendWatch(migrated)

    result = commands.delta(
        migrated.settings,
        source=newer,
        client=migrated.client,
        removed="deactivate",
        progress=watch,
    )

    assert result.ok
    rows = _rows_of(_entries(migrated), result.disappeared)
    active = {k for k in rows if k[0] in INACTIVE_TABLES}
    assert {t for t, _ in active} == {"contact", "new_session", "new_payment"}
    with _journal(migrated) as j:
        ops = j.removal_ops(result.run_id)
    assert {(o.table, o.row_id) for o in ops} == active
    for o in ops:
        assert o.op_key == f"{o.table}/{o.row_id}/state/removed"
        assert (o.kind, o.phase, o.existed, o.state) == ("state", PHASE_REMOVE, True, "done")
        assert o.payload == {"statecode": 1, "statuscode": 2}
        assert o.prev_payload == {"statecode": 0, "statuscode": 1}
    assert watch.at_send is not None
    assert {(o.op_key, o.state) for o in watch.at_send} == {(o.op_key, "pending") for o in ops}
    for table in INACTIVE_TABLES:
        ids = [r for t, r in active if t == table]
        assert set(_state(migrated, table, ids).values()) <= {(1, 2)}
    # the others have no Inactive state: left as they are, each with the reason
    assert result.removal is not None
    kept = {(k["table"], k["row"]): k["reason"] for k in result.removal.kept}
    assert set(kept) == set(rows) - active
    assert "phonecall has no Inactive state (its states: Open, Completed, Canceled)" in next(
        r for (t, _), r in kept.items() if t == "phonecall"
    )
    assert all("not deactivatable" in r for r in kept.values())
    opportunity = next(r for t, r in kept if t == "opportunity")
    assert _state(migrated, "opportunity", [opportunity])[opportunity] == (1, 3)  # still won
    done = {obj: c.done for obj, c in result.removal.objects.items()}
    assert done["clients"] == 1
    assert done["sessions"] == len([1 for t, _ in active if t == "new_session"])
    with _journal(migrated) as j:
        counts = j.run(result.run_id).counts
    assert counts["removal"]["policy"] == "deactivate"
    assert counts["removal"]["objects"]["clients"]["done"] == 1


def test_delete_removes_the_rows_children_first_and_journals_them_first(
    migrated: Project, deletes_sent: list[str]
) -> None:
    newer = copy_bundle(migrated.bundle, migrated.root / "newer")
    remove_client(newer, CLIENT)
    entries = _entries(migrated)
    by_row: dict[tuple[str, str], list[IdMapEntry]] = defaultdict(list)
    for e in entries:
        by_row[(e.table, e.row_id)].append(e)
    before = migrated.dump()
    watch = SendWatch(migrated)

    result = commands.delta(
        migrated.settings, source=newer, client=migrated.client, removed="delete", progress=watch
    )

    assert result.ok
    assert result.removal is not None
    assert result.removal.kept == []
    rows = _rows_of(entries, result.disappeared)
    with _journal(migrated) as j:
        ops = j.removal_ops(result.run_id)
        left = list(j.idmap())
    assert {(o.table, o.row_id) for o in ops} == set(rows)
    for o in ops:
        assert o.op_key == f"{o.table}/{o.row_id}/delete/removed"
        assert (o.kind, o.payload, o.existed, o.prev_hash, o.state) == (
            "delete",
            None,
            True,
            None,
            "done",
        )
        assert o.prev_payload is not None
        journaled = [(x["op_key"], x["kind"], x["payload"]) for x in o.prev_payload["entries"]]
        assert journaled == [(e.op_key, e.kind, e.payload) for e in by_row[(o.table, o.row_id)]]
        actions = [x["action"] for x in o.prev_payload["entries"] if x["kind"] == "action"]
        assert actions == (["WinOpportunity"] if o.table == "opportunity" else [])
    assert watch.at_send is not None
    assert {(o.op_key, o.state) for o in watch.at_send} == {(o.op_key, "pending") for o in ops}
    # gone from the tenant and from the id map; every other row is still there
    after = migrated.dump()
    tables = {t for t, _ in rows}
    for table in tables:
        ids = [r for t, r in rows if t == table]
        assert migrated.client.retrieve_many(table, ids) == {}, table
        assert len(after[table]) == len(before[table]) - len(ids), table
    for table in set(before) - tables - {"opportunityclose", "activityparty", "activitypointer"}:
        assert len(after.get(table, [])) == len(before[table]), table  # (service-made rows aside)
    assert not [e for e in left if (e.table, e.row_id) in rows]
    # children first: the DELETE parts in the reverse of the load order, but the lines of a
    # closed invoice, which go with it (the service refuses them alone)
    rank = {role: n for n, role in enumerate(result.order)}
    role_of = {row_id: e.role for (_, row_id), e in rows.items()}
    sent = [
        next(role for row_id, role in role_of.items() if f"({row_id})" in part)
        for part in deletes_sent
    ]
    assert len(sent) == len(rows)
    lines = [r for r in sent if r == "invoice_line"]
    ordered = [r for r in sent if r != "invoice_line"]
    assert [rank[r] for r in ordered] == sorted((rank[r] for r in ordered), reverse=True)
    assert lines == ["invoice_line"]
    assert sent.index("invoice_line") > sent.index("invoice")
    line = next(o for o in ops if o.table == "invoicedetail")
    assert line.phase == PHASE_REMOVE + 1
    assert all(o.phase == PHASE_REMOVE for o in ops if o is not line)


def test_delete_keeps_a_row_records_still_in_the_source_point_to(migrated: Project) -> None:
    bundle = migrated.bundle
    rejected = _rejected(migrated)
    notes = read_rows(bundle, "session_notes")
    session = next(
        n["session_id"]
        for n in notes
        if n["id"] not in rejected["session_notes"] and n["session_id"] not in rejected["sessions"]
    )
    newer = copy_bundle(bundle, migrated.root / "newer")
    remove_records(newer, {"sessions": [session]})  # its notes stay in the export

    result = commands.delta(
        migrated.settings, source=newer, client=migrated.client, removed="delete"
    )

    assert result.ok
    assert result.disappeared["sessions"] == [session]
    assert result.removal is not None
    (kept,) = result.removal.kept
    assert (kept["object"], kept["id"], kept["table"]) == ("sessions", session, "new_session")
    assert "session_notes/" in kept["reason"]
    assert "still points to it" in kept["reason"]
    assert migrated.client.retrieve_many("new_session", [kept["row"]], select=["new_name"])
    with _journal(migrated) as j:
        assert [o.table for o in j.removal_ops(result.run_id)] == []
    # the notes of a session that is gone are rejected, not removed
    assert result.objects["session_notes"].rejected > len(rejected["session_notes"])
    assert "session_notes" not in result.disappeared


# -- deltas in a row ---------------------------------------------------------------------------


def test_deltas_in_a_row_are_runs_of_their_own(migrated: Project) -> None:
    bundle = migrated.bundle
    rejected = _rejected(migrated)
    busy = _sessions_with_dependents(bundle)
    free = [
        r["id"]
        for r in read_rows(bundle, "sessions")
        if not _paid(r) and r["id"] not in busy | rejected["sessions"]
    ]
    with _journal(migrated) as j:
        mark0 = j.watermark("clients")
    b1 = migrated.root / "cutover-1"
    what = write_changed_bundle(bundle, b1)
    remove_records(b1, {"sessions": free[:1]})
    first = commands.delta(
        migrated.settings, source=b1, client=migrated.client, removed="deactivate"
    )
    with _journal(migrated) as j:
        mark1 = j.watermark("clients")

    b2 = copy_bundle(b1, migrated.root / "cutover-2")
    later = {r["id"] for r in read_rows(b2, "clients")[10:] if r["id"] not in rejected["clients"]}
    later = set(sorted(later)[:2])
    rewrite_rows(
        b2,
        "clients",
        edit=lambda r: (
            {**r, "phone": "(555) 020-0000", "updated_at": LATER} if r["id"] in later else r
        ),
    )
    remove_records(b2, {"sessions": free[1:2]})
    second = commands.delta(
        migrated.settings, source=b2, client=migrated.client, removed="deactivate"
    )

    assert first.ok
    assert second.ok
    assert first.run_id != second.run_id
    assert not second.resumed
    with _journal(migrated) as j:
        runs = [(r.run_id, r.kind, r.state) for r in j.runs()]
        mark2 = j.watermark("clients")
        second_ops = j.ops(second.run_id)
    assert [(k, s) for _, k, s in runs] == [
        ("migrate", "done"),
        ("delta", "done"),
        ("delta", "done"),
    ]
    assert [r for r, _, _ in runs[1:]] == [first.run_id, second.run_id]
    assert mark0 is not None
    assert mark1 is not None
    assert mark2 is not None
    assert mark0 < mark1 < mark2
    # each delta sends what changed since the one before
    assert first.changes["clients"]["changed"] == len(what["changed"])
    assert second.changes["clients"] == {
        "changed": 2,
        "added": 0,
        "unchanged": _accepted(second, "clients") - 2,
        "removed": 0,
    }
    assert {o.source_id for o in second_ops if o.source_object == "clients"} == later
    # the session the first delta deactivated is still gone: reported, nothing sent again
    assert second.disappeared["sessions"] == sorted(free[:2])
    assert second.removal is not None
    assert [(a["id"], a["reason"]) for a in second.removal.already] == [
        (free[0], "deactivated by an earlier delta")
    ]
    assert [o.source_id for o in second_ops if o.op_key.endswith("/removed")] == [free[1]]

    # a third export has the first session again: its row is made active again
    b3 = copy_bundle(b2, migrated.root / "cutover-3")
    original = next(r for r in read_rows(bundle, "sessions") if r["id"] == free[0])
    rewrite_rows(b3, "sessions", add=[original])
    third = commands.delta(migrated.settings, source=b3, client=migrated.client)
    assert third.ok
    assert third.disappeared["sessions"] == [free[1]]
    assert third.removal is not None
    assert third.removal.policy == "report"
    assert {k: (v.records, v.rows, v.done) for k, v in third.removal.returned.items()} == {
        "sessions": (1, 1, 1)
    }
    with _journal(migrated) as j:
        (back,) = j.removal_ops(third.run_id)
    assert (back.source_id, back.kind, back.op_key) == (
        free[0],
        "state",
        f"new_session/{back.row_id}/state/removed",
    )
    assert (back.payload, back.prev_payload) == (
        {"statecode": 0, "statuscode": 1},
        {"statecode": 1, "statuscode": 2},
    )
    assert _state(migrated, "new_session", [back.row_id])[back.row_id] == (0, 1)


def test_an_unfinished_delta_of_another_export_is_not_resumed(migrated: Project) -> None:
    b1 = migrated.root / "cutover-1"
    write_changed_bundle(migrated.bundle, b1)
    b2 = copy_bundle(b1, migrated.root / "cutover-2")
    with _journal(migrated) as j:
        crashed = j.start_run("delta", source=str(b1))  # as a delta killed before its end

    with pytest.raises(JournalError) as err:
        commands.delta(migrated.settings, source=b2, client=migrated.client)
    assert crashed in err.value.message
    assert err.value.hint is not None
    assert f"crm-ferry delta --source {b1}" in err.value.hint
    assert f"crm-ferry rollback {crashed}" in err.value.hint

    resumed = commands.delta(migrated.settings, source=b1, client=migrated.client)
    assert (resumed.run_id, resumed.resumed, resumed.state) == (crashed, True, "done")
    again = commands.delta(migrated.settings, source=b2, client=migrated.client)
    assert again.run_id != crashed
    assert not again.resumed


# -- the setting, the flag and the table ---------------------------------------------------------


def test_the_policy_comes_from_ferry_toml_and_the_flag_overrides_it(
    migrated: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SETTINGS_POLICIES == REMOVED_POLICIES
    toml = migrated.settings.project_dir / "ferry.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + '\n[delta]\nremoved = "delete"\n')
    settings = Settings.load(migrated.settings.project_dir)
    assert settings.delta_removed == "delete"
    newer = copy_bundle(migrated.bundle, migrated.root / "newer")
    remove_client(newer, CLIENT)

    def pool_from_settings(_settings: Any) -> Any:
        return SimpleNamespace(clients=[embedded_client(migrated.app)])

    monkeypatch.setattr("crm_ferry.commands._project.pool_from_settings", pool_from_settings)
    before = migrated.dump()
    out = CliRunner().invoke(
        cli,
        [
            "--project",
            str(settings.project_dir),
            "delta",
            "--source",
            str(newer),
            "--removed",
            "report",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["removal"]["policy"] == "report"
    assert data["changes"]["clients"]["removed"] == 1
    assert isinstance(data["changes"]["sessions"]["unchanged"], int)
    assert migrated.dump() == before
    # without the flag, ferry.toml's policy: the rows are deleted
    deleted = commands.delta(settings, source=newer, client=migrated.client)
    assert deleted.removal is not None
    assert deleted.removal.policy == "delete"
    assert deleted.removal.objects["clients"].done == 1

    bad = CliRunner().invoke(
        cli,
        [
            "--project",
            str(settings.project_dir),
            "delta",
            "--source",
            str(newer),
            "--removed",
            "drop",
        ],
    )
    assert bad.exit_code == 2
    assert "'drop' is not one of" in bad.output


def test_a_bad_policy_in_ferry_toml_says_what_to_write(tmp_path: Path) -> None:
    (tmp_path / "ferry.toml").write_text('[delta]\nremoved = "purge"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        Settings.load(tmp_path)
    assert "report, deactivate, delete" in err.value.message
    assert err.value.hint is not None
    assert '[delta] removed = "report"' in err.value.hint
    env = {"CRM_FERRY_DELTA_REMOVED": "deactivate"}
    (tmp_path / "ferry.toml").write_text('[delta]\nremoved = "delete"\n', encoding="utf-8")
    assert Settings.load(tmp_path, env=env).delta_removed == "deactivate"
    assert Settings.load(tmp_path, env={}).delta_removed == "delete"
    assert Settings.load(tmp_path / "nowhere", env={}).delta_removed == "report"


def test_the_delta_table_has_the_breakdown_and_fits_80_columns(
    migrated: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = migrated.root / "newer"
    write_changed_bundle(migrated.bundle, newer)  # CLIENT among the clients it changes
    remove_client(newer, CLIENT)
    result = commands.delta(
        migrated.settings, source=newer, client=migrated.client, removed="deactivate"
    )
    screen = Console(width=80, record=True, highlight=False, color_system=None)
    monkeypatch.setattr(render, "console", screen)

    render.render_load(result)

    text = screen.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if "changed" in line and "unchanged" in line)
    for column in ("object", "changed", "added", "unchanged", "removed", "rejected", "failed"):
        assert column in header
    shown = {}
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 7 and cells[0] in result.changes:
            shown[cells[0]] = cells[1:5]
    assert shown == {
        obj: [f"{c[k]:,}" for k in ("changed", "added", "unchanged", "removed")]
        for obj, c in result.changes.items()
    }
    assert shown["clients"][:2] == ["4", "2"]
    assert shown["opportunities"][3] == "1"
    assert "1 clients no longer in the source: 1 of 1 rows deactivated" in text
    assert "phonecall has no Inactive state" in text


# -- undoing deltas --------------------------------------------------------------------------


def test_deactivating_deltas_in_a_row_are_each_undone_on_their_own(migrated: Project) -> None:
    """A rollback of the second delta restores the tenant as the first left it (its
    deactivations and changed rows); a rollback of the first then restores the migration."""
    # written against crm_ferry.commands.rollback as it stands: it undoes a deactivation
    # (a state operation with its prev_payload); undoing a delete (re-creating the row from
    # its journaled entries) belongs to the rollback tests
    bundle = migrated.bundle
    after_migrate = comparable(migrated.dump())
    b1 = migrated.root / "cutover-1"
    write_changed_bundle(bundle, b1)
    first = commands.delta(
        migrated.settings, source=b1, client=migrated.client, removed="deactivate"
    )
    after_first = comparable(migrated.dump())
    b2 = copy_bundle(b1, migrated.root / "cutover-2")
    remove_client(b2, CLIENT)
    second = commands.delta(
        migrated.settings, source=b2, client=migrated.client, removed="deactivate"
    )
    assert second.removal is not None
    assert second.removal.objects["clients"].done == 1
    assert comparable(migrated.dump()) != after_first

    undo = commands.rollback(migrated.settings, run_id=second.run_id, client=migrated.client)
    assert undo.incomplete() is None, undo.as_dict()
    assert comparable(migrated.dump()) == after_first
    undo = commands.rollback(migrated.settings, run_id=first.run_id, client=migrated.client)
    assert undo.incomplete() is None, undo.as_dict()
    assert comparable(migrated.dump()) == after_migrate


class Killed(BaseException):
    """Stands for the process being killed (nothing catches it)."""


def test_a_delta_stopped_after_its_deletes_is_resumed_and_still_reports_them(
    migrated: Project, deletes_sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = copy_bundle(migrated.bundle, migrated.root / "newer")
    remove_client(newer, CLIENT)
    reference = commands.delta(
        migrated.settings, source=newer, client=migrated.client, removed="report"
    )  # what is gone, by a delta that does nothing about it
    assert reference.removal is not None
    rows = sum(c.rows for c in reference.removal.objects.values())

    def killed(*args: Any, **kwargs: Any) -> None:
        raise Killed  # every delete is done and forgotten, the run is not finished

    with monkeypatch.context() as patch:
        patch.setattr(Journal, "finish_run", killed)
        with pytest.raises(Killed):
            commands.delta(
                migrated.settings, source=newer, client=migrated.client, removed="delete"
            )
    assert len(deletes_sent) == rows
    deletes_sent.clear()

    resumed = commands.delta(
        migrated.settings, source=newer, client=migrated.client, removed="delete"
    )

    assert (resumed.resumed, resumed.state) == (True, "done")
    assert deletes_sent == []  # nothing sent twice
    assert resumed.disappeared == reference.disappeared
    assert resumed.removal is not None
    assert {k: (c.records, c.rows, c.done) for k, c in resumed.removal.objects.items()} == {
        k: (c.records, c.rows, c.rows) for k, c in reference.removal.objects.items()
    }


def test_delete_keeps_the_line_of_a_paid_invoice_that_stays(migrated: Project) -> None:
    bundle = migrated.bundle
    rejected = _rejected(migrated)
    paid = {r["id"] for r in read_rows(bundle, "invoices") if r["status"] == "paid"}
    line = next(
        r["id"]
        for r in read_rows(bundle, "invoice_items")
        if r["invoice_id"] in paid - rejected["invoices"]
        and r["id"] not in rejected["invoice_items"]
    )
    newer = copy_bundle(bundle, migrated.root / "newer")
    remove_records(newer, {"invoice_items": [line]})

    result = commands.delta(
        migrated.settings, source=newer, client=migrated.client, removed="delete"
    )

    assert result.ok
    assert result.disappeared == {"invoice_items": [line]}
    assert result.removal is not None
    (kept,) = result.removal.kept
    assert (kept["id"], kept["table"]) == (line, "invoicedetail")
    assert "is closed" in kept["reason"]
    assert migrated.client.retrieve_many("invoicedetail", [kept["row"]]) != {}
    with _journal(migrated) as j:
        assert j.removal_ops(result.run_id) == []
