"""Provisioning against the emulator: plan, apply, re-plan, roll back, refuse, dry run."""

from __future__ import annotations

import copy
import sqlite3
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry import commands
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.errors import MapError
from crm_ferry.journal import JOURNAL_FILE
from crm_ferry.mapping.defaults import default_document
from crm_ferry.provision import SchemaOp, TableLimitExceeded, plan_schema
from crm_ferry.provision.apply import RollbackRefused, apply_plan, rollback_schema

from .conftest import (
    confirmed,
    metadata_snapshot,
    spec_of,
    without_companions,
    write_project,
)

EXISTING = ("account", "contact", "invoice", "invoicedetail", "opportunity")


def test_provision_twice_then_rollback_restores_the_metadata(
    app: EmulatorApp, client: DataverseClient, project: Any
) -> None:
    before = metadata_snapshot(app)

    first = commands.provision(project, client=client)
    assert first.applied is not None
    assert first.plan is not None
    kinds = first.plan.counts()
    assert kinds["create_table"] == 3
    assert kinds["create_lookup"] == 3
    assert kinds["create_key"] == 7
    stages = [op.kind for op in first.plan.ops]
    order = ["create_table", "create_column", "create_lookup", "create_key"]
    assert [k for k in order if k in stages] == sorted(set(stages), key=order.index)
    assert len(first.applied.applied) == len(first.plan.ops)
    assert set(first.applied.published) >= {"new_session", "contact", "account"}
    keys = {k.schema_name: k.status for k in client.metadata.keys("contact")}
    assert keys == {"new_PracticeIdKey": "Active"}
    rels = client.metadata.relationships("new_session")
    assert {(r.referencing_attribute, r.referenced_entity) for r in rels} >= {
        ("new_clientid", "contact"),
        ("new_servicetypeid", "new_servicetype"),
    }

    journal = project.project_dir / JOURNAL_FILE
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT state, metadata_id FROM schema_ops").fetchall()
    assert len(rows) == len(first.plan.ops)
    assert {state for state, _ in rows} == {"applied"}

    second = commands.provision(project, client=client, verbose=True)
    assert second.plan is not None
    assert second.plan.empty
    assert second.applied is not None
    assert second.applied.applied == ()
    assert len(second.plan.skipped) >= len(first.plan.ops)
    assert "skipped" in second.as_dict()["plan"]

    undone = commands.provision(project, client=client, rollback=True)
    assert undone.rolled_back is not None
    assert len(undone.rolled_back.reversed) == len(first.plan.ops)
    assert {r.outcome for r in undone.rolled_back.reversed} == {"reversed"}
    after = metadata_snapshot(app)
    assert without_companions(after, before) == before

    again = commands.provision(project, client=client, rollback=True)
    assert again.rolled_back is not None
    assert again.rolled_back.reversed == ()


def test_the_table_limit_fails_before_anything_is_created(
    app: EmulatorApp, client: DataverseClient, tmp_path: Path
) -> None:
    before = metadata_snapshot(app)
    settings_ = write_project(
        tmp_path / "p",
        confirmed(default_document()),
        toml="[dataverse]\ncustom_table_limit = 2\n",
    )
    with pytest.raises(TableLimitExceeded) as err:
        commands.provision(settings_, client=client)
    e = err.value
    assert (e.limit, e.existing, len(e.planned)) == (2, 0, 3)
    assert "3 new custom table(s)" in e.message
    assert "over the 2 custom tables" in e.message
    assert metadata_snapshot(app) == before
    assert not (settings_.project_dir / JOURNAL_FILE).exists()

    # The Sales Professional default (15) is counted against the tenant's own custom tables.
    spec = spec_of(confirmed(default_document()))
    for n in range(13):
        client.metadata.create_table(
            f"new_Filler{n}",
            display_name=f"Filler {n}",
            plural_name=f"Fillers {n}",
            primary_name=f"new_Filler{n}Name",
        )
    with pytest.raises(TableLimitExceeded) as err:
        plan_schema(spec, client.metadata)
    assert (err.value.limit, err.value.existing, err.value.tier) == (15, 13, "professional")
    assert plan_schema(spec, client.metadata, tier="enterprise").table_limit is None


def test_dry_run_creates_nothing(app: EmulatorApp, client: DataverseClient, project: Any) -> None:
    before = metadata_snapshot(app)
    result = commands.provision(project, client=client, dry_run=True)
    assert result.action == "dry-run"
    assert result.plan is not None
    assert len(result.plan.ops) > 40
    assert result.applied is None
    assert metadata_snapshot(app) == before
    assert not (project.project_dir / JOURNAL_FILE).exists()
    out = result.as_dict()
    assert "skipped" not in out["plan"]
    op = out["plan"]["ops"][0]
    assert {"kind", "table", "name", "details", "description", "reverse"} <= set(op)
    for o in result.plan.ops:
        assert SchemaOp.from_dict(o.as_dict()) == o


def test_an_unconfirmed_map_is_refused(client: DataverseClient, tmp_path: Path) -> None:
    settings_ = write_project(tmp_path / "p", default_document())
    with pytest.raises(MapError) as err:
        commands.provision(settings_, client=client, dry_run=True)
    assert "not confirmed" in err.value.message
    assert "map confirm --by NAME" in (err.value.hint or "")


def _contact_only(extra_gender_option: bool = False) -> dict[str, Any]:
    doc = confirmed(default_document())
    doc["targets"] = {"contact": doc["targets"]["contact"]}
    for vm in doc["value_maps"].values():
        vm.pop("text_column", None)
        vm["policy"] = "fail"
    if extra_gender_option:
        doc["value_maps"]["gender"]["values"] = {"male": 1, "female": 2, "nonbinary": 100000000}
    return doc


def test_rollback_refuses_to_drop_data_unless_forced(
    app: EmulatorApp, client: DataverseClient, tmp_path: Path
) -> None:
    before = metadata_snapshot(app)
    settings_ = write_project(tmp_path / "p", _contact_only(extra_gender_option=True))
    done = commands.provision(settings_, client=client)
    assert done.plan is not None
    added = [op for op in done.plan.ops if op.kind == "add_option"]
    assert [(op.table, op.name) for op in added] == [("contact", "gendercode=100000000")]
    assert client.metadata.columns("contact")["gendercode"].options[100000000] == "Nonbinary"

    client.create(
        "contact",
        {"lastname": "Data", "new_practiceid": "c-1", "gendercode": 100000000},
    )
    provisioned = metadata_snapshot(app)
    with pytest.raises(RollbackRefused) as err:
        commands.provision(settings_, client=client, rollback=True)
    assert "column contact.new_practiceid holds values" in err.value.held
    assert "option 100000000 of contact.gendercode is used by rows" in err.value.held
    assert metadata_snapshot(app) == provisioned  # refused before anything was dropped

    forced = commands.provision(settings_, client=client, rollback=True, force=True)
    assert forced.rolled_back is not None
    assert forced.rolled_back.forced
    assert without_companions(metadata_snapshot(app), before) == before


_CANDIDATES: list[tuple[str, str]] = sorted(
    {
        (role, name)
        for role, t in default_document()["targets"].items()
        if t["table"] in EXISTING
        for name, f in t["fields"].items()
        if f.get("create") and (f["create"].get("options") or "Picklist" not in f["type"])
    }
)


def _subset_doc(chosen: set[tuple[str, str]]) -> dict[str, Any]:
    doc = _contact_only()
    full = confirmed(default_document())
    doc["targets"] = {}
    for role, t in full["targets"].items():
        if t["table"] not in EXISTING:
            continue
        t = copy.deepcopy(t)
        for name, f in t["fields"].items():
            if f.get("create") and (role, name) not in chosen:
                t["fields"][name] = {"column": None, "confidence": 1.0, "reason": "not chosen"}
        doc["targets"][role] = t
    return doc


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chosen=st.sets(st.sampled_from(_CANDIDATES), min_size=1, max_size=4))
def test_provision_then_rollback_restores_any_subset(
    app: EmulatorApp, client: DataverseClient, chosen: set[tuple[str, str]]
) -> None:
    before = metadata_snapshot(app)
    spec = spec_of(_subset_doc(chosen))
    journal = Path(tempfile.mkdtemp(prefix="crm-ferry-prov-")) / JOURNAL_FILE
    p = plan_schema(spec, client.metadata)
    assert p.conflicts == ()
    assert {(op.table, op.name) for op in p.ops if op.kind == "create_column"} <= {
        (spec.targets[role].table, spec.targets[role].fields[name].column or "")
        for role, name in chosen
    }
    apply_plan(p, client, journal_path=journal)
    assert plan_schema(spec, client.metadata).empty
    result = rollback_schema(client, journal_path=journal)
    assert len(result.reversed) == len(p.ops)
    assert without_companions(metadata_snapshot(app), before) == before
