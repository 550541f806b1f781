"""``$apply``: grouping and aggregating a table's rows, as Dataverse answers it.

Source: Aggregate data using OData,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data
(and its FetchXML counterpart for the semantics it shares:
https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/aggregate-data).

* The rows the ``filter(...)`` steps match are read once, one by one, and folded into their
  group; more than 50,000 of them fail with ``AggregateQueryRecordLimit exceeded`` (400,
  ``0x8004E023``) before anything is answered.
* Null values aren't considered by the aggregates (a sum of none is 0, an average, minimum
  or maximum of none is null); ``$count`` counts rows. ``countdistinct`` counts different
  non-null values (text compared without case, as the database does).
* A group's null values, like null aggregates, are left out of its object (the "Distinct
  column values" example). Groups come in the order of their values, grouping property by
  grouping property, nulls first. Grouping by ``nav/column`` names the value
  ``<table>_<column>`` (``primarycontactid/fullname`` → ``contact_fullname``).
* ``groupby`` with date and time values is not supported by Dataverse (501 here, no error is
  documented); ``$orderby`` on an aggregate's alias answers the documented "The query node
  SingleValueOpenPropertyAccess is not supported."; ``$orderby`` on grouping properties and
  ``$top`` are applied to the groups. Other options beside ``$apply`` are refused (501).
* With ``Prefer: odata.include-annotations`` the groups' values and the aggregates carry
  formatted values (a count ``"8"``, money ``"$440,000.00"`` in the base currency, a date
  and time in the user's time zone).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from crm_ferry.emulator import odata
from crm_ferry.emulator.records.context import Ctx, json_response
from crm_ferry.emulator.records.formatting import format_number, formatted
from crm_ferry.emulator.records.reads import (
    FORMATTED,
    LOOKUP_ANNOTATION,
    ReadCache,
    filtered,
)
from crm_ferry.emulator.records.rows import LOOKUP_TYPES, TYPE_SUFFIX
from crm_ferry.emulator.schema import AttributeDef, EntityDef, RelationshipDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import NOT_IMPLEMENTED, Fault, unknown_property

AGGREGATE_LIMIT = "0x8004E023"
"""``AggregateQueryRecordLimit`` (-2147164125)."""

NUMERIC = frozenset({"Integer", "BigInt", "Decimal", "Double", "Money"})
WHOLE = frozenset({"Integer", "BigInt"})


def not_implemented(feature: str) -> Fault:
    return Fault(501, NOT_IMPLEMENTED, f"{feature} is not implemented by the emulator.")


@dataclass(slots=True)
class Grouping:
    """One ``groupby`` path resolved against the tables."""

    path: str
    name: str
    """The property the group's value is answered under."""
    attr: AttributeDef
    """The column grouped by (of the related table for ``nav/column``)."""
    rel: RelationshipDef | None = None
    target: EntityDef | None = None
    related: dict[str, Any] = field(default_factory=dict)
    """``nav/column``: the column's value of each related row read so far."""

    @property
    def is_lookup(self) -> bool:
        return self.attr.type in LOOKUP_TYPES

    def value(self, em: TenantState, row: Mapping[str, Any]) -> Any:
        if self.rel is None:
            return row.get(self.attr.logical_name)
        assert self.target is not None
        ref = row.get(self.rel.referencing_attribute)
        if ref is None or row.get(self.rel.referencing_attribute + TYPE_SUFFIX) not in (
            None,
            self.target.logical_name,
        ):
            return None
        key = str(ref)
        if key not in self.related:
            self.related[key] = em.store.value_of(
                self.target.logical_name, key, self.attr.logical_name
            )
        return self.related[key]


@dataclass(slots=True)
class Measure:
    """One aggregate of ``aggregate(...)`` and the column it reads (None for ``$count``)."""

    item: odata.AggregateItem
    attr: AttributeDef | None


@dataclass(slots=True)
class Group:
    """What one group has folded in so far."""

    values: tuple[Any, ...]
    targets: list[Any]
    """For lookup groupings: the table the group's value points to."""
    rows: int = 0
    sums: list[Decimal] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    lows: list[Any] = field(default_factory=list)
    highs: list[Any] = field(default_factory=list)
    distinct: list[set[Any]] = field(default_factory=list)

    @classmethod
    def empty(cls, values: tuple[Any, ...], targets: list[Any], measures: int) -> Group:
        n = measures
        return cls(
            values, targets, 0, [Decimal(0)] * n, [0] * n, [None] * n, [None] * n,
            [set() for _ in range(n)],
        )  # fmt: skip


def _refuse_other_options(opts: odata.QueryOptions) -> None:
    given = [
        name
        for name, present in (
            ("$filter", opts.filter is not None),
            ("$select", opts.select is not None),
            ("$expand", bool(opts.expand)),
            ("$count", opts.count),
            ("$skiptoken", opts.skiptoken is not None),
        )
        if present
    ]
    if given:
        hint = " (filter in $apply=filter(...)/...)" if given[0] == "$filter" else ""
        raise not_implemented(f"The query option {given[0]} together with $apply{hint}")


def _grouping(em: TenantState, cache: ReadCache, entity: EntityDef, path: str) -> Grouping:
    by_prop = cache.shape(em, entity).by_prop
    head, _, rest = path.partition("/")
    if not rest:
        attr = by_prop.get(path)
        if attr is None:
            if em.schema.navigation(entity.logical_name, path) is not None:
                raise not_implemented(
                    f"Grouping by the navigation property '{path}' in $apply (group by "
                    f"_{path}_value or {path}/<column>)"
                )
            raise unknown_property(entity.logical_name, path)
        _groupable(attr, path)
        return Grouping(path, path, attr)
    rel = em.schema.navigation(entity.logical_name, head)
    if rel is None:
        if em.schema.collection_navigation(entity.logical_name, head) is not None:
            raise not_implemented(f"Grouping by the collection-valued navigation '{head}'")
        raise unknown_property(entity.logical_name, head)
    target = em.schema.entity(rel.referenced_entity)
    if "/" in rest or target is None:
        raise not_implemented(f"Grouping by the path '{path}' in $apply (one navigation deep)")
    attr = cache.shape(em, target).by_prop.get(rest)
    if attr is None:
        raise unknown_property(target.logical_name, rest)
    _groupable(attr, path)
    return Grouping(path, f"{target.logical_name}_{attr.logical_name}", attr, rel, target)


def _groupable(attr: AttributeDef, path: str) -> None:
    if attr.type == "DateTime":
        # "groupby with datetime values is not supported" (Aggregate data, note)
        raise not_implemented(
            f"Grouping by the date and time column '{path}' (not supported by Dataverse)"
        )


def _measure(
    em: TenantState, cache: ReadCache, entity: EntityDef, item: odata.AggregateItem
) -> Measure:
    if item.path is None:
        return Measure(item, None)
    if "/" in item.path:
        raise not_implemented(f"Aggregating the related column '{item.path}' in $apply")
    attr = cache.shape(em, entity).by_prop.get(item.path)
    if attr is None:
        raise unknown_property(entity.logical_name, item.path)
    kinds = {
        "sum": NUMERIC,
        "average": NUMERIC,
        "min": NUMERIC | {"DateTime"},
        "max": NUMERIC | {"DateTime"},
    }.get(item.method)
    if kinds is not None and attr.type not in kinds:
        raise odata.ODataError(
            f"The aggregation method '{item.method}' can't be applied to '{item.path}', a "
            f"{attr.type} column; it takes a number{' or date' if 'DateTime' in kinds else ''} "
            "column."
        )
    return Measure(item, attr)


def _key(value: Any) -> Any:
    """How the database tells groups (and distinct values) apart: text without case."""
    return value.casefold() if isinstance(value, str) else value


def _fold(
    groups: dict[tuple[Any, ...], Group],
    measures: list[Measure],
    key: tuple[Any, ...],
    values: tuple[Any, ...],
    targets: list[Any],
    row: Mapping[str, Any],
) -> None:
    group = groups.get(key)
    if group is None:
        group = groups[key] = Group.empty(values, targets, len(measures))
    group.rows += 1
    for i, measure in enumerate(measures):
        if measure.attr is None:
            continue
        value = row.get(measure.attr.logical_name)
        if value is None:
            continue
        method = measure.item.method
        if method in ("sum", "average"):
            group.sums[i] += Decimal(str(value))
            group.counts[i] += 1
        elif method == "min":
            if group.lows[i] is None or value < group.lows[i]:
                group.lows[i] = value
        elif method == "max":
            if group.highs[i] is None or value > group.highs[i]:
                group.highs[i] = value
        else:
            group.distinct[i].add(_key(value))


def _result(measure: Measure, group: Group, i: int) -> Any:
    method, attr = measure.item.method, measure.attr
    if method == "count":
        return group.rows
    if method == "countdistinct":
        return len(group.distinct[i])
    if method == "min":
        return group.lows[i]
    if method == "max":
        return group.highs[i]
    assert attr is not None
    total, n = group.sums[i], group.counts[i]
    if method == "average":
        if not n:
            return None
        mean = total / n
        return int(mean) if attr.type in WHOLE else float(mean)
    return int(total) if attr.type in WHOLE else float(total)


def _fold_rows(
    em: TenantState,
    rows: Iterator[dict[str, Any]],
    groupings: list[Grouping],
    measures: list[Measure],
) -> dict[tuple[Any, ...], Group]:
    groups: dict[tuple[Any, ...], Group] = {}
    limit = em.config.aggregate_record_limit
    for seen, row in enumerate(rows, start=1):
        if seen > limit:
            raise Fault(
                400,
                AGGREGATE_LIMIT,
                "AggregateQueryRecordLimit exceeded. Cannot perform this operation.",
            )
        values = tuple(g.value(em, row) for g in groupings)
        targets = [
            row.get(g.attr.logical_name + TYPE_SUFFIX) if g.is_lookup and g.rel is None else None
            for g in groupings
        ]
        _fold(groups, measures, tuple(_key(v) for v in values), values, targets, row)
    if not groupings and not groups:
        groups[()] = Group.empty((), [], len(measures))  # an aggregate of no rows is one row
    return groups


def _annotate(
    em: TenantState,
    ctx: Ctx,
    cache: ReadCache,
    out: dict[str, Any],
    name: str,
    attr: AttributeDef | None,
    value: Any,
    target: Any = None,
) -> None:
    if value is None:
        return
    if ctx.formatted_values:
        if attr is None:
            text: str | None = format_number(value)
        elif attr.type in LOOKUP_TYPES:
            text = cache.name_of(em, target, value)
        else:
            text = formatted(em, cache.currencies, attr, value)
        if text is not None:
            out[name + FORMATTED] = text
    if ctx.lookup_annotations and attr is not None and attr.type in LOOKUP_TYPES and target:
        out[name + LOOKUP_ANNOTATION] = target
    out[name] = value


def _objects(
    em: TenantState,
    ctx: Ctx,
    cache: ReadCache,
    groups: dict[tuple[Any, ...], Group],
    groupings: list[Grouping],
    measures: list[Measure],
) -> list[dict[str, Any]]:
    ordered = sorted(
        groups.values(),
        key=lambda g: tuple(_group_order(v) for v in g.values),
    )
    result: list[dict[str, Any]] = []
    for group in ordered:
        out: dict[str, Any] = {}
        for grouping, value, target in zip(groupings, group.values, group.targets, strict=True):
            _annotate(em, ctx, cache, out, grouping.name, grouping.attr, value, target)
        for i, measure in enumerate(measures):
            value = _result(measure, group, i)
            attr = measure.attr if measure.item.method not in ("count", "countdistinct") else None
            _annotate(em, ctx, cache, out, measure.item.alias, attr, value)
        result.append(out)
    return result


def _group_order(value: Any) -> tuple[int, Any]:
    """Groups in the order of their values, nulls first (text without case)."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float | Decimal):
        return (1, Decimal(str(value)))
    return (1, str(value).casefold())


def _order(
    rows: list[dict[str, Any]],
    orderby: list[tuple[str, bool]],
    groupings: list[Grouping],
    apply: odata.Apply,
) -> list[dict[str, Any]]:
    names = {g.path: g.name for g in groupings} | {g.name: g.name for g in groupings}
    order: list[tuple[str, bool]] = []
    for name, descending in orderby:
        if name in apply.output_names:
            # "$orderby with aggregate values is not supported" (Aggregate data, note)
            raise odata.ODataError("The query node SingleValueOpenPropertyAccess is not supported.")
        if name not in names:
            raise not_implemented(
                f"Ordering the results of $apply by '{name}', which is not one of its groupby "
                "properties"
            )
        order.append((names[name], descending))
    return [dict(r) for r in odata.sort_rows(rows, order)]


def query_aggregate(
    em: TenantState, ctx: Ctx, entity: EntityDef, opts: odata.QueryOptions
) -> httpx.Response:
    """GET ``<set>?$apply=...``: the groups (or the one aggregate row) as entities of the set."""
    apply = opts.apply
    assert apply is not None
    _refuse_other_options(opts)
    cache = ReadCache()
    groupings = [_grouping(em, cache, entity, path) for path in apply.groupby]
    measures = [_measure(em, cache, entity, item) for item in apply.aggregates]
    flt: odata.Expr | None = None
    for step in apply.filters:
        flt = step if flt is None else odata.Logical("and", flt, step)
    for name, _ in opts.orderby:
        known = name in apply.output_names or any(name in (g.path, g.name) for g in groupings)
        if not known and name not in cache.shape(em, entity).by_prop:
            raise unknown_property(entity.logical_name, name)
    rows = filtered(em, ctx, entity, flt, cache)
    groups = _fold_rows(em, rows, groupings, measures)
    values = _objects(em, ctx, cache, groups, groupings, measures)
    if opts.orderby:
        values = _order(values, opts.orderby, groupings, apply)
    if opts.top is not None:
        values = values[: opts.top]
    asked = ctx.prefer.get("odata.maxpagesize")
    page = min(int(asked), em.config.max_page_size) if asked else em.config.max_page_size
    if len(values) > page:
        raise not_implemented(f"Paging the {len(values)} groups of $apply (more than {page})")
    em.count_records(len(values))
    body = {"@odata.context": f"{ctx.base}$metadata#{entity.entity_set_name}", "value": values}
    return json_response(200, body, ctx.preference_applied(page_size=page if asked else None))


__all__ = ["AGGREGATE_LIMIT", "query_aggregate"]
