"""``check_map``: every problem of a map against the source profile and the tenant, each
with its place in mapping.yaml."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.check import check_map
from crm_ferry.mapping.fingerprint import source_fingerprint, target_fingerprint
from crm_ferry.mapping.matcher import propose
from crm_ferry.mapping.owners import Coach, fetch_system_users, resolve_owners
from crm_ferry.mapping.profile import SourceProfile, profile_source
from crm_ferry.mapping.spec import MapDocument, Problem
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.generator import generate_bundle

FALLBACK = "alex.admin@crmferry.onmicrosoft.com"


@pytest.fixture(scope="module")
def client() -> Iterator[DataverseClient]:
    with EmulatorApp() as app, embedded_client(app) as c:
        yield c


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> SourceProfile:
    out: Path = tmp_path_factory.mktemp("check") / "bundle"
    generate_bundle(out, clients=25, seed=2)
    with open_bundle(out) as bundle:
        return profile_source(bundle)


@pytest.fixture(scope="module")
def clean(profile: SourceProfile, client: DataverseClient) -> dict[str, Any]:
    """A proposal a person has finished: fallback owner, every open value given an option."""
    doc = dict(propose(profile, client.metadata, prefix="new").document)
    users = fetch_system_users(client)
    doc["owners"] = resolve_owners(
        [Coach("usr_0001", "someone@practice.example")], users, current={"fallback": FALLBACK}
    ).section
    for vm in doc["value_maps"].values():
        for key, value in list((vm.get("values") or {}).items()):
            if value is None:
                vm["values"][key] = 1
    doc["fingerprint"] = {
        "source": source_fingerprint(profile),
        "target": target_fingerprint(doc, client.metadata),
    }
    return doc


def run(plain: dict[str, Any], profile: SourceProfile, client: DataverseClient) -> list[Problem]:
    doc = MapDocument.loads(MapDocument.from_plain(plain).dumps())  # with line numbers
    return check_map(doc, profile, client.metadata)


def errors_at(problems: list[Problem], path: str) -> list[Problem]:
    return [p for p in problems if p.path == path and p.severity == "error"]


def contact(plain: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = plain["targets"]["contact"]["fields"]
    return fields


def test_a_finished_proposal_has_no_errors(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    problems = run(copy.deepcopy(clean), profile, client)
    assert [str(p) for p in problems if p.severity == "error"] == []


def test_a_column_the_tenant_lacks_needs_a_create_spec(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    plain = copy.deepcopy(clean)
    contact(plain)["email"]["column"] = "emailaddress9"
    (problem,) = errors_at(run(plain, profile, client), "targets.contact.fields.email.column")
    assert "emailaddress9" in problem.message
    assert "create" in problem.message
    assert problem.line is not None
    assert problem.where().startswith(f"mapping.yaml:{problem.line}:")

    contact(plain)["email"]["create"] = {"kind": "String", "schema_name": "new_Email9"}
    assert not errors_at(run(plain, profile, client), "targets.contact.fields.email.column")


def test_a_missing_table_without_create(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    plain = copy.deepcopy(clean)
    plain["targets"]["contact"]["table"] = "new_nosuchtable"
    (problem,) = errors_at(run(plain, profile, client), "targets.contact.table")
    assert "does not exist in the tenant" in problem.message


def test_types_must_fit(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    plain = copy.deepcopy(clean)
    contact(plain)["email"].update(column="creditlimit", type="Money")
    contact(plain)["phone"]["type"] = "Integer"
    problems = run(plain, profile, client)
    (fit,) = errors_at(problems, "targets.contact.fields.email.type")
    assert "does not fit a Money column" in fit.message
    (declared,) = errors_at(problems, "targets.contact.fields.phone.type")
    assert "the map says Integer" in declared.message


def test_long_strings_need_truncate_or_a_wider_column(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    plain = copy.deepcopy(clean)
    key = max(profile.custom, key=lambda k: profile.custom[k].max_length)
    entry = contact(plain)[f"custom:{key}"]
    entry["create"]["max_length"] = 5
    entry["create"]["kind"] = "String"
    path = f"targets.contact.fields.custom:{key}.column"
    (problem,) = errors_at(run(plain, profile, client), path)
    assert "truncate: true" in problem.message
    entry["truncate"] = True
    assert not errors_at(run(plain, profile, client), path)


def test_value_maps_cover_every_source_value(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    plain = copy.deepcopy(clean)
    del plain["value_maps"]["session_status"]["values"]["completed"]
    problems = errors_at(run(plain, profile, client), "value_maps.session_status.values")
    assert any("'completed'" in p.message and "has no option" in p.message for p in problems)

    plain["value_maps"]["session_status"]["values"]["completed"] = None
    (problem,) = errors_at(
        run(plain, profile, client), "value_maps.session_status.values.completed"
    )
    assert "pick one" in problem.message


def test_options_must_exist_on_the_column(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    plain = copy.deepcopy(clean)
    plain["value_maps"]["gender"]["values"]["female"] = 99
    (problem,) = errors_at(run(plain, profile, client), "value_maps.gender.values.female")
    assert "option 99 is not a choice of contact.gendercode" in problem.message


def test_unresolved_owners_are_errors(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    plain = copy.deepcopy(clean)
    plain["owners"] = resolve_owners([Coach("usr_0001", "someone@practice.example")], []).section
    (problem,) = errors_at(run(plain, profile, client), "owners.coaches.usr_0001.status")
    assert "set owners.fallback or owners.coaches.usr_0001.user" in problem.message
    assert problem.line is not None

    plain["owners"]["fallback"] = "someone@corp.example"  # named, not resolved yet
    assert errors_at(run(plain, profile, client), "owners.fallback")


def test_fingerprints_must_match(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    plain = copy.deepcopy(clean)
    plain["fingerprint"]["source"] = "0" * 64
    plain["fingerprint"]["target"] = "0" * 64
    problems = run(plain, profile, client)
    (source,) = errors_at(problems, "fingerprint.source")
    assert "stale" in source.message
    assert "crm-ferry map propose" in source.message
    assert not errors_at(problems, "fingerprint.target")  # a proposal is stamped at confirm

    plain["status"] = "confirmed"
    (target,) = errors_at(run(plain, profile, client), "fingerprint.target")
    assert "stale" in target.message


def test_structural_problems_come_first_with_places(
    clean: dict[str, Any], profile: SourceProfile, client: DataverseClient
) -> None:
    plain = copy.deepcopy(clean)
    contact(plain)["email"]["confidence"] = 7
    problems = run(plain, profile, client)
    (problem,) = errors_at(problems, "targets.contact.fields.email.confidence")
    assert problem.line is not None
