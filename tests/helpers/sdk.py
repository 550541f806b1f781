"""For the tests of Microsoft's Python SDK (``tests/contract/sdk``): :func:`pending` marks a
test that waits for another engineer's part of the emulator; the rest sets up, through the raw
Web API, what the SDK has no call for: custom tables made with the documented
``POST EntityDefinitions`` and the attribute bodies it takes
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest
from PowerPlatform.Dataverse.core.errors import HttpError


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


F = TypeVar("F", bound=Callable[..., Any])


def pending(owner: str, what: str) -> Callable[[F], F]:
    """Expected to fail with an HttpError until ``owner``'s ``what`` lands."""
    return pytest.mark.xfail(  # type: ignore[return-value]
        raises=HttpError, strict=True, reason=f"waits for {what} (engineer {owner})"
    )
