"""Query table definitions using the Web API.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
query-metadata-web-api.md at 0cc35097731bf86a10ee72940b118f010d47ce13).

Every request of the page, on v9.0 as the page sends them, against the fresh tenant's
``account`` table. Adapted: the page's ``preferredappointmentdaycode`` column is
``industrycode`` here (the tenant's account has no preferred day), and the global option set
``incident_caseorigincode`` is one the test creates (the tenant has none).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from helpers.definitions import global_choice
from helpers.metadata_docs import texts
from helpers.webapi import get_json

V90 = "https://contoso.crm.dynamics.com/api/data/v9.0/"
NS = "Microsoft.Dynamics.CRM."
LABEL_KEYS = {"Label", "LanguageCode", "IsManaged", "MetadataId", "HasChanged"}


@pytest.fixture
def v90(api: httpx.Client) -> httpx.Client:
    api.base_url = httpx.URL(V90)
    return api


def _account_id(client: httpx.Client) -> str:
    account = get_json(client, "EntityDefinitions(LogicalName='account')?$select=LogicalName")
    return str(account["MetadataId"])


def _assert_label(value: dict[str, Any], text: str) -> None:
    assert set(value) == {"LocalizedLabels", "UserLocalizedLabel"}
    [localized] = value["LocalizedLabels"]
    assert set(localized) == LABEL_KEYS
    assert (localized["Label"], localized["LanguageCode"]) == (text, 1033)
    assert value["UserLocalizedLabel"]["Label"] == text


def test_querying_the_entity_metadata_entity_type(v90: httpx.Client) -> None:
    body = get_json(
        v90,
        "EntityDefinitions(LogicalName='account')"
        "?$select=DisplayName,IsKnowledgeManagementEnabled,EntitySetName",
    )
    # The page shows a "value" array for this single definition; a key names one definition,
    # answered as one entity ("/$entity"), as every other keyed example of the page is.
    assert body["@odata.context"] == (
        f"{V90}$metadata#EntityDefinitions(DisplayName,IsKnowledgeManagementEnabled,"
        "EntitySetName)/$entity"
    )
    # "The MetadataId property value is always returned."
    assert set(body) == {
        "@odata.context",
        "DisplayName",
        "IsKnowledgeManagementEnabled",
        "EntitySetName",
        "MetadataId",
    }
    _assert_label(body["DisplayName"], "Account")
    assert body["IsKnowledgeManagementEnabled"] is False
    assert body["EntitySetName"] == "accounts"


def test_use_enum_types_in_filter_operations(v90: httpx.Client) -> None:
    body = get_json(
        v90,
        "EntityDefinitions?$select=LogicalName"
        "&$filter=OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'",
    )
    assert body["@odata.context"] == f"{V90}$metadata#EntityDefinitions(LogicalName)"
    names = {row["LogicalName"] for row in body["value"]}
    assert {"account", "contact"} <= names
    assert "systemuser" not in names  # business-owned
    every = get_json(v90, "EntityDefinitions?$select=LogicalName,OwnershipType")["value"]
    assert names == {row["LogicalName"] for row in every if row["OwnershipType"] == "UserOwned"}
    # "There is no paging": no next link
    assert "@odata.nextLink" not in body


def test_use_complex_types_in_filter_operations(v90: httpx.Client) -> None:
    body = get_json(
        v90, "EntityDefinitions?$select=LogicalName&$filter=CanCreateAttributes/Value eq true"
    )
    assert {"account", "contact"} <= {row["LogicalName"] for row in body["value"]}
    every = get_json(v90, "EntityDefinitions?$select=LogicalName,CanCreateAttributes")["value"]
    expected = {r["LogicalName"] for r in every if r["CanCreateAttributes"]["Value"] is True}
    assert {row["LogicalName"] for row in body["value"]} == expected


def test_querying_entity_metadata_attributes(v90: httpx.Client) -> None:
    body = get_json(
        v90,
        "EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand=Attributes("
        "$select=LogicalName;$filter=AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode"
        "'Picklist')",
    )
    assert body["@odata.context"] == (
        f"{V90}$metadata#EntityDefinitions(LogicalName,Attributes(LogicalName))/$entity"
    )
    assert body["LogicalName"] == "account"
    assert body["Attributes"]
    for attribute in body["Attributes"]:
        assert attribute["@odata.type"] == f"#{NS}PicklistAttributeMetadata"
        assert set(attribute) == {"@odata.type", "MetadataId", "LogicalName"}
    assert "industrycode" in {a["LogicalName"] for a in body["Attributes"]}


def test_option_sets_cant_be_selected_without_the_cast(v90: httpx.Client) -> None:
    # "you can't include the OptionSet or GlobalOptionSet collection-valued navigation
    # properties ... within the $select filter of this query"
    response = v90.get(
        "EntityDefinitions(LogicalName='account')?$select=LogicalName"
        "&$expand=Attributes($select=LogicalName,OptionSet)"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "0x80060888"
    assert "OptionSet" in error["message"]


def test_cast_attributes_to_picklist_and_expand_the_option_sets(v90: httpx.Client) -> None:
    body = get_json(
        v90,
        "EntityDefinitions(LogicalName='account')/Attributes/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName"
        "&$expand=OptionSet,GlobalOptionSet",
    )
    assert body["@odata.context"] == (
        f"{V90}$metadata#EntityDefinitions('{_account_id(v90)}')/Attributes/"
        f"{NS}PicklistAttributeMetadata(LogicalName,OptionSet,GlobalOptionSet)"
    )
    industry = next(a for a in body["value"] if a["LogicalName"] == "industrycode")
    assert set(industry) >= {"@odata.type", "MetadataId", "LogicalName", "OptionSet"}
    assert industry["OptionSet"]["Options"]
    assert all(a["@odata.type"] == f"#{NS}PicklistAttributeMetadata" for a in body["value"])


def test_enum_attribute_metadata_cannot_be_cast_to(v90: httpx.Client) -> None:
    # "you cannot cast the attributes to this type [EnumAttributeMetadata]"
    response = v90.get(
        "EntityDefinitions(LogicalName='account')/Attributes/"
        "Microsoft.Dynamics.CRM.EnumAttributeMetadata?$select=LogicalName"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "0x80060888"


def test_cast_attributes_to_money_for_precision(v90: httpx.Client) -> None:
    body = get_json(
        v90,
        "EntityDefinitions(LogicalName='account')/Attributes/"
        "Microsoft.Dynamics.CRM.MoneyAttributeMetadata?$select=LogicalName,Precision",
    )
    revenue = next(a for a in body["value"] if a["LogicalName"] == "revenue")
    assert set(revenue) == {"@odata.type", "MetadataId", "LogicalName", "Precision"}
    assert isinstance(revenue["Precision"], int)


def test_filtering_by_required_level(v90: httpx.Client) -> None:
    body = get_json(
        v90,
        "EntityDefinitions(LogicalName='account')/Attributes?$select=SchemaName"
        "&$filter=RequiredLevel/Value eq Microsoft.Dynamics.CRM.AttributeRequiredLevel"
        "'ApplicationRequired'",
    )
    assert body["@odata.context"] == (
        f"{V90}$metadata#EntityDefinitions('{_account_id(v90)}')/Attributes(SchemaName)"
    )
    names = {row["SchemaName"] for row in body["value"]}
    every = get_json(
        v90, "EntityDefinitions(LogicalName='account')/Attributes?$select=SchemaName,RequiredLevel"
    )
    expected = {
        r["SchemaName"]
        for r in every["value"]
        if r["RequiredLevel"]["Value"] == "ApplicationRequired"
    }
    assert names == expected
    assert "Name" in names


def _industry_id(v90: httpx.Client) -> str:
    row = get_json(
        v90,
        "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='industrycode')"
        "?$select=MetadataId",
    )
    return str(row["MetadataId"])


def test_retrieving_attributes(v90: httpx.Client) -> None:
    attribute = _industry_id(v90)
    body = get_json(
        v90,
        f"EntityDefinitions(LogicalName='account')/Attributes({attribute})/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet",
    )
    assert body["@odata.context"] == (
        f"{V90}$metadata#EntityDefinitions('{_account_id(v90)}')/Attributes/"
        f"{NS}PicklistAttributeMetadata(LogicalName,OptionSet)/$entity"
    )
    assert (body["LogicalName"], body["MetadataId"]) == ("industrycode", attribute)
    option_set = body["OptionSet"]
    for name in (
        "Options",
        "Description",
        "DisplayName",
        "IsCustomOptionSet",
        "IsGlobal",
        "IsManaged",
        "IsCustomizable",
        "Name",
        "OptionSetType",
        "IntroducedVersion",
        "MetadataId",
        "HasChanged",
    ):
        assert name in option_set, name
    assert (option_set["IsGlobal"], option_set["OptionSetType"]) == (False, "Picklist")
    assert set(option_set["IsCustomizable"]) == {
        "Value",
        "CanBeChanged",
        "ManagedPropertyLogicalName",
    }
    option = option_set["Options"][0]
    assert {
        "Value",
        "Label",
        "Description",
        "Color",
        "IsManaged",
        "MetadataId",
        "HasChanged",
    } <= set(option)
    assert isinstance(option["Value"], int)
    assert option["Description"] == {"LocalizedLabels": [], "UserLocalizedLabel": None}
    assert set(option["Label"]["LocalizedLabels"][0]) == LABEL_KEYS


def test_retrieving_only_the_options(v90: httpx.Client) -> None:
    attribute = _industry_id(v90)
    body = get_json(
        v90,
        f"EntityDefinitions(LogicalName='account')/Attributes({attribute})/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata/OptionSet?$select=Options",
    )
    assert body["@odata.context"] == (
        f"{V90}$metadata#EntityDefinitions('{_account_id(v90)}')/Attributes({attribute})/"
        f"{NS}PicklistAttributeMetadata/OptionSet(Options)/$entity"
    )
    assert {"Options", "MetadataId"} <= set(body)
    assert "DisplayName" not in body
    assert body["Options"][0]["Label"]["LocalizedLabels"][0]["LanguageCode"] == 1033


def test_querying_relationship_metadata(v90: httpx.Client) -> None:
    every = get_json(v90, "RelationshipDefinitions?$select=SchemaName")
    assert every["@odata.context"] == f"{V90}$metadata#RelationshipDefinitions(SchemaName)"
    assert "account_primary_contact" in {r["SchemaName"] for r in every["value"]}
    one_to_many = get_json(
        v90,
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata?$select=SchemaName",
    )
    assert all(
        r["@odata.type"] == f"#{NS}OneToManyRelationshipMetadata" for r in one_to_many["value"]
    )
    of_account = get_json(
        v90,
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata"
        "?$select=SchemaName&$filter=ReferencedEntity eq 'account'",
    )
    # "essentially the same results as the following query"
    by_table = get_json(
        v90, "EntityDefinitions(LogicalName='account')/OneToManyRelationships?$select=SchemaName"
    )
    assert {r["SchemaName"] for r in of_account["value"]} == {
        r["SchemaName"] for r in by_table["value"]
    }
    assert of_account["value"]


def _global_choice(v90: httpx.Client) -> str:
    return global_choice(
        v90, "new_caseorigincode", "Origin", (100000001, "Phone"), (100000002, "Email")
    )


def test_querying_global_option_sets_by_metadata_id(v90: httpx.Client) -> None:
    metadata_id = _global_choice(v90)
    body = get_json(v90, f"GlobalOptionSetDefinitions({metadata_id})")
    assert body["@odata.context"] == f"{V90}$metadata#GlobalOptionSetDefinitions/$entity"
    assert (body["MetadataId"], body["Name"]) == (metadata_id, "new_caseorigincode")
    assert texts(body["DisplayName"]) == {1033: "Origin"}


def test_querying_global_option_sets_by_name(v90: httpx.Client) -> None:
    metadata_id = _global_choice(v90)
    body = get_json(v90, "GlobalOptionSetDefinitions(Name='new_caseorigincode')")
    assert body["MetadataId"] == metadata_id
    assert [o["Value"] for o in body["Options"]] == [100000001, 100000002]


def test_global_option_sets_do_not_support_filter(v90: httpx.Client) -> None:
    # "this path does not support the use of the $filter system query option"
    _global_choice(v90)
    response = v90.get("GlobalOptionSetDefinitions?$filter=Name eq 'new_caseorigincode'")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "0x80040315"
    assert "$filter" in error["message"]
