"""``GET <set>?fetchXml=...``: a FetchXML query answered as the Web API answers it.

The body (Use FetchXml with Web API, Page results using FetchXml, Count rows using FetchXml;
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-fetchxml-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results,
https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/count-rows):

* ``@odata.context`` naming the entity set and the entity's columns;
* with ``returntotalrecordcount='true'`` or ``$count=true`` ("the same result"),
  ``@odata.count``: the rows matching, up to 5,000;
* when ``Prefer: odata.include-annotations`` asks for them:
  ``@Microsoft.Dynamics.CRM.totalrecordcount`` (the same count; -1 when no count was asked
  for) and ``@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded``;
  ``@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`` and ``@Microsoft.Dynamics.CRM.morerecords``
  while more rows follow the page ("In the final page ... will not be included");
* ``value``: the rows (:mod:`.respond`).

``Preference-Applied`` echoes the annotations preference, as the articles' responses do.
"""

from __future__ import annotations

from typing import Any

import httpx

from crm_ferry.emulator.fetchxml import engine
from crm_ferry.emulator.fetchxml.aggregate import aggregate
from crm_ferry.emulator.fetchxml.engine import Tuple, join_key
from crm_ferry.emulator.fetchxml.paging import cookie_annotation, page_of, supports_cookie
from crm_ferry.emulator.fetchxml.parser import parse_fetch
from crm_ferry.emulator.fetchxml.plan import Plan, plan
from crm_ferry.emulator.fetchxml.respond import Writer, context_columns, wants
from crm_ferry.emulator.records.context import Ctx, json_response
from crm_ferry.emulator.records.reads import condition_context
from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.unsupported import not_implemented

COUNT_LIMIT = 5000
"""The most a count says ("up to 5,000 for standard tables")."""

_CRM = "Microsoft.Dynamics.CRM."


def query(
    em: TenantState, ctx: Ctx, entity: EntityDef, text: str, *, count: bool = False
) -> httpx.Response:
    """Answer the FetchXML query ``text`` sent to ``entity``'s set (``count``: ``$count=true``
    was sent with it)."""
    if "odata.maxpagesize" in ctx.prefer:
        # FetchXML pages by its count attribute; what the preference would do beside it is
        # not documented, so it is refused rather than ignored
        raise not_implemented("The preference odata.maxpagesize with fetchXml (use count)")
    bound = plan(em, ctx, entity, parse_fetch(text))
    context = condition_context(em, ctx)
    tuples = engine.run(em, bound, context)
    writer = Writer(em, ctx, bound)
    more = False
    cookie: str | None = None
    if bound.fetch.aggregate:
        groups = aggregate(em, bound, tuples, context)
        total = len(groups)
        group_page = page_of(bound, groups)
        values = [writer.group(g) for g in group_page.rows]
        more = group_page.more
    else:
        if bound.fetch.distinct:
            tuples = _distinct(bound, tuples)
        total = len(tuples)
        page = page_of(bound, tuples, tuples)
        values = [writer.row(t) for t in page.rows]
        more = page.more
        if more and page.rows and supports_cookie(bound):
            cookie = cookie_annotation(bound, page)
    em.count_records(len(values))
    body = _annotations(ctx, bound, total, counted=count or bound.fetch.total_count)
    if more and cookie is not None and wants(ctx, _CRM + "fetchxmlpagingcookie"):
        body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"] = cookie
    if more and wants(ctx, _CRM + "morerecords"):
        body["@Microsoft.Dynamics.CRM.morerecords"] = True
    body["value"] = values
    headers = {}
    preference = ctx.prefer.get("odata.include-annotations")
    if preference is not None:
        headers["Preference-Applied"] = f'odata.include-annotations="{preference}"'
    return json_response(200, body, headers)


def _annotations(ctx: Ctx, bound: Plan, total: int, *, counted: bool) -> dict[str, Any]:
    columns = context_columns(bound)
    selected = f"({','.join(columns)})" if columns else ""
    body: dict[str, Any] = {
        "@odata.context": f"{ctx.base}$metadata#{bound.root.entity.entity_set_name}{selected}"
    }
    shown = min(total, COUNT_LIMIT)
    if counted:
        body["@odata.count"] = shown
    if wants(ctx, _CRM + "totalrecordcount"):
        body["@Microsoft.Dynamics.CRM.totalrecordcount"] = shown if counted else -1
    if wants(ctx, _CRM + "totalrecordcountlimitexceeded"):
        body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = (
            counted and total > COUNT_LIMIT
        )
    return body


def _distinct(bound: Plan, tuples: list[Tuple]) -> list[Tuple]:
    """The first tuple of each different set of column values ("duplicate rows not be
    included in the results")."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for t in tuples:
        key = tuple(
            join_key((t.get(c.node.alias) or {}).get(c.attr.logical_name)) for c in bound.columns
        )
        if key not in seen:
            seen.add(key)
            kept.append(t)
    return kept


__all__ = ["COUNT_LIMIT", "query"]
