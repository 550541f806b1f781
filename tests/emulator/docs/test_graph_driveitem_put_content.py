"""Upload small files (driveItem: PUT content), replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/driveitem-put-content?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 3bd18aecba9fb3c1331c2f07d21580b75fc2ef6a). Adapted:
the site's drive instead of ``/me/drive``; FolderA is created first.
"""

from __future__ import annotations

from typing import Any

import httpx

from helpers.graph import folder

TEXT = b"The contents of the file goes here."


def test_upload_a_new_file(graph: httpx.Client, drive: dict[str, Any]) -> None:
    folder(graph, drive["id"], "FolderA")
    got = graph.put(
        f"drives/{drive['id']}/root:/FolderA/FileB.txt:/content",
        content=TEXT,
        headers={"Content-Type": "text/plain"},
    )
    assert got.status_code == 201
    assert got.headers["Content-Type"].startswith("application/json")
    body = got.json()
    assert (body["name"], body["size"]) == ("FileB.txt", 35)
    assert isinstance(body["id"], str)
    assert isinstance(body["file"], dict)


def test_update_an_existing_file(graph: httpx.Client, drive: dict[str, Any]) -> None:
    made = graph.put(f"drives/{drive['id']}/root:/FileB.txt:/content", content=b"old").json()
    got = graph.put(
        f"drives/{drive['id']}/items/{made['id']}/content",
        content=TEXT,
        headers={"Content-Type": "text/plain"},
    )
    assert got.status_code == 200
    assert (got.json()["id"], got.json()["size"]) == (made["id"], 35)


def test_the_me_drive_form_is_refused(graph: httpx.Client) -> None:
    assert graph.put("me/drive/root:/FolderA/FileB.txt:/content", content=TEXT).status_code == 501
