"""Provisioning hardened (issue 15, points 6, 7 and 22, and a map writing a choice the source
has no values for yet): the warning when no solution is configured, column labels that say
what the column is, rollback output that cannot be misread, a plan table that never cuts a
name at 80 columns, every column the map writes created, and killed runs closed by the next.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from crm_ferry import commands
from crm_ferry.cli import render
from crm_ferry.commands.demo import invite_coaches, shortcut_confirm
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.errors import FerryError
from crm_ferry.journal import JOURNAL_FILE
from crm_ferry.mapping.defaults import default_document
from crm_ferry.mapping.spec import ColumnCreate
from crm_ferry.provision import Plan, SchemaOp, plan_schema
from crm_ferry.provision import apply as apply_module
from crm_ferry.provision.apply import apply_plan
from crm_ferry.provision.compare import display_name
from crm_ferry.provision.ops import Reverse
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import generate_bundle
from helpers.load import rewrite_rows

from .conftest import confirmed, metadata_snapshot, spec_of, without_companions, write_project

WIDTH = 80


def rendered(monkeypatch: pytest.MonkeyPatch, result: commands.ProvisionResult) -> list[str]:
    """The lines ``render_provision`` prints on an 80-column console."""
    narrow = Console(width=WIDTH, record=True, highlight=False, color_system=None)
    monkeypatch.setattr(render, "console", narrow)
    render.render_provision(result)
    return narrow.export_text().splitlines()


# ---------------------------------------------------------------------------
# Point 6: no solution configured


def _make_solution(client: DataverseClient, name: str = "PracticeMigration") -> None:
    publisher = client.create(
        "publisher",
        {
            "uniquename": "practice",
            "friendlyname": "The Practice",
            "customizationprefix": "new",
            "customizationoptionvalueprefix": 10000,
        },
    )
    client.create(
        "solution",
        {
            "uniquename": name,
            "friendlyname": "Practice Migration",
            "version": "1.0",
            "publisherid@odata.bind": f"/publishers({publisher})",
        },
    )


def test_provision_without_a_solution_warns_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch, client: DataverseClient, project: Settings
) -> None:
    assert project.solution is None
    assert client.options.solution is None
    planned = commands.provision(project, client=client, dry_run=True)
    applied = commands.provision(project, client=client)
    for result in (planned, applied):
        (warning,) = [w for w in result.warnings if "solution" in w]
        assert "outside any solution" in warning
        assert "[dataverse] solution" in warning
        assert "CRM_FERRY_DATAVERSE_SOLUTION" in warning
        assert warning in result.as_dict()["warnings"]
        text = " ".join(" ".join(rendered(monkeypatch, result)).split())
        assert "outside any solution" in text
        assert "[dataverse] solution" in text


def test_provision_in_a_solution_does_not_warn(client: DataverseClient, tmp_path: Path) -> None:
    _make_solution(client)
    settings_ = write_project(
        tmp_path / "p",
        confirmed(default_document()),
        toml='[dataverse]\nsolution = "PracticeMigration"\n',
    )
    result = commands.provision(settings_, client=client)
    assert result.applied is not None
    assert result.applied.solution == "PracticeMigration"
    assert not [w for w in result.warnings if "solution" in w]
    assert not [w for w in result.as_dict()["warnings"] if "solution" in w]


# ---------------------------------------------------------------------------
# Point 6: labels of created columns


def test_created_columns_are_labelled_by_what_they_are(
    app: EmulatorApp, client: DataverseClient, project: Settings
) -> None:
    result = commands.provision(project, client=client)
    assert result.plan is not None
    labels = {
        (op.table, op.name): str(op.params["label"])
        for op in result.plan.ops
        if op.kind in ("create_column", "create_lookup")
    }
    ids = {t: lab for (t, name), lab in labels.items() if name == "new_practiceid"}
    assert len(ids) >= 5
    assert set(ids.values()) == {"Practice ID"}
    assert labels[("opportunity", "new_sessioncount")] == "Session Count"
    assert labels[("contact", "new_clientstatus")] == "Client Status"
    assert labels[("new_session", "new_clientid")] == "Client"
    assert "Id" not in labels.values()
    # and the tenant shows them so
    entities = {e["logical_name"]: e for e in metadata_snapshot(app)["entities"]}
    shown = {a["logical_name"]: a for a in entities["opportunity"]["attributes"]}
    assert "Session Count" in str(shown["new_sessioncount"])
    shown = {a["logical_name"]: a for a in entities["contact"]["attributes"]}
    assert "Practice ID" in str(shown["new_practiceid"])


def test_a_label_a_person_wrote_is_kept() -> None:
    mine = ColumnCreate("String", "new_PracticeId", "Practice reference (old system)")
    assert display_name(mine, "id") == "Practice reference (old system)"
    theirs = ColumnCreate("String", "new_PracticeId", "Id")
    assert display_name(theirs, "id") == "Practice ID"


_words = st.lists(
    st.sampled_from(["Practice", "Id", "Session", "Count", "Client", "Url", "Status", "Rate"]),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(words=_words, source=st.sampled_from(["id", "status", "session_count", "x"]))
def test_a_derived_label_is_the_schema_name_in_words(words: list[str], source: str) -> None:
    schema = "new_" + "".join(words)
    derived = display_name(
        ColumnCreate("Integer", schema, source.replace("_", " ").title()), source
    )
    expected = [{"Id": "ID", "Url": "URL"}.get(w, w) for w in words]
    assert derived.split(" ") == expected
    lookup = display_name(ColumnCreate("Lookup", schema, schema), source)
    if len(words) > 1 and words[-1] == "Id":
        assert lookup.split(" ") == expected[:-1]
    else:
        assert lookup.split(" ") == expected


# ---------------------------------------------------------------------------
# Point 6: rollback says what it did


def test_rollback_output_says_deleted_not_undone(
    monkeypatch: pytest.MonkeyPatch, client: DataverseClient, project: Settings
) -> None:
    commands.provision(project, client=client)
    undone = commands.provision(project, client=client, rollback=True)
    assert undone.rolled_back is not None
    lines = rendered(monkeypatch, undone)
    text = "\n".join(lines)
    assert "undone" not in text
    assert "deleted column contact.new_practiceid" in text
    assert "deleted table new_session" in text
    assert "deleted alternate key" in text
    assert "deleted relationship" in text
    summaries = [r["summary"] for r in undone.as_dict()["rolled_back"]["reversed"]]
    assert all(s.startswith(("deleted ", "removed ", "already gone")) for s in summaries)


def test_a_reverse_already_gone_says_so() -> None:
    r = Reverse("delete_column", "contact", "new_x", {"column": "new_x"})
    assert r.done("reversed") == "deleted column contact.new_x and its values"
    assert r.done("absent") == (
        "already gone, nothing to delete: column contact.new_x and its values"
    )
    option = Reverse(
        "delete_option", "contact", "gendercode=7", {"column": "gendercode", "value": 7}
    )
    assert option.done("reversed") == "removed option 7 from contact.gendercode"


# ---------------------------------------------------------------------------
# Point 7: the plan table at 80 columns


def test_the_plan_at_80_columns_shows_every_name_whole(
    monkeypatch: pytest.MonkeyPatch, client: DataverseClient, project: Settings
) -> None:
    result = commands.provision(project, client=client, dry_run=True)
    assert result.plan is not None
    lines = rendered(monkeypatch, result)
    assert all(len(line) <= WIDTH for line in lines)
    for op in result.plan.ops:
        assert any(op.name in line.lower() for line in lines), op.name
        assert any(op.table in line for line in lines), op.table
        for schema in op.schema_names():
            assert any(schema in line for line in lines), schema
    assert any("new_contact_new_session_ClientId" in line for line in lines)


_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=44)


@settings(max_examples=25, deadline=None)
@given(tables=st.lists(_names, min_size=1, max_size=4), names=st.lists(_names, min_size=1))
def test_any_plan_at_80_columns_keeps_names_whole(tables: list[str], names: list[str]) -> None:
    ops = []
    for i, name in enumerate(names):
        table = f"new_{tables[i % len(tables)]}"
        column = f"new_{name}"
        ops.append(
            SchemaOp(
                kind="create_column",
                table=table,
                name=column,
                params={"kind": "String", "schema_name": column, "label": "L", "max_length": 100},
                description=f"create String column {column} on {table}",
                reverse=Reverse("delete_column", table, column, {"column": column}),
            )
        )
    result = commands.ProvisionResult("dry-run", plan=Plan(ops=tuple(ops)))
    narrow = Console(width=WIDTH, record=True, highlight=False, color_system=None)
    before = render.console
    render.console = narrow
    try:
        render.render_provision(result)
    finally:
        render.console = before
    lines = narrow.export_text().splitlines()
    for op in ops:
        assert any(op.name in line for line in lines), op.name
        assert any(op.table in line for line in lines), op.table


# ---------------------------------------------------------------------------
# A choice the source has no values for yet is created all the same


def _without_tag_values() -> dict[str, Any]:
    doc = confirmed(default_document())
    doc["value_maps"]["tags"]["values"] = {}
    for t in doc["targets"].values():
        f = t["fields"].get("tags")
        if f and f.get("create"):
            f["create"].pop("options", None)
    return doc


def _mapped_columns(doc: dict[str, Any]) -> set[tuple[str, str]]:
    spec = spec_of(doc)
    return {
        (t.table, fm.column)
        for t in spec.targets.values()
        if t.enabled
        for fm in t.mapped()
        if fm.column is not None and fm.create is not None
    }


def test_a_tags_column_without_source_values_is_created(
    client: DataverseClient, tmp_path: Path
) -> None:
    doc = _without_tag_values()
    settings_ = write_project(tmp_path / "p", doc)
    result = commands.provision(settings_, client=client)
    assert result.plan is not None
    made = {(op.table, op.name) for op in result.plan.ops if op.kind == "create_column"}
    assert {("contact", "new_tags"), ("account", "new_tags")} <= made
    assert not [w for w in result.plan.warnings if "new_tags" in w]
    for table in ("contact", "account"):
        column = client.metadata.columns(table)["new_tags"]
        assert column.options == {}
    # once the source has tags, provisioning adds their options to the live column
    doc["value_maps"]["tags"]["values"] = {"vip": 100000000}
    later = plan_schema(spec_of(doc), client.metadata)
    assert {(op.table, op.name) for op in later.ops} == {
        ("contact", "new_tags=100000000"),
        ("account", "new_tags=100000000"),
    }


def test_a_source_without_tags_provisions_and_samples(tmp_path: Path) -> None:
    # the bug as found: the source has no tag values, so the proposed map's tags choice had
    # no options, provision made no new_tags column, and the load stopped at it
    generate_bundle(tmp_path / "bundle", clients=12, seed=3)
    rewrite_rows(tmp_path / "bundle", "clients", edit=lambda row: {**row, "tags": ""})
    with EmulatorApp() as app, embedded_client(app, key_poll_interval=0.0) as client:
        invite_coaches(app, tmp_path / "bundle")
        commands.init(Settings.load(tmp_path), directory=tmp_path / "project", source="../bundle")
        settings_ = Settings.load(tmp_path / "project", env={})
        commands.map_propose(settings_, client=client)
        shortcut_confirm(tmp_path / "project")
        commands.map_confirm(settings_, by="tests", client=client)
        done = commands.provision(settings_, client=client)
        assert done.plan is not None
        assert {("contact", "new_tags"), ("account", "new_tags")} <= {
            (op.table, op.name) for op in done.plan.ops
        }
        sample = commands.sample(settings_, client=client)
        assert sample.incomplete() is None
        assert sample.load.as_dict()


_CHOICE_MAPS = ["tags", "client_status", "session_type", "session_status", "payment_method"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(emptied=st.sets(st.sampled_from(_CHOICE_MAPS)))
def test_every_column_the_map_writes_is_planned_whatever_the_source_holds(
    client: DataverseClient, emptied: set[str]
) -> None:
    doc = confirmed(default_document())
    for name in emptied:
        doc["value_maps"][name]["values"] = {}
        doc["value_maps"][name].pop("default", None)
    for t in doc["targets"].values():
        for f in t["fields"].values():
            if f.get("value_map") in emptied and f.get("create"):
                f["create"].pop("options", None)
    p = plan_schema(spec_of(doc), client.metadata)
    assert p.conflicts == ()
    made = {(op.table, op.name) for op in p.ops if op.kind in ("create_column", "create_lookup")}
    for table, column in _mapped_columns(doc):
        live = client.metadata.has_table(table) and column in client.metadata.columns(table)
        assert live or (table, column) in made, (table, column)
    for op in p.ops:
        if op.kind == "create_column" and op.params["kind"] in ("Picklist", "MultiSelectPicklist"):
            assert ("no options yet" in op.details) == (not op.params["options"])


# ---------------------------------------------------------------------------
# Point 22: killed runs are closed by the next one


def _schema_journal(project_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    uri = f"file:{project_dir / JOURNAL_FILE}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        return [tuple(r) for r in db.execute(sql).fetchall()]


def _gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _orphan_running_runs(project_dir: Path) -> None:
    """Make the running schema runs look as if their process was killed."""
    with closing(sqlite3.connect(project_dir / JOURNAL_FILE)) as db, db:
        db.execute("UPDATE schema_runs SET pid = ? WHERE state = 'running'", (_gone_pid(),))


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from crm_ferry import commands
    from crm_ferry.commands.emulator import embedded_client
    from crm_ferry.emulator import EmulatorApp
    from crm_ferry.provision import apply
    from crm_ferry.settings import Settings

    data, project, at, rollback = sys.argv[1:5]
    name = "undo" if rollback == "1" else "_apply_op"
    real = getattr(apply, name)
    calls = [0]

    def dying(*args, **kwargs):
        out = real(*args, **kwargs)  # the request went through; its answer is never journaled
        calls[0] += 1
        if calls[0] == int(at):
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    setattr(apply, name, dying)
    with EmulatorApp(data_dir=Path(data)) as app, embedded_client(
        app, key_poll_interval=0.0
    ) as client:
        commands.provision(Settings.load(Path(project), env={}), client=client,
                           rollback=rollback == "1")
    """
)


def _killed(data: Path, project: Path, *, at: int, rollback: bool = False) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data), str(project), str(at), "1" if rollback else "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_a_killed_provision_is_closed_and_continued_by_the_next(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings_ = write_project(tmp_path / "p", confirmed(default_document()))
    with EmulatorApp(data_dir=data) as app:
        before = metadata_snapshot(app)
    _killed(data, settings_.project_dir, at=5)
    runs = _schema_journal(settings_.project_dir, "SELECT run_id, state FROM schema_runs")
    assert [state for _, state in runs] == ["running"]
    killed = runs[0][0]
    pending = _schema_journal(
        settings_.project_dir, "SELECT seq FROM schema_ops WHERE state = 'pending'"
    )
    assert pending == [(5,)]

    with EmulatorApp(data_dir=data) as app, embedded_client(app, key_poll_interval=0.0) as c:
        again = commands.provision(settings_, client=c)
        assert again.recovered
        assert again.recovered[0].run_id == killed
        said = [w for w in again.warnings if killed in w]
        assert said
        assert "was interrupted" in said[0]
        assert "process" in said[0]
        assert killed in str(again.as_dict()["recovered"])
        states = dict(
            _schema_journal(settings_.project_dir, "SELECT run_id, state FROM schema_runs")
        )
        assert states[killed] == "interrupted"
        assert "running" not in states.values()
        ops = _schema_journal(settings_.project_dir, "SELECT state FROM schema_ops")
        assert "pending" not in {s for (s,) in ops}
        assert plan_schema(spec_of(confirmed(default_document())), c.metadata).empty
        # the killed run's operations, the one whose answer was lost too, are reversed
        undone = commands.provision(settings_, client=c, rollback=True)
        assert undone.rolled_back is not None
        assert {r.outcome for r in undone.rolled_back.reversed} == {"reversed"}
        assert without_companions(metadata_snapshot(app), before) == before


def test_a_killed_rollback_is_closed_and_finished_by_the_next(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings_ = write_project(tmp_path / "p", confirmed(default_document()))
    with EmulatorApp(data_dir=data) as app, embedded_client(app, key_poll_interval=0.0) as c:
        before = metadata_snapshot(app)
        commands.provision(settings_, client=c)
    _killed(data, settings_.project_dir, at=3, rollback=True)
    rb = _schema_journal(
        settings_.project_dir, "SELECT run_id FROM schema_runs WHERE state = 'running'"
    )
    assert len(rb) == 1
    with EmulatorApp(data_dir=data) as app, embedded_client(app, key_poll_interval=0.0) as c:
        done = commands.provision(settings_, client=c, rollback=True)
        assert [r.run_id for r in done.recovered] == [rb[0][0]]
        assert any(rb[0][0] in w and "was interrupted" in w for w in done.warnings)
        assert done.rolled_back is not None
        assert without_companions(metadata_snapshot(app), before) == before
    states = {s for (s,) in _schema_journal(settings_.project_dir, "SELECT state FROM schema_runs")}
    assert "running" not in states


def _small_doc() -> dict[str, Any]:
    doc = confirmed(default_document())
    doc["targets"] = {"contact": doc["targets"]["contact"]}
    for vm in doc["value_maps"].values():
        vm.pop("text_column", None)
        vm["policy"] = "fail"
    return doc


class _Crash(Exception):
    """Stands for the process dying (not a FerryError: nothing handles it)."""


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(at=st.integers(min_value=1, max_value=5), after=st.booleans())
def test_a_provision_crashed_at_any_operation_is_settled_by_the_next(
    monkeypatch: pytest.MonkeyPatch, at: int, after: bool
) -> None:
    with EmulatorApp() as app:
        _crash_then_provision(monkeypatch, app, at, after=after)


def _crash_then_provision(
    monkeypatch: pytest.MonkeyPatch, app: EmulatorApp, at: int, *, after: bool
) -> None:
    before = metadata_snapshot(app)
    folder = Path(tempfile.mkdtemp(prefix="crm-ferry-crash-"))
    settings_ = write_project(folder / "p", _small_doc())
    real = apply_module._apply_op
    calls = [0]

    def crashing(*args: Any, **kwargs: Any) -> str | None:
        calls[0] += 1
        if calls[0] == at and not after:
            raise _Crash("killed before the request")
        out = real(*args, **kwargs)
        if calls[0] == at:
            raise _Crash("killed before the answer was journaled")
        return out

    with embedded_client(app, key_poll_interval=0.0) as c:
        monkeypatch.setattr(apply_module, "_apply_op", crashing)
        # the library call, not the command (which marks its runs interrupted on the way out):
        # what a killed process leaves behind
        with pytest.raises(_Crash):
            apply_plan(
                plan_schema(spec_of(_small_doc()), c.metadata),
                c,
                journal_path=settings_.project_dir / JOURNAL_FILE,
            )
        monkeypatch.setattr(apply_module, "_apply_op", real)
        _orphan_running_runs(settings_.project_dir)

        again = commands.provision(settings_, client=c)
        assert len(again.recovered) == 1
        pending = _schema_journal(
            settings_.project_dir, "SELECT 1 FROM schema_ops WHERE state = 'pending'"
        )
        assert pending == []
        assert plan_schema(spec_of(_small_doc()), c.metadata).empty
        undone = commands.provision(settings_, client=c, rollback=True)
        assert undone.rolled_back is not None
        assert {r.outcome for r in undone.rolled_back.reversed} == {"reversed"}
        assert without_companions(metadata_snapshot(app), before) == before
    states = {s for (s,) in _schema_journal(settings_.project_dir, "SELECT state FROM schema_runs")}
    assert "running" not in states


def test_a_run_its_process_still_writes_is_left_alone(
    client: DataverseClient, project: Settings
) -> None:
    commands.provision(project, client=client)
    with closing(sqlite3.connect(project.project_dir / JOURNAL_FILE)) as db, db:
        db.execute("UPDATE schema_runs SET state = 'running', pid = ?", (os.getppid(),))
    with pytest.raises(FerryError) as err:
        commands.provision(project, client=client, rollback=True)
    assert "still being written by process" in err.value.message
    assert err.value.hint
