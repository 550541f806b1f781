"""Client groups: every client's *effective* tags, its own and those of its groups.

In The Practice a client in a group (a cohort, a circle) has the group's tags; the export
loses that inheritance: ``clients.tags`` holds only the client's own. The groups come as
``groups`` (``id``, ``name``, ``tags``, ``members``: client ids, ``created_at``) and as
``group_members`` in long form (``group_id``, ``client_id``); a group's members are the
union of both.

:class:`GroupIndex` is built once from the accepted rows of both and held in memory, keyed
by client id (groups are small; the clients stream past it). A client's effective tags
(:func:`effective_tags`) are its own first, then the tags of each group it belongs to in
group id order, de-duplicated ignoring case with the first spelling kept. The bundle reader
gives every client it yields its effective tags (:meth:`GroupIndex.applied`), so the map's
profile and value maps, the transform, the sample and verify all see the same tags; the
:class:`GroupTally` of the last read of the clients says what the groups added, for
discovery (:class:`GroupSummary`).

A member id that is no client, or a ``group_members`` row naming no group, changes no
client; discovery reports it as a reference that points nowhere
(``groups.members -> clients``, ``group_members.client_id -> clients``,
``group_members.group_id -> groups``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.model import Client, Group, GroupMember, Record, Reject

__all__ = ["GroupIndex", "GroupSummary", "GroupTally", "effective_tags"]


def effective_tags(own: Sequence[str], groups: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """``own`` then each group's tags, in order, without a tag already there (ignoring
    case: the first spelling is kept)."""
    return _union(own, groups)[0]


def _union(
    own: Sequence[str], groups: Iterable[Sequence[str]]
) -> tuple[tuple[str, ...], list[int]]:
    """:func:`effective_tags`, and how many tags each group added."""
    seen: set[str] = set()
    out: list[str] = []
    added: list[int] = []
    for n, tags in enumerate((own, *groups)):
        before = len(out)
        for tag in tags:
            folded = tag.casefold()
            if folded not in seen:
                seen.add(folded)
                out.append(tag)
        if n:
            added.append(len(out) - before)
    return tuple(out), added


@dataclass(slots=True)
class GroupTally:
    """What the groups added to the clients of one read: clients that gained a tag, tags
    added in all, per group id ``[clients that gained a tag from it, tags it added]`` (a
    tag two groups give is the first group's, in group id order), and per tag the clients
    that gained it."""

    clients: int = 0
    tags: int = 0
    by_group: dict[str, list[int]] = field(default_factory=dict)
    gained: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class GroupLine:
    """One group as discovery shows it: name, members (the union of both forms), tags, and
    what it added in the last read of the clients."""

    id: str
    name: str | None
    members: int
    tags: tuple[str, ...]
    clients_gained: int
    tags_added: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "members": self.members,
            "tags": list(self.tags),
            "clients_gained": self.clients_gained,
            "tags_added": self.tags_added,
        }


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """The groups of a bundle and what they added to its clients' tags."""

    clients_gained: int
    """Clients that gained at least one tag from their groups."""
    tags_added: int
    """Tags added in all (one per client and tag)."""
    groups: tuple[GroupLine, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "clients_gained": self.clients_gained,
            "tags_added": self.tags_added,
            "groups": [g.as_dict() for g in self.groups],
        }


class GroupIndex:
    """The groups of a bundle, in group id order, and the groups of every member."""

    def __init__(self, groups: Iterable[Group], members: Iterable[GroupMember] = ()) -> None:
        self.groups: tuple[Group, ...] = tuple(sorted(groups, key=lambda g: g.id))
        position = {g.id: n for n, g in enumerate(self.groups)}
        member_sets: list[set[str]] = [set(g.members) for g in self.groups]
        for m in members:
            n = position.get(m.group_id)
            if n is not None:  # a row naming no group: discovery reports it
                member_sets[n].add(m.client_id)
        self.members: tuple[int, ...] = tuple(len(s) for s in member_sets)
        """Per group (same order): its members, both forms together."""
        of: dict[str, list[int]] = {}
        for n, ids in enumerate(member_sets):
            for cid in ids:
                of.setdefault(cid, []).append(n)
        self._of: dict[str, tuple[int, ...]] = {cid: tuple(ns) for cid, ns in of.items()}
        self.tally = GroupTally()
        """What the groups added in the last (or ongoing) :meth:`applied` read."""

    @classmethod
    def from_rows(cls, rows: Iterable[Record | Reject]) -> GroupIndex:
        """The index of the accepted ``groups`` and ``group_members`` rows among ``rows``."""
        groups: list[Group] = []
        members: list[GroupMember] = []
        for item in rows:
            if isinstance(item, Group):
                groups.append(item)
            elif isinstance(item, GroupMember):
                members.append(item)
        return cls(groups, members)

    def groups_of(self, client_id: str) -> tuple[Group, ...]:
        """The groups ``client_id`` belongs to, in group id order."""
        return tuple(self.groups[n] for n in self._of.get(client_id, ()))

    def tags_of(self, client: Client) -> tuple[str, ...]:
        """``client``'s effective tags (see :func:`effective_tags`)."""
        return effective_tags(client.tags, (g.tags for g in self.groups_of(client.id)))

    def applied(self, rows: Iterable[Record | Reject]) -> Iterator[Record | Reject]:
        """``rows`` of the clients file, each member client with its effective tags;
        :attr:`tally` counts what was added (started afresh)."""
        self.tally = tally = GroupTally()
        of = self._of
        for item in rows:
            if type(item) is Client and item.id in of:
                item = self._apply(item, tally)
            yield item

    def _apply(self, client: Client, tally: GroupTally) -> Client:
        groups = self.groups_of(client.id)
        tags, added = _union(client.tags, (g.tags for g in groups))
        for group, n in zip(groups, added, strict=True):
            if n:
                counts = tally.by_group.setdefault(group.id, [0, 0])
                counts[0] += 1
                counts[1] += n
        gained = sum(added)
        if gained:
            tally.clients += 1
            tally.tags += gained
            tally.gained.update(tags[-gained:])
        return client if tags == client.tags else dataclasses.replace(client, tags=tags)

    def summary(self) -> GroupSummary:
        """The groups and what they added in the last read of the clients."""
        tally = self.tally
        return GroupSummary(
            clients_gained=tally.clients,
            tags_added=tally.tags,
            groups=tuple(
                GroupLine(
                    g.id,
                    g.name,
                    self.members[n],
                    g.tags,
                    *tally.by_group.get(g.id, (0, 0)),
                )
                for n, g in enumerate(self.groups)
            ),
        )
