"""Issue 15, point 4: ``map check`` speaks of choices (option sets) by value AND label, and one
mistake is reported once, with a count of what it causes, not once per consequence.

* an option the column lacks, a value without an option yet ("pick one"), a source value the
  value map misses: each lists the column's options as ``1 Accounting, 2 Agriculture …``,
  capped with ``… and N more``;
* a typo in ``owners.fallback``: one error naming the tenant's users, one line counting the
  coaches and rows that needed it, and no advice to run the command being run;
* coaches of the export that ``owners.coaches`` does not list: one error, not one per coach.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.commands.mapping import init, map_propose, read_source
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.emulator import EmulatorApp
from crm_ferry.mapping.check import check_map, option_list
from crm_ferry.mapping.owners import OwnerUsage, SystemUser, fetch_system_users
from crm_ferry.mapping.owners_section import dedupe, refresh_owners
from crm_ferry.mapping.profile import SourceProfile
from crm_ferry.mapping.spec import CoachRef, MapDocument, Problem
from crm_ferry.settings import Settings
from crm_ferry.sources.generator import generate_bundle

FALLBACK = "alex.admin@crmferry.onmicrosoft.com"
TYPO = "alex.admn@crmferry.onmicrosoft.com"


@dataclass
class World:
    client: DataverseClient
    project: Path
    profile: SourceProfile
    usage: OwnerUsage
    users: list[SystemUser]

    def doc(self) -> MapDocument:
        return MapDocument.load(self.project / "mapping.yaml")

    def check(self, doc: MapDocument) -> list[Problem]:
        """What ``map check`` reports (owners re-resolved first, as the command does)."""
        doc, _, owners = refresh_owners(doc, self.users)
        checked = check_map(doc, self.profile, self.client.metadata, usage=self.usage, known=owners)
        return dedupe([*owners, *checked])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A 15-client project proposed against a fresh emulator (no coach is a user there)."""
    root = tmp_path_factory.mktemp("choices") / "project"
    generate_bundle(root / "bundle", clients=15, seed=3)
    init(Settings.load(root, env={}), directory=root, source="bundle")
    project = Settings.load(root, env={})
    with EmulatorApp() as app, embedded_client(app) as client:
        map_propose(project, client=client)
        usage = OwnerUsage()
        profile, _ = read_source(project, usage=usage)
        yield World(client, root, profile, usage, fetch_system_users(client))


def fixed(doc: MapDocument, *, fallback: str | None = FALLBACK) -> MapDocument:
    """The person's review, but for what a test spoils: a fallback, an option for every
    open value."""
    doc.data["owners"]["fallback"] = fallback
    for vm in doc.data["value_maps"].values():
        values = vm.get("values") or {}
        for key in list(values):
            if values[key] is None:
                values[key] = 6
    return doc


def errors(problems: list[Problem]) -> list[str]:
    return [f"{p.path}: {p.message}" for p in problems if p.severity == "error"]


INDUSTRY_HEAD = "1 Accounting, 2 Agriculture and Non-petrol Natural Resource Extraction, "


# ---------------------------------------------------------------------------
# option lists


def test_the_reviewed_map_checks_clean(world: World) -> None:
    assert errors(world.check(fixed(world.doc()))) == []


def test_an_option_the_column_lacks_is_listed_with_the_labels(world: World) -> None:
    doc = fixed(world.doc())
    doc.data["value_maps"]["vertical"]["values"]["accounting"] = 999
    (error,) = errors(world.check(doc))
    assert error.startswith(
        "value_maps.vertical.values.accounting: option 999 is not a choice of "
        f"account.industrycode; known: {INDUSTRY_HEAD}"
    )
    assert re.search(r"… and \d+ more", error)
    assert "33 Wholesale" not in error  # capped: 33 options would not read


def test_a_value_without_an_option_lists_the_candidates_with_labels(world: World) -> None:
    doc = fixed(world.doc())
    doc.data["value_maps"]["vertical"]["values"]["financial"] = None
    (error,) = errors(world.check(doc))
    assert error.startswith("value_maps.vertical.values.financial: has no option value yet; ")
    assert "pick one of account.industrycode: 16 Financial, " in error  # the closest first
    assert re.search(r"… and \d+ more", error)


def test_a_source_value_the_map_misses_lists_the_options(world: World) -> None:
    doc = fixed(world.doc())
    del doc.data["value_maps"]["gender"]["values"]["female"]
    doc.data["value_maps"]["gender"]["policy"] = "fail"
    found = [e for e in errors(world.check(doc)) if "'female'" in e]
    assert len(found) == 1, found
    assert "has no option" in found[0]
    assert "contact.gendercode: 2 Female, 1 Male" in found[0]


@settings(max_examples=60, deadline=None)
@given(
    options=st.dictionaries(
        st.integers(min_value=0, max_value=2_000_000_000),
        st.text(min_size=1, max_size=40).filter(str.strip),
        max_size=60,
    ),
    cap=st.integers(min_value=1, max_value=15),
)
def test_an_option_list_shows_value_and_label_and_counts_the_rest(
    options: dict[int, str], cap: int
) -> None:
    text = option_list(options, cap=cap)
    if not options:
        assert text == "none"
        return
    shown = sorted(options)[:cap]
    for value in shown:
        assert f"{value} {' '.join(options[value].split())}" in text
    rest = len(options) - len(shown)
    assert text.endswith(f"… and {rest} more") == (rest > 0)


# ---------------------------------------------------------------------------
# one root cause, one line of consequences


def test_a_typo_in_the_fallback_is_one_error_and_one_count(world: World) -> None:
    problems = world.check(fixed(world.doc(), fallback=TYPO))
    (error,) = errors(problems)
    assert error.startswith(
        f"owners.fallback: {TYPO!r} is not a user of the tenant (no such e-mail or UPN); "
        f"users: {FALLBACK} (Alex Admin), "  # the closest first
    )
    assert "casey.coach@crmferry.onmicrosoft.com (Casey Coach)" in error
    assert "former.coach" not in error  # disabled: it cannot own records
    assert not [p for p in problems if "`crm-ferry map check`" in p.message]
    consequences = [p.message for p in problems if p.message.startswith("because owners.fallback")]
    coaches = sum(1 for c in world.doc().data["owners"]["coaches"])
    owned = sum(sum(world.usage.of(obj).values()) for obj in world.usage.rows)
    assert len(consequences) == 1, consequences
    assert f"{coaches} coach(es) have no usable owner" in consequences[0]
    assert f"migrate would reject {owned} row(s)" in consequences[0]


@settings(max_examples=4, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz.@-_", min_size=1, max_size=30))
def test_any_fallback_that_is_not_a_user_is_reported_once(world: World, name: str) -> None:
    """Whatever the person typed: one error at owners.fallback, whatever the coaches."""
    if name.strip().lower() == FALLBACK:
        return
    problems = world.check(fixed(world.doc(), fallback=name))
    owner_errors = [e for e in errors(problems) if e.startswith("owners.")]
    assert len(owner_errors) == 1, owner_errors
    assert owner_errors[0].startswith("owners.fallback: ")
    assert "users: " in owner_errors[0]


def test_coaches_the_map_does_not_list_are_one_error(world: World) -> None:
    """The export names coaches owners.coaches lacks (e.g. the section was pruned): one
    error naming them and their rows, not one per coach."""
    doc = fixed(world.doc(), fallback=None)
    coaches = doc.data["owners"]["coaches"]
    for cid in list(coaches):
        del coaches[cid]
    named = {ref for obj in world.usage.rows for ref in world.usage.of(obj) if ref != CoachRef()}
    assert len(named) > 3
    found = [e for e in errors(world.check(doc)) if "owners.coaches does not list" in e]
    assert len(found) == 1, found
    assert f"{len(named)} coach(es)" in found[0]


class _Options:
    """Metadata whose one Picklist column has the given options."""

    def __init__(self, options: dict[int, str]) -> None:
        self.options = options

    def has_table(self, table: str) -> bool:
        return True

    def columns(self, table: str) -> dict[str, ColumnInfo]:
        return {"industrycode": ColumnInfo("industrycode", "Picklist", options=self.options)}


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.integers(min_value=1, max_value=999),
        st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=12).filter(str.strip),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=1000, max_value=5000),
)
def test_every_unknown_option_message_names_labels(options: dict[int, str], bad: int) -> None:
    """Over option sets of any size: the message lists value and label, capped."""
    doc = MapDocument.from_plain(
        {
            "version": 1,
            "status": "proposed",
            "targets": {
                "account": {
                    "source": "clients",
                    "table": "account",
                    "fields": {"vertical": {"column": "industrycode", "value_map": "v"}},
                }
            },
            "value_maps": {"v": {"policy": "fail", "values": {"x": bad}}},
        }
    )
    found = [p.message for p in check_map(doc, None, _Options(options)) if p.path.endswith(".x")]
    assert len(found) == 1, found
    assert found[0].startswith(f"option {bad} is not a choice of account.industrycode; known: ")
    assert found[0].endswith(option_list(options))
    first = min(options)
    assert f"{first} {' '.join(options[first].split())}" in found[0]
