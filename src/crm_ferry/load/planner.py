"""The load order: roles sorted so that every lookup points to a row already written.

The order comes from the map, not from a fixed list: each role depends on the roles whose
tables its mapped lookups reference. A cycle is an error that names it, except the links
the transform writes in a second pass (``account.primarycontactid`` ↔
``contact.parentcustomerid``), which are not mapped as fields and so never form one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from crm_ferry.errors import MapError
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.transform.roles.sharepoint import ROLES as SHAREPOINT_ROLES

LOOKUP_TYPES = frozenset({"Lookup", "Customer"})

DEFAULT_ROLE_ORDER: tuple[str, ...] = (
    "household",
    "account",
    "contact",
    "service_type",
    "session",
    "note",
    "invoice",
    "invoice_line",
    "payment",
    "opportunity",
    "activity_call",
    "activity_email",
    "activity_meeting",
    "attachment",
)
"""The object map's load order, used to break ties between independent roles."""

LookupTargets = Callable[[str, str], Sequence[str]]
"""``(table, lookup column) -> referenced tables`` (from metadata or the map's create spec)."""


@dataclass(frozen=True, slots=True)
class LoadPlan:
    roles: tuple[str, ...]
    depends: Mapping[str, tuple[str, ...]]

    def rank(self, role: str) -> int:
        """The role's place in the load order; SharePoint's roles come after every mapped
        one, site, library, folder, file (each needs the one before)."""
        if role in self.roles:
            return self.roles.index(role)
        if role in SHAREPOINT_ROLES:
            return len(self.roles) + 1 + SHAREPOINT_ROLES.index(role)
        return len(self.roles)

    def as_dict(self) -> dict[str, object]:
        return {"order": list(self.roles), "depends": {k: list(v) for k, v in self.depends.items()}}


def plan_order(spec: MappingSpec, lookup_targets: LookupTargets) -> LoadPlan:
    """Roles of the enabled targets in dependency order (ties broken by the default order)."""
    targets = {role: t for role, t in spec.targets.items() if t.enabled}
    by_table: dict[str, list[str]] = {}
    for role, t in targets.items():
        by_table.setdefault(t.table, []).append(role)
    depends: dict[str, set[str]] = {role: set() for role in targets}
    for role, t in targets.items():
        for fm in t.mapped():
            if fm.type not in LOOKUP_TYPES or fm.column is None:
                continue
            refs = (
                [fm.create.target_table]
                if fm.create is not None and fm.create.target_table
                else list(lookup_targets(t.table, fm.column))
            )
            for ref in refs:
                for other in by_table.get(ref, []):
                    if other != role and ref != t.table:
                        depends[role].add(other)
    # Rows of one table written by two roles (household and organization accounts) do not
    # depend on each other; a role that references its own table (a parent account)
    # is written in the same pass by the service's own ordering of the batch.
    default_rank = {r: i for i, r in enumerate(DEFAULT_ROLE_ORDER)}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(role: str, path: list[str]) -> None:
        if state.get(role) == 2:
            return
        if state.get(role) == 1:
            cycle = [*path[path.index(role) :], role]
            raise MapError(
                "the map's lookups form a cycle: " + " → ".join(cycle),
                hint="map one of these lookups to nothing; crm-ferry links it in a second pass",
            )
        state[role] = 1
        for dep in sorted(depends[role], key=lambda r: (default_rank.get(r, 99), r)):
            visit(dep, [*path, role])
        state[role] = 2
        order.append(role)

    for role in sorted(targets, key=lambda r: (default_rank.get(r, 99), r)):
        visit(role, [])
    return LoadPlan(tuple(order), {r: tuple(sorted(d)) for r, d in depends.items()})
