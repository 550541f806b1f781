"""Microsoft's Python SDK for Dataverse (``powerplatform-dataverse-client``) as a contract client.

The SDK is a real client nobody here wrote: it drives the served emulator through its public
API exactly as it would drive a tenant. It insists on an ``https`` base URL and an
azure-identity credential, so the emulator is served over HTTPS with a certificate made for
the module (:func:`crm_ferry.emulator.tls.make_certificate`), ``requests`` trusts it through
``REQUESTS_CA_BUNDLE``, and :class:`helpers.sdk.EmulatorCredential` fetches the emulator's own
token the way a client-secret credential fetches Entra ID's.

One emulator serves a whole module (tests make rows and tables with their own names); each
test gets its own :class:`~PowerPlatform.Dataverse.client.DataverseClient`. ``raw`` is plain
HTTP on the same emulator, signed in the same way, for what the SDK has no call for: setting
up a custom table through the documented ``POST EntityDefinitions`` (so that the record tests
do not depend on ``CreateEntities``, which the SDK's ``tables.create`` sends) and reading what
a request left behind.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PowerPlatform.Dataverse.client import DataverseClient

from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig
from crm_ferry.emulator.server import RunningServer, serve
from crm_ferry.emulator.tls import TlsFiles, make_certificate
from helpers.sdk import EmulatorCredential


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_certificate(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def served(tls: TlsFiles) -> Iterator[tuple[EmulatorApp, RunningServer]]:
    app = EmulatorApp(EmulatorConfig())
    server = serve(app, tls=tls)
    try:
        yield app, server
    finally:
        server.shutdown()


@pytest.fixture
def emulator(served: tuple[EmulatorApp, RunningServer]) -> EmulatorApp:
    return served[0]


@pytest.fixture
def client(
    served: tuple[EmulatorApp, RunningServer], tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DataverseClient]:
    app, server = served
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.certificate))
    with DataverseClient(server.url, EmulatorCredential(app, tls)) as sdk:
        yield sdk


@pytest.fixture
def unique() -> str:
    """A short suffix that keeps one test's names apart from another's in the module."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def raw(served: tuple[EmulatorApp, RunningServer], tls: TlsFiles) -> Iterator[httpx.Client]:
    """Raw Web API calls on the served emulator (base URL: the ``/api/data/v9.2/`` root)."""
    app, _ = served
    token = EmulatorCredential(app, tls).get_token(app.scope).token
    with httpx.Client(
        base_url=app.api_url + "/",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        verify=ssl.create_default_context(cafile=str(tls.certificate)),
    ) as http:
        yield http
