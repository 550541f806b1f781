"""Rejected rows, end to end on the command line, on small hand-written bundles
(``tests/cases/promises/rejects``, described in its README):

- ``map check`` profiles the value maps on the rows the reader accepts; a value only rows
  it rejects hold is listed apart (a warning naming the rows and why), never demanded, so
  ``map confirm`` goes through;
- ``migrate`` loads what it can, then exits 8 when an object has more rejected records than
  its reject threshold (``[load] reject_threshold``, default 2%) allows, never 0 when every
  client is rejected;
- ``verify`` calls a record lost because of another record's problem (its parent was
  rejected, or the row its id was first seen on) a migration difference, and only a record
  whose own data is wrong a source defect; ``verify --check`` fails (exit 7) over the
  threshold whatever a person accepted;
- a duplicate row of a client that was loaded does not take that client's sessions with it.

Every command runs through the CLI against the in-process emulator.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from crm_ferry import commands
from crm_ferry.cli import cli
from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.spec import MAP_FILE
from crm_ferry.reconcile.classify import MIGRATION, SOURCE_DEFECT
from crm_ferry.settings import Settings

REJECTS = Path(__file__).parents[1] / "cases" / "promises" / "rejects"


@dataclass
class Tenant:
    """A project on one of the bundles, its tenant an in-process emulator with the coach."""

    project: Path
    app: EmulatorApp

    def run(self, *args: str, code: int = 0) -> dict[str, Any]:
        result = CliRunner().invoke(cli, ["--project", str(self.project), *args, "--json"])
        assert result.exit_code == code, (args, result.output)
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def rows(self, table: str) -> list[dict[str, Any]]:
        return list(self.app.dump()["records"].get(table, []))

    def practice_ids(self, table: str) -> set[str]:
        return {str(r["new_practiceid"]) for r in self.rows(table) if r.get("new_practiceid")}

    def ready(self) -> None:
        """Map proposed and confirmed as they are, schema provisioned."""
        self.run("map", "propose")
        self.run("map", "confirm", "--by", "Ada Lovelace")
        self.run("provision")


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Tenant]]:
    apps: list[EmulatorApp] = []

    def client(*_args: Any, **_kwargs: Any) -> DataverseClient:
        return embedded_client(apps[-1])

    monkeypatch.setattr("crm_ferry.commands._project.client_from_settings", client)
    monkeypatch.setattr(
        "crm_ferry.commands._project.pool_from_settings",
        lambda *a, **k: SimpleNamespace(clients=[client()]),
    )

    def make(bundle: str, ferry: str = "") -> Tenant:
        base = tmp_path / bundle
        source = shutil.copytree(REJECTS / bundle, base / "bundle")
        app = EmulatorApp()
        apps.append(app)
        app.add_user("Cora", "One", "cora.one@example.com")
        commands.init(Settings.load(base), directory=base / "project", source=str(source))
        if ferry:  # the project's ferry.toml ends with its [load] table
            with (base / "project" / "ferry.toml").open("a", encoding="utf-8") as fh:
                fh.write("\n" + ferry)
        return Tenant(base / "project", app)

    yield make
    for app in apps:
        app.close()


def _classes(differences: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    """(object, record, column) of every record not loaded → its class."""
    return {
        (d["table"], d["record"], d["column"]): d["classification"]
        for d in differences
        if d["what"] == "record not loaded"
    }


# -- map check: value maps from accepted rows --------------------------------------------


def test_a_value_only_rejected_rows_hold_is_listed_apart_and_never_demanded(
    tenant: Callable[..., Tenant],
) -> None:
    t = tenant("check")
    t.run("map", "propose")
    checked = t.run("map", "check")
    assert checked["ok"], checked["problems"]
    assert checked["errors"] == 0
    by_value = {
        value: p
        for p in checked["problems"]
        for value in ("'finished'", "'Walk and talk'")
        if value in p["message"]
    }
    finished, walk = by_value["'finished'"], by_value["'Walk and talk'"]
    assert finished["severity"] == walk["severity"] == "warning"
    assert finished["path"] == "value_maps.session_status.values"
    assert "only in 1 row(s) the reader rejects" in finished["message"]
    assert "sessions.csv:6: [status] 'finished': not one of" in finished["message"]
    assert walk["path"] == "value_maps.session_type.values"
    assert "sessions.csv:7: [id] 'S1': duplicate id" in walk["message"]
    # the proposer gave the rejected-only session type no option either
    text = (t.project / MAP_FILE).read_text("utf-8").lower()
    assert "walk and talk" not in text
    assert "finished" not in text
    confirmed = t.run("map", "confirm", "--by", "Ada Lovelace")
    assert confirmed["status"] == "confirmed"
    assert any("'finished'" in w["message"] for w in confirmed["warnings"])


# -- migrate: the reject threshold -------------------------------------------------------


def test_a_migrate_that_rejects_every_client_fails_after_loading_what_it_could(
    tenant: Callable[..., Tenant],
) -> None:
    t = tenant("none_loaded")
    t.ready()
    data = t.run("migrate", "--skip-sample-gate", code=8)
    assert data["state"] == "done"  # every operation it meant to send was sent
    assert data["objects"]["clients"]["read"] == data["objects"]["clients"]["rejected"] == 3
    error = data["error"]
    assert (error["type"], error["exit_code"]) == ("Incomplete", 8)
    assert (
        "clients: 3 of 3 records rejected (100%), over the reject threshold of 2%"
        in (error["message"])
    )
    assert "3 × a contact needs a last name" in error["message"]
    assert "[load] reject_threshold" in error["hint"]
    over = {b["object"]: b for b in data["over_reject_threshold"]}
    assert set(over) == {"clients", "sessions"}
    assert over["clients"] == {
        "object": "clients",
        "records": 3,
        "rejected": 3,
        "share": "100%",
        "threshold": "2%",
        "reasons": {
            "a contact needs a last name, and first_name, last_name and full_name are empty": 3
        },
    }
    assert t.rows("contact") == []
    load = json.loads((t.project / "runs" / data["run_id"] / "load.json").read_text("utf-8"))
    assert load["over_reject_threshold"] == data["over_reject_threshold"]


@pytest.mark.parametrize(
    "ferry",
    [
        'reject_threshold = "100%"\n',
        '[load.reject_thresholds]\nclients = 3\nsessions = "100%"\n',
    ],
    ids=["default", "per-object"],
)
def test_the_threshold_is_the_project_s_to_set(tenant: Callable[..., Tenant], ferry: str) -> None:
    t = tenant("none_loaded", ferry)
    t.ready()
    data = t.run("migrate", "--skip-sample-gate")
    assert data["over_reject_threshold"] == []
    assert "error" not in data


def test_a_threshold_that_is_no_share_nor_count_is_a_configuration_error(
    tenant: Callable[..., Tenant],
) -> None:
    t = tenant("none_loaded", '[load.reject_thresholds]\nsession = "5%"\n')
    error = t.run("migrate", "--skip-sample-gate", code=2)["error"]
    assert "'session' is not an object of the export" in error["message"]
    assert "sessions" in error["hint"]
    t = tenant("load", 'reject_threshold = "two percent"\n')
    error = t.run("migrate", "--skip-sample-gate", code=2)["error"]
    assert "reject_threshold = 'two percent'" in error["message"]
    assert '"2%"' in error["hint"]


# -- verify: whose problem a reject is ------------------------------------------------------


def test_verify_counts_records_lost_to_another_record_s_problem_as_migration_differences(
    tenant: Callable[..., Tenant],
) -> None:
    t = tenant("load", 'reject_threshold = "100%"\n')  # what is classified, not how many
    t.ready()
    t.run("migrate", "--skip-sample-gate")
    # C3's second row is a duplicate of a client that loaded: its sessions and note load
    assert t.practice_ids("contact") == {"C1", "C3", "C4"}
    assert t.practice_ids("new_session") == {"S11", "S31", "S32", "S41"}
    assert len(t.rows("annotation")) == 2  # N11 and N31

    verified = t.run("verify", "--full")
    assert _classes(verified["differences"]) == {
        ("clients", "C2", "birth_date"): SOURCE_DEFECT,  # its own value is wrong
        ("clients", "C2", "id"): MIGRATION,  # sound, lost with the first row of its id
        ("clients", "C3", "id"): SOURCE_DEFECT,  # a second row for a client that loaded
        ("sessions", "S21", "client_id"): MIGRATION,  # C2 was rejected
        ("sessions", "S22", "client_id"): MIGRATION,
        ("sessions", "S23", "client_id"): MIGRATION,
        ("sessions", "S90", "client_id"): SOURCE_DEFECT,  # C9 is not in the export
        ("session_notes", "N21", "session_id"): MIGRATION,  # S21 was rejected
    }
    detail = next(d["detail"] for d in verified["differences"] if d["record"] == "S21")
    assert "not loaded because of another record: client 'C2'" in detail
    assert "not a date" in detail

    # the export's defects accepted, as a consultant would: the lost records still fail
    defects = [d["id"] for d in verified["differences"] if d["classification"] == SOURCE_DEFECT]
    t.run("verify", "accept", "--by", "Ada", "--reason", "known defects of the export", *defects)
    error = t.run("verify", "--check", "--full", code=7)["error"]
    listed = {(d["table"], d["record"]) for d in error["differences"]}
    assert listed == {
        ("clients", "C2"),
        ("sessions", "S21"),
        ("sessions", "S22"),
        ("sessions", "S23"),
        ("session_notes", "N21"),
    }
    assert {d["classification"] for d in error["differences"]} == {MIGRATION}


def test_verify_check_fails_over_the_threshold_whatever_was_accepted(
    tenant: Callable[..., Tenant],
) -> None:
    t = tenant("load")
    t.ready()
    migrated = t.run("migrate", "--skip-sample-gate", code=8)
    assert {b["object"] for b in migrated["over_reject_threshold"]} == {
        "clients",
        "sessions",
        "session_notes",
    }
    t.run("verify")
    t.run("verify", "accept", "--by", "Ada", "--reason", "all agreed", "--yes")
    error = t.run("verify", "--check", code=7)["error"]
    assert error["differences"] == []
    over = {b["object"]: b for b in error["over_reject_threshold"]}
    assert over["clients"]["rejected"] == 3
    assert over["clients"]["records"] == 6
    assert "clients: 3 of 6 records rejected (50%)" in error["message"]
    assert "accepting the differences does not change that" in error["message"]
    report = Path(error["report"])
    assert 'id="thresholds"' in report.read_text("utf-8")
    data = json.loads(report.with_name("report.json").read_text("utf-8"))
    assert data["summary"]["objects over the reject threshold"] == 3

    # raised knowingly, in the project's settings: the same verification passes
    with (t.project / "ferry.toml").open("a", encoding="utf-8") as fh:
        fh.write('\nreject_threshold = "60%"\n')
    passed = t.run("verify", "--check")
    assert passed["ok"]
    assert passed["over_reject_threshold"] == []
