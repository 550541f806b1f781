"""Get Drive, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/drive-get?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 007852ace71e63cb76552a3471aa71e7dee5f3e8). Adapted:
the site's default document library, and the same drive by id.
"""

from __future__ import annotations

from typing import Any

import httpx


def test_the_document_library_of_a_site_and_by_id(
    graph: httpx.Client, site: dict[str, Any]
) -> None:
    got = graph.get(f"sites/{site['id']}/drive")
    assert got.status_code == 200
    body = got.json()
    assert body["driveType"] == "documentLibrary"
    assert set(body["quota"]) >= {"deleted", "remaining", "state", "total"}
    by_id = graph.get(f"drives/{body['id']}")
    assert by_id.status_code == 200
    assert by_id.json()["id"] == body["id"]
    assert graph.get("drives/b!nosuchdrive").status_code == 404


def test_user_and_group_drives_are_refused(graph: httpx.Client) -> None:
    for path in ("me/drive", "users/someone/drive", "groups/g/drive"):
        assert graph.get(path).status_code == 501
