"""Pages of a FetchXML answer: ``top``, ``count`` and ``page`` (simple paging), and the paging
cookie Dataverse hands out and reads back.

Page results using FetchXml
(https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results) and Use
FetchXml with Web API
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-fetchxml-web-api):

* pages hold ``count`` rows, 5,000 (the most there is) when ``count`` is not given;
* the cookie is ``<cookie page="N">`` holding, for each column the entity is ordered by and
  then its primary key, the values of the page's last and first rows
  (``<fullname last="..." first="..." /><contactid last="{GUID}" first="{GUID}" />``); the Web
  API returns it inside ``<cookie pagenumber="N+1" pagingcookie="..." istracking="False" />``
  with the inner cookie URL-encoded twice, as the article's responses show;
* a query sent back with the cookie (``paging-cookie``, the cookie decoded twice) continues
  after the row the cookie names last, so rows added or removed before it don't shift the
  page; when that row is gone, the page number places the page (simple paging);
* no cookie is returned for a query ordered by a link-entity's column ("queries sorted using
  a link-entity attribute may not support paging cookies"), for ``distinct`` queries (they
  return no primary key) and for aggregate queries.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from crm_ferry.emulator.fetchxml import errors
from crm_ferry.emulator.fetchxml.engine import Tuple
from crm_ferry.emulator.fetchxml.parser import parse_cookie
from crm_ferry.emulator.fetchxml.plan import Plan
from crm_ferry.emulator.records.rows import LOOKUP_TYPES

PAGE_SIZE = 5000
"""The default and largest page ("The default and maximum page size is 5,000")."""

T = TypeVar("T")


@dataclass(slots=True)
class Page(Generic[T]):
    rows: list[T]
    number: int
    more: bool


def page_of(plan: Plan, rows: list[T], tuples: list[Tuple] | None = None) -> Page[T]:
    """The page of ``rows`` the query asks for; ``tuples`` (the rows' tuples, same order)
    place a page sent with a paging cookie."""
    fetch = plan.fetch
    if fetch.top is not None:
        return Page(rows[: fetch.top], 1, False)
    size = min(fetch.count or PAGE_SIZE, PAGE_SIZE)
    number = fetch.page or 1
    start = (number - 1) * size
    if fetch.paging_cookie and tuples is not None:
        after = _after(plan, fetch.paging_cookie)
        pk, alias = plan.root.entity.primary_id, plan.root.alias
        for index, t in enumerate(tuples):
            row = t.get(alias)
            if row is not None and str(row.get(pk, "")).lower() == after:
                start = index + 1
                break
    chunk = rows[start : start + size]
    return Page(chunk, number, start + size < len(rows))


def supports_cookie(plan: Plan) -> bool:
    """Whether the query's pages get a paging cookie."""
    fetch = plan.fetch
    if fetch.aggregate or fetch.distinct or fetch.top is not None:
        return False
    return all(k.alias == plan.root.alias for k in plan.sort)


def cookie_annotation(plan: Plan, page: Page[Tuple]) -> str:
    """The ``@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`` value after ``page``."""
    inner = _cookie(plan, page)
    once = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(inner, safe=""))
    twice = quote(once, safe="")
    return f'<cookie pagenumber="{page.number + 1}" pagingcookie="{twice}" istracking="False" />'


def _cookie(plan: Plan, page: Page[Tuple]) -> str:
    root = plan.root
    first, last = page.rows[0].get(root.alias) or {}, page.rows[-1].get(root.alias) or {}
    parts = [f'<cookie page="{page.number}">']
    columns = [k.attr for k in plan.sort if k.attr is not None]
    pk = root.entity.attribute(root.entity.primary_id)
    for attr in [*columns, pk]:
        if attr is None:
            continue
        name = attr.logical_name
        guid = attr.type in LOOKUP_TYPES or attr.type == "Uniqueidentifier"
        values = []
        for which, row in (("last", last), ("first", first)):
            value = row.get(name)
            if value is None:
                values.append(f'{which}null="1"')
            else:
                values.append(f"{which}={quoteattr(_text(value, guid))}")
        parts.append(f"<{name} {' '.join(values)} />")
    parts.append("</cookie>")
    return "".join(parts)


def _text(value: Any, guid: bool) -> str:
    if guid:
        return "{" + str(value).upper() + "}"
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _after(plan: Plan, text: str) -> str | None:
    """The primary key the cookie names last (lower case); the documented errors for a
    cookie that isn't one, or that was made for other orders."""
    cookie = parse_cookie(text)
    if not re.fullmatch(r"\d+", cookie.get("page", "")):
        raise errors.invalid(errors.INVALID_PAGING_COOKIE, "Invalid page number in paging cookie.")
    elements: list[ET.Element] = list(cookie)
    if not elements or elements[-1].tag != plan.root.entity.primary_id:
        return None
    ordered = [e.tag for e in elements[:-1]]
    expected = [k.attr.logical_name for k in plan.sort if k.attr is not None]
    if ordered != expected:
        raise errors.invalid(
            errors.PAGING_ORDER_BY, "Order by columns do not match those in paging cookie."
        )
    last = elements[-1].get("last")
    return last.strip("{}").lower() if last else None


__all__ = ["PAGE_SIZE", "Page", "cookie_annotation", "page_of", "supports_cookie"]
