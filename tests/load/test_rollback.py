"""Rollback restores exactly, or says loudly what it could not: the tenant after
``rollback --all`` equals the tenant before the project's first run, except rows a person
changed (each listed as a conflict with its columns), and anything left exits non-zero."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry import commands
from crm_ferry.commands._project import open_journal
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.migrate import run_load
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.throttle import RetryPolicy
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.server import serve
from crm_ferry.errors import FerryError, Incomplete
from crm_ferry.load.rollback import Rollback, Tenant
from crm_ferry.settings import Settings
from helpers.edits import EDITS, edited_bundle
from helpers.journal import forget_process
from helpers.load import Project, comparable, copy_bundle, remove_client
from helpers.person import person_client
from helpers.project import build_unprovisioned

Dump = dict[str, list[dict[str, Any]]]


def _row_id(table: str, row: dict[str, Any]) -> str | None:
    value = row.get(f"{table}id") or row.get("activityid")
    return str(value).lower() if value else None


def without(dump: Dump, ids: Iterable[str]) -> Dump:
    """The dump without the rows of these ids (rows a person made or kept)."""
    drop = {i.lower() for i in ids}
    return {t: [r for r in rows if _row_id(t, r) not in drop] for t, rows in dump.items()}


def _diff(got: Dump, expected: Dump) -> str:
    a, b = comparable(got), comparable(expected)
    out = {
        t: (
            sorted(set(a.get(t, [])) - set(b.get(t, [])))[:2],
            sorted(set(b.get(t, [])) - set(a.get(t, [])))[:2],
        )
        for t in set(a) | set(b)
        if a.get(t) != b.get(t)
    }
    return json.dumps(out, indent=1)[:4000]


def _users(client: DataverseClient) -> list[str]:
    return [client.who_am_i().user_id]


def _migrated(project: Project, role: str) -> list[str]:
    with open_journal(project.settings) as j:
        return [e.row_id for e in j.idmap() if e.role == role and e.kind == "upsert"]


# -- the property ---------------------------------------------------------------------------

EDIT = st.tuples(st.sampled_from(sorted(EDITS)), st.integers(1, 4))
PERSON = st.lists(st.sampled_from(["jobtitle", "note", "own_contact"]), max_size=3, unique=True)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    deltas=st.lists(st.lists(EDIT, min_size=1, max_size=3), min_size=1, max_size=2),
    person=PERSON,
)
def test_rollback_all_returns_the_tenant_to_before_the_project(
    make_project: Callable[[str], Project],
    deltas: list[list[tuple[str, int]]],
    person: list[str],
) -> None:
    project = make_project("prop")
    pat = person_client(project.app)  # a person working in the tenant before the project
    before = project.dump()
    run_load(project.settings, client=project.client, skip_sample_gate=True)
    source = project.bundle
    for n, edits in enumerate(deltas):
        newer = project.root / f"cutover-{n}"
        edited_bundle(source, newer, edits)
        assert run_load(project.settings, client=project.client, source=newer, kind="delta").ok
        source = newer

    contacts = _migrated(project, "contact")
    edited: dict[str, str] = {}
    made: list[str] = []
    with pat:
        if "jobtitle" in person:
            pat.update("contact", contacts[0], {"jobtitle": "Head of Coaching"})
            edited[contacts[0].lower()] = "jobtitle"
        if "note" in person:
            note = pat.create(
                "annotation",
                {
                    "subject": "Call back",
                    "objectid_contact@odata.bind": f"/contacts({contacts[1]})",
                },
            )
            made.append(str(note))
            edited[contacts[1].lower()] = ""
        if "own_contact" in person:
            made.append(str(pat.create("contact", {"lastname": "Walk-in"})))

    report = commands.rollback(project.settings, all_runs=True, client=project.client)
    kept = {c["id"].lower(): c for r in report.results for c in r.conflicts}
    assert not [f for r in report.results for f in r.failures]
    for row_id, column in edited.items():
        assert row_id in kept, (row_id, list(kept))
        if column:
            assert column in kept[row_id]["columns"]
            assert kept[row_id]["modified_by"] == "Pat Person"
    assert (report.incomplete() is not None) == bool(kept)
    after = project.dump()
    still = {_row_id(t, r) for t, rows in after.items() for r in rows}
    assert {m.lower() for m in made} <= still  # what the person made is theirs: it stays
    left = set(kept) | {m.lower() for m in made}
    assert comparable(without(after, left)) == comparable(without(before, left)), _diff(
        without(after, left), without(before, left)
    )
    if not kept:
        assert not commands.rollback(
            project.settings, all_runs=True, preview=True, client=project.client
        ).results


# -- the attacks ------------------------------------------------------------------------------


def test_a_matched_contact_in_a_household_is_restored_not_deleted(project: Project) -> None:
    """A contact typed in before the migration, matched by e-mail to a household member,
    gets back its empty parent and its owner: deleting the household does not take it."""
    with (project.bundle / "clients.csv").open(encoding="utf-8-sig") as fh:
        member = next(r for r in csv.DictReader(fh) if r["family_id"] and r["email"])
    with person_client(project.app, "Rita", "Reception") as rita:
        typed = str(
            rita.create(
                "contact",
                {"firstname": "Typed", "lastname": "ByHand", "emailaddress1": member["email"]},
            )
        )
    before = project.client.retrieve("contact", typed)
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    during = project.client.retrieve("contact", typed)
    assert during["_parentcustomerid_value"], "the household link was written to the match"
    report = commands.rollback(project.settings, run_id=result.run_id, client=project.client)
    assert report.incomplete() is None, report.as_dict()
    after = project.client.retrieve("contact", typed)
    volatile = {"modifiedon", "versionnumber", "_modifiedby_value", "@odata.etag"}
    assert {k: v for k, v in after.items() if k not in volatile} == {
        k: v for k, v in before.items() if k not in volatile
    }


def test_a_note_and_an_edit_made_after_cutover_are_kept(project: Project) -> None:
    result = run_load(project.settings, client=project.client, skip_sample_gate=True)
    first, second = _migrated(project, "contact")[:2]
    with person_client(project.app) as pat:
        note = str(
            pat.create(
                "annotation",
                {"subject": "After cutover", "objectid_contact@odata.bind": f"/contacts({first})"},
            )
        )
        pat.update("contact", second, {"jobtitle": "Founder"})
    report = commands.rollback(project.settings, run_id=result.run_id, client=project.client)
    kept = {c["id"]: c for c in report.results[0].conflicts}
    assert note in {p["id"] for p in kept[first]["pointing"]}
    assert kept[second]["columns"] == ["jobtitle"]
    assert kept[second]["modified_by"] == "Pat Person"
    assert project.client.retrieve("annotation", note)["subject"] == "After cutover"
    assert project.client.retrieve("contact", second)["jobtitle"] == "Founder"
    problem = report.incomplete()
    assert isinstance(problem, Incomplete)
    assert problem.exit_code == 8
    with open_journal(project.settings) as j:
        assert j.run(result.run_id).state == "partly_rolled_back"
        steps = j.undo_steps(result.run_id)
    assert {s.state for s in steps.values()} <= {"done", "gone", "kept"}


def test_a_paid_invoice_is_reopened_then_deleted(project: Project) -> None:
    """A delta turns invoices paid (read-only in Dataverse); rollback --all removes them."""
    before = project.dump()
    run_load(project.settings, client=project.client, skip_sample_gate=True)
    newer = project.root / "cutover"
    paid = edited_bundle(project.bundle, newer, [("pay_invoices", 3)])["pay_invoices"]
    assert paid
    assert run_load(project.settings, client=project.client, source=newer, kind="delta").ok
    report = commands.rollback(project.settings, all_runs=True, client=project.client)
    assert report.incomplete() is None, report.as_dict()
    assert comparable(project.dump()) == comparable(before), _diff(project.dump(), before)
    with open_journal(project.settings) as j:
        assert {r.state for r in j.runs() if r.kind != "rollback"} == {"rolled_back"}
    again = commands.rollback(project.settings, all_runs=True, preview=True, client=project.client)
    assert again.results == []


def test_rolling_back_a_delta_puts_the_invoice_state_back(project: Project) -> None:
    run_load(project.settings, client=project.client, skip_sample_gate=True)
    middle = project.dump()
    newer = project.root / "cutover"
    edited_bundle(project.bundle, newer, [("pay_invoices", 2), ("change_clients", 2)])
    delta = run_load(project.settings, client=project.client, source=newer, kind="delta")
    report = commands.rollback(project.settings, run_id=delta.run_id, client=project.client)
    assert report.incomplete() is None, report.as_dict()
    assert report.results[0].conflicts == []
    assert comparable(project.dump()) == comparable(middle), _diff(project.dump(), middle)


class _LoseAnswers(httpx.BaseTransport):
    """Lets ``n`` writes through; every later write reaches the service (which does its
    work) but its answer is lost, as when the connection resets after the write."""

    def __init__(self, app: EmulatorApp, n: int) -> None:
        self.inner = app.transport()
        self.left = n

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "/api/data/" in str(request.url) and request.method != "GET":
            self.left -= 1
            if self.left < 0:
                raise httpx.ReadError("connection reset by peer", request=request)
        return response


def test_rollback_after_answers_were_lost_undoes_what_reached_the_tenant(
    project: Project,
) -> None:
    """Writes whose answers were lost are unsettled in the journal; rollback reads the
    tenant and removes what reached it."""
    before = project.dump()
    flaky = embedded_client(
        project.app, transport=_LoseAnswers(project.app, 6), retry=RetryPolicy(max_attempts=1)
    )
    with contextlib.suppress(FerryError):  # the load may stop: what it sent is what matters
        run_load(project.settings, client=flaky, skip_sample_gate=True)
    flaky.close()
    forget_process(project.settings.project_dir)  # as if the process were gone
    assert len(project.dump().get("contact", [])) > len(before.get("contact", []))
    report = commands.rollback(project.settings, all_runs=True, client=project.client)
    assert report.incomplete() is None, report.as_dict()
    assert comparable(project.dump()) == comparable(before), _diff(project.dump(), before)


@pytest.mark.slow
def test_rollback_after_kill_9_mid_batch_removes_every_row(project: Project) -> None:
    """``migrate`` killed with SIGKILL while a batch is in flight: ``rollback --all`` takes
    the run over and leaves the tenant as it was, orphans included."""
    before = project.dump()
    server = serve(project.app)
    try:
        info = server.as_dict()
        user = info["clients"][0]
        env = {
            **os.environ,
            "CRM_FERRY_DATAVERSE_URL": info["url"],
            "CRM_FERRY_DATAVERSE_TENANT": info["tenant"],
            "CRM_FERRY_DATAVERSE_CLIENT_ID": user["client_id"],
            "CRM_FERRY_DATAVERSE_AUTHORITY": info["url"],
            "CRM_FERRY_CLIENT_SECRET": user["client_secret"],
            "CRM_FERRY_LOAD_BATCH_SIZE": "25",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crm_ferry",
                "--project",
                str(project.settings.project_dir),
                "migrate",
                "--skip-sample-gate",
                "--json",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(project.dump().get("contact", [])) < 5:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert len(project.dump().get("contact", [])) >= 5, "killed before anything was sent"
        report = commands.rollback(project.settings, all_runs=True, client=project.client)
    finally:
        server.shutdown()
    assert report.incomplete() is None, report.as_dict()
    assert comparable(project.dump()) == comparable(before), _diff(project.dump(), before)


def test_an_interrupted_rollback_resumes_without_false_conflicts(project: Project) -> None:
    before = project.dump()
    run_load(project.settings, client=project.client, skip_sample_gate=True)
    newer = project.root / "cutover"
    edited_bundle(project.bundle, newer, [("change_clients", 4), ("pay_invoices", 2)])
    run_load(project.settings, client=project.client, source=newer, kind="delta")

    class Stop(Exception):
        pass

    with open_journal(project.settings) as j:
        tenant = Tenant(project.client, _users(project.client))
        calls = {"n": 0}
        update = tenant.update
        delete = tenant.delete

        def dying_update(*args: Any) -> None:
            calls["n"] += 1
            if calls["n"] > 2:
                raise Stop
            update(*args)

        tenant.update = dying_update  # type: ignore[method-assign]
        delta_run = next(r for r in j.runs() if r.kind == "delta")
        with pytest.raises(Stop):
            Rollback(j, tenant).run(delta_run.run_id)
        tenant.update = update  # type: ignore[method-assign]
        calls["n"] = 0

        def dying_delete(table: str, ids: Any) -> Any:
            calls["n"] += 1
            if calls["n"] > 3:
                raise Stop
            return delete(table, ids)

        tenant.delete = dying_delete  # type: ignore[method-assign]
        migrate_run = next(r for r in j.runs() if r.kind == "migrate")
        Rollback(j, tenant).run(delta_run.run_id)
        with pytest.raises(Stop):
            Rollback(j, tenant).run(migrate_run.run_id)
    report = commands.rollback(project.settings, all_runs=True, client=project.client)
    assert report.conflicts == 0, report.as_dict()
    assert report.incomplete() is None
    assert comparable(project.dump()) == comparable(before), _diff(project.dump(), before)


def test_rollback_all_with_schema_returns_the_metadata_too(
    tmp_path: Path, journal_home: Callable[[Path], Settings]
) -> None:
    base = build_unprovisioned(tmp_path / "p", clients=8, seed=4)
    project_settings = journal_home(base / "project")
    with EmulatorApp(data_dir=base / "data") as app, embedded_client(app) as client:
        snapshot = app.dump()
        commands.provision(project_settings, client=client)
        run_load(project_settings, client=client, skip_sample_gate=True)
        report = commands.rollback(project_settings, all_runs=True, schema=True, client=client)
        assert report.incomplete() is None, report.as_dict()
        assert report.schema is not None
        after = app.dump()
    assert comparable(dict(after["records"])) == comparable(dict(snapshot["records"]))
    assert after["metadata"] == snapshot["metadata"]
    shutil.rmtree(base)


@pytest.mark.parametrize("policy", ["report", "deactivate", "delete"])
def test_each_removal_policy_is_undone_by_rollback(project: Project, policy: str) -> None:
    """A delta that deactivated or deleted the rows of a client gone from the source is
    undone exactly: deleted rows are written again, parents first, with their states."""
    run_load(project.settings, client=project.client, skip_sample_gate=True)
    migrated = project.dump()
    newer = copy_bundle(project.bundle, project.root / "newer")
    with (project.bundle / "clients.csv").open(encoding="utf-8-sig") as fh:
        gone = next(r["id"] for r in csv.DictReader(fh) if r["type"] == "individual")
    remove_client(newer, gone)
    delta = commands.delta(project.settings, source=newer, client=project.client, removed=policy)
    assert delta.ok
    if policy != "report":
        assert comparable(project.dump()) != comparable(migrated)
    report = commands.rollback(project.settings, run_id=delta.run_id, client=project.client)
    assert report.incomplete() is None, json.dumps(report.as_dict())[:3000]
    assert comparable(project.dump()) == comparable(migrated), _diff(project.dump(), migrated)
    # and the id map is back: a delta of the same export sends nothing again
    with open_journal(project.settings) as j:
        assert j.run(delta.run_id).state == "rolled_back"


def test_a_won_opportunity_whose_total_a_delta_changes_is_closed_again_and_back(
    project: Project,
) -> None:
    run_load(project.settings, client=project.client, skip_sample_gate=True)
    middle = project.dump()
    newer = project.root / "cutover"
    edited_bundle(project.bundle, newer, [("complete_sessions", 3)])
    delta = run_load(project.settings, client=project.client, source=newer, kind="delta")
    after = project.dump()
    changed = [o for o in after["opportunity"] if o not in middle["opportunity"]]
    assert changed
    for opp in changed:
        closes = [
            c for c in after["opportunityclose"] if c.get("opportunityid") == opp["opportunityid"]
        ]
        # the close a delta makes holds the new total; the one before it stays (told apart by
        # what was there before the delta: a fast run makes both within the same second)
        made = [c for c in closes if c not in middle["opportunityclose"]]
        assert opp["statecode"] == 1
        assert len(made) == 1, (opp, closes)
        assert made[0]["actualrevenue"] == opp["actualvalue"], (opp, closes)
        existed = any(o["opportunityid"] == opp["opportunityid"] for o in middle["opportunity"])
        assert len(closes) == (2 if existed else 1), (opp, closes)
    report = commands.rollback(project.settings, run_id=delta.run_id, client=project.client)
    assert report.incomplete() is None, report.as_dict()
    assert comparable(project.dump()) == comparable(middle), _diff(project.dump(), middle)
