"""Contract scenarios run against the emulator and, when configured, a real Dataverse tenant.

The ``target`` fixture is parametrised over ``emulator`` (always) and ``live`` (marked
``live``, so deselected by default; run with ``pytest -m live tests/contract``). A live run
needs four environment variables and skips cleanly without them:

    CRM_FERRY_LIVE_URL            https://<org>.crm.dynamics.com
    CRM_FERRY_LIVE_TENANT         tenant id or domain
    CRM_FERRY_LIVE_CLIENT_ID      app registration added as an application user
    CRM_FERRY_LIVE_CLIENT_SECRET  its client secret

They are read when this file is imported, before the suite-wide fixture hides every
``CRM_FERRY_*`` variable from the tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from crm_ferry.emulator import EmulatorApp

_LIVE_NAMES = (
    "CRM_FERRY_LIVE_URL",
    "CRM_FERRY_LIVE_TENANT",
    "CRM_FERRY_LIVE_CLIENT_ID",
    "CRM_FERRY_LIVE_CLIENT_SECRET",
)
_LIVE = {name: os.environ.get(name, "") for name in _LIVE_NAMES}


@dataclass(frozen=True)
class Target:
    """Where a scenario runs: raw HTTP, a way to sign in, and the Web API's URL."""

    name: str
    http: httpx.Client
    transport: httpx.BaseTransport | None
    token_url: str
    client_id: str
    client_secret: str
    scope: str
    api_url: str

    def token_response(self) -> httpx.Response:
        return self.http.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": self.scope,
            },
        )

    def api(self) -> httpx.Client:
        """A client for the Web API with a fresh token and the recommended headers."""
        response = self.token_response()
        assert response.status_code == 200, response.text
        return httpx.Client(
            transport=self.transport,
            base_url=self.api_url + "/",
            timeout=60,
            headers={
                "Authorization": f"Bearer {response.json()['access_token']}",
                "Accept": "application/json",
                "OData-MaxVersion": "4.0",
                "OData-Version": "4.0",
            },
        )


@pytest.fixture(params=["emulator", pytest.param("live", marks=pytest.mark.live)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "live":
        missing = [name for name, value in _LIVE.items() if not value]
        if missing:
            pytest.skip(f"live tenant not configured: {', '.join(missing)} not set")
        url = _LIVE["CRM_FERRY_LIVE_URL"].rstrip("/")
        with httpx.Client(timeout=60) as http:
            yield Target(
                name="live",
                http=http,
                transport=None,
                token_url="https://login.microsoftonline.com/"
                f"{_LIVE['CRM_FERRY_LIVE_TENANT']}/oauth2/v2.0/token",
                client_id=_LIVE["CRM_FERRY_LIVE_CLIENT_ID"],
                client_secret=_LIVE["CRM_FERRY_LIVE_CLIENT_SECRET"],
                scope=f"{url}/.default",
                api_url=f"{url}/api/data/v9.2",
            )
        return
    with EmulatorApp() as app, httpx.Client(transport=app.transport()) as http:
        cid, secret = app.default_client
        yield Target(
            name="emulator",
            http=http,
            transport=app.transport(),
            token_url=app.token_url,
            client_id=cid,
            client_secret=secret,
            scope=app.scope,
            api_url=app.api_url,
        )
