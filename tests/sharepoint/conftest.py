"""The SharePoint client against the emulator's Graph endpoint, in process.

The app runs a tiny Dataverse data plane (for sign-in only) and a fake
clock; the client's pauses advance that clock instead of sleeping, so an upload session
expires and a ``Retry-After`` passes exactly as on the wire. ``GraphToken`` signs in with
raw OAuth (client credentials for ``https://graph.microsoft.com/.default``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.app import EmulatorApp
from crm_ferry.sharepoint import SharePointClient
from helpers.clock import FakeClock
from helpers.sharepoint import GraphToken, Recorder, TinyPlane


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> Iterator[EmulatorApp]:
    with EmulatorApp(backend=TinyPlane(), clock=clock, sleep=clock.sleep) as emulator:
        yield emulator


@pytest.fixture
def recorder(app: EmulatorApp) -> Recorder:
    return Recorder(app)


MakeClient = Callable[..., SharePointClient]


@pytest.fixture
def make_client(app: EmulatorApp, clock: FakeClock, recorder: Recorder) -> Iterator[MakeClient]:
    made: list[SharePointClient] = []

    def make(**kw: Any) -> SharePointClient:
        kw.setdefault("sleep", clock.sleep)
        client = SharePointClient(
            kw.pop("credential", GraphToken(app)), transport=httpx.MockTransport(recorder), **kw
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> SharePointClient:
    return make_client()
