"""Reference Dataverse schema definitions by name or MetadataId.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-metadata-name-metadataid
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
retrieve-metadata-name-metadataid.md at 3fa6213ebe17a1327939ab58f29f856036a4673b).

The page's requests on a fresh tenant. Adapted: the relationship ``Account_Tasks`` is
``account_primary_contact`` here (the tenant has no task table), and the global option set
``metric_goaltype`` is one the test creates. The page writes the table in its context URLs
both as ``EntityDefinitions('account')`` and as ``EntityDefinitions(<MetadataId>)``; the tests
hold the part after it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from helpers.definitions import global_choice
from helpers.webapi import get_json

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
NS = "Microsoft.Dynamics.CRM."
OPTION_KEYS = {
    "Value",
    "Color",
    "IsManaged",
    "ExternalValue",
    "ParentValues",
    "Tag",
    "IsHidden",
    "MetadataId",
    "HasChanged",
    "Label",
    "Description",
}
EXPAND = "?$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)"
CONTEXT_TAIL = (
    f"/Attributes/{NS}PicklistAttributeMetadata"
    "(LogicalName,OptionSet(Options),GlobalOptionSet(Options))/$entity"
)


def _goal_type(api: httpx.Client) -> str:
    return global_choice(api, "new_goaltype", "Goal type", (100000000, "Amount"))


def _assert_options(body: dict[str, Any]) -> None:
    assert set(body) == {
        "@odata.context",
        "@odata.type",
        "MetadataId",
        "LogicalName",
        "OptionSet",
        "GlobalOptionSet",
    }
    assert body["LogicalName"] == "accountcategorycode"
    for name in ("OptionSet", "GlobalOptionSet"):
        options = body[name]
        assert {"MetadataId", "Options"} <= set(options)
        assert "DisplayName" not in options
        assert [
            (o["Value"], o["Label"]["LocalizedLabels"][0]["Label"]) for o in options["Options"]
        ] == [
            (1, "Preferred Customer"),
            (2, "Standard"),
        ]
        for option in options["Options"]:
            assert set(option) == OPTION_KEYS
            assert (option["ParentValues"], option["IsHidden"], option["Tag"]) == ([], False, None)
            assert option["Description"] == {"LocalizedLabels": [], "UserLocalizedLabel": None}
    # "You can get the option definition from either property regardless of whether the
    # attribute is configured to use global option sets or the local option set"
    assert body["OptionSet"] == body["GlobalOptionSet"]


@pytest.mark.parametrize(
    ("path", "key", "value"),
    [
        ("EntityDefinitions(LogicalName='account')", "LogicalName", "account"),
        (
            "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='emailaddress1')",
            "LogicalName",
            "emailaddress1",
        ),
        (
            "RelationshipDefinitions(SchemaName='account_primary_contact')",
            "SchemaName",
            "account_primary_contact",
        ),
    ],
)
def test_retrieve_schema_definitions_by_name(
    api: httpx.Client, path: str, key: str, value: str
) -> None:
    body = get_json(api, path)
    assert body[key] == value
    assert body["@odata.context"].endswith("/$entity")


def test_retrieve_a_global_option_set_by_name(api: httpx.Client) -> None:
    metadata_id = _goal_type(api)
    body = get_json(api, "GlobalOptionSetDefinitions(Name='new_goaltype')")
    assert body["@odata.context"] == f"{BASE}$metadata#GlobalOptionSetDefinitions/$entity"
    assert (body["Name"], body["MetadataId"]) == ("new_goaltype", metadata_id)


def test_example_retrieve_schema_definitions_by_name(api: httpx.Client) -> None:
    body = get_json(
        api,
        "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='accountcategorycode')/"
        f"Microsoft.Dynamics.CRM.PicklistAttributeMetadata{EXPAND}",
    )
    assert body["@odata.context"].startswith(f"{BASE}$metadata#EntityDefinitions(")
    assert body["@odata.context"].endswith(CONTEXT_TAIL)
    _assert_options(body)


def test_retrieve_schema_definitions_by_metadata_id(api: httpx.Client) -> None:
    account = get_json(api, "EntityDefinitions(LogicalName='account')?$select=MetadataId")
    table = account["MetadataId"]
    column = get_json(
        api, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='emailaddress1')"
    )["MetadataId"]
    relationship = get_json(api, "RelationshipDefinitions(SchemaName='account_primary_contact')")[
        "MetadataId"
    ]
    choice = _goal_type(api)
    assert get_json(api, f"EntityDefinitions({table})")["LogicalName"] == "account"
    assert get_json(api, f"EntityDefinitions({table})/Attributes({column})")["LogicalName"] == (
        "emailaddress1"
    )
    assert get_json(api, f"RelationshipDefinitions({relationship})")["SchemaName"] == (
        "account_primary_contact"
    )
    assert get_json(api, f"GlobalOptionSetDefinitions({choice})")["Name"] == "new_goaltype"


def test_example_retrieve_schema_definitions_by_metadata_id(api: httpx.Client) -> None:
    # "perform a series of query operations to get the MetadataId"
    tables = get_json(
        api, "EntityDefinitions?$filter=LogicalName%20eq%20'account'&$select=MetadataId"
    )
    assert tables["@odata.context"] == f"{BASE}$metadata#EntityDefinitions(MetadataId)"
    [table] = tables["value"]
    assert set(table) == {"MetadataId"}
    table_id = table["MetadataId"]
    columns = get_json(
        api,
        f"EntityDefinitions({table_id})/Attributes"
        "?$filter=LogicalName%20eq%20'accountcategorycode'&$select=MetadataId",
    )
    assert columns["@odata.context"].startswith(f"{BASE}$metadata#EntityDefinitions(")
    assert columns["@odata.context"].endswith(")/Attributes(MetadataId)")
    assert table_id in columns["@odata.context"]
    [column] = columns["value"]
    assert set(column) == {"@odata.type", "MetadataId"}
    assert column["@odata.type"] == f"#{NS}PicklistAttributeMetadata"
    body = get_json(
        api,
        f"EntityDefinitions({table_id})/Attributes({column['MetadataId']})/"
        f"Microsoft.Dynamics.CRM.PicklistAttributeMetadata{EXPAND}",
    )
    assert body["@odata.context"].endswith(CONTEXT_TAIL)
    assert body["MetadataId"] == column["MetadataId"]
    _assert_options(body)
    # the same as by name
    by_name = get_json(
        api,
        "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='accountcategorycode')/"
        f"Microsoft.Dynamics.CRM.PicklistAttributeMetadata{EXPAND}",
    )
    assert by_name == body


def test_an_unknown_name_is_not_found(api: httpx.Client) -> None:
    response = api.get("EntityDefinitions(LogicalName='new_nosuchtable')")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "0x80040217"
