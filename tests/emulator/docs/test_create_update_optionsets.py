"""Create and update choices (option sets) using the Web API.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
create-update-optionsets.md at 18c03d0e2743689e1eb3a07c8469b40030187da9).

The examples' bodies as the page shows them, on a fresh tenant with the solution
``examplesolution`` (publisher prefix ``sample``, option value prefix 72700), the
``sample_bankaccount`` table with the local choice column ``sample_Choice`` of
create-update-column-definitions-using-web-api, and ``new_bankaccount`` with its boolean
column ``new_Boolean`` (added without the solution header: its prefix is the default
publisher's). Also the page's message table: retrieve one, retrieve all, update (``PUT``) and
delete a global choice.
"""

from __future__ import annotations

import re

import httpx
import pytest

from helpers.metadata_docs import (
    NS,
    SOLUTION,
    add_bank_accounts,
    label,
    options,
    required_level,
    texts,
)
from helpers.webapi import created_id

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
IN_SOLUTION = {"MSCRM.SolutionUniqueName": SOLUTION}
SAMPLE = "EntityDefinitions(LogicalName='sample_bankaccount')/Attributes"
NEW = "EntityDefinitions(LogicalName='new_bankaccount')/Attributes"


COLORS = {
    "@odata.type": NS + "OptionSetMetadata",
    "Options": options((727000000, "Red"), (727000001, "Yellow"), (727000002, "Green")),
    "Description": label("Color Choice"),
    "DisplayName": label("Colors"),
    "Name": "sample_colors",
    "OptionSetType": "Picklist",
}


@pytest.fixture
def tenant(api: httpx.Client) -> httpx.Client:
    add_bank_accounts(api)
    choice = {
        "@odata.type": NS + "PicklistAttributeMetadata",
        "AttributeType": "Picklist",
        "AttributeTypeName": {"Value": "PicklistType"},
        "SourceTypeMask": 0,
        "OptionSet": {
            "@odata.type": NS + "OptionSetMetadata",
            "Options": options(
                (727000000, "Bravo"),
                (727000001, "Delta"),
                (727000002, "Alpha"),
                (727000003, "Charlie"),
                (727000004, "Foxtrot"),
            ),
            "IsGlobal": False,
            "OptionSetType": "Picklist",
        },
        "Description": label("Choice Attribute"),
        "DisplayName": label("Sample Choice"),
        "RequiredLevel": required_level("None", False),
        "SchemaName": "sample_Choice",
    }
    assert api.post(SAMPLE, json=choice, headers=IN_SOLUTION).status_code == 204
    boolean = {
        "@odata.type": NS + "BooleanAttributeMetadata",
        "AttributeType": "Boolean",
        "AttributeTypeName": {"Value": "BooleanType"},
        "DefaultValue": False,
        "OptionSet": {
            "TrueOption": {"Value": 1, "Label": label("True")},
            "FalseOption": {"Value": 0, "Label": label("False")},
            "OptionSetType": "Boolean",
        },
        "Description": label("Boolean Attribute"),
        "DisplayName": label("Sample Boolean"),
        "RequiredLevel": required_level("None", False),
        "SchemaName": "new_Boolean",
    }
    assert api.post(NEW, json=boolean).status_code == 204
    return api


def _choice_options(api: httpx.Client) -> list[tuple[int, str]]:
    got = api.get(
        f"{SAMPLE}(LogicalName='sample_choice')/{NS}PicklistAttributeMetadata/OptionSet",
        params={"$select": "Options"},
    )
    assert got.status_code == 200, got.text
    return [(o["Value"], texts(o["Label"])[1033]) for o in got.json()["Options"]]


def _create_colors(api: httpx.Client) -> str:
    response = api.post("GlobalOptionSetDefinitions", json=COLORS, headers=IN_SOLUTION)
    assert response.status_code == 204, response.text
    url = response.headers["OData-EntityId"]
    assert re.fullmatch(f"{re.escape(BASE)}GlobalOptionSetDefinitions\\({GUID}\\)", url), url
    return url[url.rindex("(") + 1 : -1]


def test_create_a_global_option_set(tenant: httpx.Client) -> None:
    response = tenant.post("GlobalOptionSetDefinitions", json=COLORS, headers=IN_SOLUTION)
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    url = response.headers["OData-EntityId"]
    assert re.fullmatch(f"{re.escape(BASE)}GlobalOptionSetDefinitions\\({GUID}\\)", url), url
    # "You can also refer to this global choice using the name"
    by_name = tenant.get("GlobalOptionSetDefinitions(Name='sample_colors')")
    assert by_name.status_code == 200
    body = by_name.json()
    assert body["@odata.context"] == f"{BASE}$metadata#GlobalOptionSetDefinitions/$entity"
    assert body["MetadataId"] == url[url.rindex("(") + 1 : -1]
    assert (body["Name"], body["IsGlobal"], body["OptionSetType"]) == (
        "sample_colors",
        True,
        "Picklist",
    )
    assert texts(body["DisplayName"]) == {1033: "Colors"}
    assert texts(body["Description"]) == {1033: "Color Choice"}
    assert [(o["Value"], texts(o["Label"])[1033]) for o in body["Options"]] == [
        (727000000, "Red"),
        (727000001, "Yellow"),
        (727000002, "Green"),
    ]


def test_create_a_choice_column_using_a_global_option_set(tenant: httpx.Client) -> None:
    colors_id = _create_colors(tenant)
    body = {
        "@odata.type": NS + "PicklistAttributeMetadata",
        "AttributeType": "Picklist",
        "AttributeTypeName": {"Value": "PicklistType"},
        "SourceTypeMask": 0,
        "GlobalOptionSet@odata.bind": f"/GlobalOptionSetDefinitions({colors_id})",
        "Description": label("Colors Global Picklist Attribute"),
        "DisplayName": label("Sample Colors"),
        "RequiredLevel": required_level("None", False),
        "SchemaName": "sample_Colors",
    }
    response = tenant.post(SAMPLE, json=body, headers=IN_SOLUTION)
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert re.fullmatch(
        f"{re.escape(BASE + SAMPLE)}\\({GUID}\\)", response.headers["OData-EntityId"]
    )
    column = tenant.get(
        f"{SAMPLE}(LogicalName='sample_colors')/{NS}PicklistAttributeMetadata",
        params={"$select": "LogicalName", "$expand": "GlobalOptionSet($select=Name,IsGlobal)"},
    ).json()
    assert column["GlobalOptionSet"]["Name"] == "sample_colors"
    assert column["GlobalOptionSet"]["IsGlobal"] is True
    # the rows take the global choice's values
    row = tenant.post("sample_bankaccounts", json={"sample_colors": 727000001})
    assert row.status_code == 204, row.text
    assert tenant.post("sample_bankaccounts", json={"sample_colors": 727000009}).status_code == 400


def test_insert_options(tenant: httpx.Client) -> None:
    body = {
        "AttributeLogicalName": "sample_choice",
        "EntityLogicalName": "sample_bankaccount",
        "Value": 727000005,
        "Label": label("Echo"),
        "SolutionUniqueName": "examplesolution",
    }
    response = tenant.post("InsertOptionValue", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "@odata.context": f"{BASE}$metadata#Microsoft.Dynamics.CRM.InsertOptionValueResponse",
        "NewOptionValue": 727000005,
    }
    assert _choice_options(tenant)[-1] == (727000005, "Echo")
    row = tenant.post("sample_bankaccounts", json={"sample_choice": 727000005})
    assert row.status_code == 204, row.text


def test_insert_options_lets_the_system_assign_a_value(tenant: httpx.Client) -> None:
    # "we recommend that you let the system assign a value": the solution's publisher's option
    # value prefix (72700), a value the choice doesn't have
    response = tenant.post(
        "InsertOptionValue",
        json={
            "AttributeLogicalName": "sample_choice",
            "EntityLogicalName": "sample_bankaccount",
            "Label": label("Golf"),
            "SolutionUniqueName": "examplesolution",
        },
    )
    assert response.status_code == 200, response.text
    value = response.json()["NewOptionValue"]
    assert str(value).startswith("72700")
    assert value not in [v for v, _ in _choice_options(tenant)[:-1]]


def test_update_options(tenant: httpx.Client) -> None:
    body = {
        "AttributeLogicalName": "new_boolean",
        "EntityLogicalName": "new_bankaccount",
        "Value": 1,
        "Label": label("Up"),
        "MergeLabels": True,
    }
    response = tenant.post("UpdateOptionValue", json=body)
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    option_set = tenant.get(
        f"{NEW}(LogicalName='new_boolean')/{NS}BooleanAttributeMetadata/OptionSet"
    ).json()
    assert texts(option_set["TrueOption"]["Label"]) == {1033: "Up"}
    assert texts(option_set["FalseOption"]["Label"]) == {1033: "False"}
    row = created_id(tenant.post("new_bankaccounts", json={"new_boolean": True}))
    read = tenant.get(
        f"new_bankaccounts({row})",
        params={"$select": "new_boolean"},
        headers={"Prefer": 'odata.include-annotations="*"'},
    ).json()
    assert read["new_boolean@OData.Community.Display.V1.FormattedValue"] == "Up"


def test_order_options(tenant: httpx.Client) -> None:
    assert (
        tenant.post(
            "InsertOptionValue",
            json={
                "AttributeLogicalName": "sample_choice",
                "EntityLogicalName": "sample_bankaccount",
                "Value": 727000005,
                "Label": label("Echo"),
            },
        ).status_code
        == 200
    )
    order = [727000002, 727000000, 727000003, 727000001, 727000005, 727000004]
    body = {
        "EntityLogicalName": "sample_bankaccount",
        "AttributeLogicalName": "sample_choice",
        "Values": order,
        "SolutionUniqueName": "examplesolution",
    }
    response = tenant.post("OrderOption", json=body)
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert [v for v, _ in _choice_options(tenant)] == order
    assert [t for _, t in _choice_options(tenant)][:2] == ["Alpha", "Bravo"]


def test_order_options_must_name_every_option(tenant: httpx.Client) -> None:
    response = tenant.post(
        "OrderOption",
        json={
            "EntityLogicalName": "sample_bankaccount",
            "AttributeLogicalName": "sample_choice",
            "Values": [727000002, 727000000],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"].startswith("0x8")
    assert _choice_options(tenant)[0][0] == 727000000


def test_delete_option(tenant: httpx.Client) -> None:
    body = {
        "AttributeLogicalName": "sample_choice",
        "EntityLogicalName": "sample_bankaccount",
        "Value": 727000004,
    }
    response = tenant.post("DeleteOptionValue", json=body)
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert 727000004 not in [v for v, _ in _choice_options(tenant)]
    refused = tenant.post("sample_bankaccounts", json={"sample_choice": 727000004})
    assert refused.status_code == 400


def test_insert_status_value(tenant: httpx.Client) -> None:
    body = {
        "AttributeLogicalName": "statuscode",
        "EntityLogicalName": "sample_bankaccount",
        "Label": label("Frozen"),
        "StateCode": 1,
        "SolutionUniqueName": "examplesolution",
    }
    response = tenant.post("InsertStatusValue", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "@odata.context": f"{BASE}$metadata#Microsoft.Dynamics.CRM.InsertStatusValueResponse",
        "NewOptionValue": 727000000,
    }
    status = tenant.get(
        "EntityDefinitions(LogicalName='sample_bankaccount')/Attributes(LogicalName='statuscode')"
        f"/{NS}StatusAttributeMetadata/OptionSet"
    ).json()
    frozen = [o for o in status["Options"] if o["Value"] == 727000000]
    assert len(frozen) == 1
    assert frozen[0]["State"] == 1
    assert texts(frozen[0]["Label"]) == {1033: "Frozen"}


def test_retrieve_update_and_delete_a_global_option_set(tenant: httpx.Client) -> None:
    # The page's messages: RetrieveAllOptionSets, RetrieveOptionSet, UpdateOptionSet (PUT, the
    # OptionSetMetadataBase properties, not the options), DeleteOptionSet.
    colors_id = _create_colors(tenant)
    every = tenant.get("GlobalOptionSetDefinitions", params={"$select": "Name"})
    assert every.status_code == 200
    assert "sample_colors" in [o["Name"] for o in every.json()["value"]]
    url = f"GlobalOptionSetDefinitions({colors_id})"
    definition = tenant.get(url).json()
    definition.pop("@odata.context")
    definition["DisplayName"] = label("Colours")
    response = tenant.put(url, json=definition, headers={"MSCRM.MergeLabels": "true"})
    assert response.status_code == 204, response.text
    after = tenant.get("GlobalOptionSetDefinitions(Name='sample_colors')").json()
    assert texts(after["DisplayName"]) == {1033: "Colours"}
    assert len(after["Options"]) == 3
    deleted = tenant.delete("GlobalOptionSetDefinitions(Name='sample_colors')")
    assert deleted.status_code == 204, deleted.text
    assert tenant.get(url).status_code == 404
