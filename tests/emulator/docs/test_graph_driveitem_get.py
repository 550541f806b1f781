"""Get a driveItem, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/driveitem-get?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 14bf249a2582b1fd481d1bc4a8ea83fca42b62cc). Adapted:
the root of the site's drive instead of ``/me/drive/root``.
"""

from __future__ import annotations

from typing import Any

import httpx

from helpers.graph import folder


def test_get_the_root_folder(graph: httpx.Client, drive: dict[str, Any]) -> None:
    folder(graph, drive["id"], "Documents folder")
    got = graph.get(f"drives/{drive['id']}/root")
    assert got.status_code == 200
    body = got.json()
    for key in (
        "createdBy",
        "createdDateTime",
        "eTag",
        "folder",
        "id",
        "lastModifiedBy",
        "lastModifiedDateTime",
        "name",
        "root",
        "size",
        "webUrl",
    ):
        assert key in body, key
    assert body["folder"]["childCount"] == 1
    assert body["root"] == {}
    assert "cTag" not in body  # SharePoint returns no cTag on folders


def test_by_path_select_and_if_none_match(graph: httpx.Client, drive: dict[str, Any]) -> None:
    made = graph.put(f"drives/{drive['id']}/root:/a.txt:/content", content=b"a").json()
    got = graph.get(f"drives/{drive['id']}/root:/a.txt?$select=id,@microsoft.graph.downloadUrl")
    assert got.status_code == 200
    assert {k for k in got.json() if not k.startswith("@odata")} == {
        "id",
        "@microsoft.graph.downloadUrl",
    }
    same = graph.get(
        f"drives/{drive['id']}/items/{made['id']}", headers={"if-none-match": made["cTag"]}
    )
    assert same.status_code == 304
    assert graph.get(f"drives/{drive['id']}/root?$expand=children").status_code == 501


def test_the_me_drive_form_is_refused(graph: httpx.Client) -> None:
    assert graph.get("me/drive/root").status_code == 501
