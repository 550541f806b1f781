"""The client wired to an in-process emulator: what the demo and the tests talk to.

The emulator and the client share no code; this module only connects them through an
``httpx`` transport, exactly as a real tenant would be reached over the network.
"""

from __future__ import annotations

from typing import Any

import httpx

from crm_ferry.dataverse.auth import MsalCredential
from crm_ferry.dataverse.client import ClientOptions, DataverseClient
from crm_ferry.emulator import EmulatorApp


def embedded_client(app: EmulatorApp, **options: Any) -> DataverseClient:
    """A client signed in to ``app`` as its default application user, in process."""
    client_id, secret = app.default_client
    credential = MsalCredential.client_secret(
        environment_url=app.base_url,
        client_id=client_id,
        secret=secret,
        tenant=app.tenant,
        authority=app.base_url,
        http=httpx.Client(transport=app.transport()),
    )
    opts = {"visibility_delays": (0.0,), **options}
    return DataverseClient(
        app.base_url, credential, transport=app.transport(), options=ClientOptions(**opts)
    )
