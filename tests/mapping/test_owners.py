"""Coaches → system users: email, then UPN, case-insensitive; disabled, unmatched, explicit,
fallback; and the coaches a bundle names."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.owners import (
    Coach,
    SystemUser,
    coaches_from_section,
    collect_coaches,
    fetch_system_users,
    resolve_owners,
)
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.generator import generate_bundle

USERS = [
    SystemUser("id-ann", "Ann.Lee@Practice.example", "ann@corp.onmicrosoft.com", "Ann Lee"),
    SystemUser("id-bob", "bob@other.example", "Bob.Upn@Practice.example", "Bob Upn"),
    SystemUser("id-old", "old@practice.example", "old@corp.onmicrosoft.com", "Old", True),
    SystemUser("id-adm", "admin@practice.example", "admin@corp.onmicrosoft.com", "Admin"),
]
COACHES = [
    Coach("usr_1", "ann.lee@practice.example"),
    Coach("usr_2", "bob.upn@practice.example"),
    Coach("usr_3", "OLD@practice.example"),
    Coach("usr_4", "nobody@practice.example"),
    Coach("usr_5", None, in_users=False),
]


def test_matches_by_email_then_upn_case_insensitively() -> None:
    coaches = resolve_owners(COACHES, USERS).section["coaches"]
    assert coaches["usr_1"]["status"] == "matched"
    assert coaches["usr_1"]["systemuserid"] == "id-ann"
    assert "email" in coaches["usr_1"]["reason"]
    assert coaches["usr_2"]["status"] == "matched"
    assert coaches["usr_2"]["systemuserid"] == "id-bob"
    assert "UPN" in coaches["usr_2"]["reason"]


def test_disabled_and_unmatched_coaches_are_listed_with_a_reason() -> None:
    result = resolve_owners(COACHES, USERS)
    coaches = result.section["coaches"]
    assert coaches["usr_3"]["status"] == "disabled"
    assert coaches["usr_3"]["systemuserid"] is None
    assert "disabled" in coaches["usr_3"]["reason"]
    assert coaches["usr_4"]["status"] == "unmatched"
    assert "nobody@practice.example" in coaches["usr_4"]["reason"]
    assert coaches["usr_5"]["status"] == "unmatched"
    assert "no email" in coaches["usr_5"]["reason"]
    assert "not in the users file" in coaches["usr_5"]["reason"]
    assert result.unresolved == ["usr_3", "usr_4", "usr_5"]
    assert result.counts() == {"matched": 2, "disabled": 1, "unmatched": 2}
    assert not result.issues


def test_fallback_owns_the_coaches_without_a_user() -> None:
    result = resolve_owners(COACHES, USERS, current={"fallback": "ADMIN@corp.onmicrosoft.com"})
    assert result.section["fallback_id"] == "id-adm"
    coaches = result.section["coaches"]
    assert coaches["usr_3"]["status"] == "fallback"
    assert coaches["usr_4"]["status"] == "fallback"
    assert coaches["usr_1"]["status"] == "matched"
    assert result.unresolved == []


def test_explicit_user_by_email_or_upn() -> None:
    current = {
        "coaches": {
            "usr_3": {"user": "admin@practice.example", "status": "disabled"},
            "usr_4": {"user": "ann@corp.onmicrosoft.com", "status": "unmatched"},
        }
    }
    coaches = resolve_owners(COACHES, USERS, current=current).section["coaches"]
    assert coaches["usr_3"]["status"] == "explicit"
    assert coaches["usr_3"]["systemuserid"] == "id-adm"
    assert coaches["usr_4"]["status"] == "explicit"
    assert coaches["usr_4"]["systemuserid"] == "id-ann"


def test_matched_user_written_back_unchanged_stays_matched() -> None:
    first = resolve_owners(COACHES, USERS).section
    again = resolve_owners(COACHES, USERS, current=first).section
    assert again == first


def test_a_changed_user_on_a_matched_coach_is_explicit() -> None:
    first = resolve_owners(COACHES, USERS).section
    first["coaches"]["usr_1"]["user"] = "bob@other.example"
    coaches = resolve_owners(COACHES, USERS, current=first).section["coaches"]
    assert coaches["usr_1"]["status"] == "explicit"
    assert coaches["usr_1"]["systemuserid"] == "id-bob"


def test_unknown_or_disabled_users_the_person_names_are_errors_with_their_place() -> None:
    current = {
        "fallback": "ghost@practice.example",
        "coaches": {
            "usr_1": {"user": "old@practice.example"},
            "usr_4": {"user": "ghost@practice.example"},
        },
    }
    result = resolve_owners(COACHES, USERS, current=current)
    paths = {issue.path: issue.message for issue in result.issues}
    assert "not a user of the tenant" in paths[("owners", "fallback")]
    assert "disabled" in paths[("owners", "coaches", "usr_1", "user")]
    assert "not a user" in paths[("owners", "coaches", "usr_4", "user")]
    assert result.section["fallback_id"] is None
    assert result.section["coaches"]["usr_1"]["systemuserid"] is None


def test_the_section_parses_into_owners_and_owner_of() -> None:
    section = resolve_owners(COACHES, USERS, current={"fallback": "admin@practice.example"}).section
    doc = MapDocument.from_plain({"targets": {}, "owners": section})
    spec, _ = doc.parse()
    assert spec is not None
    assert spec.owners.owner_of("usr_1") == "id-ann"
    assert spec.owners.owner_of("usr_4") == "id-adm"
    assert spec.owners.unresolved() == []
    assert [c.coach_id for c in coaches_from_section(section)] == [c.coach_id for c in COACHES]


# ---------------------------------------------------------------------------
# Against the emulator and a generated bundle


def test_fetch_system_users_from_the_tenant() -> None:
    with EmulatorApp() as app, embedded_client(app) as client:
        users = {u.internalemailaddress: u for u in fetch_system_users(client)}
    assert users["casey.coach@crmferry.onmicrosoft.com"].isdisabled is False
    assert users["former.coach@crmferry.onmicrosoft.com"].isdisabled is True


def test_coaches_of_a_bundle_match_tenant_users(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    generate_bundle(out, clients=20, seed=3)
    with open_bundle(out) as bundle:
        users = [u for u in bundle.read("users") if hasattr(u, "email")]
    first = users[0]
    with EmulatorApp() as app, embedded_client(app) as client:
        bu = next(iter(client.query("businessunit", select=["businessunitid"])))
        client.create(
            "systemuser",
            {
                "firstname": "Same",
                "lastname": "Coach",
                "internalemailaddress": "someone.else@corp.example",
                "domainname": str(first.email).upper(),  # the UPN, in another case
                "businessunitid@odata.bind": f"/businessunits({bu['businessunitid']})",
            },
        )
        system_users = fetch_system_users(client)
    with open_bundle(out) as bundle:
        coaches = collect_coaches(bundle)
    result = resolve_owners(coaches, system_users)
    entry = result.section["coaches"][first.id]
    assert entry["status"] == "matched"
    assert "UPN" in entry["reason"]
    assert {c.coach_id for c in coaches} >= {u.id for u in users}


def test_coach_emails_on_clients_become_coaches(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    generate_bundle(out, clients=20, seed=3)
    path = out / "clients.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    if "coach_email" not in header:
        header.append("coach_email")
        for r in rows[1:]:
            r.append("")
    ci, ei = header.index("coach_id"), header.index("coach_email")
    rows[1][ci], rows[1][ei] = "", "New.Coach@Example.com"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with open_bundle(out) as bundle:
        coaches = {c.coach_id: c for c in collect_coaches(bundle)}
    coach = coaches["new.coach@example.com"]
    assert coach.in_users is False
    assert coach.email == "New.Coach@Example.com"
    assert coach.rows == 1


@pytest.mark.parametrize(
    "address", ["casey.coach@crmferry.onmicrosoft.com", "CASEY.COACH@CRMFERRY.ONMICROSOFT.COM"]
)
def test_seeded_users_resolve_as_fallback(address: str) -> None:
    with EmulatorApp() as app, embedded_client(app) as client:
        users = fetch_system_users(client)
    result = resolve_owners(
        [Coach("c", "former.coach@crmferry.onmicrosoft.com")], users, current={"fallback": address}
    )
    assert result.section["coaches"]["c"]["status"] == "fallback"
    assert result.section["fallback_id"]


def test_a_matched_user_disabled_later_becomes_disabled_not_explicit() -> None:
    first = resolve_owners(COACHES, USERS).section
    users = [replace(u, isdisabled=True) if u.systemuserid == "id-ann" else u for u in USERS]
    result = resolve_owners(COACHES, users, current=first)
    assert result.section["coaches"]["usr_1"]["status"] == "disabled"
    assert not result.issues
