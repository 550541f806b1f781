"""Reading records: a stored row as the Web API returns it (``_<lookup>_value``, annotations,
``$select``, ``$expand``), and the rows of a table matching ``$filter`` in ``$orderby`` order.

On read, lookups come back as ``_<column>_value`` (with annotations when
``Prefer: odata.include-annotations`` asks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm_ferry.emulator import odata
from crm_ferry.emulator.records.context import Ctx, etag
from crm_ferry.emulator.records.privileges import check_privilege
from crm_ferry.emulator.records.rows import LOOKUP_TYPES, TYPE_SUFFIX, all_rows, fetch_row
from crm_ferry.emulator.schema import AttributeDef, EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import unknown_property

LOOKUP_ANNOTATION = "@Microsoft.Dynamics.CRM.lookuplogicalname"
NAV_ANNOTATION = "@Microsoft.Dynamics.CRM.associatednavigationproperty"
FORMATTED = "@OData.Community.Display.V1.FormattedValue"


def context_url(ctx: Ctx, entity: EntityDef, select: list[str] | None, *, single: bool) -> str:
    sel = f"({','.join(select)})" if select else ""
    return f"{ctx.base}$metadata#{entity.entity_set_name}{sel}" + ("/$entity" if single else "")


def _readable(em: TenantState, entity: EntityDef) -> list[AttributeDef]:
    now = em.clock()
    return [a for a in entity.attributes.values() if a.valid_for_read and a.visible_at <= now]


def property_name(attr: AttributeDef) -> str:
    return f"_{attr.logical_name}_value" if attr.type in LOOKUP_TYPES else attr.logical_name


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
) -> dict[str, Any]:
    """The JSON of one row as the Web API returns it."""
    attrs = _readable(em, entity)
    by_prop = {property_name(a): a for a in attrs}
    if select:
        for name in select:
            if name not in by_prop:
                raise unknown_property(entity.logical_name, name)
        chosen = [by_prop[n] for n in select]
        pk = entity.attribute(entity.primary_id)
        if pk is not None and pk not in chosen:
            chosen.append(pk)
    else:
        chosen = attrs
    out: dict[str, Any] = {"@odata.etag": etag(row)}
    for attr in chosen:
        prop = property_name(attr)
        value = row.get(attr.logical_name)
        if attr.type in LOOKUP_TYPES:
            target = row.get(attr.logical_name + TYPE_SUFFIX)
            if value is not None and ctx.formatted_values:
                out[prop + FORMATTED] = _primary_name(em, target, value)
            if value is not None and ctx.lookup_annotations:
                nav = _nav_of(em, entity, attr, target)
                if nav:
                    out[prop + NAV_ANNOTATION] = nav
                out[prop + LOOKUP_ANNOTATION] = target
        elif ctx.formatted_values:
            text = _formatted(attr, value)
            if text is not None:
                out[prop + FORMATTED] = text
        out[prop] = value
    for spec in expand:
        out[spec.nav] = _expand(em, ctx, entity, row, spec)
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
    row = fetch_row(em, target.logical_name, str(row_id))
    return None if row is None else row.get(target.primary_name)


def _expand(
    em: TenantState, ctx: Ctx, entity: EntityDef, row: Mapping[str, Any], spec: odata.ExpandSpec
) -> Any:
    rel = em.schema.navigation(entity.logical_name, spec.nav)
    if rel is not None:
        target = em.schema.entity(rel.referenced_entity)
        value = row.get(rel.referencing_attribute)
        if target is None or value is None:
            return None
        if row.get(rel.referencing_attribute + TYPE_SUFFIX) not in (None, target.logical_name):
            return None
        related = fetch_row(em, target.logical_name, str(value))
        if related is None:
            return None
        em.count_records(1)
        return represent(em, ctx, target, related, spec.select, spec.expand)
    coll = em.schema.collection_navigation(entity.logical_name, spec.nav)
    if coll is None:
        raise unknown_property(entity.logical_name, spec.nav)
    child = em.schema.entity(coll.referencing_entity)
    if child is None:
        return []
    rows = [
        r
        for _, r in em.store.referencing(
            child.logical_name, coll.referencing_attribute, str(row[entity.primary_id])
        )
    ]
    reps = [represent(em, ctx, child, r, None, []) for r in rows]
    if spec.filter is not None:
        reps = [r for r in reps if odata.evaluate(spec.filter, r)]
    if spec.orderby:
        reps = [dict(r) for r in odata.sort_rows(reps, spec.orderby)]
    if spec.top is not None:
        reps = reps[: spec.top]
    em.count_records(len(reps))
    if spec.select:
        ids = [r[child.primary_id] for r in reps]
        by_id = {r[child.primary_id]: r for r in rows}
        return [represent(em, ctx, child, by_id[i], spec.select, spec.expand) for i in ids]
    return reps


def filtered(
    em: TenantState, ctx: Ctx, entity: EntityDef, opts: odata.QueryOptions
) -> list[dict[str, Any]]:
    """Full representations of the rows matching ``$filter``, in ``$orderby`` order."""
    check_privilege(em, ctx, "Read", entity)
    plain = Ctx(ctx.request, ctx.base, ctx.caller, ctx.prefer, False, False)
    props = {property_name(a) for a in _readable(em, entity)}
    if opts.filter is not None:
        for path in odata.referenced_properties(opts.filter):
            head = path.split("/")[0]
            known = head in props or em.schema.navigation(entity.logical_name, head) is not None
            if not known and em.schema.collection_navigation(entity.logical_name, head) is None:
                raise unknown_property(entity.logical_name, head)
    for name, _ in opts.orderby:
        if name not in props:
            raise unknown_property(entity.logical_name, name)
    rows: list[dict[str, Any]] = []
    for stored in all_rows(em, entity.logical_name):
        rep = represent(em, plain, entity, stored, None, [])
        if opts.filter is not None:

            def resolve(path: str, stored: Mapping[str, Any] = stored) -> Any:
                return _resolve_path(em, plain, entity, stored, path)

            if not odata.evaluate(opts.filter, rep, resolve):
                continue
        rows.append(rep)
    if opts.orderby:
        rows = [dict(r) for r in odata.sort_rows(rows, opts.orderby)]
    return rows


def _resolve_path(
    em: TenantState, ctx: Ctx, entity: EntityDef, row: Mapping[str, Any], path: str
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
        rep = represent(em, ctx, target, related, None, [])
        return rep.get(rest) if rest else rep
    coll = em.schema.collection_navigation(entity.logical_name, head)
    if coll is not None:
        child = em.schema.entity(coll.referencing_entity)
        if child is None:
            return []
        return [
            represent(em, ctx, child, r, None, [])
            for _, r in em.store.referencing(
                child.logical_name, coll.referencing_attribute, str(row[entity.primary_id])
            )
        ]
    return None


__all__ = ["context_url", "filtered", "property_name", "represent"]
