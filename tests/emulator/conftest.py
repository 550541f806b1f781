"""Fixtures for the emulator's tests."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig
from helpers.clock import FakeClock

# ---------------------------------------------------------------------------------------
# Serving layers: a fake clock and a tiny data plane, so sign-in, protection, faults and
# latency are tested on their own.


class TinyDataPlane:
    """A stand-in for the data plane that honours the seam the serving layers rely on.

    ``GET .../WhoAmI`` answers the caller; ``POST .../<set>/Microsoft.Dynamics.CRM.*Multiple``
    reports ``len(Targets)`` records and fails item ``crm_ferry.fail_item``; anything else
    is a one-record write answered 204.
    """

    def __init__(self) -> None:
        self.users: dict[str, tuple[str, bool]] = {}
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
        caller = request.extensions.get("crm_ferry.caller")
        path = request.url.path
        if path.endswith("/WhoAmI"):
            response = httpx.Response(200, json={"UserId": caller})
            response.extensions["crm_ferry.records"] = 0
            return response
        if "Multiple" in path or path.endswith("$batch"):
            targets = json.loads(request.content or b"{}").get("Targets", [])
            fail = request.extensions.get("crm_ferry.fail_item")
            if fail is not None and fail < len(targets):
                response = httpx.Response(
                    500, json={"error": {"code": "0x80044150", "message": f"item {fail} failed"}}
                )
            else:
                response = httpx.Response(204)
            response.extensions["crm_ferry.records"] = len(targets)
            return response
        response = httpx.Response(204)
        response.extensions["crm_ferry.records"] = 1
        return response

    def application_user(self, client_id: str) -> tuple[str, bool] | None:
        return self.users.get(client_id)

    def register_application_user(self, client_id: str, name: str) -> str:
        with self._lock:
            user = self.users.setdefault(client_id, (str(uuid.uuid4()), False))
        return user[0]

    def dump(self, table: str | None = None) -> dict[str, Any]:
        return {
            "systemusers": [
                {"applicationid": k, "systemuserid": v[0]} for k, v in self.users.items()
            ]
        }

    def close(self) -> None:
        pass


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tiny_plane() -> TinyDataPlane:
    return TinyDataPlane()


MakeApp = Callable[..., EmulatorApp]


@pytest.fixture
def make_serving_app(fake_clock: FakeClock, tiny_plane: TinyDataPlane) -> Iterator[MakeApp]:
    """Build an :class:`EmulatorApp` over the tiny data plane with the fake clock."""
    apps: list[EmulatorApp] = []

    def make(config: EmulatorConfig | None = None, **kwargs: Any) -> EmulatorApp:
        kwargs.setdefault("sleep", fake_clock.sleep)
        app = EmulatorApp(config, backend=tiny_plane, clock=fake_clock, **kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def sign_in(
    client: httpx.Client, app: EmulatorApp, client_id: str | None = None, secret: str | None = None
) -> str:
    """A client-credentials token from the app's token endpoint (raw OAuth, no library)."""
    default_id, default_secret = app.default_client
    response = client.post(
        app.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id or default_id,
            "client_secret": secret or default_secret,
            "scope": app.scope,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def sign_in_token() -> Callable[..., str]:
    return sign_in


# ---------------------------------------------------------------------------------------
# The data plane core: a fresh in-memory tenant and a raw HTTP client on it.

CORE_BASE_URL = "https://contoso.crm.dynamics.com/api/data/v9.2/"


@pytest.fixture
def core_emulator() -> Iterator[Any]:
    """A fresh in-memory :class:`crm_ferry.emulator.core.Emulator` with a fixed wall clock."""
    from datetime import UTC, datetime

    from crm_ferry.emulator.core import CoreConfig, Emulator

    emulator = Emulator(CoreConfig(wall_clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)))
    yield emulator
    emulator.close()


@pytest.fixture
def api(core_emulator: Any) -> Iterator[httpx.Client]:
    """Raw HTTP to the core through ``httpx.MockTransport`` (no Dataverse client involved)."""
    with httpx.Client(
        transport=httpx.MockTransport(core_emulator.handle), base_url=CORE_BASE_URL
    ) as client:
        yield client


# ---------------------------------------------------------------------------------------
# Microsoft Graph (SharePoint) on the emulator: tests/helpers/graph.py

from helpers.graph import drive, graph, graph_app, site  # noqa: E402, F401
