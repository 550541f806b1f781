"""Create a new folder in a drive, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/driveitem-post-children?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 090b00cc08ea7de0b65aa5c7632d19a33ac8ef06). Adapted:
the site's drive instead of ``/me/drive``.
"""

from __future__ import annotations

from typing import Any

import httpx

BODY = {"name": "New Folder", "folder": {}, "@microsoft.graph.conflictBehavior": "rename"}


def test_create_a_folder(graph: httpx.Client, drive: dict[str, Any]) -> None:
    got = graph.post(f"drives/{drive['id']}/root/children", json=BODY)
    assert got.status_code == 201
    body = got.json()
    for key in (
        "createdBy",
        "createdDateTime",
        "eTag",
        "id",
        "lastModifiedBy",
        "lastModifiedDateTime",
        "name",
        "parentReference",
        "size",
        "folder",
    ):
        assert key in body, key
    assert body["name"] == "New Folder"
    assert body["size"] == 0
    assert body["folder"] == {"childCount": 0}
    assert set(body["parentReference"]) >= {"driveId", "id", "path"}
    again = graph.post(f"drives/{drive['id']}/root/children", json=BODY)
    assert again.status_code == 201
    assert again.json()["name"] == "New Folder 1"  # rename chose a new name


def test_the_me_drive_form_is_refused(graph: httpx.Client) -> None:
    assert graph.post("me/drive/root/children", json=BODY).status_code == 501
