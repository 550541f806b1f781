"""Requests on a record's navigation properties: the related rows, their references
(``$ref``) and count, and associating and disassociating rows.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api
("Retrieve navigation property values") and
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api:

- ``GET <set>(id)/<single-valued>`` (``$select``, ``$expand``): the related row, 204 when
  there is none; ``…/$ref``: ``{"@odata.id": …}``;
- ``GET <set>(id)/<collection-valued>`` (``$select``, ``$filter``, ``$orderby``, ``$top``,
  ``$count``, ``$expand``, paging with ``odata.maxpagesize``); ``…/$ref``: a
  ``Collection($ref)``; ``…/$count``: the number, as plain text;
- ``PUT …/<single-valued>/$ref`` ``{"@odata.id": uri}`` and ``DELETE …/<single-valued>/$ref``
  set and clear the lookup: an update of the row, with its privileges, version and
  ``modifiedon`` (clearing an empty lookup is an update too);
- ``POST …/<collection-valued>/$ref`` associates a row,
  ``DELETE …/<collection-valued>/$ref?$id=uri`` or ``DELETE …/<collection-valued>(id)/$ref``
  disassociates it: for a one-to-many
  relationship an update of the related row's lookup, for a many-to-many one a pair added
  to or taken from the intersect table (the two rows themselves are not updated);
- ``PUT emails(id)/email_activity_parties`` ``{"value": [...]}``: the activity's parties
  replaced, "a special scenario that is possible only with activityparty".

Deeper paths (a property or a navigation property of a related row, one row of a related
collection) are not implemented by the emulator (501).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from crm_ferry.emulator import odata
from crm_ferry.emulator.records import expansion
from crm_ferry.emulator.records.context import (
    Ctx,
    check_if_match,
    json_response,
    match_etag,
    method_not_allowed,
    no_content,
    read_body,
)
from crm_ferry.emulator.records.handlers import addressed
from crm_ferry.emulator.records.keys import parse_reference, resolve_key
from crm_ferry.emulator.records.paging import next_skiptoken, parse_skiptoken
from crm_ferry.emulator.records.privileges import check_privilege
from crm_ferry.emulator.records.reads import ReadCache, context_url, matching
from crm_ferry.emulator.records.relations import (
    Navigation,
    expect_target,
    is_related,
    link,
    navigation,
    related_row,
    related_rows,
    unlink,
)
from crm_ferry.emulator.records.rows import TYPE_SUFFIX
from crm_ferry.emulator.records.writes import (
    check_association,
    create_record,
    delete_record,
    update_record,
)
from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import (
    NOT_IMPLEMENTED,
    PAYLOAD_ERROR,
    UNKNOWN_PROPERTY,
    Fault,
    not_found,
)

_ACTIVITY_PARTY = "activityparty"


def handles(em: TenantState, entity: EntityDef, segments: list[odata.Segment]) -> bool:
    """Whether the segments after ``<set>(<key>)`` start with a navigation property."""
    first = segments[0] if segments else None
    return (
        isinstance(first, odata.PropertySegment) and navigation(em, entity, first.name) is not None
    )


def route(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    key: odata.Key,
    segments: list[odata.Segment],
    opts: odata.QueryOptions,
    method: str,
) -> httpx.Response:
    """Answer a request on ``<set>(<key>)/<navigation property>…`` (see the module)."""
    head = segments[0]
    assert isinstance(head, odata.PropertySegment)
    nav = navigation(em, entity, head.name)
    assert nav is not None
    rest = segments[1:]
    system = rest[0].name if len(rest) == 1 and isinstance(rest[0], odata.SystemSegment) else None
    if opts.ref_id is not None and not (
        system == "$ref" and method == "DELETE" and head.key is None
    ):
        raise _option_not_allowed("$id", nav)
    if head.key is not None:
        if nav.is_collection and system == "$ref":
            if method != "DELETE":
                raise method_not_allowed(method, f"{head.name}(…)/$ref")
            _no_options(opts, nav)
            row_id, row = addressed(em, entity, key)
            other_id, _ = resolve_key(em, nav.target, head.key)
            if other_id is None:
                raise not_found(nav.target.logical_name, "(key)")
            return _remove(em, ctx, nav, row_id, row, other_id)
        raise _too_deep(nav)
    if not rest:
        if nav.is_collection:
            if method == "GET":
                return _get_collection(em, ctx, nav, key, opts, refs=False)
            if method == "PUT" and nav.target.logical_name == _ACTIVITY_PARTY:
                return _replace_parties(em, ctx, nav, key, opts)
            raise method_not_allowed(method, head.name)
        if method == "GET":
            return _get_single(em, ctx, nav, key, opts)
        raise method_not_allowed(method, head.name)
    if system == "$ref":
        return _reference(em, ctx, nav, key, opts, method)
    if system == "$count" and nav.is_collection:
        if method != "GET":
            raise method_not_allowed(method, f"{head.name}/$count")
        return _count(em, ctx, nav, key, opts)
    raise _too_deep(nav)


# -- reads ----------------------------------------------------------------------------


def _get_single(
    em: TenantState, ctx: Ctx, nav: Navigation, key: odata.Key, opts: odata.QueryOptions
) -> httpx.Response:
    _only(opts, nav, "$select", "$expand")
    check_privilege(em, ctx, "Read", nav.source)
    check_privilege(em, ctx, "Read", nav.target)
    exp = expansion.prepare(em, ctx, nav.target, opts.expand, single=True)
    _, row = addressed(em, nav.source, key, virtual=True)
    related = related_row(em, nav, row)
    if related is None:
        return no_content()
    if_none = ctx.request.headers.get("If-None-Match")
    if if_none and if_none != "null" and not opts.expand and match_etag(if_none, related):
        return httpx.Response(304, headers={"OData-Version": "4.0"})
    em.count_records(1)
    body = expansion.render(em, ctx, nav.target, related, opts.select, exp)
    context = context_url(ctx, nav.target, opts.select, single=True, expand=opts.expand)
    return json_response(200, {"@odata.context": context, **body})


def _get_collection(
    em: TenantState,
    ctx: Ctx,
    nav: Navigation,
    key: odata.Key,
    opts: odata.QueryOptions,
    *,
    refs: bool,
) -> httpx.Response:
    """The related rows (or their references), paged like a collection of records."""
    if refs:
        _only(opts, nav, "$filter", "$orderby", "$top", "$skiptoken")
    check_privilege(em, ctx, "Read", nav.source)
    row_id, _ = addressed(em, nav.source, key)
    target = nav.target
    asked = ctx.prefer.get("odata.maxpagesize")
    size = expansion.page_size(em, ctx)
    exp = expansion.prepare(em, ctx, target, opts.expand, single=False, size=size, links=False)
    page, last = parse_skiptoken(opts.skiptoken)
    within = related_rows(em, nav, row_id)
    cache = ReadCache()
    total = 0
    if not opts.orderby and not opts.count and (asked is not None or opts.top is None):
        skip = 0 if last is not None else (page - 1) * size
        found = matching(
            em, ctx, target, opts, cache, within=within, after=last, skip=skip, limit=size + 1
        )
        chunk, more = found[:size], len(found) > size
    else:
        found = matching(em, ctx, target, opts, cache, within=within)
        total = len(found)
        if asked is None and opts.top is not None:
            found = found[: opts.top]
        start = (page - 1) * size
        chunk, more = found[start : start + size], start + size < len(found)
    em.count_records(len(chunk))
    body: dict[str, Any]
    if refs:
        body = {
            "@odata.context": f"{ctx.base}$metadata#Collection($ref)",
            "value": [{"@odata.id": _url(ctx, target, r[target.primary_id])} for r in chunk],
        }
    else:
        context = context_url(ctx, target, opts.select, single=False, expand=opts.expand)
        body = {"@odata.context": context}
        if opts.count:
            body["@odata.count"] = min(total, 5000)
        values = [expansion.render(em, ctx, target, r, opts.select, exp, cache) for r in chunk]
        body["value"] = values
    headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if asked is not None else {}
    if more and chunk:
        query = [
            p
            for p in (ctx.request.url.query.decode("utf-8") or "").split("&")
            if p and not p.lower().startswith(("%24skiptoken", "$skiptoken"))
        ]
        query.append("$skiptoken=" + quote(next_skiptoken(target, page, chunk), safe=""))
        path = f"{_url(ctx, nav.source, row_id)}/{nav.name}" + ("/$ref" if refs else "")
        body["@odata.nextLink"] = f"{path}?" + "&".join(query)
    return json_response(200, body, headers)


def _count(
    em: TenantState, ctx: Ctx, nav: Navigation, key: odata.Key, opts: odata.QueryOptions
) -> httpx.Response:
    """``<set>(id)/<collection-valued>/$count``: how many related rows match ``$filter``."""
    _only(opts, nav, "$filter")
    check_privilege(em, ctx, "Read", nav.source)
    row_id, _ = addressed(em, nav.source, key)
    found = matching(em, ctx, nav.target, opts, within=related_rows(em, nav, row_id))
    return httpx.Response(
        200,
        headers={"Content-Type": "text/plain", "OData-Version": "4.0"},
        content=str(min(len(found), 5000)).encode(),
    )


# -- references -----------------------------------------------------------------------


def _reference(
    em: TenantState,
    ctx: Ctx,
    nav: Navigation,
    key: odata.Key,
    opts: odata.QueryOptions,
    method: str,
) -> httpx.Response:
    if method == "GET":
        if nav.is_collection:
            return _get_collection(em, ctx, nav, key, opts, refs=True)
        _no_options(opts, nav)
        check_privilege(em, ctx, "Read", nav.source)
        _, row = addressed(em, nav.source, key, virtual=True)
        related = related_row(em, nav, row)
        if related is None:
            return no_content()
        url = _url(ctx, nav.target, related[nav.target.primary_id])
        return json_response(200, {"@odata.context": f"{ctx.base}$metadata#$ref", "@odata.id": url})
    if method == "DELETE" and nav.is_collection:
        if opts.ref_id is None:
            raise Fault(
                400,
                PAYLOAD_ERROR,
                f"Disassociating a row from the collection '{nav.name}' needs the $id query "
                f"option (…/{nav.name}/$ref?$id=<uri>) or the row's key "
                f"(…/{nav.name}(<id>)/$ref).",
            )
        row_id, row = addressed(em, nav.source, key)
        other, other_id = parse_reference(em, opts.ref_id)
        expect_target(nav, other)
        return _remove(em, ctx, nav, row_id, row, other_id)
    _no_options(opts, nav)
    allowed = "POST" if nav.is_collection else "PUT"
    if method not in (allowed, "DELETE"):
        raise method_not_allowed(method, f"{nav.name}/$ref")
    row_id, row = addressed(em, nav.source, key)
    check_if_match(ctx.request.headers.get("If-Match"), row)
    if method == "DELETE":  # single-valued: clear the lookup (an update, empty or not)
        update_record(em, ctx, nav.source, row_id, row, {f"{nav.name}@odata.bind": None})
        return no_content()
    other, other_id = parse_reference(em, _odata_id(ctx))
    expect_target(nav, other)
    if not nav.is_collection:
        bind = f"/{other.entity_set_name}({other_id})"
        update_record(em, ctx, nav.source, row_id, row, {f"{nav.name}@odata.bind": bind})
        return no_content()
    _add(em, ctx, nav, row_id, other_id)
    return no_content()


def _add(em: TenantState, ctx: Ctx, nav: Navigation, row_id: str, other_id: str) -> None:
    """Associate the row ``other_id`` with the collection ``nav`` of the row ``row_id``."""
    if nav.kind == "many":
        assert nav.many_to_many is not None
        check_association(em, ctx, nav)
        link(em, nav.many_to_many, nav.source.logical_name, row_id, other_id)
        return
    assert nav.one_to_many is not None
    child = em.store.get(nav.target.logical_name, other_id)
    if child is None:
        raise not_found(nav.target.logical_name, other_id)
    bind = {
        f"{nav.one_to_many.referencing_nav}@odata.bind": f"/{nav.source.entity_set_name}({row_id})"
    }
    update_record(em, ctx, nav.target, other_id, child, bind)


def _remove(
    em: TenantState,
    ctx: Ctx,
    nav: Navigation,
    row_id: str,
    row: dict[str, Any],
    other_id: str,
) -> httpx.Response:
    """Disassociate the row ``other_id`` from the collection ``nav`` of the row ``row_id``:
    a one-to-many row that is not in the collection is a 404 (its lookup is someone
    else's); a pair that is not there is nothing to remove."""
    check_if_match(ctx.request.headers.get("If-Match"), row)
    if nav.kind == "many":
        assert nav.many_to_many is not None
        check_association(em, ctx, nav)
        unlink(em, nav.many_to_many, nav.source.logical_name, row_id, other_id)
        return no_content()
    assert nav.one_to_many is not None
    child = em.store.get(nav.target.logical_name, other_id)
    if child is None or not is_related(em, nav, row_id, other_id):
        raise not_found(nav.target.logical_name, other_id)
    bind = {f"{nav.one_to_many.referencing_nav}@odata.bind": None}
    update_record(em, ctx, nav.target, other_id, child, bind)
    return no_content()


def _replace_parties(
    em: TenantState, ctx: Ctx, nav: Navigation, key: odata.Key, opts: odata.QueryOptions
) -> httpx.Response:
    """``PUT <activities>(id)/<activity>_activity_parties`` ``{"value": [...]}``: the
    activity's parties through that relationship become the ones given."""
    _no_options(opts, nav)
    row_id, row = addressed(em, nav.source, key)
    check_if_match(ctx.request.headers.get("If-Match"), row)
    value = read_body(ctx).get("value")
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Fault(
            400, PAYLOAD_ERROR, f'PUT {nav.name} takes {{"value": [<activity party>, ...]}}.'
        )
    assert nav.one_to_many is not None
    for party in related_rows(em, nav, row_id):
        party_id = str(party[nav.target.primary_id])
        delete_record(em, ctx, nav.target, party_id, existing=party)
    lookup = nav.lookup
    preset = {lookup: row_id, lookup + TYPE_SUFFIX: nav.source.logical_name}
    for item in value:
        create_record(em, ctx, nav.target, item, preset=preset)
    return no_content()


# -- helpers --------------------------------------------------------------------------


def _url(ctx: Ctx, entity: EntityDef, row_id: Any) -> str:
    return f"{ctx.base}{entity.entity_set_name}({row_id})"


def _odata_id(ctx: Ctx) -> Any:
    body = read_body(ctx)
    if "@odata.id" not in body:
        raise Fault(400, PAYLOAD_ERROR, 'The request body must be {"@odata.id": "<uri>"}.')
    return body["@odata.id"]


def _given(opts: odata.QueryOptions) -> dict[str, bool]:
    """Which query options the request carries."""
    return {
        "$select": opts.select is not None,
        "$filter": opts.filter is not None,
        "$orderby": bool(opts.orderby),
        "$top": opts.top is not None,
        "$count": opts.count,
        "$expand": bool(opts.expand),
        "$skiptoken": opts.skiptoken is not None,
    }


def _only(opts: odata.QueryOptions, nav: Navigation, *allowed: str) -> None:
    """400 for a query option the request does not take (never ignored)."""
    for name, given in _given(opts).items():
        if name not in allowed and given:
            raise _option_not_allowed(name, nav)


def _no_options(opts: odata.QueryOptions, nav: Navigation) -> None:
    _only(opts, nav)


def _option_not_allowed(name: str, nav: Navigation) -> Fault:
    return Fault(
        400,
        UNKNOWN_PROPERTY,
        f"The query option '{name}' is not allowed on this request on the navigation "
        f"property '{nav.name}'.",
    )


def _too_deep(nav: Navigation) -> Fault:
    return Fault(
        501,
        NOT_IMPLEMENTED,
        f"Addressing past the navigation property '{nav.name}' (a property, a navigation "
        "property or one row of the related rows) is not implemented by the emulator.",
    )


__all__ = ["handles", "route"]
