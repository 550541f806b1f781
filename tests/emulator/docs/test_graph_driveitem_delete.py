"""Delete a driveItem, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/driveitem-delete?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 02b4cba04d0426b41fe35819922b100050c5c441). Adapted:
an item of the site's drive. The recycle bin is not emulated: the item is gone.
"""

from __future__ import annotations

from typing import Any

import httpx


def test_delete_an_item(graph: httpx.Client, drive: dict[str, Any]) -> None:
    item = graph.put(f"drives/{drive['id']}/root:/gone.txt:/content", content=b"x").json()
    stale = graph.delete(
        f"drives/{drive['id']}/items/{item['id']}", headers={"if-match": '"{0},0"'}
    )
    assert stale.status_code == 412
    got = graph.delete(f"drives/{drive['id']}/items/{item['id']}")
    assert got.status_code == 204
    assert got.content == b""
    assert graph.get(f"drives/{drive['id']}/items/{item['id']}").status_code == 404


def test_the_me_drive_form_is_refused(graph: httpx.Client) -> None:
    assert graph.delete("me/drive/items/x").status_code == 501
