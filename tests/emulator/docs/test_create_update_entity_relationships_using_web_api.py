"""The examples of "Create and update table relationships using the Web API",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api
(MicrosoftDocs/powerapps-docs, ``webapi/create-update-entity-relationships-using-web-api.md``
at commit f3427166cb515fa9d5cb0b3041deb775e599a577, ms.date 2021-04-22), replayed against a
fresh tenant.

Adapted: the article's ``new_bankaccount`` table is made first through the metadata API,
and its many-to-many example joins account and contact (the tenant has no campaign table).
The eligibility actions (CanBeReferenced, CanManyToMany, GetValidReferencedEntities...) and
updates of relationships (``PUT``) are refused by the emulator with 501.
CreateCustomerRelationships, which this page version does not show, is replayed from its
Web API reference (request ``Lookup``, ``OneToManyRelationships``; response
``RelationshipIds``, ``AttributeId``).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from helpers.definitions import create_table
from helpers.metadata_docs import relationship_label as label
from helpers.webapi import created_id

ORG = "https://contoso.crm.dynamics.com/api/data/v9.2/"
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def bank_account(api: httpx.Client) -> str:
    return create_table(api, "new_BankAccount", display="Bank Account", primary="new_AccountName")


def one_to_many(**cascade: str) -> dict[str, Any]:
    return {
        "SchemaName": "new_contact_new_bankaccount",
        "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "AssociatedMenuConfiguration": {
            "Behavior": "UseCollectionName",
            "Group": "Details",
            "Label": label("Bank Accounts"),
            "Order": 10000,
        },
        "CascadeConfiguration": cascade,
        "ReferencedAttribute": "contactid",
        "ReferencedEntity": "contact",
        "ReferencingEntity": "new_bankaccount",
        "Lookup": {
            "AttributeType": "Lookup",
            "AttributeTypeName": {"Value": "LookupType"},
            "Description": label("The owner of the account"),
            "DisplayName": label("Account Owner"),
            "RequiredLevel": {
                "Value": "ApplicationRequired",
                "CanBeChanged": True,
                "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
            },
            "SchemaName": "new_AccountOwner",
            "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
        },
    }


ALL_CASCADE = {
    "Assign": "Cascade",
    "Delete": "Cascade",
    "Merge": "Cascade",
    "Reparent": "Cascade",
    "Share": "Cascade",
    "Unshare": "Cascade",
}


@pytest.mark.parametrize(
    "name",
    ["CanBeReferenced", "CanBeReferencing", "CanManyToMany"],
)
def test_eligibility_actions_are_refused(api: httpx.Client, name: str) -> None:
    r = api.post(name, json={"EntityName": "contact"})
    assert r.status_code == 501
    assert r.json()["error"]["code"] == "0x80040219"


@pytest.mark.parametrize(
    "path",
    [
        "GetValidManyToMany()",
        "GetValidReferencedEntities(ReferencingEntityName='new_bankaccount')",
        "GetValidReferencingEntities(ReferencedEntityName='contact')",
    ],
)
def test_eligibility_functions_are_refused(api: httpx.Client, path: str) -> None:
    r = api.get(path)
    assert r.status_code == 501
    assert r.json()["error"]["code"] == "0x80040219"


def test_create_a_one_to_many_relationship(api: httpx.Client, bank_account: str) -> None:
    r = api.post("RelationshipDefinitions", json=one_to_many(**ALL_CASCADE))
    assert r.status_code == 204, r.text
    assert r.headers["OData-Version"] == "4.0"
    match = re.fullmatch(
        rf"{re.escape(ORG)}RelationshipDefinitions\(({GUID})\)", r.headers["OData-EntityId"]
    )
    assert match is not None
    got = api.get(f"RelationshipDefinitions({match.group(1)})").json()
    assert got["CascadeConfiguration"]["Assign"] == "Cascade"
    assert got["CascadeConfiguration"]["Delete"] == "Cascade"
    assert got["ReferencingEntityNavigationPropertyName"] == "new_AccountOwner"
    assert got["ReferencedEntityNavigationPropertyName"] == "new_contact_new_bankaccount"
    lookup = api.get(
        "EntityDefinitions(LogicalName='new_bankaccount')/Attributes(LogicalName='new_accountowner')"
    ).json()
    assert lookup["RequiredLevel"]["Value"] == "ApplicationRequired"
    # the relationship at work: the lookup binds with its schema name, assign and delete cascade
    person = created_id(api.post("contacts", json={"lastname": "Owner"}))
    bank = created_id(
        api.post(
            "new_bankaccounts",
            json={
                "new_accountname": "Savings",
                "new_AccountOwner@odata.bind": f"/contacts({person})",
            },
        )
    )
    assert (
        api.get(f"contacts({person})/new_contact_new_bankaccount").json()["value"][0][
            "new_bankaccountid"
        ]
        == bank
    )
    assert api.delete(f"contacts({person})").status_code == 204
    assert api.get(f"new_bankaccounts({bank})").status_code == 404


def test_assign_cascades_to_the_children(api: httpx.Client, bank_account: str) -> None:
    assert api.post("RelationshipDefinitions", json=one_to_many(**ALL_CASCADE)).status_code == 204
    person = created_id(api.post("contacts", json={"lastname": "Owner"}))
    bank = created_id(
        api.post(
            "new_bankaccounts",
            json={"new_accountname": "x", "new_AccountOwner@odata.bind": f"/contacts({person})"},
        )
    )
    team = api.get("teams?$select=name").json()["value"][0]["teamid"]
    r = api.patch(f"contacts({person})", json={"ownerid@odata.bind": f"/teams({team})"})
    assert r.status_code == 204, r.text
    child = api.get(f"new_bankaccounts({bank})?$select=_ownerid_value,_owningteam_value").json()
    assert (child["_ownerid_value"], child["_owningteam_value"]) == (team, team)


def test_assign_cascades_it_does_not_implement_are_refused(
    api: httpx.Client, bank_account: str
) -> None:
    r = api.post(
        "RelationshipDefinitions", json=one_to_many(Assign="UserOwned", Delete="RemoveLink")
    )
    assert r.status_code == 501
    assert r.json()["error"]["code"] == "0x80040219"
    bad = api.post("RelationshipDefinitions", json=one_to_many(Delete="Sometimes"))
    assert bad.status_code == 400


def test_create_a_many_to_many_relationship(api: httpx.Client) -> None:
    body = {
        "SchemaName": "new_accounts_contacts",
        "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
        "Entity1AssociatedMenuConfiguration": {
            "Behavior": "UseLabel",
            "Group": "Details",
            "Label": label("Account"),
            "Order": 10000,
        },
        "Entity1LogicalName": "account",
        "Entity2AssociatedMenuConfiguration": {
            "Behavior": "UseLabel",
            "Group": "Details",
            "Label": label("Contact"),
            "Order": 10000,
        },
        "Entity2LogicalName": "contact",
        "IntersectEntityName": "new_accounts_contacts",
    }
    r = api.post("RelationshipDefinitions", json=body)
    assert r.status_code == 204, r.text
    match = re.fullmatch(
        rf"{re.escape(ORG)}RelationshipDefinitions\(({GUID})\)", r.headers["OData-EntityId"]
    )
    assert match is not None
    got = api.get(f"RelationshipDefinitions({match.group(1)})").json()
    assert got["@odata.type"] == "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata"
    assert (
        got["Entity2AssociatedMenuConfiguration"]["Label"]["LocalizedLabels"][0]["Label"]
        == "Contact"
    )
    account = created_id(api.post("accounts", json={"name": "Acme"}))
    person = created_id(api.post("contacts", json={"lastname": "Ng"}))
    assoc = api.post(
        f"accounts({account})/new_accounts_contacts/$ref", json={"@odata.id": f"contacts({person})"}
    )
    assert assoc.status_code == 204, assoc.text


def test_update_relationships_is_refused(api: httpx.Client, bank_account: str) -> None:
    assert (
        api.post("RelationshipDefinitions", json=one_to_many(Delete="RemoveLink")).status_code
        == 204
    )
    r = api.put(
        "RelationshipDefinitions(SchemaName='new_contact_new_bankaccount')",
        json=one_to_many(Delete="Cascade"),
    )
    assert r.status_code == 501


def test_delete_relationships(api: httpx.Client, bank_account: str) -> None:
    r = api.post("RelationshipDefinitions", json=one_to_many(Delete="RemoveLink"))
    url = r.headers["OData-EntityId"]
    gone = api.delete(url)
    assert gone.status_code == 204, gone.text
    assert api.get(url).status_code == 404
    table = "EntityDefinitions(LogicalName='new_bankaccount')"
    assert api.get(f"{table}/Attributes(LogicalName='new_accountowner')").status_code == 404


def test_create_customer_relationships(api: httpx.Client, bank_account: str) -> None:
    r = api.post(
        "CreateCustomerRelationships",
        json={
            "Lookup": {
                "@odata.type": "Microsoft.Dynamics.CRM.ComplexLookupAttributeMetadata",
                "SchemaName": "new_CustomerId",
                "DisplayName": label("Account owner"),
                "Description": label("The owner of the bank account"),
                "RequiredLevel": {"Value": "ApplicationRequired"},
            },
            "OneToManyRelationships": [
                {
                    "SchemaName": "new_BankAccount_Customer_Account",
                    "ReferencedEntity": "account",
                    "ReferencingEntity": "new_bankaccount",
                },
                {
                    "SchemaName": "new_BankAccount_Customer_Contact",
                    "ReferencedEntity": "contact",
                    "ReferencingEntity": "new_bankaccount",
                },
            ],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"@odata.context", "RelationshipIds", "AttributeId"}
    assert (
        body["@odata.context"]
        == f"{ORG}$metadata#Microsoft.Dynamics.CRM.CreateCustomerRelationshipsResponse"
    )
    assert all(re.fullmatch(GUID, i) for i in [*body["RelationshipIds"], body["AttributeId"]])
    for rid in body["RelationshipIds"]:
        got = api.get(f"RelationshipDefinitions({rid})").json()
        assert got["ReferencingAttribute"] == "new_customerid"
        assert (
            got["ReferencingEntityNavigationPropertyName"]
            == f"new_CustomerId_{got['ReferencedEntity']}"
        )
