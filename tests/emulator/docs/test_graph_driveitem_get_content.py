"""Download the contents of a driveItem, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/driveitem-get-content?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 0713c450496046d1f357f9afae7a914ac6ab4277). Adapted:
a 2,048-byte file of the site's drive.
"""

from __future__ import annotations

from typing import Any

import httpx

from helpers.graph import NO_AUTH

DATA = bytes(range(256)) * 8


def _file(graph: httpx.Client, d: str) -> dict[str, Any]:
    item: dict[str, Any] = graph.put(f"drives/{d}/root:/f.bin:/content", content=DATA).json()
    return item


def test_download_a_complete_file(graph: httpx.Client, drive: dict[str, Any]) -> None:
    item = _file(graph, drive["id"])
    got = graph.get(f"drives/{drive['id']}/items/{item['id']}/content")
    assert got.status_code == 302
    assert got.headers["Location"].startswith("https://")
    assert graph.get(got.headers["Location"], auth=NO_AUTH).content == DATA


def test_the_download_url_property(graph: httpx.Client, drive: dict[str, Any]) -> None:
    item = _file(graph, drive["id"])
    got = graph.get(
        f"drives/{drive['id']}/items/{item['id']}?select=id,@microsoft.graph.downloadUrl"
    )
    assert got.status_code == 200
    body = got.json()
    assert body["id"] == item["id"]
    assert graph.get(body["@microsoft.graph.downloadUrl"], auth=NO_AUTH).content == DATA


def test_partial_range_download(graph: httpx.Client, drive: dict[str, Any]) -> None:
    item = _file(graph, drive["id"])
    got = graph.get(
        item["@microsoft.graph.downloadUrl"], headers={"Range": "bytes=0-1023"}, auth=NO_AUTH
    )
    assert got.status_code == 206
    assert got.headers["Content-Range"] == "bytes 0-1023/2048"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.content == DATA[:1024]
