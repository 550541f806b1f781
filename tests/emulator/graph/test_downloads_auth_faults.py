"""Downloads (302, Range), Graph's tokens, faults and latency, the dump, a data folder, HTTP."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig, LatencyConfig
from crm_ferry.emulator.faults import FaultSchedule
from crm_ferry.emulator.graph import GraphConfig
from crm_ferry.emulator.server import serve
from helpers.graph import (
    FRAGMENT,
    GRAPH_BASE,
    GRAPH_SCOPE,
    NO_AUTH,
    folder,
    put_fragment,
    session,
    token_for,
)


@pytest.fixture
def d(drive: dict[str, Any]) -> str:
    return str(drive["id"])


@pytest.fixture
def file_item(graph: httpx.Client, d: str) -> dict[str, Any]:
    data = bytes(range(256)) * 8
    item: dict[str, Any] = graph.put(f"drives/{d}/root:/bytes.bin:/content", content=data).json()
    return item


def test_content_is_a_redirect_to_a_preauthenticated_url(
    graph: httpx.Client, d: str, file_item: dict[str, Any]
) -> None:
    got = graph.get(f"drives/{d}/items/{file_item['id']}/content")
    assert got.status_code == 302
    location = got.headers["Location"]
    full = graph.get(location, auth=NO_AUTH)
    assert full.status_code == 200
    assert full.content == bytes(range(256)) * 8
    assert full.headers["Content-Type"] == "application/octet-stream"
    by_path = graph.get(f"drives/{d}/root:/bytes.bin:/content")
    assert by_path.status_code == 302


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-1023", 0, 1023),
        ("bytes=2000-", 2000, 2047),
        ("bytes=-10", 2038, 2047),
        ("bytes=2040-9999", 2040, 2047),
    ],
)
def test_ranges(
    graph: httpx.Client, file_item: dict[str, Any], header: str, start: int, end: int
) -> None:
    url = file_item["@microsoft.graph.downloadUrl"]
    got = graph.get(url, headers={"Range": header}, auth=NO_AUTH)
    assert got.status_code == 206
    assert got.headers["Content-Range"] == f"bytes {start}-{end}/2048"
    assert got.content == (bytes(range(256)) * 8)[start : end + 1]


@pytest.mark.parametrize(
    ("header", "status"), [("bytes=5000-", 416), ("bytes=0-1,5-9", 501), ("rows=1-2", 416)]
)
def test_ranges_refused(
    graph: httpx.Client, file_item: dict[str, Any], header: str, status: int
) -> None:
    got = graph.get(
        file_item["@microsoft.graph.downloadUrl"], headers={"Range": header}, auth=NO_AUTH
    )
    assert got.status_code == status


def test_download_urls_expire_and_folders_have_no_content(
    graph: httpx.Client, d: str, file_item: dict[str, Any], fake_clock: Any
) -> None:
    made = folder(graph, d, "f")
    assert graph.get(f"drives/{d}/items/{made['id']}/content").status_code == 400
    url = file_item["@microsoft.graph.downloadUrl"]
    fake_clock.advance(3601)
    expired = graph.get(url, auth=NO_AUTH)
    assert expired.status_code == 401


def test_graph_takes_only_graph_tokens(graph_app: EmulatorApp) -> None:
    with httpx.Client(transport=graph_app.transport(), base_url=GRAPH_BASE) as client:
        none = client.get("sites/crmferry.sharepoint.com:/sites/crm")
        assert none.status_code == 401
        error = none.json()["error"]
        assert error["code"] == "InvalidAuthenticationToken"
        assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
        assert none.headers["WWW-Authenticate"].startswith('Bearer realm=""')
        dataverse = token_for(graph_app, client, graph_app.scope)
        wrong = client.get(
            "sites/crmferry.sharepoint.com:/sites/crm",
            headers={"Authorization": f"Bearer {dataverse}", "client-request-id": "abc"},
        )
        assert wrong.status_code == 401
        assert "Invalid audience" in wrong.json()["error"]["message"]
        assert wrong.json()["error"]["innerError"]["client-request-id"] == "abc"
        graph = token_for(graph_app, client, GRAPH_SCOPE)
        who = client.get(
            f"{graph_app.api_url}/WhoAmI", headers={"Authorization": f"Bearer {graph}"}
        )
        assert who.status_code == 401
        assert "another resource" in who.json()["error"]["message"]


def test_faults_hit_a_chosen_upload_fragment(
    graph: httpx.Client, graph_app: EmulatorApp, d: str, fake_clock: Any
) -> None:
    url = session(graph, d, "f.bin")
    data = random.Random(3).randbytes(2 * FRAGMENT)
    following = graph_app.graph_faults.numbered + 1
    graph_app.graph_faults.schedule = FaultSchedule(
        at={"unavailable": frozenset({following}), "throttle": frozenset({following + 1})},
        retry_after_s=7,
    )
    unavailable = put_fragment(graph, url, data[:FRAGMENT], 0, len(data))
    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["code"] == "serviceNotAvailable"
    throttled = put_fragment(graph, url, data[:FRAGMENT], 0, len(data))
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"
    assert throttled.json()["error"]["code"] == "activityLimitReached"
    assert graph_app.graph_faults.injected["unavailable"] == 1
    assert graph.get(url, auth=NO_AUTH).status_code == 429  # the burst lasts its Retry-After
    fake_clock.advance(7)  # the burst is over
    assert put_fragment(graph, url, data[:FRAGMENT], 0, len(data)).status_code == 202


def test_latency_applies_to_graph(fake_clock: Any, tiny_plane: Any) -> None:
    slept: list[float] = []
    config = EmulatorConfig(latency=LatencyConfig(per_request_ms=250))
    with (
        EmulatorApp(config, backend=tiny_plane, clock=fake_clock, sleep=slept.append) as app,
        httpx.Client(transport=app.transport(), base_url=GRAPH_BASE) as client,
    ):
        token = token_for(app, client, GRAPH_SCOPE)
        got = client.get(
            "sites/crmferry.sharepoint.com:/sites/crm",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert got.status_code == 200
    assert slept == [0.25]


def test_the_dump_and_a_data_folder(tmp_path: Path, fake_clock: Any, tiny_plane: Any) -> None:
    def open_app() -> EmulatorApp:
        return EmulatorApp(
            EmulatorConfig(graph=GraphConfig()), tmp_path, backend=tiny_plane, clock=fake_clock
        )

    with open_app() as app, httpx.Client(transport=app.transport(), base_url=GRAPH_BASE) as c:
        c.headers["Authorization"] = f"Bearer {token_for(app, c, GRAPH_SCOPE)}"
        d = c.get("sites/crmferry.sharepoint.com:/sites/crm:/drive").json()["id"]
        folder(c, d, "contact")
        c.put(f"drives/{d}/root:/contact/b.txt:/content", content=b"bee")
        c.put(f"drives/{d}/root:/contact/A.txt:/content", content=b"a")
        session(c, d, "contact/pending.bin")
        before = app.graph_dump()
    assert before["sites"][0]["libraries"][0]["items"] == [
        {"path": "contact", "folder": True},
        {
            "path": "contact/A.txt",
            "size": 1,
            "sha256": "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
        },
        {"path": "contact/b.txt", "size": 3, "sha256": hashlib.sha256(b"bee").hexdigest()},
    ]
    assert before["upload_sessions"] == [{"name": "pending.bin", "received": 0, "total": None}]
    assert (tmp_path / "graph" / "graph.sqlite").is_file()
    with open_app() as again:
        assert again.graph_dump() == before
        assert again.graph.content(d, "contact/b.txt") == b"bee"


def test_graph_over_http(make_serving_app: Any) -> None:
    app = make_serving_app(sleep=lambda _s: None)
    with serve(app) as server, httpx.Client(base_url=f"{server.url}/v1.0/") as client:
        client.headers["Authorization"] = f"Bearer {token_for(app, client, GRAPH_SCOPE)}"
        d = client.get("sites/crmferry.sharepoint.com:/sites/crm:/drive").json()["id"]
        url = session(client, d, "served.bin")
        assert url.startswith(f"{server.url}/_files/upload/")
        data = random.Random(4).randbytes(FRAGMENT + 10)
        assert put_fragment(client, url, data[:FRAGMENT], 0, len(data)).status_code == 202
        done = put_fragment(client, url, data[FRAGMENT:], FRAGMENT, len(data))
        assert done.status_code == 201
        link = done.json()["@microsoft.graph.downloadUrl"]
        assert client.get(link, auth=NO_AUTH).content == data
