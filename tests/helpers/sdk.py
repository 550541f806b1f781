"""For the tests of Microsoft's Python SDK (``tests/contract/sdk``): the credential that signs
in to the emulator, and a custom table with an alternate key made through the raw Web API
(:mod:`helpers.definitions`), which the SDK has no single call for.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import httpx
from azure.core.credentials import AccessToken, AccessTokenInfo

from crm_ferry.emulator.app import EmulatorApp
from crm_ferry.emulator.tls import TlsFiles
from helpers.definitions import add_key, create_table, integer_column, string_column


class EmulatorCredential:
    """An azure-core ``TokenCredential`` signing in to the emulator with client credentials."""

    def __init__(self, app: EmulatorApp, tls: TlsFiles) -> None:
        self._app = app
        self._tls = tls
        self.requests = 0

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        client_id, secret = self._app.default_client
        self.requests += 1
        response = httpx.post(
            self._app.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": scopes[0] if scopes else self._app.scope,
            },
            verify=ssl.create_default_context(cafile=str(self._tls.certificate)),
        )
        response.raise_for_status()
        body = response.json()
        return AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))

    def get_token_info(self, *scopes: str, **_: Any) -> AccessTokenInfo:
        token = self.get_token(*scopes)
        return AccessTokenInfo(token.token, token.expires_on)


def table_with_key(raw: httpx.Client, schema_name: str) -> str:
    """A custom table with the columns ``new_Code`` (text) and ``new_Quantity`` (whole
    number) and an alternate key ``<table>_code`` on ``new_code``; its logical name."""
    table = create_table(
        raw, schema_name, string_column("new_Code"), integer_column("new_Quantity")
    )
    add_key(raw, table, f"{table}_code", "new_code")
    return table
