"""Client groups (``generate_bundle(..., groups=True)``): ``groups.csv`` and
``group_members.csv``.

Three groups, each with tags, some of them the clients' own in another spelling:
"Leadership cohort 2024" (``Leadership``, ``cohort-2024``), "Wellness circle" (``wellness``,
``self-care``) and "Alumni 2023" (``alumni``, ``Leadership``). About one client in ten joins
each (the first client always joins all three, the second the circle, the third the
alumni), drawn from a random stream of its own, so the rest of the bundle is the
same bytes with or without groups. The members of the cohort and the circle are in their
``members`` column, the alumni's in ``group_members.csv`` (long form), and every third of
the cohort's in both (a union: they count once). The circle also lists a client id no
client has (planted: ``groups.members -> clients``).

The ground truth gives every member's effective tags, worked out here by the rule (its own
tags, then its groups' in group id order, without a tag already there, ignoring case).
"""

from __future__ import annotations

import random
from typing import Any

from crm_ferry.sources.generator._io import CsvOut
from crm_ferry.sources.generator._state import PracticeState

GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("grp_01", "Leadership cohort 2024", ("Leadership", "cohort-2024")),
    ("grp_02", "Wellness circle", ("wellness", "self-care")),
    ("grp_03", "Alumni 2023", ("alumni", "Leadership")),
)
"""id, name and tags of every group, in group id order."""
JOIN_SHARE = 0.1
LONG_FORM = "grp_03"
"""The group whose members are given in ``group_members.csv`` only."""
GROUP_FIELDS = ("id", "name", "tags", "members", "created_at")
MEMBER_FIELDS = ("group_id", "client_id")


class ClientGroups(PracticeState):
    """Collects the members of each group as the clients are written, and writes the
    groups once every client is."""

    def _groups_setup(self, enabled: bool) -> None:
        self.with_groups = enabled
        self.groups_rng = random.Random(f"crm-ferry:{self.seed}:groups")
        self.members: dict[str, list[str]] = {gid: [] for gid, _, _ in GROUPS}
        self.own_tags: dict[str, tuple[str, ...]] = {}
        self._joined = 0

    def _join_groups(self, cid: str, tags: list[str]) -> None:
        if not self.with_groups:
            return
        first = self._joined
        self._joined += 1
        joined = False
        for n, (gid, _, _) in enumerate(GROUPS):
            if first == 0 or first == n or self.groups_rng.random() < JOIN_SHARE:
                self.members[gid].append(cid)
                joined = True
        if joined:
            self.own_tags[cid] = tuple(tags)

    def _write_groups(self) -> None:
        """``groups.csv`` and ``group_members.csv``, and the members' effective tags."""
        if not self.with_groups:
            return
        ghost = self.missing_id("cli")
        self.truth.dangle("groups.members -> clients", "grp_02")
        groups = CsvOut(self.root / "groups.csv", GROUP_FIELDS)
        long_form = CsvOut(self.root / "group_members.csv", MEMBER_FIELDS)
        for gid, name, tags in GROUPS:
            listed = self.members[gid]
            column: list[str] = [] if gid == LONG_FORM else list(listed)
            if gid == "grp_02":
                column.append(ghost)
            if gid == LONG_FORM or gid == "grp_01":
                for k, cid in enumerate(listed):
                    if gid == LONG_FORM or k % 3 == 0:
                        long_form.write({"group_id": gid, "client_id": cid})
            row: dict[str, Any] = {
                "id": gid,
                "name": name,
                "tags": ";".join(tags),
                "members": ";".join(column) or None,
                "created_at": self.start,
            }
            groups.write(row)
        groups.close()
        long_form.close()
        self.counts["groups"] = groups.count
        self.counts["group_members"] = long_form.count

    def groups_truth(self) -> dict[str, Any]:
        """Every member's effective tags, and what the groups added."""
        member_sets = {gid: set(ids) for gid, ids in self.members.items()}
        effective: dict[str, list[str]] = {}
        clients = added = 0
        for cid, own in self.own_tags.items():
            tags = list(own)
            seen = {t.lower() for t in tags}
            for gid, _, group_tags in GROUPS:
                if cid not in member_sets[gid]:
                    continue
                for tag in group_tags:
                    if tag.lower() not in seen:
                        seen.add(tag.lower())
                        tags.append(tag)
            effective[cid] = tags
            added += len(tags) - len(own)
            clients += len(tags) > len(own)
        return {"effective_tags": effective, "clients_gained": clients, "tags_added": added}
