"""Running a planned FetchXML query: the entity's rows, joined with each link-entity, kept by
the filters and sorted.

A result row is a *tuple*: each node's alias to the stored row it contributes (None where an
outer join found nothing). Joins are SQL's, in document order, each against the tuples so far:
``inner`` keeps a tuple once per matching row, ``outer`` keeps it (with None) when none
matches. A link-entity's own filter is part of its join; the entity's filter is the query's
``WHERE``, tested before the joins unless a condition names a link-entity (``entityname``),
which is then tested after them ("the filter will be applied with the join unless you
configure the filter to occur after the join", Filter rows using FetchXml,
https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/filter-rows).

Sorting follows Order rows using FetchXml
(https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/order-rows): a lookup
sorts by the primary name of the row it points to, a choice by its label (by its value with
``useraworderby``), text ignoring case; nulls first ascending and last descending, as SQL
Server sorts them; the primary key last.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from crm_ferry.emulator import tenant
from crm_ferry.emulator.conditions import ConditionError, Context, is_number
from crm_ferry.emulator.fetchxml import errors
from crm_ferry.emulator.fetchxml.plan import BoundCondition, BoundFilter, BoundNode, Plan, SortKey
from crm_ferry.emulator.records.rows import LOOKUP_TYPES, TYPE_SUFFIX, all_rows, fetch_row
from crm_ferry.emulator.schema import AttributeDef
from crm_ferry.emulator.state import TenantState

Row = dict[str, Any]
Tuple = dict[str, Row | None]

_CHOICES = ("Picklist", "State", "Status", "Boolean")


def run(em: TenantState, plan: Plan, context: Context) -> list[Tuple]:
    """The tuples the query selects, sorted (aggregate queries: unsorted, grouped later)."""
    root = plan.root
    early = root.filter if not plan.late_filter else None
    rows: Iterable[Row] = _rows(em, root)
    if early is not None:
        rows = (r for r in rows if _test(early, {root.alias: r}, context))
    tuples: list[Tuple] = [{root.alias: r} for r in rows]
    for link in _depth_first(root):
        tuples = _join(em, tuples, link, context)
    if plan.late_filter and root.filter is not None:
        tuples = [t for t in tuples if _test(root.filter, t, context)]
    if not plan.fetch.aggregate:
        tuples = sort(em, plan, tuples)
    return tuples


def _rows(em: TenantState, node: BoundNode) -> Iterable[Row]:
    table = node.entity.logical_name
    if table in tenant.VIRTUAL_TABLES:
        return list(all_rows(em, table))
    return em.store.rows_after(table, None)


def _depth_first(node: BoundNode) -> Iterator[BoundNode]:
    for link in node.links:
        yield link
        yield from _depth_first(link)


# ---------------------------------------------------------------------------------------------
# Filters


def _test(flt: BoundFilter, t: Tuple, context: Context) -> bool:
    return _value(flt, t, context) is True


def _value(flt: BoundFilter, t: Tuple, context: Context) -> bool | None:
    """Three-valued, as SQL: ``and`` is false if any part is, ``or`` true if any part is (a
    filter without conditions keeps every row)."""
    if not flt.items:
        return True
    unknown = False
    for item in flt.items:
        result = (
            _condition(item, t, context)
            if isinstance(item, BoundCondition)
            else _value(item, t, context)
        )
        if result is None:
            unknown = True
        elif result is (flt.type == "or"):
            return result
    return None if unknown else flt.type == "and"


def _condition(cond: BoundCondition, t: Tuple, context: Context) -> bool | None:
    row = t.get(cond.alias)
    value = row.get(cond.attr.logical_name) if row is not None else None
    try:
        return cond.op.check(value, cond.operands, context)
    except ConditionError as exc:
        raise errors.invalid(errors.BAD_CONDITION, exc.message) from None


# ---------------------------------------------------------------------------------------------
# Joins


def join_key(value: Any) -> Any:
    """What two joined columns are compared by: text ignoring case (GUIDs are stored in lower
    case), numbers as numbers."""
    if isinstance(value, str):
        return value.casefold()
    if is_number(value):
        return Decimal(value).normalize()
    return value


def _join(em: TenantState, tuples: list[Tuple], link: BoundNode, context: Context) -> list[Tuple]:
    assert link.parent is not None
    assert link.to_attr is not None
    found = _Matches(em, link, context)
    out: list[Tuple] = []
    for t in tuples:
        parent = t.get(link.parent.alias)
        value = parent.get(link.to_attr.logical_name) if parent is not None else None
        matches = found.of(value) if value is not None else []
        if matches:
            out.extend({**t, link.alias: m} for m in matches)
        elif link.outer:
            out.append({**t, link.alias: None})
    return out


class _Matches:
    """The rows of a link-entity's table a value joins with (those its own filter keeps):
    by primary key when it joins on the key, else through an index of the table built once."""

    def __init__(self, em: TenantState, link: BoundNode, context: Context) -> None:
        assert link.from_attr is not None
        self.em = em
        self.link = link
        self.context = context
        self.column = link.from_attr.logical_name
        self.by_key = self.column == link.entity.primary_id
        self.index: dict[Any, list[Row]] | None = None
        self.cache: dict[Any, list[Row]] = {}

    def of(self, value: Any) -> list[Row]:
        key = join_key(value)
        if self.by_key:
            if key not in self.cache:
                row = fetch_row(self.em, self.link.entity.logical_name, str(value).lower())
                self.cache[key] = [row] if row is not None and self._keeps(row) else []
            return self.cache[key]
        if self.index is None:
            self.index = {}
            for row in _rows(self.em, self.link):
                own = row.get(self.column)
                if own is not None and self._keeps(row):
                    self.index.setdefault(join_key(own), []).append(row)
        return self.index.get(key, [])

    def _keeps(self, row: Row) -> bool:
        flt = self.link.filter
        return flt is None or _test(flt, {self.link.alias: row}, self.context)


# ---------------------------------------------------------------------------------------------
# Sorting


def sort(em: TenantState, plan: Plan, tuples: list[Tuple]) -> list[Tuple]:
    """``tuples`` in the query's order, then by the entity's primary key."""
    root = plan.root
    pk = root.entity.attribute(root.entity.primary_id)
    keys = list(plan.sort)
    if pk is not None and not plan.fetch.distinct:
        keys.append(SortKey(False, alias=root.alias, attr=pk))
    names: dict[tuple[Any, Any], str | None] = {}
    result = list(tuples)
    for key in reversed(keys):
        assert key.alias is not None
        assert key.attr is not None
        alias, attr = key.alias, key.attr

        def by(t: Tuple, alias: str = alias, attr: AttributeDef = attr) -> tuple[int, Any]:
            row = t.get(alias)
            value = row.get(attr.logical_name) if row is not None else None
            return sort_value(em, attr, value, row, names, raw=plan.fetch.raw_order)

        result.sort(key=by, reverse=key.descending)
    return result


def sort_value(
    em: TenantState,
    attr: AttributeDef,
    value: Any,
    row: Row | None,
    names: dict[tuple[Any, Any], str | None],
    *,
    raw: bool,
) -> tuple[int, Any]:
    """A column's value as it sorts: ``(0, 0)`` for null, else ``(1, comparable)``."""
    if value is None:
        return (0, 0)
    if attr.type in LOOKUP_TYPES:
        table = (row or {}).get(attr.logical_name + TYPE_SUFFIX) or (attr.targets or ("",))[0]
        if (table, value) not in names:
            names[(table, value)] = primary_name(em, table, str(value))
        name = names[(table, value)]
        return (0, 0) if name is None else (1, name.casefold())
    if attr.type in _CHOICES and attr.option_set is not None and not raw:
        option = attr.option_set.option(int(value))
        return (1, option.label.casefold()) if option is not None else (1, str(value))
    if isinstance(value, bool):
        return (1, int(value))
    if is_number(value):
        return (1, Decimal(value))
    if isinstance(value, str):
        return (1, value.casefold())
    return (1, value)


def primary_name(em: TenantState, table: str, row_id: str) -> str | None:
    """The primary name of a row (None when it has none, or is gone)."""
    target = em.schema.entity(table) if table else None
    if target is None or not target.primary_name:
        return None
    row = fetch_row(em, table, row_id)
    name = row.get(target.primary_name) if row is not None else None
    return None if name is None else str(name)


__all__ = ["Row", "Tuple", "join_key", "primary_name", "run", "sort", "sort_value"]
