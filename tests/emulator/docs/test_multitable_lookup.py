"""The examples of "Use multi-table lookup columns",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/multitable-lookup
(MicrosoftDocs/powerapps-docs, ``webapi/multitable-lookup.md`` at commit
d88b132e63f42866fcedaf17df87794ddf849d84, ms.date 2021-07-07), replayed against a fresh
tenant.

The article's tables (``new_checkout``, ``new_book``, ``new_device``, ``new_dvd``,
``new_researchresource``) are made first through the metadata API. Its first example
(``new_media`` / ``new_book`` / ``new_video`` / ``new_audio``) has the same shape as the
``new_checkout`` one and is not replayed twice.
"""

from __future__ import annotations

import re

import httpx
import pytest

from helpers.definitions import create_table
from helpers.metadata_docs import relationship_label as label
from helpers.webapi import created_id

ORG = "https://contoso.crm.dynamics.com/api/data/v9.2/"
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def tables(api: httpx.Client) -> None:
    for schema in ("new_checkout", "new_book", "new_device", "new_dvd", "new_researchresource"):
        create_table(api, schema)


REMOVE_LINK = {
    "Assign": "NoCascade",
    "Delete": "RemoveLink",
    "Merge": "NoCascade",
    "Reparent": "NoCascade",
    "Share": "NoCascade",
    "Unshare": "NoCascade",
}


def _create_polymorphic(api: httpx.Client) -> httpx.Response:
    return api.post(
        "CreatePolymorphicLookupAttribute",
        json={
            "OneToManyRelationships": [
                {
                    "SchemaName": "new_checkout_poly_new_book",
                    "ReferencedEntity": "new_book",
                    "ReferencingEntity": "new_checkout",
                },
                {
                    "SchemaName": "new_checkout_poly_new_device",
                    "ReferencedEntity": "new_device",
                    "ReferencingEntity": "new_checkout",
                },
                {
                    "SchemaName": "new_checkout_poly_new_dvd",
                    "ReferencedEntity": "new_dvd",
                    "ReferencingEntity": "new_checkout",
                    "CascadeConfiguration": REMOVE_LINK,
                },
            ],
            "Lookup": {
                "AttributeType": "Lookup",
                "AttributeTypeName": {"Value": "LookupType"},
                "Description": label("Checkouted item Polymorphic Lookup Attribute"),
                "DisplayName": label("Checkedout item"),
                "SchemaName": "new_CheckedoutItem",
                "@odata.type": "Microsoft.Dynamics.CRM.ComplexLookupAttributeMetadata",
            },
        },
    )


def test_create_polymorphic_lookup(api: httpx.Client, tables: None) -> None:
    r = _create_polymorphic(api)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#Microsoft.Dynamics.CRM.CreatePolymorphicLookupAttributeResponse"
    )
    assert len(body["RelationshipIds"]) == 3
    assert all(re.fullmatch(GUID, i) for i in [*body["RelationshipIds"], body["AttributeId"]])


def test_retrieve_the_attribute_and_a_relationship(api: httpx.Client, tables: None) -> None:
    made = _create_polymorphic(api).json()
    entity = api.get("EntityDefinitions(LogicalName='new_checkout')?$select=MetadataId").json()
    attr = api.get(f"EntityDefinitions({entity['MetadataId']})/Attributes({made['AttributeId']})")
    assert attr.status_code == 200, attr.text
    assert attr.json()["Targets"] == ["new_book", "new_device", "new_dvd"]
    rel = api.get(f"RelationshipDefinitions({made['RelationshipIds'][2]})").json()
    assert rel["ReferencedEntity"] == "new_dvd"
    assert rel["CascadeConfiguration"]["Delete"] == "RemoveLink"


def test_add_a_relationship_to_an_existing_polymorphic_lookup(
    api: httpx.Client, tables: None
) -> None:
    assert _create_polymorphic(api).status_code == 200
    r = api.post(
        "RelationshipDefinitions",
        json={
            "SchemaName": "new_checkout_poly_new_researchresource",
            "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
            "CascadeConfiguration": REMOVE_LINK,
            "ReferencedEntity": "new_researchresource",
            "ReferencingEntity": "new_checkout",
            "Lookup": {
                "AttributeType": "Lookup",
                "AttributeTypeName": {"Value": "LookupType"},
                "Description": label("Checkout Polymorphic Lookup Attribute"),
                "DisplayName": label("Checkout item"),
                "SchemaName": "new_CheckedoutItem",
                "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
            },
        },
    )
    assert r.status_code == 204, r.text
    assert r.headers["OData-EntityId"].startswith(f"{ORG}RelationshipDefinitions(")
    attr = api.get(
        "EntityDefinitions(LogicalName='new_checkout')/Attributes(LogicalName='new_checkedoutitem')"
    ).json()
    assert attr["Targets"][-1] == "new_researchresource"


def test_remove_a_relationship_and_the_attribute(api: httpx.Client, tables: None) -> None:
    made = _create_polymorphic(api).json()
    assert api.delete(f"RelationshipDefinitions({made['RelationshipIds'][0]})").status_code == 204
    column = (
        "EntityDefinitions(LogicalName='new_checkout')/Attributes(LogicalName='new_checkedoutitem')"
    )
    assert api.get(column).json()["Targets"] == ["new_device", "new_dvd"]
    entity = api.get("EntityDefinitions(LogicalName='new_checkout')?$select=MetadataId").json()
    gone = api.delete(
        f"EntityDefinitions({entity['MetadataId']})/Attributes({made['AttributeId']})"
    )
    assert gone.status_code == 204, gone.text
    assert api.get(column).status_code == 404


def test_create_and_retrieve_rows(api: httpx.Client, tables: None) -> None:
    assert _create_polymorphic(api).status_code == 200
    book = created_id(api.post("new_books", json={"new_name": "Content1"}))
    device = created_id(api.post("new_devices", json={"new_name": "Content2"}))
    c1 = created_id(
        api.post(
            "new_checkouts",
            json={
                "new_name": "c1",
                "new_CheckedoutItem_new_book@odata.bind": f"/new_books({book})",
            },
        )
    )
    c2 = created_id(
        api.post(
            "new_checkouts",
            json={
                "new_name": "c2",
                "new_CheckedoutItem_new_device@odata.bind": f"/new_devices({device})",
            },
        )
    )
    annotated = {"Prefer": 'odata.include-annotations="*"'}
    for row, target, target_id in ((c1, "new_book", book), (c2, "new_device", device)):
        got = api.get(f"new_checkouts({row})", headers=annotated).json()
        assert got["_new_checkedoutitem_value"] == target_id
        assert got["_new_checkedoutitem_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == target
        assert got[
            "_new_checkedoutitem_value@Microsoft.Dynamics.CRM.associatednavigationproperty"
        ] == (f"new_CheckedoutItem_{target}")
