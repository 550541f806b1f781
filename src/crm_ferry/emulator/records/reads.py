"""Reading records: a stored row as the Web API returns it (``_<lookup>_value``, annotations,
``$select``, ``$expand``), and the rows of a table matching ``$filter`` in ``$orderby`` order.

On read, lookups come back as ``_<column>_value`` (with annotations when
``Prefer: odata.include-annotations`` asks).

A ``$filter`` that names rows by primary id or by a lookup's value (``accountid eq <id>``,
``Microsoft.Dynamics.CRM.In(PropertyName='accountid',...)``, ``or``-chains of those,
``_parentcustomerid_value eq <id> and statecode eq 0``...) reads only those rows, through
the primary key or the lookup's index (:func:`crm_ferry.emulator.odata.narrowing`), and
tests the whole filter on them; the answer is the one testing every row gives, because it is
used only where testing a row cannot raise (:func:`crm_ferry.emulator.odata.raise_free`).
Every other filter tests every row of the table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.emulator import odata, tenant
from crm_ferry.emulator.records.context import Ctx, etag
from crm_ferry.emulator.records.privileges import check_privilege
from crm_ferry.emulator.records.relations import navigation, related_rows
from crm_ferry.emulator.records.rows import LOOKUP_TYPES, TYPE_SUFFIX, all_rows, fetch_row
from crm_ferry.emulator.schema import AttributeDef, EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import unknown_property

LOOKUP_ANNOTATION = "@Microsoft.Dynamics.CRM.lookuplogicalname"
NAV_ANNOTATION = "@Microsoft.Dynamics.CRM.associatednavigationproperty"
FORMATTED = "@OData.Community.Display.V1.FormattedValue"


def context_url(
    ctx: Ctx,
    entity: EntityDef,
    select: list[str] | None,
    *,
    single: bool,
    expand: list[odata.ExpandSpec] | None = None,
) -> str:
    """``<base>$metadata#<set>(<select>,<nav>(<its select and expand>))`` (``/$entity`` for
    one row), as in the examples of
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables."""
    items = _projection(select, expand or [])
    sel = f"({items})" if items else ""
    return f"{ctx.base}$metadata#{entity.entity_set_name}{sel}" + ("/$entity" if single else "")


def _projection(select: list[str] | None, expand: list[odata.ExpandSpec]) -> str:
    parts = list(select or [])
    for spec in expand:
        if spec.ref:
            parts += [spec.nav, f"{spec.nav}/$ref()"]
        else:
            parts.append(f"{spec.nav}({_projection(spec.select, spec.expand)})")
    return ",".join(parts)


def _readable(em: TenantState, entity: EntityDef) -> list[AttributeDef]:
    now = em.clock()
    return [a for a in entity.attributes.values() if a.valid_for_read and a.visible_at <= now]


def property_name(attr: AttributeDef) -> str:
    return f"_{attr.logical_name}_value" if attr.type in LOOKUP_TYPES else attr.logical_name


@dataclass(slots=True)
class Shape:
    """A table's readable columns: as a list, by property name, and as (column, property,
    is a lookup) for writing rows out."""

    attrs: list[AttributeDef]
    by_prop: dict[str, AttributeDef]
    columns: list[tuple[AttributeDef, str, str, bool]]


@dataclass(slots=True)
class ReadCache:
    """What one read request works out once instead of once per row: each table's readable
    columns, lookups' navigation properties and the primary names of looked-up rows. Made
    per request (a read writes nothing, so nothing it holds goes stale)."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    navs: dict[tuple[str, str, Any], str | None] = field(default_factory=dict)
    names: dict[tuple[Any, Any], str | None] = field(default_factory=dict)

    def shape(self, em: TenantState, entity: EntityDef) -> Shape:
        """The readable columns of ``entity``."""
        found = self.shapes.get(entity.logical_name)
        if found is None:
            attrs = _readable(em, entity)
            columns = [(a, a.logical_name, property_name(a), a.type in LOOKUP_TYPES) for a in attrs]
            found = Shape(attrs, {c[2]: c[0] for c in columns}, columns)
            self.shapes[entity.logical_name] = found
        return found


class RowView(Mapping[str, Any]):
    """A stored row read by property name, holding what its representation (without
    annotations) holds under that name, without building it: what ``$filter`` and
    ``$orderby`` read."""

    __slots__ = ("_by_prop", "row")

    def __init__(self, row: dict[str, Any], by_prop: Mapping[str, AttributeDef]) -> None:
        self.row = row
        self._by_prop = by_prop

    def __getitem__(self, name: str) -> Any:
        return self.row.get(self._by_prop[name].logical_name)

    def get(self, name: str, default: Any = None) -> Any:
        attr = self._by_prop.get(name)
        return default if attr is None else self.row.get(attr.logical_name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_prop)

    def __len__(self) -> int:
        return len(self._by_prop)


def _formatted(attr: AttributeDef, value: Any) -> str | None:
    if value is None:
        return None
    if attr.option_set is not None and isinstance(value, (int, bool)):
        opt = attr.option_set.option(int(value))
        return opt.label if opt else None
    if attr.type in ("Money", "Decimal", "Integer", "BigInt", "Double"):
        return f"{value:,}"
    return None


def represent(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row: Mapping[str, Any],
    select: list[str] | None,
    expand: list[odata.ExpandSpec],
    cache: ReadCache | None = None,
) -> dict[str, Any]:
    """The JSON of one row as the Web API returns it, without related rows: ``expand``
    must be empty (expanding is :func:`crm_ferry.emulator.records.expansion.render`'s
    work; the parameter stays for the callers that pass ``[]``)."""
    if expand:
        raise ValueError("represent() expands nothing: use records.expansion.render")
    cache = cache if cache is not None else ReadCache()
    shape = cache.shape(em, entity)
    by_prop = shape.by_prop
    if select:
        for name in select:
            if name not in by_prop:
                raise unknown_property(entity.logical_name, name)
        chosen = [by_prop[n] for n in select]
        pk = entity.attribute(entity.primary_id)
        if pk is not None and pk not in chosen:
            chosen.append(pk)
        columns = [(a, a.logical_name, property_name(a), a.type in LOOKUP_TYPES) for a in chosen]
    else:
        columns = shape.columns
    out: dict[str, Any] = {"@odata.etag": etag(row)}
    if not (ctx.formatted_values or ctx.lookup_annotations):
        for _, name, prop, _ in columns:
            out[prop] = row.get(name)
        return out
    for attr, name, prop, is_lookup in columns:
        value = row.get(name)
        if is_lookup:
            target = row.get(name + TYPE_SUFFIX)
            if value is not None and ctx.formatted_values:
                key = (target, value)
                if key not in cache.names:
                    cache.names[key] = _primary_name(em, target, value)
                out[prop + FORMATTED] = cache.names[key]
            if value is not None and ctx.lookup_annotations:
                nav_key = (entity.logical_name, attr.logical_name, target)
                if nav_key not in cache.navs:
                    cache.navs[nav_key] = _nav_of(em, entity, attr, target)
                nav = cache.navs[nav_key]
                if nav:
                    out[prop + NAV_ANNOTATION] = nav
                out[prop + LOOKUP_ANNOTATION] = target
        elif ctx.formatted_values:
            text = _formatted(attr, value)
            if text is not None:
                out[prop + FORMATTED] = text
        out[prop] = value
    return out


def _nav_of(em: TenantState, entity: EntityDef, attr: AttributeDef, target: Any) -> str | None:
    for rel in em.schema.many_to_one(entity.logical_name):
        if rel.referencing_attribute == attr.logical_name and rel.referenced_entity == target:
            return rel.referencing_nav
    return None


def _primary_name(em: TenantState, table: Any, row_id: Any) -> str | None:
    target = em.schema.entity(str(table)) if table else None
    if target is None or not target.primary_name:
        return None
    if target.logical_name not in tenant.VIRTUAL_TABLES:
        name = em.store.value_of(target.logical_name, str(row_id), target.primary_name)
        return None if name is None else str(name)
    row = fetch_row(em, target.logical_name, str(row_id))
    return None if row is None else row.get(target.primary_name)


def matching(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    opts: odata.QueryOptions,
    cache: ReadCache | None = None,
    *,
    after: str | None = None,
    skip: int = 0,
    limit: int | None = None,
    within: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The stored rows matching ``$filter``, in ``$orderby`` order (after primary id
    order: the order of the table's rows).

    Without ``$orderby``, a page of them: those whose primary id sorts after ``after``, the
    first ``skip`` of those left out, at most ``limit`` (rows after the page are not read).
    ``within``: the rows to choose from (in primary id order; the rows of a navigation
    property), instead of the table's.
    """
    if opts.orderby and (after is not None or skip or limit is not None):
        raise ValueError("a page of rows in $orderby order is cut from the whole answer")
    check_privilege(em, ctx, "Read", entity)
    cache = cache if cache is not None else ReadCache()
    plain = Ctx(ctx.request, ctx.base, ctx.caller, ctx.prefer, False, False)
    by_prop = cache.shape(em, entity).by_prop
    if opts.filter is not None:
        for path in odata.referenced_properties(opts.filter):
            head = path.split("/")[0]
            if head not in by_prop and navigation(em, entity, head) is None:
                raise unknown_property(entity.logical_name, head)
    for name, _ in opts.orderby:
        if name not in by_prop:
            raise unknown_property(entity.logical_name, name)
    found: list[dict[str, Any]] = []
    if limit is not None and limit <= 0:
        return found
    if within is None:
        candidates = _candidates(em, entity, opts.filter, by_prop, after)
    elif after is None:
        candidates = within
    else:
        candidates = [r for r in within if str(r.get(entity.primary_id)) > after]
    for stored in candidates:
        if opts.filter is not None:

            def resolve(path: str, stored: Mapping[str, Any] = stored) -> Any:
                return _resolve_path(em, plain, entity, stored, path, cache)

            if not odata.evaluate(opts.filter, RowView(stored, by_prop), resolve):
                continue
        if skip:
            skip -= 1
            continue
        found.append(stored)
        if limit is not None and len(found) >= limit:
            break
    if opts.orderby:
        views = odata.sort_rows([RowView(r, by_prop) for r in found], opts.orderby)
        found = [v.row for v in views if isinstance(v, RowView)]
    return found


_KINDS: dict[str, odata.Kind] = {
    "Uniqueidentifier": "guid",
    "Lookup": "guid",
    "Customer": "guid",
    "Owner": "guid",
    "String": "text",
    "Memo": "text",
    "EntityName": "text",
    "Integer": "number",
    "BigInt": "number",
    "Picklist": "number",
    "State": "number",
    "Status": "number",
    "Decimal": "number",
    "Double": "number",
    "Money": "number",
    "Boolean": "boolean",
}
"""What a column's values are once stored (:func:`crm_ferry.emulator.validation.coerce`
makes them so; GUIDs in canonical lower-case form)."""


def _candidates(
    em: TenantState,
    entity: EntityDef,
    flt: odata.Expr | None,
    by_prop: Mapping[str, AttributeDef],
    after: str | None = None,
) -> Iterable[dict[str, Any]]:
    """The stored rows the filter may match, in primary id order (those after ``after``):
    through the primary key or a lookup's index when the filter narrows one of them (and
    testing a row cannot raise, so leaving the other rows untested changes no answer), else
    every row."""
    found = _indexed(em, entity, flt, by_prop)
    if found is None:
        if entity.logical_name not in tenant.VIRTUAL_TABLES:
            return em.store.rows_after(entity.logical_name, after)
        found = list(all_rows(em, entity.logical_name))
    if after is None:
        return found
    pk = entity.primary_id
    return [r for r in found if str(r.get(pk)) > after]


def _indexed(
    em: TenantState,
    entity: EntityDef,
    flt: odata.Expr | None,
    by_prop: Mapping[str, AttributeDef],
) -> list[dict[str, Any]] | None:
    """The rows the filter may match, read by index; None when it takes every row."""
    if flt is None or entity.logical_name in tenant.VIRTUAL_TABLES:
        return None
    usable: list[tuple[bool, int, str, list[str]]] = []  # (by lookup, how many, column, ids)
    for prop, values in odata.narrowing(flt).items():
        attr = by_prop.get(prop)
        if attr is None or not (prop == entity.primary_id or attr.type in LOOKUP_TYPES):
            continue
        ids = [_stored_guid(v) for v in values]
        keys = [i for i in ids if i is not None]
        if len(keys) == len(ids):
            by_lookup = prop != entity.primary_id
            usable.append((by_lookup, len(keys), attr.logical_name, keys))
    if not usable:
        return None
    by_lookup, _, column, keys = min(usable, key=lambda u: (u[0], u[1]))

    def kind_of(name: str) -> odata.Kind | None:
        attr = by_prop.get(name)
        return _KINDS.get(attr.type) if attr is not None else None

    if not odata.raise_free(flt, kind_of):
        return None
    if by_lookup:
        return em.store.referencing_any(entity.logical_name, column, keys)
    return em.store.get_many(entity.logical_name, keys)


def _stored_guid(value: object) -> str | None:
    """The stored GUID a filter value can be equal to: a GUID literal's canonical text, or
    text case-folded (text is compared with the row's GUID text, ignoring case); None for
    anything else (not looked up by index)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        return value.casefold()
    return None


def _resolve_path(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row: Mapping[str, Any],
    path: str,
    cache: ReadCache,
) -> Any:
    head, _, rest = path.partition("/")
    rel = em.schema.navigation(entity.logical_name, head)
    if rel is not None:
        target = em.schema.entity(rel.referenced_entity)
        value = row.get(rel.referencing_attribute)
        if target is None or value is None:
            return None
        related = fetch_row(em, target.logical_name, str(value))
        if related is None:
            return None
        rep = represent(em, ctx, target, related, None, [], cache)
        return rep.get(rest) if rest else rep
    nav = navigation(em, entity, head)
    if nav is not None and nav.is_collection:
        return [
            represent(em, ctx, nav.target, r, None, [], cache)
            for r in related_rows(em, nav, str(row[entity.primary_id]))
        ]
    return None


__all__ = [
    "ReadCache",
    "RowView",
    "Shape",
    "context_url",
    "matching",
    "property_name",
    "represent",
]
