"""Create a new list, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/list-create?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 03c7b71e4db41c4ac68bfa53212454c3e1412d3c). Adapted:
a document library ("documentLibrary" template, what crm-ferry creates); the article's
example, a generic list with columns, is refused.
"""

from __future__ import annotations

from typing import Any

import httpx


def test_create_a_document_library(graph: httpx.Client, site: dict[str, Any]) -> None:
    got = graph.post(
        f"sites/{site['id']}/lists",
        json={"displayName": "Books", "list": {"template": "documentLibrary"}},
    )
    assert got.status_code == 201
    body = got.json()
    assert {"id", "createdDateTime", "lastModifiedDateTime"} <= set(body)
    assert body["displayName"] == "Books"
    drive = graph.get(f"sites/{site['id']}/lists/{body['id']}/drive")
    assert drive.status_code == 200
    assert drive.json()["name"] == "Books"


def test_the_generic_list_of_the_example_is_refused(
    graph: httpx.Client, site: dict[str, Any]
) -> None:
    got = graph.post(
        f"sites/{site['id']}/lists",
        json={
            "displayName": "Books",
            "columns": [{"name": "Author", "text": {}}, {"name": "PageCount", "number": {}}],
            "list": {"template": "genericList"},
        },
    )
    assert got.status_code == 501
    assert "not implemented by the emulator" in got.json()["error"]["message"]
