"""Get a site resource, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/site-get?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 01784a996c3bd7a5e5415c20c478047309f7cc24). Adapted:
the emulator's site's id. The tenant's root site is refused.
"""

from __future__ import annotations

from typing import Any

import httpx


def test_get_a_site_by_id(graph: httpx.Client, site: dict[str, Any]) -> None:
    got = graph.get(f"sites/{site['id']}")
    assert got.status_code == 200
    body = got.json()
    assert {
        "id",
        "displayName",
        "name",
        "createdDateTime",
        "lastModifiedDateTime",
        "webUrl",
    } <= set(body)
    assert body["id"] == site["id"]


def test_the_root_site_is_refused(graph: httpx.Client) -> None:
    for path in ("sites/root", "sites/crmferry.sharepoint.com"):
        got = graph.get(path)
        assert got.status_code == 501
        assert got.json()["error"]["code"] == "notSupported"
