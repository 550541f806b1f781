"""Navigation properties and the rows they lead to, and the intersect rows of many-to-many
relationships.

A table's navigation property is one of three kinds (:class:`Navigation`):

- ``single``: the single-valued property of a lookup (``primarycontactid``,
  ``parentcustomerid_account``), one row of the target table or none;
- ``collection``: the collection-valued property of a one-to-many relationship on its
  referenced table (``contact_customer_accounts``): the rows whose lookup points here;
- ``many``: the collection-valued property of a many-to-many relationship on either of its
  tables (``teammembership_association``): the rows paired with this one in the
  relationship's intersect table.

Intersect rows are stored like any row, under the intersect table's name, with a
deterministic id per pair (so a pair is stored once and found without a search); their two
columns are the two tables' primary keys. They are not a table of the schema: Dataverse
exposes no operation on them but through the navigation properties ("You can't work with
entity types that represent intersect tables directly",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-navigation-properties).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from crm_ferry.emulator import tenant
from crm_ferry.emulator.records.rows import TYPE_SUFFIX, fetch_row
from crm_ferry.emulator.schema import EntityDef, ManyToManyRelationshipDef, RelationshipDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import PAYLOAD_ERROR, Fault, duplicate_record

NavKind = Literal["single", "collection", "many"]


@dataclass(frozen=True, slots=True)
class Navigation:
    """One navigation property of ``source``, leading to rows of ``target``."""

    name: str
    kind: NavKind
    source: EntityDef
    target: EntityDef
    one_to_many: RelationshipDef | None = None
    """The relationship of a ``single`` or ``collection`` property."""
    many_to_many: ManyToManyRelationshipDef | None = None
    """The relationship of a ``many`` property."""

    @property
    def is_collection(self) -> bool:
        return self.kind != "single"

    @property
    def lookup(self) -> str:
        """The lookup column behind a ``single`` or ``collection`` property (on the
        referencing table)."""
        assert self.one_to_many is not None
        return self.one_to_many.referencing_attribute


def navigation(em: TenantState, entity: EntityDef, name: str) -> Navigation | None:
    """The navigation property ``name`` of ``entity`` (case-sensitive), or None."""
    schema = em.schema
    single = schema.navigation(entity.logical_name, name)
    if single is not None:
        target = schema.entity(single.referenced_entity)
        if target is None:
            return None
        return Navigation(name, "single", entity, target, one_to_many=single)
    collection = schema.collection_navigation(entity.logical_name, name)
    if collection is not None:
        child = schema.entity(collection.referencing_entity)
        if child is None:
            return None
        return Navigation(name, "collection", entity, child, one_to_many=collection)
    found = schema.many_to_many_navigation(entity.logical_name, name)
    if found is not None:
        rel, other = found
        target = schema.entity(other)
        if target is None:
            return None
        return Navigation(name, "many", entity, target, many_to_many=rel)
    return None


def expect_target(nav: Navigation, other: EntityDef, what: str = "a reference") -> None:
    """A reference given for ``nav`` names a row of its target table, else 400."""
    if other.logical_name != nav.target.logical_name:
        raise Fault(
            400,
            PAYLOAD_ERROR,
            f"The navigation property '{nav.name}' expects {what} to "
            f"'{nav.target.logical_name}', not to '{other.logical_name}'.",
        )


def related_row(em: TenantState, nav: Navigation, row: dict[str, Any]) -> dict[str, Any] | None:
    """The row a ``single`` property of ``row`` leads to (None when the lookup is empty or
    points to another of a polymorphic lookup's tables)."""
    value = row.get(nav.lookup)
    if value is None:
        return None
    if row.get(nav.lookup + TYPE_SUFFIX) not in (None, nav.target.logical_name):
        return None
    return fetch_row(em, nav.target.logical_name, str(value))


def related_rows(em: TenantState, nav: Navigation, row_id: str) -> list[dict[str, Any]]:
    """The rows a collection-valued property of the row ``row_id`` leads to, in primary id
    order (the order of a table's rows)."""
    target = nav.target.logical_name
    if target in tenant.VIRTUAL_TABLES:
        return []
    if nav.kind == "collection":
        column = nav.lookup
        source = nav.source.logical_name
        return [
            r
            for _, r in em.store.referencing(target, column, row_id)
            if r.get(column + TYPE_SUFFIX) in (None, source)
        ]
    assert nav.many_to_many is not None
    ids = linked_ids(em, nav.many_to_many, nav.source.logical_name, row_id)
    return em.store.get_many(target, ids) if ids else []


def is_related(em: TenantState, nav: Navigation, row_id: str, other_id: str) -> bool:
    """Whether the row ``other_id`` is in the collection ``nav`` of the row ``row_id``."""
    if nav.kind == "many":
        assert nav.many_to_many is not None
        rel = nav.many_to_many
        first, second = _ordered(rel, nav.source.logical_name, row_id, other_id)
        return em.store.exists(rel.intersect_entity, pair_id(rel, first, second))
    other = em.store.get(nav.target.logical_name, other_id)
    if other is None or other.get(nav.lookup) != row_id:
        return False
    return other.get(nav.lookup + TYPE_SUFFIX) in (None, nav.source.logical_name)


# -- intersect rows -------------------------------------------------------------------


def _sides(rel: ManyToManyRelationshipDef, entity: str) -> tuple[str, str]:
    """(this side's column, the other side's column) of the intersect table."""
    if entity == rel.entity1:
        return rel.entity1_attribute, rel.entity2_attribute
    return rel.entity2_attribute, rel.entity1_attribute


def _ordered(
    rel: ManyToManyRelationshipDef, entity: str, row_id: str, other_id: str
) -> tuple[str, str]:
    """(entity1 id, entity2 id) of a pair seen from ``entity``."""
    return (row_id, other_id) if entity == rel.entity1 else (other_id, row_id)


def pair_id(rel: ManyToManyRelationshipDef, entity1_id: str, entity2_id: str) -> str:
    """The intersect row id of a pair: the same pair, the same id."""
    return str(uuid.uuid5(tenant.NAMESPACE, f"{rel.schema_name}/{entity1_id}/{entity2_id}"))


def linked_ids(
    em: TenantState, rel: ManyToManyRelationshipDef, entity: str, row_id: str
) -> list[str]:
    """The ids of the other table's rows paired with ``row_id`` (a row of ``entity``)."""
    mine, theirs = _sides(rel, entity)
    return sorted(
        str(r[theirs]) for _, r in em.store.referencing(rel.intersect_entity, mine, row_id)
    )


def link(
    em: TenantState, rel: ManyToManyRelationshipDef, entity: str, row_id: str, other_id: str
) -> None:
    """Pair two rows (412 DuplicateRecord when they already are: the intersect row's key
    is taken)."""
    first, second = _ordered(rel, entity, row_id, other_id)
    intersect_id = pair_id(rel, first, second)
    if em.store.exists(rel.intersect_entity, intersect_id):
        raise duplicate_record()
    em.store.put(
        rel.intersect_entity,
        intersect_id,
        {
            rel.intersect_id: intersect_id,
            rel.entity1_attribute: first,
            rel.entity2_attribute: second,
            "versionnumber": em.next_version(),
        },
    )
    em.count_records(1)


def unlink(
    em: TenantState, rel: ManyToManyRelationshipDef, entity: str, row_id: str, other_id: str
) -> bool:
    """Unpair two rows; whether they were paired."""
    first, second = _ordered(rel, entity, row_id, other_id)
    removed = em.store.delete(rel.intersect_entity, pair_id(rel, first, second))
    if removed:
        em.count_records(1)
    return removed


def unlink_all(em: TenantState, entity: str, row_id: str) -> None:
    """Remove every pair a deleted row took part in."""
    for rel in em.schema.many_to_many_of(entity):
        mine, _ = _sides(rel, entity)
        for pair, _ in em.store.referencing(rel.intersect_entity, mine, row_id):
            em.store.delete(rel.intersect_entity, pair)


__all__ = [
    "NavKind",
    "Navigation",
    "expect_target",
    "is_related",
    "link",
    "linked_ids",
    "navigation",
    "pair_id",
    "related_row",
    "related_rows",
    "unlink",
    "unlink_all",
]
