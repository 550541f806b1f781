"""For the tests of Microsoft's Python SDK (``tests/contract/sdk``): the credential that signs
in to the emulator, and, through the raw Web API, what the SDK has no call for: custom tables
made with the documented ``POST EntityDefinitions`` and the attribute bodies it takes
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api).
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import httpx
from azure.core.credentials import AccessToken, AccessTokenInfo

from crm_ferry.emulator.app import EmulatorApp
from crm_ferry.emulator.tls import TlsFiles


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


def label(text: str) -> dict[str, Any]:
    return {"LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def create_table(raw: httpx.Client, schema_name: str, *columns: dict[str, Any]) -> str:
    """Create a user-owned custom table (primary name ``new_Name``) with ``columns``
    (attribute metadata bodies) through ``POST EntityDefinitions``; its logical name."""
    body = {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": schema_name,
        "DisplayName": label(schema_name),
        "DisplayCollectionName": label(schema_name + "s"),
        "OwnershipType": "UserOwned",
        "HasNotes": False,
        "HasActivities": False,
        "IsActivity": False,
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "new_Name",
                "IsPrimaryName": True,
                "MaxLength": 200,
                "RequiredLevel": {"Value": "None"},
                "DisplayName": label("Name"),
            }
        ],
    }
    response = raw.post("EntityDefinitions", json=body)
    assert response.status_code == 204, response.text
    logical = schema_name.lower()
    for column in columns:
        added = raw.post(f"EntityDefinitions(LogicalName='{logical}')/Attributes", json=column)
        assert added.status_code == 204, added.text
    return logical


def string_column(schema_name: str, max_length: int = 100) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": schema_name,
        "MaxLength": max_length,
        "RequiredLevel": {"Value": "None"},
        "DisplayName": label(schema_name),
    }


def integer_column(schema_name: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata",
        "SchemaName": schema_name,
        "MinValue": -1000000,
        "MaxValue": 1000000,
        "RequiredLevel": {"Value": "None"},
        "DisplayName": label(schema_name),
    }
