"""A person working in the tenant beside crm-ferry: a client that writes as another system
user (not one of the project's application users), as edits made in Dynamics by hand are."""

from __future__ import annotations

import httpx

from crm_ferry.commands.emulator import embedded_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.emulator import EmulatorApp
from crm_ferry.emulator.layers import CALLER


def person_client(app: EmulatorApp, first: str = "Pat", last: str = "Person") -> DataverseClient:
    """A client whose writes the emulator records as made by a new system user."""
    user_id = app.add_user(first, last, f"{first.lower()}.{last.lower()}@example.com")

    def as_person(request: httpx.Request) -> httpx.Response:
        request.extensions = {**request.extensions, CALLER: user_id}
        return app.backend.handle(request)

    return embedded_client(app, transport=httpx.MockTransport(as_person))
