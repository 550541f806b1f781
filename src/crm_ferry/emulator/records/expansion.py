"""``$expand``: related rows in a response, with the options, limits and paging Dataverse
applies to them.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables
(2024), https://learn.microsoft.com/power-apps/developer/data-platform/webapi/multi-level-expand
and the examples of retrieve-entity-using-web-api and create-entity-web-api:

- at most 15 ``$expand`` options in a query, nested ones included;
- single-valued navigation properties take ``$select``, ``$filter`` (the related row, or
  null when it does not match) and a nested ``$expand``, to any depth; ``nav/$ref`` gives
  ``{"@odata.id": …}`` instead of the row (collection-valued properties refuse it);
- collection-valued properties (one-to-many and many-to-many) take ``$select``,
  ``$filter``, ``$orderby`` and ``$top``; with no nested ``$expand`` anywhere in the query
  ("single $expand") each collection holds up to 5,000 rows and, in a collection of
  records, carries ``<nav>@odata.nextLink``: the related collection's URL with the options,
  without paging;
- with a nested ``$expand`` anywhere ("nested $expand") ``$orderby`` and ``$top`` are
  refused, many-to-many properties can't be expanded, and every expanded collection is
  paged at the ``odata.maxpagesize`` preference: a full page carries a
  ``<nav>@odata.nextLink`` with a ``$skiptoken`` for the rest.

What the related rows hold differs as the documented responses show: in a collection of
records a row expanded through a single-valued property has no ``@odata.etag``; with a
single ``$expand`` over a collection of records, the rows of an expanded one-to-many
collection carry their lookup to the parent (``_regardingobjectid_value``) even when
``$select`` leaves it out; with a nested ``$expand`` expanded rows carry no ``@odata.etag``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from crm_ferry.emulator import odata
from crm_ferry.emulator.records.context import Ctx
from crm_ferry.emulator.records.paging import next_skiptoken
from crm_ferry.emulator.records.privileges import check_privilege
from crm_ferry.emulator.records.reads import ReadCache, matching, represent
from crm_ferry.emulator.records.relations import Navigation, navigation, related_row, related_rows
from crm_ferry.emulator.records.rows import TYPE_SUFFIX
from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import UNKNOWN_PROPERTY, Fault, unknown_property

MAX_EXPANDS = 15
"""``$expand`` options a query may hold (join-tables: "up to 15")."""
COLLECTION_LIMIT = 5000
"""Rows of an expanded collection with a single ``$expand`` (no paging)."""
EXPAND_ERROR = UNKNOWN_PROPERTY
"""0x80060888: the code of every ``$expand`` error the articles show."""
ONLY_SELECT_AND_FILTER = (
    "Only $select and $filter clause can be provided while doing $expand on many-to-one "
    "relationship or nested one-to-many relationship."
)
REF_ONLY_ON_LOOKUPS = "Expand with $ref is only supported on lookup type navigation property."


@dataclass(frozen=True, slots=True)
class Expansion:
    """A query's ``$expand``, checked, and how its related rows are shaped."""

    specs: list[odata.ExpandSpec]
    single: bool
    """The response is one record (GET of a row, or a write with ``return=representation``)."""
    nested: bool
    """A nested ``$expand`` somewhere in the query: paging and shapes of "nested $expand"."""
    page_size: int
    """Rows per expanded collection page with a nested ``$expand``."""
    links: bool
    """With a single ``$expand``, expanded collections carry ``<nav>@odata.nextLink``: in a
    collection of records read from its entity set (the documented answer of
    ``systemusers(id)/user_accounts?$expand=…`` has none)."""


def page_size(em: TenantState, ctx: Ctx) -> int:
    """The ``odata.maxpagesize`` preference (at most the service's limit), else the limit."""
    limit = em.config.max_page_size
    asked = ctx.prefer.get("odata.maxpagesize")
    if asked is None:
        return limit
    try:
        return max(1, min(int(asked), limit))
    except ValueError:
        return limit


def prepare(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    specs: list[odata.ExpandSpec],
    *,
    single: bool,
    size: int | None = None,
    links: bool | None = None,
) -> Expansion | None:
    """Check a query's ``$expand`` against the schema and the documented limits (whether or
    not any row is read); None when there is none."""
    if not specs:
        return None
    total = _count(specs)
    if total > MAX_EXPANDS:
        raise Fault(
            400,
            EXPAND_ERROR,
            f"The query has {total} $expand options; at most {MAX_EXPANDS} are allowed.",
        )
    nested = any(spec.expand for spec in specs)
    _check(em, ctx, entity, specs, nested, ReadCache())
    return Expansion(
        specs,
        single,
        nested,
        size if size is not None else page_size(em, ctx),
        (not single) if links is None else links,
    )


def _count(specs: list[odata.ExpandSpec]) -> int:
    return sum(1 + _count(spec.expand) for spec in specs)


def _check(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    specs: list[odata.ExpandSpec],
    nested: bool,
    cache: ReadCache,
) -> None:
    for spec in specs:
        nav = navigation(em, entity, spec.nav)
        if nav is None:
            raise unknown_property(entity.logical_name, spec.nav)
        if spec.ref:
            if nav.is_collection:
                raise Fault(400, EXPAND_ERROR, REF_ONLY_ON_LOOKUPS)
            continue
        limited = bool(spec.orderby) or spec.top is not None
        if limited and (not nav.is_collection or nested):
            raise Fault(400, EXPAND_ERROR, ONLY_SELECT_AND_FILTER)
        if nav.kind == "many" and nested:
            raise Fault(
                400,
                EXPAND_ERROR,
                f"The navigation property '{spec.nav}' cannot be expanded. Only many-to-one "
                "relationships are supported for nested expansion.",
            )
        check_privilege(em, ctx, "Read", nav.target)
        _check_names(em, nav.target, spec, cache)
        _check(em, ctx, nav.target, spec.expand, nested, cache)


def _check_names(
    em: TenantState, target: EntityDef, spec: odata.ExpandSpec, cache: ReadCache
) -> None:
    by_prop = cache.shape(em, target).by_prop
    names = [*(spec.select or []), *(name for name, _ in spec.orderby)]
    for name in names:
        if name not in by_prop:
            raise unknown_property(target.logical_name, name)
    if spec.filter is not None:
        for path in odata.referenced_properties(spec.filter):
            head = path.split("/")[0]
            if head not in by_prop and navigation(em, target, head) is None:
                raise unknown_property(target.logical_name, head)


def render(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row: dict[str, Any],
    select: list[str] | None,
    expansion: Expansion | None,
    cache: ReadCache | None = None,
) -> dict[str, Any]:
    """The JSON of one row with the related rows ``expansion`` asks for."""
    cache = cache if cache is not None else ReadCache()
    out = _represent(em, ctx, entity, row, select, cache)
    if expansion is not None:
        _expand(em, ctx, entity, row, out, expansion.specs, expansion, cache)
    return out


_PRINCIPALS = frozenset({"systemuser", "team"})


def _represent(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row: dict[str, Any],
    select: list[str] | None,
    cache: ReadCache,
) -> dict[str, Any]:
    """One row's JSON; users and teams also carry ``ownerid``, the key they share as
    principals ("Both systemuserid and ownerid properties are returned", join-tables)."""
    out = represent(em, ctx, entity, row, select, [], cache)
    if entity.logical_name in _PRINCIPALS:
        out["ownerid"] = row.get(entity.primary_id)
    return out


def _expand(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row: dict[str, Any],
    out: dict[str, Any],
    specs: list[odata.ExpandSpec],
    exp: Expansion,
    cache: ReadCache,
) -> None:
    for spec in specs:
        nav = navigation(em, entity, spec.nav)
        assert nav is not None  # checked by prepare()
        if spec.ref:
            _reference(ctx, nav, row, out)
        elif nav.is_collection:
            _collection(em, ctx, nav, row, out, spec, exp, cache)
        else:
            out[spec.nav] = _single(em, ctx, nav, row, spec, exp, cache)


def _reference(ctx: Ctx, nav: Navigation, row: dict[str, Any], out: dict[str, Any]) -> None:
    """``nav/$ref``: the lookup's value and an ``@odata.id`` (the documented response shows
    ``_<lookup>_value`` even when ``$select`` leaves it out)."""
    value = row.get(nav.lookup)
    out[f"_{nav.lookup}_value"] = value
    if value is None or row.get(nav.lookup + TYPE_SUFFIX) not in (None, nav.target.logical_name):
        out[nav.name] = None
        return
    out[nav.name] = {"@odata.id": f"{ctx.base}{nav.target.entity_set_name}({value})"}


def _single(
    em: TenantState,
    ctx: Ctx,
    nav: Navigation,
    row: dict[str, Any],
    spec: odata.ExpandSpec,
    exp: Expansion,
    cache: ReadCache,
) -> dict[str, Any] | None:
    related = related_row(em, nav, row)
    if related is None:
        return None
    if spec.filter is not None and not matching(
        em, ctx, nav.target, odata.QueryOptions(filter=spec.filter), cache, within=[related]
    ):
        return None
    em.count_records(1)
    etag = exp.single and not exp.nested
    return _related(em, ctx, nav, related, spec.select, spec, exp, cache, etag=etag)


def _related(
    em: TenantState,
    ctx: Ctx,
    nav: Navigation,
    row: dict[str, Any],
    select: list[str] | None,
    spec: odata.ExpandSpec,
    exp: Expansion,
    cache: ReadCache,
    *,
    etag: bool,
) -> dict[str, Any]:
    """The JSON of a row ``nav`` leads to, with the expansions ``spec`` nests in it
    (``@odata.etag`` only if ``etag``)."""
    out = _represent(em, ctx, nav.target, row, select, cache)
    if not etag:
        out.pop("@odata.etag", None)
    _expand(em, ctx, nav.target, row, out, spec.expand, exp, cache)
    return out


def _collection(
    em: TenantState,
    ctx: Ctx,
    nav: Navigation,
    row: dict[str, Any],
    out: dict[str, Any],
    spec: odata.ExpandSpec,
    exp: Expansion,
    cache: ReadCache,
) -> None:
    parent_id = str(row[nav.source.primary_id])
    opts = odata.QueryOptions(filter=spec.filter, orderby=spec.orderby)
    rows = matching(em, ctx, nav.target, opts, cache, within=related_rows(em, nav, parent_id))
    if spec.top is not None:
        rows = rows[: spec.top]
    limit = exp.page_size if exp.nested else COLLECTION_LIMIT
    page = rows[:limit]
    select = spec.select
    if select and nav.kind == "collection" and not exp.single and not exp.nested:
        back = f"_{nav.lookup}_value"
        select = select if back in select else [*select, back]
    children = [
        _related(em, ctx, nav, child_row, select, spec, exp, cache, etag=not exp.nested)
        for child_row in page
    ]
    em.count_records(len(children))
    out[spec.nav] = children
    link = f"{ctx.base}{nav.source.entity_set_name}({parent_id})/{spec.nav}"
    query = "&".join(f"{name}={_quoted(value)}" for name, value in spec.options)
    if exp.nested and page and len(page) >= limit:
        token = quote(next_skiptoken(nav.target, 1, page), safe="")
        query = f"{query}&$skiptoken={token}" if query else f"$skiptoken={token}"
        out[f"{spec.nav}@odata.nextLink"] = f"{link}?{query}"
    elif not exp.nested and exp.links:
        out[f"{spec.nav}@odata.nextLink"] = f"{link}?{query}" if query else link


def _quoted(value: str) -> str:
    return quote(value, safe="$,()'=;/:@*")


__all__ = [
    "COLLECTION_LIMIT",
    "MAX_EXPANDS",
    "Expansion",
    "page_size",
    "prepare",
    "render",
]
