"""Definitions the tests make through the raw metadata API: custom tables, the columns and
alternate keys they gain, global choices, and the labels those bodies carry.

A custom table is made with the documented ``POST EntityDefinitions`` (a user-owned table
with a String primary name column), a column with ``POST EntityDefinitions(...)/Attributes``
and a key with ``POST EntityDefinitions(...)/Keys``
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api).
The documented examples' own bodies are in :mod:`helpers.metadata_docs`.
"""

from __future__ import annotations

from typing import Any

import httpx

NS = "Microsoft.Dynamics.CRM."


def label(text: str) -> dict[str, Any]:
    """A ``Label`` with one 1033 localized label (untyped, as Microsoft's SDK sends it)."""
    return {"LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def primary_name_column(schema_name: str = "new_Name", max_length: int = 100) -> dict[str, Any]:
    """The String primary name column of a new table."""
    return {
        "@odata.type": NS + "StringAttributeMetadata",
        "SchemaName": schema_name,
        "IsPrimaryName": True,
        "MaxLength": max_length,
        "RequiredLevel": {"Value": "None"},
        "DisplayName": label("Name"),
    }


def table_body(
    schema_name: str,
    *,
    display: str | None = None,
    primary: str = "new_Name",
    max_length: int = 100,
    **extra: Any,
) -> dict[str, Any]:
    """``EntityMetadata`` of a user-owned custom table without notes or activities, named
    ``display`` (else its schema name) and with the primary name column ``primary``;
    ``extra`` adds (or replaces) properties."""
    shown = display or schema_name
    return {
        "@odata.type": NS + "EntityMetadata",
        "SchemaName": schema_name,
        "DisplayName": label(shown),
        "DisplayCollectionName": label(shown + "s"),
        "OwnershipType": "UserOwned",
        "HasNotes": False,
        "HasActivities": False,
        "IsActivity": False,
        "Attributes": [primary_name_column(primary, max_length)],
        **extra,
    }


def create_table(
    api: httpx.Client, schema_name: str, *columns: dict[str, Any], **options: Any
) -> str:
    """Create the table of :func:`table_body` (``options`` as it takes them) and add
    ``columns`` (attribute metadata bodies) to it; its logical name."""
    response = api.post("EntityDefinitions", json=table_body(schema_name, **options))
    assert response.status_code == 204, response.text
    logical = schema_name.lower()
    for column in columns:
        added = add_column(api, logical, column)
        assert added.status_code == 204, added.text
    return logical


def add_column(api: httpx.Client, table: str, body: dict[str, Any]) -> httpx.Response:
    """``POST EntityDefinitions(LogicalName='<table>')/Attributes`` with ``body``."""
    return api.post(f"EntityDefinitions(LogicalName='{table}')/Attributes", json=body)


def add_key(api: httpx.Client, table: str, schema_name: str, *columns: str) -> None:
    """An alternate key ``schema_name`` of ``table`` on ``columns`` (logical names)."""
    key = {"SchemaName": schema_name, "KeyAttributes": list(columns)}
    response = api.post(f"EntityDefinitions(LogicalName='{table}')/Keys", json=key)
    assert response.status_code == 204, response.text


def string_column(schema_name: str, max_length: int = 100) -> dict[str, Any]:
    return {
        "@odata.type": NS + "StringAttributeMetadata",
        "SchemaName": schema_name,
        "MaxLength": max_length,
        "RequiredLevel": {"Value": "None"},
        "DisplayName": label(schema_name),
    }


def integer_column(schema_name: str) -> dict[str, Any]:
    return {
        "@odata.type": NS + "IntegerAttributeMetadata",
        "SchemaName": schema_name,
        "MinValue": -1000000,
        "MaxValue": 1000000,
        "RequiredLevel": {"Value": "None"},
        "DisplayName": label(schema_name),
    }


def global_choice(api: httpx.Client, name: str, display: str, *options: tuple[int, str]) -> str:
    """A global choice ``name`` with ``options`` (value, label), made with ``POST
    GlobalOptionSetDefinitions``; its ``MetadataId``."""
    body = {
        "@odata.type": NS + "OptionSetMetadata",
        "Name": name,
        "DisplayName": label(display),
        "OptionSetType": "Picklist",
        "Options": [{"Value": value, "Label": label(text)} for value, text in options],
    }
    response = api.post("GlobalOptionSetDefinitions", json=body)
    assert response.status_code == 204, response.text
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]


__all__ = [
    "NS",
    "add_column",
    "add_key",
    "create_table",
    "global_choice",
    "integer_column",
    "label",
    "primary_name_column",
    "string_column",
    "table_body",
]
