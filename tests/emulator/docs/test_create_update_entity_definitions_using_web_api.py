"""Create and update table definitions using the Web API.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
create-update-entity-definitions-using-web-api.md at 1a413db6d86984cea2bac39ca17ebbecd8deb903).

The examples: create the ``new_BankAccount`` table (``POST EntityDefinitions`` on v9.0, in the
solution ``examplesolution``); update it with ``PUT`` (the whole definition, read and
modified, ``DisplayName`` changed, ``MSCRM.MergeLabels: true``); what ``PATCH`` and changing a
fixed property get. The column examples of this page (string, money, datetime, boolean,
decimal, integer, memo, choice, multi-select choice, the boolean column's update) are the
same requests as in create-update-column-definitions-using-web-api, replayed in
``test_create_update_column_definitions_using_web_api.py``; the customer lookup
(``CreateCustomerRelationships``) is the relationships' part.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from helpers.metadata_docs import NS, SOLUTION, add_solution, bank_account_table, label, texts

V90 = "https://contoso.crm.dynamics.com/api/data/v9.0/"
GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# The defaults the page's update example shows for the properties the create example leaves
# out ("the JSON here provides the default values for properties not set").
DOC_DEFAULTS: dict[str, Any] = {
    "ActivityTypeMask": 0,
    "AutoRouteToOwnerQueue": False,
    "CanTriggerWorkflow": True,
    "EntityHelpUrlEnabled": False,
    "EntityHelpUrl": None,
    "IsDocumentManagementEnabled": False,
    "IsOneNoteIntegrationEnabled": False,
    "IsInteractionCentricEnabled": False,
    "IsKnowledgeManagementEnabled": False,
    "AutoCreateAccessTeams": False,
    "IsActivity": False,
    "IsActivityParty": False,
    "IsAvailableOffline": False,
    "IsChildEntity": False,
    "IsAIRUpdated": False,
    "IconLargeName": None,
    "IsCustomEntity": True,
    "IsBusinessProcessEnabled": False,
    "SyncToExternalSearchIndex": False,
    "IsOptimisticConcurrencyEnabled": True,
    "ChangeTrackingEnabled": False,
    "IsImportable": True,
    "IsIntersect": False,
    "IsManaged": False,
    "IsEnabledForCharts": True,
    "IsEnabledForTrace": False,
    "IsValidForAdvancedFind": True,
    "DaysSinceRecordLastModified": 0,
    "IsReadingPaneEnabled": True,
    "IsQuickCreateEnabled": False,
    "LogicalName": "new_bankaccount",
    "OwnershipType": "UserOwned",
    "PrimaryNameAttribute": "new_accountname",
    "PrimaryImageAttribute": None,
    "PrimaryIdAttribute": "new_bankaccountid",
    "RecurrenceBaseEntityLogicalName": None,
    "ReportViewName": "Filterednew_BankAccount",
    "SchemaName": "new_BankAccount",
    "IntroducedVersion": "1.0",
    "IsStateModelAware": True,
    "EnforceStateTransitions": False,
    "EntityColor": None,
    "LogicalCollectionName": "new_bankaccounts",
    "CollectionSchemaName": "new_BankAccounts",
    "EntitySetName": "new_bankaccounts",
    "IsEnabledForExternalChannels": False,
    "IsPrivate": False,
    "HasChanged": None,
    "IsAuditEnabled": {
        "Value": False,
        "CanBeChanged": True,
        "ManagedPropertyLogicalName": "canmodifyauditsettings",
    },
    "IsMappable": {
        "Value": True,
        "CanBeChanged": False,
        "ManagedPropertyLogicalName": "ismappable",
    },
    "CanCreateAttributes": {
        "Value": True,
        "CanBeChanged": False,
        "ManagedPropertyLogicalName": "cancreateattributes",
    },
    "IsOfflineInMobileClient": {
        "Value": False,
        "CanBeChanged": True,
        "ManagedPropertyLogicalName": "canmodifymobileclientoffline",
    },
}
PRIVILEGES = {
    f"prv{kind}new_BankAccount": kind
    for kind in ("Create", "Read", "Write", "Delete", "Assign", "Share", "Append", "AppendTo")
}


@pytest.fixture
def v90(api: httpx.Client) -> httpx.Client:
    """The examples' client: v9.0, with the solution ``examplesolution`` (publisher ``new``)."""
    add_solution(api, "new")
    api.base_url = httpx.URL(V90)
    return api


def _create(v90: httpx.Client) -> str:
    response = v90.post(
        "EntityDefinitions",
        json=bank_account_table("new_BankAccount", "new_AccountName"),
        headers={"MSCRM.SolutionUniqueName": SOLUTION},
    )
    assert response.status_code == 204, response.text
    return response.headers["OData-EntityId"]


def test_create_table_definitions(v90: httpx.Client) -> None:
    response = v90.post(
        "EntityDefinitions",
        json=bank_account_table("new_BankAccount", "new_AccountName"),
        headers={"MSCRM.SolutionUniqueName": SOLUTION},
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["OData-Version"] == "4.0"
    assert re.fullmatch(
        f"{re.escape(V90)}EntityDefinitions\\({GUID}\\)", response.headers["OData-EntityId"]
    )
    # "Property values you do not specify will be set to default values" — those of the page
    table = v90.get(response.headers["OData-EntityId"]).json()
    assert table["@odata.context"] == f"{V90}$metadata#EntityDefinitions/$entity"
    for name, value in DOC_DEFAULTS.items():
        assert table[name] == value, name
    assert {p["Name"]: p["PrivilegeType"] for p in table["Privileges"]} == PRIVILEGES
    assert texts(table["DisplayName"]) == {1033: "Bank Account"}
    assert texts(table["Description"]) == {
        1033: "An entity to store information about customer bank accounts"
    }
    assert table["DisplayName"]["UserLocalizedLabel"]["Label"] == "Bank Account"
    primary = v90.get(
        "EntityDefinitions(LogicalName='new_bankaccount')/Attributes(LogicalName='new_accountname')"
        f"/{NS}StringAttributeMetadata",
        params={"$select": "IsPrimaryName,MaxLength,FormatName,RequiredLevel"},
    ).json()
    assert primary["IsPrimaryName"] is True
    assert primary["MaxLength"] == 100
    assert primary["FormatName"] == {"Value": "Text"}
    assert primary["RequiredLevel"]["Value"] == "None"
    # the table is the solution's, and its rows can be written at once
    rows = v90.post("new_bankaccounts", json={"new_accountname": "Contoso Savings"})
    assert rows.status_code == 204, rows.text


def test_update_table_definitions(v90: httpx.Client) -> None:
    url = _create(v90)
    table = v90.get(url).json()
    table["DisplayName"] = label("Bank Business Name")
    response = v90.put(
        url,
        json=table,
        headers={"MSCRM.SolutionUniqueName": SOLUTION, "MSCRM.MergeLabels": "true"},
    )
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    after = v90.get(url).json()
    assert texts(after["DisplayName"]) == {1033: "Bank Business Name"}
    assert texts(after["DisplayCollectionName"]) == {1033: "Bank Accounts"}
    for name, value in DOC_DEFAULTS.items():
        assert after[name] == value, name
    assert after["ModifiedOn"] >= table["ModifiedOn"]


def _with_french(v90: httpx.Client, url: str) -> dict[str, Any]:
    table = v90.get(url).json()
    table["DisplayName"]["LocalizedLabels"].append(
        {"Label": "Compte bancaire", "LanguageCode": 1036}
    )
    assert v90.put(url, json=table).status_code == 204
    return v90.get(url).json()


def test_merge_labels_true_keeps_the_other_languages(v90: httpx.Client) -> None:
    url = _create(v90)
    table = _with_french(v90, url)
    assert texts(table["DisplayName"]) == {1033: "Bank Account", 1036: "Compte bancaire"}
    table["DisplayName"] = label("Bank Business Name")
    assert v90.put(url, json=table, headers={"MSCRM.MergeLabels": "true"}).status_code == 204
    after = texts(v90.get(url).json()["DisplayName"])
    assert after == {1033: "Bank Business Name", 1036: "Compte bancaire"}


@pytest.mark.parametrize("header", [{"MSCRM.MergeLabels": "false"}, {}])
def test_without_merge_labels_the_other_languages_are_lost(
    v90: httpx.Client, header: dict[str, str]
) -> None:
    # "If you don't include a MSCRM.MergeLabels header, the default behavior is as if the value
    # were false and any localized labels not included in your update will be lost."
    url = _create(v90)
    table = _with_french(v90, url)
    table["DisplayName"] = label("Bank Business Name")
    assert v90.put(url, json=table, headers=header).status_code == 204
    assert texts(v90.get(url).json()["DisplayName"]) == {1033: "Bank Business Name"}


def test_patch_cannot_update_table_definitions(v90: httpx.Client) -> None:
    # "You can't use the PATCH method to update data model entities."
    url = _create(v90)
    response = v90.patch(url, json={"DisplayName": label("Bank Business Name")})
    assert response.status_code == 405
    error = response.json()["error"]
    assert error["code"] == "0x80040315"
    assert "PATCH" in error["message"]
    assert texts(v90.get(url).json()["DisplayName"]) == {1033: "Bank Account"}


def test_put_is_the_whole_definition(v90: httpx.Client) -> None:
    # "be careful to include all the existing properties that you don't intend to change":
    # what the body leaves out goes back to its default
    url = _create(v90)
    table = v90.get(url).json()
    table["IsAuditEnabled"] = {**table["IsAuditEnabled"], "Value": True}
    assert v90.put(url, json=table).status_code == 204
    assert v90.get(url).json()["IsAuditEnabled"]["Value"] is True
    partial = {
        "@odata.type": NS + "EntityMetadata",
        "SchemaName": "new_BankAccount",
        "DisplayName": label("Bank Account"),
        "DisplayCollectionName": label("Bank Accounts"),
    }
    assert v90.put(url, json=partial).status_code == 204
    after = v90.get(url).json()
    assert after["IsAuditEnabled"]["Value"] is False
    assert texts(after["Description"]) == {}


def test_what_cannot_change_is_refused(v90: httpx.Client) -> None:
    url = _create(v90)
    table = v90.get(url).json()
    table["OwnershipType"] = "OrganizationOwned"
    response = v90.put(url, json=table)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"].startswith("0x8")
    assert "OwnershipType" in error["message"]
    assert v90.get(url).json()["OwnershipType"] == "UserOwned"


def test_a_table_is_updated_by_its_logical_name_too(v90: httpx.Client) -> None:
    # "you can also use the LogicalName alternate key to reference schema entities"
    _create(v90)
    url = "EntityDefinitions(LogicalName='new_bankaccount')"
    table = v90.get(url).json()
    table["Description"] = label("Bank accounts of our customers")
    assert v90.put(url, json=table).status_code == 204
    assert texts(v90.get(url).json()["Description"]) == {1033: "Bank accounts of our customers"}
