"""List children of a driveItem, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/driveitem-list-children?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 09455a65abde17103c17fc70605c4c8553f01978). Adapted:
the site's drive; a file and two folders stand for the example's items.
"""

from __future__ import annotations

from typing import Any

import httpx

from helpers.graph import folder


def _fill(graph: httpx.Client, d: str) -> str:
    graph.put(f"drives/{d}/root:/myfile.jpg:/content", content=b"x" * 2048)
    docs = folder(graph, d, "Documents")
    folder(graph, d, "Photos")
    return str(docs["id"])


def test_children_of_the_root_by_id_and_by_path(graph: httpx.Client, drive: dict[str, Any]) -> None:
    d = drive["id"]
    docs = _fill(graph, d)
    graph.put(f"drives/{d}/items/{docs}:/inner.txt:/content", content=b"i")
    root = graph.get(f"drives/{d}/root/children")
    assert root.status_code == 200
    values = root.json()["value"]
    assert [v["name"] for v in values] == ["Documents", "myfile.jpg", "Photos"]
    assert values[1]["size"] == 2048
    assert values[1]["file"]
    assert values[0]["folder"] == {"childCount": 1}
    by_id = graph.get(f"drives/{d}/items/{docs}/children").json()["value"]
    by_path = graph.get(f"drives/{d}/root:/Documents:/children").json()["value"]
    assert [v["id"] for v in by_id] == [v["id"] for v in by_path]


def test_pages_follow_the_next_link(graph: httpx.Client, drive: dict[str, Any]) -> None:
    _fill(graph, drive["id"])
    page = graph.get(f"drives/{drive['id']}/root/children?$top=2").json()
    assert len(page["value"]) == 2
    assert isinstance(page["@odata.nextLink"], str)
    rest = graph.get(page["@odata.nextLink"]).json()
    assert len(rest["value"]) == 1
    assert "@odata.nextLink" not in rest


def test_the_me_drive_form_is_refused(graph: httpx.Client) -> None:
    assert graph.get("me/drive/root/children").status_code == 501
