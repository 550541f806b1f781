"""Microsoft Graph on the emulator, for raw HTTP tests: the app, a client signed in to Graph
(``graph``: base URL ``https://graph.microsoft.com/v1.0/``, a Graph token on every request),
the default site and its "Documents" drive, and small helpers (a folder, an upload session).

The fixtures are made available to every emulator test by ``tests/emulator/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.graph import GraphConfig

GRAPH_BASE = "https://graph.microsoft.com/v1.0/"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SITE_PATH = "sites/crmferry.sharepoint.com:/sites/crm"
KIB = 1024
MIB = 1024 * KIB
FRAGMENT = 320 * KIB
WALL = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def token_for(app: EmulatorApp, client: httpx.Client, scope: str) -> str:
    """A client-credentials token of the app's default client for ``scope``."""
    client_id, secret = app.default_client
    response = client.post(
        app.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def graph_app(fake_clock: Any, tiny_plane: Any) -> Iterator[EmulatorApp]:
    """An emulator (the tiny Dataverse plane, the fake clock) with the default SharePoint."""
    config = EmulatorConfig(graph=GraphConfig(wall_clock=lambda: WALL))
    with EmulatorApp(config, backend=tiny_plane, clock=fake_clock, sleep=fake_clock.sleep) as app:
        yield app


@pytest.fixture
def graph(graph_app: EmulatorApp) -> Iterator[httpx.Client]:
    """Raw HTTP to Graph, signed in with a Graph token."""
    with httpx.Client(transport=graph_app.transport(), base_url=GRAPH_BASE) as client:
        token = token_for(graph_app, client, GRAPH_SCOPE)
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture
def site(graph: httpx.Client) -> dict[str, Any]:
    response = graph.get(SITE_PATH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def drive(graph: httpx.Client, site: dict[str, Any]) -> dict[str, Any]:
    response = graph.get(f"sites/{site['id']}/drive")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def folder(graph: httpx.Client, drive_id: str, name: str, parent: str = "root") -> dict[str, Any]:
    """Create the folder ``name`` under ``parent`` (an item id, or ``root``); its driveItem."""
    where = "root" if parent == "root" else f"items/{parent}"
    response = graph.post(f"drives/{drive_id}/{where}/children", json={"name": name, "folder": {}})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def session(graph: httpx.Client, drive_id: str, path: str, **item: Any) -> str:
    """An upload session for ``path`` (from the root); its upload URL."""
    body = {"item": item} if item else None
    response = graph.post(f"drives/{drive_id}/root:/{path}:/createUploadSession", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["uploadUrl"])


def put_fragment(
    graph: httpx.Client, url: str, data: bytes, start: int, total: int, **headers: str
) -> httpx.Response:
    """PUT ``data`` as bytes ``start``… of a ``total``-byte file, without Authorization."""
    end = start + len(data) - 1
    sent = {"Content-Range": f"bytes {start}-{end}/{total}", **headers}
    return graph.put(url, content=data, headers=sent, auth=_NoAuth())


class _NoAuth(httpx.Auth):
    """Takes off the client's Authorization header (upload URLs are pre-authenticated)."""

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers.pop("Authorization", None)
        yield request


NO_AUTH = _NoAuth()
