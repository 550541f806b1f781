"""List available drives, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/drive-list?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 03aa0f9b64de223334288071f58465c7a819f073). Adapted:
the site's drives (``/sites/{siteId}/drives``) instead of ``/me/drives``.
"""

from __future__ import annotations

from typing import Any

import httpx


def test_list_a_sites_drives(graph: httpx.Client, site: dict[str, Any]) -> None:
    got = graph.get(f"sites/{site['id']}/drives")
    assert got.status_code == 200
    body = got.json()
    assert body["@odata.context"].endswith("$metadata#drives")
    (drive,) = body["value"]
    for key in (
        "createdDateTime",
        "description",
        "id",
        "lastModifiedDateTime",
        "name",
        "webUrl",
        "driveType",
        "quota",
    ):
        assert key in drive, key
    assert drive["driveType"] == "documentLibrary"
    assert set(drive["quota"]) == {"deleted", "remaining", "state", "total", "used"}


def test_the_me_drives_form_is_refused(graph: httpx.Client) -> None:
    assert graph.get("me/drives").status_code == 501
