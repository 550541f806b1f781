"""Client groups: the reader gives each client its effective tags (its own, then its groups'
in group id order, without a tag twice ignoring case); members come from ``groups.members``
and ``group_members`` together; a member that is no client is a reference that points
nowhere; discovery counts what the groups added."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crm_ferry.cli import cli
from crm_ferry.model import Client, Group, GroupMember, Provenance, Reject
from crm_ferry.sources import open_bundle
from crm_ferry.sources.discover import discover_source
from crm_ferry.sources.groups import GroupIndex, effective_tags

P = Provenance("groups.csv", 2)
CLIENTS = (
    "id,first_name,last_name,tags\n"
    "C1,Ann,Lee,vip;leadership\n"
    "C2,Bo,Lee,\n"
    "C3,Cy,Moe,wellness\n"
    "C4,Di,Noe,alumni\n"
)


def test_own_tags_first_then_groups_in_id_order_without_case_duplicates() -> None:
    assert effective_tags(("vip", "Leadership"), [("leadership", "Cohort"), ("VIP", "cohort")]) == (
        "vip",
        "Leadership",
        "Cohort",
    )
    assert effective_tags((), [("b", "a"), ("a", "c")]) == ("b", "a", "c")
    assert effective_tags(("x",), []) == ("x",)


def test_the_index_sorts_groups_by_id_and_unions_both_forms() -> None:
    groups = [
        Group(
            id="g2", provenance=P, name="Circle", tags=("wellness", "Self-care"), members=("C1",)
        ),
        Group(id="g1", provenance=P, name="Cohort", tags=("Leadership",), members=("C1", "C2")),
    ]
    members = [
        GroupMember(id="g2/C2", provenance=P, group_id="g2", client_id="C2"),
        GroupMember(id="g1/C1", provenance=P, group_id="g1", client_id="C1"),  # in both
        GroupMember(id="g9/C3", provenance=P, group_id="g9", client_id="C3"),  # no such group
    ]
    index = GroupIndex(groups, members)
    assert [g.id for g in index.groups] == ["g1", "g2"]
    assert index.members == (2, 2)
    assert [g.id for g in index.groups_of("C1")] == ["g1", "g2"]
    assert index.groups_of("C3") == ()
    client = Client(id="C1", provenance=P, type="individual", tags=("WELLNESS",))
    assert index.tags_of(client) == ("WELLNESS", "Leadership", "Self-care")


def test_the_reader_gives_every_member_its_effective_tags(make_bundle) -> None:
    root = make_bundle(
        **{
            "clients.csv": CLIENTS,
            "groups.csv": (
                "Group ID,Group Name,Tags,Members\n"
                "G2,Wellness circle,wellness;self-care,C3;C1\n"
                "G1,Leadership cohort,Leadership;cohort-2024,C1;C9\n"
            ),
            "group_members.csv": "Group ID,Client ID\nG1,C2\nG1,C1\n",
        }
    )
    with open_bundle(root) as bundle:
        tags = {c.id: c.tags for c in bundle.read("clients") if isinstance(c, Client)}
        tally = bundle.groups.tally if bundle.groups is not None else None
    assert tags == {
        "C1": ("vip", "leadership", "cohort-2024", "wellness", "self-care"),
        "C2": ("Leadership", "cohort-2024"),
        "C3": ("wellness", "self-care"),
        "C4": ("alumni",),  # in no group: its own
    }
    assert tally is not None
    assert (tally.clients, tally.tags) == (3, 6)
    assert tally.by_group == {"G1": [2, 3], "G2": [2, 3]}


def test_json_groups_with_lists_and_aliases(make_bundle) -> None:
    groups = [{"ID": "G1", "Name": "Cohort", "tags": ["Leadership"], "Client IDs": ["C2"]}]
    root = make_bundle(**{"clients.csv": CLIENTS, "groups.json": json.dumps(groups)})
    with open_bundle(root) as bundle:
        (group,) = bundle.read("groups")
        c2 = next(c for c in bundle.read("clients") if isinstance(c, Client) and c.id == "C2")
    assert isinstance(group, Group)
    assert (group.name, group.members) == ("Cohort", ("C2",))
    assert c2.tags == ("Leadership",)


def test_bad_rows_are_rejects_with_the_reason(make_bundle) -> None:
    root = make_bundle(
        **{
            "clients.csv": CLIENTS,
            "group_members.csv": "group_id,client_id\nG1,C1\nG1,C1\n,C2\nG1,\n",
            "groups.csv": "id,name,tags\nG1,Cohort,x\n,Nameless,y\n",
        }
    )
    with open_bundle(root) as bundle:
        members = list(bundle.read("group_members"))
        groups = list(bundle.read("groups"))
    reasons = [r.reason for r in members if isinstance(r, Reject)]
    assert reasons == [
        "duplicate group_id and client_id (first seen on line 2)",
        "group_id is required",
        "client_id is required",
    ]
    assert [r.reason for r in groups if isinstance(r, Reject)] == ["id is required"]


def test_discovery_reports_members_that_are_no_client_and_what_the_groups_add(
    make_bundle,
) -> None:
    root = make_bundle(
        **{
            "clients.csv": CLIENTS,
            "groups.csv": "id,name,tags,members\nG1,Cohort,Leadership;Cohort,C1;C9\n",
            "group_members.csv": "group_id,client_id\nG1,C2\nG1,C8\nG7,C3\n",
        }
    )
    found = discover_source(root)
    assert {k: list(d.source_ids) for k, d in found.dangling.items()} == {
        "groups.members -> clients": ["G1"],
        "group_members.group_id -> groups": ["G7/C3"],
        "group_members.client_id -> clients": ["G1/C8"],
    }
    assert found.dangling["groups.members -> clients"].examples == ("groups.csv:2 G1 -> C9",)
    assert found.groups is not None
    assert found.groups.as_dict() == {
        "clients_gained": 2,
        "tags_added": 3,  # C1 has leadership already: it gains Cohort; C2 gains both
        "groups": [
            {
                "id": "G1",
                "name": "Cohort",
                "members": 4,
                "tags": ["Leadership", "Cohort"],
                "clients_gained": 2,
                "tags_added": 3,
            }
        ],
    }


def test_discover_json_has_the_groups_with_numbers_as_numbers(make_bundle, tmp_path: Path) -> None:
    root = make_bundle(
        **{
            "clients.csv": CLIENTS,
            "groups.csv": "id,name,tags,members\nG1,Cohort,Leadership,C2\n",
        }
    )
    res = CliRunner().invoke(cli, ["discover", "--source", str(root), "--no-target", "--json"])
    assert res.exit_code == 0, res.output
    groups = json.loads(res.output)["groups"]
    assert groups["clients_gained"] == 1
    assert groups["groups"][0]["members"] == 1
    shown = CliRunner().invoke(cli, ["discover", "--source", str(root), "--no-target"])
    assert "Client groups: 1 clients gained 1 tags" in shown.output
