"""``map check`` knows the owner of every row before any load, on the hand-written practice
of ``tests/cases/promises/owners``: which rows the fallback owns (per object), which would
have no owner without one (an error naming the coach and the row counts), and tables or
columns the tenant cannot take (no owner relationship, a column valid neither for create
nor for update, a lookup without a relationship)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from crm_ferry import commands
from crm_ferry.commands.mapping import read_source
from crm_ferry.dataverse.metadata import ColumnInfo, Relationship
from crm_ferry.mapping.check import check_map
from crm_ferry.mapping.owners import OwnerUsage, collect_coaches, fetch_system_users
from crm_ferry.mapping.owners_section import refresh_owners
from crm_ferry.mapping.spec import CoachRef, MapDocument, Problem
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle
from helpers.promises import FALLBACK, Tenant, copy_bundle, owners_tenant, proposed_project


@pytest.fixture(scope="module")
def tenant() -> Iterator[Tenant]:
    """Every coach invited (the tests read the tenant, never change it)."""
    with owners_tenant() as t:
        yield t


def _problems(settings: Settings, tenant: Tenant) -> list[Problem]:
    return list(commands.map_check(settings, client=tenant.client).problems)


def _errors(problems: list[Problem]) -> list[str]:
    return [f"{p.path}: {p.message}" for p in problems if p.severity == "error"]


def _warnings(problems: list[Problem]) -> list[str]:
    return [f"{p.path}: {p.message}" for p in problems if p.severity == "warning"]


def test_the_rows_of_each_coach_are_counted_through_their_parents(tmp_path: Path) -> None:
    usage = OwnerUsage()
    with open_bundle(copy_bundle(tmp_path / "bundle")) as bundle:
        coaches = {c.coach_id: c for c in collect_coaches(bundle, usage)}
    # a coach only the clients file names, keyed by the e-mail in lower case
    assert coaches["eve.freelance@partner.example"].in_users is False
    ben = CoachRef(None, "ben.coach@practice.example")
    assert dict(usage.of("clients")) == {
        CoachRef("U1"): 1,
        ben: 1,
        CoachRef(None, "cleo.coach@practice.example"): 1,
        CoachRef(None, "ada.coach@practice.example"): 1,
        CoachRef(None, "eve.freelance@partner.example"): 1,
        CoachRef(): 1,
    }
    # S3 has no coach: its client's (by e-mail); S7's client has none either
    assert usage.of("sessions")[ben] == 2
    assert usage.of("sessions")[CoachRef()] == 1
    # a note is counted under its session's coach, an activity without one under its client's
    assert usage.of("session_notes")[ben] == 1
    assert usage.of("activities")[CoachRef("U2")] == 1
    assert usage.of("activities")[CoachRef(None, "cleo.coach@practice.example")] == 1
    assert sum(usage.of("activities").values()) == 4


def test_rows_without_a_coach_and_no_fallback_are_an_error_with_their_counts(
    tmp_path: Path, tenant: Tenant
) -> None:
    settings = proposed_project(tmp_path, copy_bundle(tmp_path / "bundle"), tenant, fallback=None)
    errors = _errors(_problems(settings, tenant))
    assert len(errors) == 1, errors
    (error,) = errors
    assert error.startswith("owners.fallback: ")
    assert "1 clients row(s), 1 session_notes row(s) and 1 sessions row(s) name no coach" in error
    assert "migrate would reject them" in error
    assert "set owners.fallback" in error


def test_rows_the_fallback_owns_are_counted_per_object(tmp_path: Path, tenant: Tenant) -> None:
    bundle = copy_bundle(tmp_path / "bundle")
    settings = proposed_project(tmp_path, bundle, tenant, fallback=FALLBACK)
    problems = _problems(settings, tenant)
    assert _errors(problems) == []
    owned = [w for w in _warnings(problems) if w.startswith("owners.fallback: ")]
    no_coach = "1 with no coach (no coach_id or coach_email, nor one on their client or session)"
    assert owned == [
        f"owners.fallback: 1 {obj} row(s) will be owned by the fallback {FALLBACK}: {no_coach}"
        for obj in ("clients", "session_notes", "sessions")
    ]


def test_a_coach_without_a_user_is_an_error_naming_its_rows(tmp_path: Path) -> None:
    """Eve is not invited: her client, and the session and call that inherit her from it,
    would have no owner."""
    bundle = copy_bundle(tmp_path / "bundle", without_clients=["C6"])
    with owners_tenant(invite=["ada", "ben", "cleo", "dana"]) as tenant:
        settings = proposed_project(tmp_path, bundle, tenant, fallback=None)
        errors = _errors(_problems(settings, tenant))
    key = "eve.freelance@partner.example"
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"owners.coaches.{key}.status: coach {key} ")
    assert "has no usable owner (unmatched)" in errors[0]
    assert (
        "migrate would reject its 1 activities row(s), 1 clients row(s) and 1 sessions row(s)"
        in errors[0]
    )
    assert f"set owners.fallback or owners.coaches.{key}.user" in errors[0]


def test_clients_named_by_coach_email_need_no_fallback(tmp_path: Path, tenant: Tenant) -> None:
    """Every coach of the export is a user (by id, by e-mail in any case, by UPN): clean."""
    bundle = copy_bundle(tmp_path / "bundle", without_clients=["C6"])
    settings = proposed_project(tmp_path, bundle, tenant, fallback=None)
    assert [str(p) for p in _problems(settings, tenant)] == []


# ---------------------------------------------------------------------------------------
# What the tenant cannot take


class _Without:
    """The tenant's metadata without some relationships and with some columns changed."""

    def __init__(
        self,
        inner: Any,
        *,
        relationships: Mapping[str, set[str]] | None = None,
        columns: Mapping[tuple[str, str], ColumnInfo] | None = None,
    ) -> None:
        self.inner = inner
        self.hidden = relationships or {}
        self.changed = columns or {}

    def has_table(self, table: str) -> bool:
        return bool(self.inner.has_table(table))

    def columns(self, table: str) -> Mapping[str, ColumnInfo]:
        cols = dict(self.inner.columns(table))
        for (t, name), info in self.changed.items():
            if t == table:
                cols[name] = info
        return cols

    def relationships(self, table: str) -> list[Relationship]:
        hidden = self.hidden.get(table, set())
        rels: list[Relationship] = self.inner.relationships(table)
        return [r for r in rels if r.referencing_attribute not in hidden]


def _check(settings: Settings, tenant: Tenant, metadata: Any) -> list[Problem]:
    """``map check`` with another view of the tenant's metadata."""
    usage = OwnerUsage()
    profile, _ = read_source(settings, usage=usage)
    doc = MapDocument.load(settings.project_dir / "mapping.yaml")
    doc, _, owners = refresh_owners(doc, fetch_system_users(tenant.client))
    return [*owners, *check_map(doc, profile, metadata, usage=usage)]


@pytest.fixture(scope="module")
def proposed_template(tmp_path_factory: pytest.TempPathFactory, tenant: Tenant) -> Path:
    base = tmp_path_factory.mktemp("proposed")
    bundle = copy_bundle(base / "bundle")
    return proposed_project(base, bundle, tenant, fallback=FALLBACK).project_dir


@pytest.fixture
def proposed(proposed_template: Path, tmp_path: Path) -> Settings:
    """A copy of the proposed project (its source: the template's bundle, read only)."""
    shutil.copytree(proposed_template, tmp_path / "project")
    return Settings.load(tmp_path / "project")


def test_the_proposal_checks_clean_against_the_tenant(proposed: Settings, tenant: Tenant) -> None:
    assert _errors(_check(proposed, tenant, tenant.client.metadata)) == []


def test_notes_on_a_table_without_an_owner_relationship_are_an_error(
    proposed: Settings, tenant: Tenant
) -> None:
    metadata = _Without(tenant.client.metadata, relationships={"annotation": {"ownerid"}})
    errors = _errors(_check(proposed, tenant, metadata))
    assert errors == [
        f"targets.{role}.table: {why}, but the tenant has no relationship from "
        "annotation.ownerid to systemuser (no navigation property to bind a user as owner); "
        "the owner cannot be set: check the tenant's table (or snapshot), use another table, "
        "or set `enabled: false`"
        for role, why in (
            ("note", "a note is owned by its session's owner"),
            ("attachment", "a file is owned by the owner of its session, else of its client"),
        )
    ]


def test_a_column_the_tenant_cannot_write_is_an_error(proposed: Settings, tenant: Tenant) -> None:
    doc = MapDocument.load(proposed.project_dir / "mapping.yaml")
    doc.data["targets"]["contact"]["fields"]["email"]["column"] = "createdon"
    doc.data["targets"]["contact"]["fields"]["email"]["type"] = "DateTime"
    doc.save()
    errors = _errors(_check(proposed, tenant, tenant.client.metadata))
    assert errors == [
        "targets.contact.fields.email.column: contact.createdon cannot be written: the tenant "
        "marks it valid neither for create nor for update (the service fills it); map the "
        "field to another column or leave its column empty"
    ]


def test_a_lookup_without_a_relationship_is_an_error(proposed: Settings, tenant: Tenant) -> None:
    metadata = _Without(tenant.client.metadata, relationships={"contact": {"parentcustomerid"}})
    errors = _errors(_check(proposed, tenant, metadata))
    assert len(errors) == 1, errors
    assert errors[0].startswith(
        "targets.contact.fields.family_id.column: contact.parentcustomerid cannot be written: "
        "the tenant has no relationship for the lookup"
    )


def test_an_owner_column_valid_for_neither_create_nor_update_is_an_error(
    proposed: Settings, tenant: Tenant
) -> None:
    owner = tenant.client.metadata.columns("contact")["ownerid"]
    frozen = ColumnInfo(
        **{
            **{s: getattr(owner, s) for s in ColumnInfo.__slots__},
            "is_valid_for_create": False,
            "is_valid_for_update": False,
        }
    )
    metadata = _Without(tenant.client.metadata, columns={("contact", "ownerid"): frozen})
    errors = _errors(_check(proposed, tenant, metadata))
    assert errors == [
        "targets.contact.fields.coach_id.column: contact.ownerid cannot be written: the "
        "tenant marks it valid neither for create nor for update (the service fills it); map "
        "the field to another column or leave its column empty"
    ]
