"""driveItem: createUploadSession, replayed on the emulator's Graph.

https://learn.microsoft.com/graph/api/driveitem-createuploadsession?view=graph-rest-1.0
(microsoft-graph-docs-contrib commit 0713c450496046d1f357f9afae7a914ac6ab4277). Adapted:
the site's "Documents" drive instead of ``/me/drive``; a 128-byte file sent as 26 + 102
bytes would break the 320 KiB rule, so the first fragment is 320 KiB of a larger file.
"""

from __future__ import annotations

from typing import Any

import httpx

from helpers.graph import FRAGMENT, NO_AUTH, put_fragment


def _session(graph: httpx.Client, d: str, body: dict[str, Any]) -> httpx.Response:
    return graph.post(f"drives/{d}/root:/largefile.dat:/createUploadSession", json=body)


def test_create_an_upload_session(graph: httpx.Client, drive: dict[str, Any]) -> None:
    got = _session(
        graph,
        drive["id"],
        {"item": {"@microsoft.graph.conflictBehavior": "rename", "name": "largefile.dat"}},
    )
    assert got.status_code == 200
    body = got.json()
    assert {"uploadUrl", "expirationDateTime", "nextExpectedRanges"} <= set(body)
    assert isinstance(body["uploadUrl"], str)
    assert body["expirationDateTime"].endswith("Z")


def test_upload_bytes_then_resume_then_complete(graph: httpx.Client, drive: dict[str, Any]) -> None:
    url = _session(graph, drive["id"], {}).json()["uploadUrl"]
    data = bytes(range(256)) * (FRAGMENT // 256) + b"final bytes"
    first = put_fragment(graph, url, data[:FRAGMENT], 0, len(data))
    assert first.status_code == 202
    assert first.headers["Content-Type"].startswith("application/json")
    assert first.json()["nextExpectedRanges"] == [f"{FRAGMENT}-"]
    status = graph.get(url, auth=NO_AUTH)  # resuming an in-progress upload
    assert status.status_code == 200
    assert set(status.json()) == {"expirationDateTime", "nextExpectedRanges"}
    done = put_fragment(graph, url, data[FRAGMENT:], FRAGMENT, len(data))
    assert done.status_code == 201
    assert {"id", "name", "size", "file"} <= set(done.json())
    assert done.json()["size"] == len(data)


def test_a_fragment_the_server_has_is_416(graph: httpx.Client, drive: dict[str, Any]) -> None:
    url = _session(graph, drive["id"], {}).json()["uploadUrl"]
    data = b"x" * (2 * FRAGMENT)
    assert put_fragment(graph, url, data[:FRAGMENT], 0, len(data)).status_code == 202
    again = put_fragment(graph, url, data[:FRAGMENT], 0, len(data))
    assert again.status_code == 416
    assert again.json()["error"]["message"] == "Uploaded fragment overlaps with existing data."


def test_deferred_commit_and_cancel(graph: httpx.Client, drive: dict[str, Any]) -> None:
    url = _session(graph, drive["id"], {"deferCommit": True}).json()["uploadUrl"]
    assert put_fragment(graph, url, b"abc", 0, 3).status_code == 202
    done = graph.post(url, content=b"", auth=NO_AUTH)
    assert done.status_code == 201
    other = _session(graph, drive["id"], {"item": {"@microsoft.graph.conflictBehavior": "rename"}})
    cancelled = graph.delete(other.json()["uploadUrl"], auth=NO_AUTH)
    assert cancelled.status_code == 204
    assert graph.get(other.json()["uploadUrl"], auth=NO_AUTH).status_code == 404


def test_a_name_conflict_at_the_last_fragment(graph: httpx.Client, drive: dict[str, Any]) -> None:
    url = _session(graph, drive["id"], {}).json()["uploadUrl"]
    graph.put(f"drives/{drive['id']}/root:/largefile.dat:/content", content=b"first")
    last = put_fragment(graph, url, b"abc", 0, 3)
    assert last.status_code == 409
    assert last.json()["error"]["code"] == "nameAlreadyExists"


def test_the_me_drive_form_is_refused(graph: httpx.Client) -> None:
    got = graph.post("me/drive/items/x:/largefile.dat:/createUploadSession", json={})
    assert got.status_code == 501
