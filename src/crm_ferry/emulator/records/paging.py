"""Paging cookies: the ``$skiptoken`` of an ``@odata.nextLink``, written and read back.

The token is Dataverse's paging cookie
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results):
opaque to clients, it carries the page number and the primary ids of the page's first and
last rows, so the next page starts after the last one.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.validation import INVALID_ARGUMENT, Fault

_COOKIE_RE = re.compile(r'pagenumber="(\d+)"')
_LAST_RE = re.compile(r'\slast="\{?([0-9A-Fa-f-]{36})\}?"')


def parse_skiptoken(token: str | None) -> tuple[int, str | None]:
    """(page number, primary id of the last row of the page before) of a ``$skiptoken``."""
    if not token:
        return 1, None
    text = unquote(token)
    found = _COOKIE_RE.search(text)
    if found is None:
        raise Fault(400, INVALID_ARGUMENT, "The $skiptoken is not valid.")
    # the paging cookie inside is URL-encoded once more (and may come decoded already)
    inner = _LAST_RE.search(unquote(text))
    return int(found.group(1)), inner.group(1).lower() if inner is not None else None


def next_skiptoken(entity: EntityDef, page: int, rows: list[dict[str, Any]]) -> str:
    """The cookie of the page after ``rows`` (page ``page``), the way Dataverse writes it:
    the page number and, URL-encoded inside it, the primary ids of the page's first and last
    rows (``<cookie page="1"><accountid last="{...}" first="{...}" /></cookie>``; see the
    ``@odata.nextLink`` of the example in
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results).
    """
    pk = entity.primary_id
    first, last = str(rows[0].get(pk, "")).upper(), str(rows[-1].get(pk, "")).upper()
    inner = f'<cookie page="{page}"><{pk} last="{{{last}}}" first="{{{first}}}" /></cookie>'
    paging = quote(inner, safe="")
    return f'<cookie pagenumber="{page + 1}" pagingcookie="{paging}" istracking="False" />'


__all__ = ["next_skiptoken", "parse_skiptoken"]
