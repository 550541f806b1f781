"""Get a site resource by path, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/site-getbypath?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 16789542074b084dbe7fe7e86861d77ebdd5954f). Adapted:
the emulator's site ``https://crmferry.sharepoint.com/sites/crm``.
"""

from __future__ import annotations

import httpx


def test_get_a_site_by_hostname_and_path(graph: httpx.Client) -> None:
    got = graph.get("sites/crmferry.sharepoint.com:/sites/crm")
    assert got.status_code == 200
    assert got.headers["Content-Type"].startswith("application/json")
    body = got.json()
    for key in ("id", "displayName", "name", "createdDateTime", "lastModifiedDateTime", "webUrl"):
        assert isinstance(body[key], str), key
    assert body["id"].startswith("crmferry.sharepoint.com,")
    assert body["webUrl"] == "https://crmferry.sharepoint.com/sites/crm"
