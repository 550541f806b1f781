"""Reading records: a stored row as the Web API returns it (``_<lookup>_value``, annotations,
``$select``, ``$expand``), and the rows of a table matching ``$filter`` in ``$orderby`` order.

On read, lookups come back as ``_<column>_value`` (with annotations when
``Prefer: odata.include-annotations`` asks; formatted values are :mod:`.formatting`'s). A
``$select`` that names a money column also returns ``_transactioncurrencyid_value``, one that
names a part of an address also returns the address's composite column (Query data using the
Web API, "Request specific properties",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-data-web-api).

``$orderby`` on a lookup property sorts by the related row's primary name (the lookup's
formatted value), on a choice column by the choice's number (Order rows, "Ordering lookup and
choice columns",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/order-rows).

A ``$filter`` that names rows by primary id or by a lookup's value (``accountid eq <id>``,
``Microsoft.Dynamics.CRM.In(PropertyName='accountid',...)``, ``or``-chains of those,
``_parentcustomerid_value eq <id> and statecode eq 0``...) reads only those rows, through
the primary key or the lookup's index (:func:`crm_ferry.emulator.odata.narrowing`), and
tests the whole filter on them; the answer is the one testing every row gives, because it is
used only where testing a row cannot raise (:func:`crm_ferry.emulator.odata.raise_free`).
Every other filter tests every row of the table.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.emulator import conditions, odata, tenant
from crm_ferry.emulator.records import files
from crm_ferry.emulator.records.context import Ctx, etag
from crm_ferry.emulator.records.formatting import Currencies, formatted
from crm_ferry.emulator.records.privileges import check_privilege
from crm_ferry.emulator.records.relations import navigation, related_rows
from crm_ferry.emulator.records.rows import LOOKUP_TYPES, TYPE_SUFFIX, all_rows, fetch_row
from crm_ferry.emulator.schema import AttributeDef, EntityDef, has_property
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import Fault, unknown_property

MAX_CONDITIONS = 500
TOO_MANY_CONDITIONS = "0x8004430C"
"""``TooManyConditionsInQuery`` (-2147204340): more than 500 conditions in a query (Filter
rows, "Condition limits",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows)."""

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
    return [a for a in entity.attributes.values() if has_property(a) and a.visible_at <= now]


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
    currencies: Currencies = field(default_factory=Currencies)
    selections: dict[tuple[str, tuple[str, ...]], list[tuple[AttributeDef, str, str, bool]]] = (
        field(default_factory=dict)
    )

    def name_of(self, em: TenantState, table: Any, row_id: Any) -> str | None:
        """The primary name of a looked-up row (what its lookup's formatted value shows)."""
        key = (table, row_id)
        if key not in self.names:
            self.names[key] = _primary_name(em, table, row_id)
        return self.names[key]

    def selected(
        self, entity: EntityDef, shape: Shape, select: list[str]
    ) -> list[tuple[AttributeDef, str, str, bool]]:
        """The columns a ``$select`` returns: those named, the primary key, and what the
        service adds (the currency of a money column, the composite of an address part)."""
        key = (entity.logical_name, tuple(select))
        found = self.selections.get(key)
        if found is None:
            found = _selection(entity, shape, select)
            self.selections[key] = found
        return found

    def shape(self, em: TenantState, entity: EntityDef) -> Shape:
        """The readable columns of ``entity``."""
        found = self.shapes.get(entity.logical_name)
        if found is None:
            attrs = _readable(em, entity)
            columns = [(a, a.logical_name, property_name(a), a.type in LOOKUP_TYPES) for a in attrs]
            found = Shape(
                attrs, {c[2]: c[0] for c in columns}, [c for c in columns if c[0].type != "Image"]
            )
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


def _selection(
    entity: EntityDef, shape: Shape, select: list[str]
) -> list[tuple[AttributeDef, str, str, bool]]:
    by_prop = shape.by_prop
    for name in select:
        if name not in by_prop:
            raise unknown_property(entity.logical_name, name)
    chosen = [by_prop[n] for n in select]
    extra: list[AttributeDef | None] = [entity.attribute(entity.primary_id)]
    if any(a.type == "Money" for a in chosen):
        extra.append(entity.attribute("transactioncurrencyid"))
    for attr in chosen:
        prefix, _, part = attr.logical_name.rpartition("_")
        if prefix and part in tenant.ADDRESS_PARTS:
            extra.append(entity.attribute(f"{prefix}_composite"))
    for more in extra:
        if more is not None and more not in chosen and more in shape.attrs:
            chosen.append(more)
    return [(a, a.logical_name, property_name(a), a.type in LOOKUP_TYPES) for a in chosen]


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
    columns = cache.selected(entity, shape, select) if select else shape.columns
    pictures = [c[0] for c in columns if c[0].type == "Image"] if select else []
    out: dict[str, Any] = {"@odata.etag": etag(row)}
    if not (ctx.formatted_values or ctx.lookup_annotations):
        for _, name, prop, _ in columns:
            out[prop] = row.get(name)
        if pictures:
            _thumbnails(em, row, pictures, out)
        return out
    for attr, name, prop, is_lookup in columns:
        value = row.get(name)
        if is_lookup:
            target = row.get(name + TYPE_SUFFIX)
            if value is not None and ctx.formatted_values:
                out[prop + FORMATTED] = cache.name_of(em, target, value)
            if value is not None and ctx.lookup_annotations:
                nav_key = (entity.logical_name, attr.logical_name, target)
                if nav_key not in cache.navs:
                    cache.navs[nav_key] = _nav_of(em, entity, attr, target)
                nav = cache.navs[nav_key]
                if nav:
                    out[prop + NAV_ANNOTATION] = nav
                out[prop + LOOKUP_ANNOTATION] = target
        elif ctx.formatted_values:
            text = formatted(em, cache.currencies, attr, value, row)
            if text is not None:
                out[prop + FORMATTED] = text
        out[prop] = value
    if pictures:
        _thumbnails(em, row, pictures, out)
    return out


def _thumbnails(
    em: TenantState, row: Mapping[str, Any], attrs: list[AttributeDef], out: dict[str, Any]
) -> None:
    """Selected Image columns: the Base64 text of their thumbnails (null when empty)."""
    for attr in attrs:
        data = files.thumbnail_of(em, row, attr)
        out[attr.logical_name] = None if data is None else base64.b64encode(data).decode("ascii")


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


def filtered(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    flt: odata.Expr | None,
    cache: ReadCache | None = None,
    *,
    after: str | None = None,
    within: list[dict[str, Any]] | None = None,
) -> Iterator[dict[str, Any]]:
    """The stored rows matching the filter, in primary id order (those whose primary id sorts
    after ``after``), read one by one as the caller asks for them; ``within``: the rows to
    choose from (in primary id order; the rows of a navigation property) instead of the
    table's. The caller's privilege and the filter's names are checked before the first row
    is read."""
    check_privilege(em, ctx, "Read", entity)
    cache = cache if cache is not None else ReadCache()
    by_prop = cache.shape(em, entity).by_prop
    if flt is not None and odata.condition_count(flt) > MAX_CONDITIONS:
        raise Fault(
            400, TOO_MANY_CONDITIONS, "Number of conditions in query exceeded maximum limit."
        )
    if flt is not None:
        for path in odata.referenced_properties(flt):
            head = path.split("/")[0]
            if head not in by_prop and navigation(em, entity, head) is None:
                raise unknown_property(entity.logical_name, head)
    return _filtered(em, ctx, entity, flt, cache, by_prop, after, within)


def _filtered(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    flt: odata.Expr | None,
    cache: ReadCache,
    by_prop: Mapping[str, AttributeDef],
    after: str | None,
    within: list[dict[str, Any]] | None,
) -> Iterator[dict[str, Any]]:
    plain = Ctx(ctx.request, ctx.base, ctx.caller, ctx.prefer, False, False)
    at = condition_context(em, ctx) if flt is not None else None
    candidates: Iterable[dict[str, Any]]
    if within is None:
        candidates = _candidates(em, entity, flt, by_prop, after)
    elif after is None:
        candidates = within
    else:
        candidates = [r for r in within if str(r.get(entity.primary_id)) > after]
    for stored in candidates:
        if flt is not None:

            def resolve(path: str, stored: Mapping[str, Any] = stored) -> Any:
                return _resolve_path(em, plain, entity, stored, path, cache)

            if not odata.evaluate(flt, RowView(stored, by_prop), resolve, at):
                continue
        yield stored


def condition_context(em: TenantState, ctx: Ctx) -> conditions.Context:
    """The clock and the caller Dataverse's condition operators are evaluated against
    (``Today``, ``EqualUserId``, ``EqualBusinessId``...)."""
    user = em.principal("systemuser", ctx.caller)
    unit = user.get("businessunitid") if user is not None else None
    return conditions.Context(em.now(), ctx.caller, str(unit) if unit else None)


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
    cache = cache if cache is not None else ReadCache()
    by_prop = cache.shape(em, entity).by_prop
    rows = filtered(em, ctx, entity, opts.filter, cache, after=after, within=within)
    for name, _ in opts.orderby:
        if name not in by_prop:
            raise unknown_property(entity.logical_name, name)
    found: list[dict[str, Any]] = []
    if limit is not None and limit <= 0:
        return found
    for stored in rows:
        if skip:
            skip -= 1
            continue
        found.append(stored)
        if limit is not None and len(found) >= limit:
            break
    if opts.orderby:
        found = ordered(em, found, opts.orderby, by_prop, cache)
    return found


def ordered(
    em: TenantState,
    rows: list[dict[str, Any]],
    orderby: list[tuple[str, bool]],
    by_prop: Mapping[str, AttributeDef],
    cache: ReadCache,
) -> list[dict[str, Any]]:
    """Stored rows in ``$orderby`` order: a lookup property by the related row's primary
    name, every other column by its value (a choice by its number)."""

    def value_of(view: Mapping[str, Any], name: str) -> Any:
        attr = by_prop[name]
        if attr.type not in LOOKUP_TYPES or not isinstance(view, RowView):
            return view.get(name)
        value = view.row.get(attr.logical_name)
        if value is None:
            return None
        return cache.name_of(em, view.row.get(attr.logical_name + TYPE_SUFFIX), value)

    views = odata.sort_rows([RowView(r, by_prop) for r in rows], orderby, value_of)
    return [v.row for v in views if isinstance(v, RowView)]


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
    "FORMATTED",
    "LOOKUP_ANNOTATION",
    "NAV_ANNOTATION",
    "ReadCache",
    "RowView",
    "Shape",
    "condition_context",
    "context_url",
    "filtered",
    "matching",
    "ordered",
    "property_name",
    "represent",
]
