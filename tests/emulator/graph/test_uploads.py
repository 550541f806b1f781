"""Simple uploads and upload sessions, as strict as the articles are."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.graph import GraphConfig
from crm_ferry.emulator.graph.hashes import QuickXorHash
from helpers.graph import (
    FRAGMENT,
    GRAPH_BASE,
    GRAPH_SCOPE,
    MIB,
    NO_AUTH,
    folder,
    put_fragment,
    session,
    token_for,
)


@pytest.fixture
def d(drive: dict[str, Any]) -> str:
    return str(drive["id"])


def data_of(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def quick_xor(data: bytes) -> str:
    h = QuickXorHash()
    h.update(data)
    return h.b64digest()


@pytest.mark.parametrize("size", [0, 1, 4 * MIB])
def test_simple_upload_up_to_the_limit(
    graph: httpx.Client, graph_app: EmulatorApp, d: str, size: int
) -> None:
    data = data_of(size)
    got = graph.put(f"drives/{d}/root:/doc.bin:/content", content=data)
    assert got.status_code == 201, got.text
    item = got.json()
    assert item["size"] == size
    assert item["file"]["hashes"] == {"quickXorHash": quick_xor(data)}
    assert item["file"]["mimeType"] == "application/octet-stream"
    assert graph_app.graph.content(d, "doc.bin") == data


def test_simple_upload_over_the_limit_is_413(graph: httpx.Client, d: str) -> None:
    got = graph.put(f"drives/{d}/root:/big.bin:/content", content=b"x" * (4 * MIB + 1))
    assert got.status_code == 413
    assert "createUploadSession" in got.json()["error"]["message"]


def test_simple_upload_replaces_by_default(graph: httpx.Client, d: str) -> None:
    first = graph.put(f"drives/{d}/root:/a.txt:/content", content=b"one").json()
    second = graph.put(f"drives/{d}/root:/a.txt:/content", content=b"two!")
    assert second.status_code == 200
    body = second.json()
    assert body["id"] == first["id"]
    assert body["size"] == 4
    assert body["eTag"] != first["eTag"]
    assert body["cTag"] != first["cTag"]
    failing = graph.put(
        f"drives/{d}/root:/a.txt:/content?@microsoft.graph.conflictBehavior=fail", content=b"3"
    )
    assert failing.status_code == 409
    renamed = graph.put(
        f"drives/{d}/root:/a.txt:/content?@microsoft.graph.conflictBehavior=rename", content=b"4"
    )
    assert renamed.status_code == 201
    assert renamed.json()["name"] == "a 1.txt"
    by_id = graph.put(f"drives/{d}/items/{first['id']}/content", content=b"five5")
    assert by_id.status_code == 200
    assert by_id.json()["size"] == 5


def test_the_parent_must_exist(graph: httpx.Client, d: str) -> None:
    got = graph.put(f"drives/{d}/root:/nofolder/a.txt:/content", content=b"x")
    assert got.status_code == 409
    assert (
        graph.post(f"drives/{d}/root:/nofolder/a.bin:/createUploadSession", json={}).status_code
        == 409
    )
    folder(graph, d, "contact")
    assert graph.put(f"drives/{d}/root:/contact/a.txt:/content", content=b"x").status_code == 201


def test_an_upload_session_fragment_by_fragment(graph: httpx.Client, d: str) -> None:
    folder(graph, d, "contact")
    data = data_of(3 * FRAGMENT + 1000)
    url = session(graph, d, "contact/big.bin", **{"@microsoft.graph.conflictBehavior": "fail"})
    assert url.startswith("https://graph.microsoft.com/_files/upload/")
    status = graph.get(url, auth=NO_AUTH)
    assert status.status_code == 200
    assert status.json()["nextExpectedRanges"] == ["0-"]
    offset = 0
    for length in (FRAGMENT, 2 * FRAGMENT):
        got = put_fragment(graph, url, data[offset : offset + length], offset, len(data))
        assert got.status_code == 202, got.text
        offset += length
        assert got.json()["nextExpectedRanges"] == [f"{offset}-"]
        assert set(got.json()) == {"expirationDateTime", "nextExpectedRanges"}
    done = put_fragment(graph, url, data[offset:], offset, len(data))
    assert done.status_code == 201, done.text
    item = done.json()
    assert item["name"] == "big.bin"
    assert item["size"] == len(data)
    assert item["file"]["hashes"]["quickXorHash"] == quick_xor(data)
    downloaded = graph.get(item["@microsoft.graph.downloadUrl"], auth=NO_AUTH).content
    assert hashlib.sha256(downloaded).digest() == hashlib.sha256(data).digest()
    assert graph.get(url, auth=NO_AUTH).status_code == 404  # the session is over


def test_fragments_are_checked(graph: httpx.Client, d: str) -> None:
    data = data_of(3 * FRAGMENT)
    url = session(graph, d, "f.bin")
    total = len(data)

    def put(start: int, length: int, total: int = total, **headers: str) -> httpx.Response:
        return put_fragment(graph, url, data[start : start + length], start, total, **headers)

    assert put(0, FRAGMENT).status_code == 202
    overlap = put(0, FRAGMENT)
    assert overlap.status_code == 416
    assert overlap.json()["error"]["code"] == "invalidRange"
    assert overlap.json()["error"]["innerError"]["code"] == "fragmentOverlap"
    gap = put(2 * FRAGMENT, FRAGMENT)
    assert gap.status_code == 416
    assert gap.json()["error"]["innerError"]["code"] == "fragmentOutOfOrder"
    odd = put(FRAGMENT, FRAGMENT - 1)
    assert odd.status_code == 400
    assert "320 KiB" in odd.json()["error"]["message"]
    other_total = put(FRAGMENT, FRAGMENT, total=total + 1)
    assert other_total.status_code == 400
    assert other_total.json()["error"]["innerError"]["code"] == "fragmentLengthMismatch"
    with_token = graph.put(  # the client's Authorization header left on
        url,
        content=data[FRAGMENT : 2 * FRAGMENT],
        headers={"Content-Range": f"bytes {FRAGMENT}-{2 * FRAGMENT - 1}/{total}"},
    )
    assert with_token.status_code == 401
    no_range = graph.put(url, content=b"x", auth=NO_AUTH)
    assert no_range.status_code == 400
    star = graph.put(url, content=b"x", headers={"Content-Range": "bytes 0-0/*"}, auth=NO_AUTH)
    assert star.status_code == 400
    # none of the refused fragments moved the session
    assert graph.get(url, auth=NO_AUTH).json()["nextExpectedRanges"] == [f"{FRAGMENT}-"]
    assert put(FRAGMENT, 2 * FRAGMENT).status_code == 201


@pytest.fixture
def small_limits(fake_clock: Any, tiny_plane: Any) -> Iterator[httpx.Client]:
    """Graph with a fragment limit of 2 x 320 KiB (so that "too big" needs no 60 MiB)."""
    config = EmulatorConfig(graph=GraphConfig(fragment_limit=2 * FRAGMENT))
    with (
        EmulatorApp(config, backend=tiny_plane, clock=fake_clock) as app,
        httpx.Client(transport=app.transport(), base_url=GRAPH_BASE) as client,
    ):
        client.headers["Authorization"] = f"Bearer {token_for(app, client, GRAPH_SCOPE)}"
        yield client


def test_a_fragment_at_the_limit_is_413(small_limits: httpx.Client) -> None:
    graph = small_limits
    d = graph.get("sites/crmferry.sharepoint.com:/sites/crm:/drive").json()["id"]
    url = session(graph, d, "f.bin")
    data = data_of(3 * FRAGMENT)
    got = put_fragment(graph, url, data[: 2 * FRAGMENT], 0, len(data))
    assert got.status_code == 413
    assert got.json()["error"]["innerError"]["code"] == "maxFragmentLengthExceeded"
    assert put_fragment(graph, url, data[:FRAGMENT], 0, len(data)).status_code == 202


def test_cancel_and_expiry(graph: httpx.Client, d: str, fake_clock: Any) -> None:
    url = session(graph, d, "c.bin")
    assert graph.delete(url, auth=NO_AUTH).status_code == 204
    gone = graph.get(url, auth=NO_AUTH)
    assert gone.status_code == 404
    assert gone.json()["error"]["innerError"]["code"] == "uploadSessionNotFound"
    wrong = session(graph, d, "g.bin").split("?")[0] + "?tempauth=wrong"
    assert graph.get(wrong, auth=NO_AUTH).status_code == 401
    url = session(graph, d, "e.bin")
    data = data_of(2 * FRAGMENT)
    assert put_fragment(graph, url, data[:FRAGMENT], 0, len(data)).status_code == 202
    fake_clock.advance(3599)  # each fragment renews the hour
    assert graph.get(url, auth=NO_AUTH).status_code == 200
    fake_clock.advance(2)
    assert put_fragment(graph, url, data[FRAGMENT:], FRAGMENT, len(data)).status_code == 404


def test_a_name_taken_meanwhile_fails_the_last_fragment(graph: httpx.Client, d: str) -> None:
    url = session(graph, d, "race.bin")
    graph.put(f"drives/{d}/root:/race.bin:/content", content=b"first")
    data = data_of(FRAGMENT + 5)
    assert put_fragment(graph, url, data[:FRAGMENT], 0, len(data)).status_code == 202
    last = put_fragment(graph, url, data[FRAGMENT:], FRAGMENT, len(data))
    assert last.status_code == 409
    assert last.json()["error"]["code"] == "nameAlreadyExists"
    assert graph.get(url, auth=NO_AUTH).status_code == 200  # kept until it expires


def test_replace_and_rename_sessions(graph: httpx.Client, d: str) -> None:
    old = graph.put(f"drives/{d}/root:/r.bin:/content", content=b"old").json()
    data = data_of(10)
    url = session(graph, d, "r.bin", **{"@microsoft.graph.conflictBehavior": "replace"})
    replaced = put_fragment(graph, url, data, 0, len(data))
    assert replaced.status_code == 200
    assert replaced.json()["id"] == old["id"]
    assert replaced.json()["size"] == 10
    url = session(graph, d, "r.bin", **{"@microsoft.graph.conflictBehavior": "rename"})
    renamed = put_fragment(graph, url, data, 0, len(data))
    assert renamed.status_code == 201
    assert renamed.json()["name"] == "r 1.bin"
    failing = graph.post(f"drives/{d}/root:/r.bin:/createUploadSession", json={})
    assert failing.status_code == 409  # fail is the default


def test_defer_commit(graph: httpx.Client, d: str) -> None:
    response = graph.post(
        f"drives/{d}/root:/later.bin:/createUploadSession", json={"deferCommit": True}
    )
    url = response.json()["uploadUrl"]
    data = data_of(100)
    last = put_fragment(graph, url, data, 0, len(data))
    assert last.status_code == 202
    assert last.json()["nextExpectedRanges"] == []
    assert graph.get(f"drives/{d}/root:/later.bin").status_code == 404
    done = graph.post(url, content=b"", auth=NO_AUTH)
    assert done.status_code == 201
    assert done.json()["size"] == 100


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"item": {"name": "other.bin"}}, 400),
        ({"item": {"description": "d"}}, 501),
        ({"item": {"fileSize": -1}}, 400),
        ({"item": {"fileSize": 2**50}}, 507),
        ({"deferCommit": "yes"}, 400),
        ({"extra": 1}, 501),
    ],
)
def test_session_requests_are_checked(
    graph: httpx.Client, d: str, body: dict[str, Any], status: int
) -> None:
    got = graph.post(f"drives/{d}/root:/s.bin:/createUploadSession", json=body)
    assert got.status_code == status, got.text


def test_file_size_fixes_the_total(graph: httpx.Client, d: str) -> None:
    url = session(graph, d, "sized.bin", fileSize=50)
    got = put_fragment(graph, url, b"x" * 40, 0, 40)
    assert got.status_code == 400
    assert got.json()["error"]["innerError"]["code"] == "fragmentLengthMismatch"


def test_quick_xor_hash_of_a_known_text(graph: httpx.Client, d: str) -> None:
    text = b"The contents of the file goes here."
    item = graph.put(f"drives/{d}/root:/FileB.txt:/content", content=text).json()
    # cross-checked with the quickxorhash package (1.0.5, a C implementation)
    assert item["file"]["hashes"]["quickXorHash"] == "ReSWVXEBRVw+tb7EXyMlJRtIB58="
    assert len(base64.b64decode(item["file"]["hashes"]["quickXorHash"])) == 20
