"""The record requests, one function each: POST on a set, GET / PATCH / DELETE on a record,
one property, ``$ref`` associations, and GET / ``$count`` on a collection (with paging).

Sources (Microsoft Learn, Dataverse Web API):
create https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api,
update/delete https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api,
conditional operations https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api,
paging https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results,
counts https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from crm_ferry.emulator import odata, tenant
from crm_ferry.emulator.records import expansion
from crm_ferry.emulator.records.aggregate import query_aggregate
from crm_ferry.emulator.records.context import (
    Ctx,
    check_if_match,
    etag,
    json_response,
    match_etag,
    method_not_allowed,
    no_content,
    read_body,
)
from crm_ferry.emulator.records.keys import key_not_found, lookup_name, resolve_key
from crm_ferry.emulator.records.paging import next_skiptoken, parse_skiptoken
from crm_ferry.emulator.records.privileges import check_privilege
from crm_ferry.emulator.records.reads import (
    ReadCache,
    context_url,
    filtered,
    matching,
    represent,
)
from crm_ferry.emulator.records.rows import fetch_row
from crm_ferry.emulator.records.writes import (
    create_record,
    delete_record,
    update_record,
    write_upsert,
)
from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import (
    NOT_IMPLEMENTED,
    Fault,
    not_found,
    unknown_property,
)


def _entity_url(ctx: Ctx, entity: EntityDef, row_id: str) -> str:
    return f"{ctx.base}{entity.entity_set_name}({row_id})"


def _context(ctx: Ctx, entity: EntityDef, opts: odata.QueryOptions, *, single: bool) -> str:
    return context_url(ctx, entity, opts.select, single=single, expand=opts.expand)


def post_create(
    em: TenantState, ctx: Ctx, entity: EntityDef, opts: odata.QueryOptions
) -> httpx.Response:
    """POST: 204 + OData-EntityId, or 201 + body with ``Prefer: return=representation``
    (``$expand`` shows the related rows, deep-inserted ones included)."""
    exp = expansion.prepare(em, ctx, entity, opts.expand, single=True)
    row_id, row = create_record(em, ctx, entity, read_body(ctx))
    if ctx.representation:
        body = expansion.render(em, ctx, entity, row, opts.select, exp)
        body = {"@odata.context": _context(ctx, entity, opts, single=True), **body}
        return json_response(
            201, body, {**ctx.preference_applied(representation=True), "ETag": etag(row)}
        )
    url = _entity_url(ctx, entity, row_id)
    return no_content({"OData-EntityId": url, "Location": url})


def patch_upsert(
    em: TenantState, ctx: Ctx, entity: EntityDef, key: odata.Key, opts: odata.QueryOptions
) -> httpx.Response:
    """PATCH is an upsert unless If-Match / If-None-Match say otherwise."""
    row_id, key_values = resolve_key(em, entity, key)
    exp = expansion.prepare(em, ctx, entity, opts.expand, single=True)
    existing = em.store.get(entity.logical_name, row_id) if row_id else None
    if_match = ctx.request.headers.get("If-Match")
    if_none = ctx.request.headers.get("If-None-Match")
    body = read_body(ctx)
    row_id, row, created = write_upsert(
        em, ctx, entity, row_id, key_values, existing, body, if_match=if_match, if_none=if_none
    )
    url = _entity_url(ctx, entity, row_id)
    if ctx.representation:
        body_out = expansion.render(em, ctx, entity, row, opts.select, exp)
        body_out = {"@odata.context": _context(ctx, entity, opts, single=True), **body_out}
        return json_response(
            201 if created else 200,
            body_out,
            {**ctx.preference_applied(representation=True), "ETag": etag(row)},
        )
    return no_content({"OData-EntityId": url})


def addressed(
    em: TenantState, entity: EntityDef, key: odata.Key, *, virtual: bool = False
) -> tuple[str, dict[str, Any]]:
    """The id and row ``set(<key>)`` names; 404 (by id, or by alternate key) if there is none.
    ``virtual``: rows of virtual tables count too (what a GET of the record reads)."""
    row_id, key_values = resolve_key(em, entity, key)
    row: dict[str, Any] | None = None
    if row_id:
        row = (
            fetch_row(em, entity.logical_name, row_id)
            if virtual
            else em.store.get(entity.logical_name, row_id)
        )
    if row is None or row_id is None:
        if key_values:
            raise key_not_found(entity, key_values)
        raise not_found(entity.logical_name, str(row_id))
    return row_id, row


def delete_one(em: TenantState, ctx: Ctx, entity: EntityDef, key: odata.Key) -> httpx.Response:
    row_id, existing = addressed(em, entity, key)
    check_if_match(ctx.request.headers.get("If-Match"), existing)
    delete_record(em, ctx, entity, row_id, existing=existing)
    return no_content()


def get_one(
    em: TenantState, ctx: Ctx, entity: EntityDef, key: odata.Key, opts: odata.QueryOptions
) -> httpx.Response:
    check_privilege(em, ctx, "Read", entity)
    exp = expansion.prepare(em, ctx, entity, opts.expand, single=True)
    _, row = addressed(em, entity, key, virtual=True)
    if_none = ctx.request.headers.get("If-None-Match")
    if (
        if_none
        and if_none != "null"
        and not opts.expand
        and not (ctx.lookup_annotations or ctx.formatted_values)
        and match_etag(if_none, row)
    ):
        return httpx.Response(304, headers={"OData-Version": "4.0"})
    em.count_records(1)
    body = expansion.render(em, ctx, entity, row, opts.select, exp)
    return json_response(
        200,
        {"@odata.context": _context(ctx, entity, opts, single=True), **body},
        ctx.preference_applied(),
    )


def single_property(
    em: TenantState, ctx: Ctx, entity: EntityDef, key: odata.Key, name: str, method: str
) -> httpx.Response:
    """GET / PUT / DELETE of one property: ``accounts(id)/name``."""
    row_id, row = addressed(em, entity, key)
    attr = entity.attribute(lookup_name(name))
    if attr is None:
        raise unknown_property(entity.logical_name, name)
    if method == "GET":
        check_privilege(em, ctx, "Read", entity)
        rep = represent(em, ctx, entity, row, [name], [])
        return json_response(
            200,
            {
                "@odata.context": f"{ctx.base}$metadata#{entity.entity_set_name}({row_id})/{name}",
                "value": rep.get(name),
            },
        )
    if method == "PUT":
        value = read_body(ctx).get("value")
        update_record(em, ctx, entity, row_id, row, {name: value})
        return no_content()
    if method == "DELETE":
        update_record(em, ctx, entity, row_id, row, {name: None})
        return no_content()
    raise method_not_allowed(method, name)


TOTAL_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount"
COUNT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"


def count(em: TenantState, ctx: Ctx, entity: EntityDef, opts: odata.QueryOptions) -> httpx.Response:
    """GET ``<set>/$count``: how many rows match ``$filter`` (at most 5,000, like
    ``@odata.count``), as plain text. ``$filter`` is the only option a count takes (OData URL
    conventions, "Addressing the Count of a Collection"); the others are refused."""
    given = [
        name
        for name, present in (
            ("$select", opts.select is not None),
            ("$orderby", bool(opts.orderby)),
            ("$top", opts.top is not None),
            ("$count", opts.count),
            ("$expand", bool(opts.expand)),
            ("$skiptoken", opts.skiptoken is not None),
            ("$apply", opts.apply is not None),
        )
        if present
    ]
    if given:
        raise Fault(
            501,
            NOT_IMPLEMENTED,
            f"The query option {given[0]} on a /$count request is not implemented by the "
            "emulator (a count takes $filter only).",
        )
    total = sum(1 for _ in filtered(em, ctx, entity, opts.filter))
    return httpx.Response(
        200,
        headers={"Content-Type": "text/plain", "OData-Version": "4.0"},
        content=str(min(total, em.config.count_limit)).encode(),
    )


def _counts(ctx: Ctx, opts: odata.QueryOptions, total: int, cap: int) -> dict[str, Any]:
    """``@odata.count`` (``$count=true``: the matching rows, at most 5,000) and the total
    record count annotations when ``Prefer: odata.include-annotations`` asks for them
    (without ``$count=true`` the total is -1; Count rows,
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows)."""
    out: dict[str, Any] = {}
    if opts.count:
        out["@odata.count"] = min(total, cap)
    if ctx.wants_annotation(TOTAL_COUNT):
        out[f"@{TOTAL_COUNT}"] = min(total, cap) if opts.count else -1
    if ctx.wants_annotation(COUNT_EXCEEDED):
        out[f"@{COUNT_EXCEEDED}"] = opts.count and total > cap
    return out


def query_collection(
    em: TenantState, ctx: Ctx, entity: EntityDef, opts: odata.QueryOptions
) -> httpx.Response:
    """GET on an entity set: $filter, $select, $orderby, $top, $count, $expand and paging.

    ``Prefer: odata.maxpagesize`` (≤ 5,000, the default) pages with an opaque ``$skiptoken``
    in ``@odata.nextLink``; ``$top`` is ignored when a page size is asked for. ``$apply``
    is :func:`~crm_ferry.emulator.records.aggregate.query_aggregate`'s.

    The skiptoken carries, as Dataverse's paging cookie does, the primary id of the page's
    last row: without ``$orderby`` (rows in primary id order) the next page starts after it,
    so a page reads the rows it returns (and one more), not every row before it. With
    ``$orderby``, ``$count`` or ``$top`` the whole answer is worked out and the page cut
    from it by its number.
    """
    if opts.apply is not None:
        return query_aggregate(em, ctx, entity, opts)
    cache = ReadCache()
    asked = ctx.prefer.get("odata.maxpagesize")
    limit = em.config.max_page_size
    page_size = limit
    if asked is not None:
        try:
            page_size = max(1, min(int(asked), limit))
        except ValueError:
            page_size = limit
    page, last = parse_skiptoken(opts.skiptoken)
    exp = expansion.prepare(em, ctx, entity, opts.expand, single=False, size=page_size)
    keyset = (
        not opts.orderby
        and not opts.count
        and (asked is not None or opts.top is None)
        and entity.logical_name not in tenant.VIRTUAL_TABLES
    )
    total = 0
    if keyset:
        rows = matching(
            em,
            ctx,
            entity,
            opts,
            cache,
            after=last,
            skip=0 if last is not None else (page - 1) * page_size,
            limit=page_size + 1,
        )
        chunk, more = rows[:page_size], len(rows) > page_size
    else:
        rows = matching(em, ctx, entity, opts, cache)
        total = len(rows)
        if asked is None and opts.top is not None:
            rows = rows[: opts.top]
        start = (page - 1) * page_size
        chunk = rows[start : start + page_size]
        more = start + page_size < len(rows)
    values = [expansion.render(em, ctx, entity, r, opts.select, exp, cache) for r in chunk]
    em.count_records(len(values))
    body: dict[str, Any] = {"@odata.context": _context(ctx, entity, opts, single=False)}
    body.update(_counts(ctx, opts, total, em.config.count_limit))
    body["value"] = values
    headers = ctx.preference_applied(page_size=page_size if asked is not None else None)
    if more and chunk:
        query = [
            p
            for p in (ctx.request.url.query.decode("utf-8") or "").split("&")
            if p and not p.lower().startswith(("%24skiptoken", "$skiptoken"))
        ]
        query.append("$skiptoken=" + quote(next_skiptoken(entity, page, chunk), safe=""))
        body["@odata.nextLink"] = f"{ctx.base}{entity.entity_set_name}?" + "&".join(query)
    return json_response(200, body, headers)


__all__ = [
    "count",
    "delete_one",
    "get_one",
    "patch_upsert",
    "post_create",
    "query_collection",
    "single_property",
]
