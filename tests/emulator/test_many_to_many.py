"""Many-to-many relationships: the metadata API (create, read with casts, delete), the
intersect rows behind the navigation properties, and the lookups to several tables
(CreateCustomerRelationships, CreatePolymorphicLookupAttribute).

The bodies are the ones Microsoft's Python SDK sends (its relationship models'
``to_dict()``), where it has them.

Sources (Microsoft Learn, Dataverse Web API):

* RELS https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api
* NAV https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-navigation-properties
* MULTI https://learn.microsoft.com/power-apps/developer/data-platform/webapi/multitable-lookup
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from PowerPlatform.Dataverse.data._odata_base import _ODataBase
from PowerPlatform.Dataverse.models.labels import Label, LocalizedLabel
from PowerPlatform.Dataverse.models.relationship import (
    ManyToManyRelationshipMetadata,
    RelationshipInfo,
)

from crm_ferry.emulator import tenant
from crm_ferry.emulator.core import CoreConfig, Emulator
from helpers.definitions import create_table
from helpers.webapi import created_id

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
M2M = "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata"


def sdk_many_to_many(name: str = "new_account_contact", **kw: Any) -> dict[str, Any]:
    """What ``client.tables.create_many_to_many_relationship`` posts."""
    rel = ManyToManyRelationshipMetadata(
        schema_name=name, entity1_logical_name="account", entity2_logical_name="contact", **kw
    )
    body: dict[str, Any] = rel.to_dict()
    return body


def label(text: str) -> dict[str, Any]:
    return Label(localized_labels=[LocalizedLabel(label=text, language_code=1033)]).to_dict()


def rel_id(response: httpx.Response) -> str:
    assert response.status_code == 204, response.text
    url = response.headers["OData-EntityId"]
    assert url.startswith(f"{BASE}RelationshipDefinitions(")
    return url[url.rindex("(") + 1 : -1]


@pytest.fixture
def linked(api: httpx.Client) -> dict[str, str]:
    """The SDK's N:N relationship between account and contact, and a row of each."""
    rid = rel_id(api.post("RelationshipDefinitions", json=sdk_many_to_many()))
    return {
        "rel": rid,
        "account": created_id(api.post("accounts", json={"name": "Acme"})),
        "contact": created_id(api.post("contacts", json={"lastname": "Ng"})),
    }


# -- metadata -----------------------------------------------------------------------------


def test_the_sdk_creates_and_reads_a_many_to_many_relationship(api: httpx.Client) -> None:
    # RELS "Create a many-to-many relationship": 204 + OData-EntityId
    rid = rel_id(api.post("RelationshipDefinitions", json=sdk_many_to_many()))
    # what the SDK's get_relationship sends, and reads back
    found = api.get(
        "RelationshipDefinitions", params={"$filter": "SchemaName eq 'new_account_contact'"}
    )
    (raw,) = found.json()["value"]
    info = RelationshipInfo.from_api_response(raw)
    assert (info.relationship_id, info.relationship_type) == (rid, "many_to_many")
    assert (info.entity1_logical_name, info.entity2_logical_name) == ("account", "contact")
    one = api.get(f"RelationshipDefinitions({rid})").json()
    assert one["@odata.type"] == f"#{M2M}"
    assert one["IntersectEntityName"] == "new_account_contact"
    assert (one["Entity1IntersectAttribute"], one["Entity2IntersectAttribute"]) == (
        "accountid",
        "contactid",
    )
    assert (
        one["Entity1NavigationPropertyName"]
        == one["Entity2NavigationPropertyName"]
        == ("new_account_contact")
    )
    assert one["RelationshipType"] == "ManyToManyRelationship"


def test_relationship_definitions_cast_to_each_kind(api: httpx.Client) -> None:
    rid = rel_id(api.post("RelationshipDefinitions", json=sdk_many_to_many()))
    many = api.get(f"RelationshipDefinitions/{M2M}?$select=SchemaName").json()["value"]
    assert {r["SchemaName"] for r in many} == {
        "new_account_contact",
        "teammembership_association",
        "contactinvoices_association",  # contact and invoice table references
    }
    one_to_many = api.get(
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata"
    ).json()["value"]
    assert all(r["@odata.type"].endswith("OneToManyRelationshipMetadata") for r in one_to_many)
    assert api.get(f"RelationshipDefinitions({rid})/{M2M}").status_code == 200
    wrong = api.get(
        f"RelationshipDefinitions({rid})/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata"
    )
    assert wrong.status_code == 400


def test_entity_definitions_list_their_many_to_many_relationships(api: httpx.Client) -> None:
    # what the SDK's list_table_relationships sends (the filter on every part)
    rel_id(api.post("RelationshipDefinitions", json=sdk_many_to_many()))
    meta = api.get("EntityDefinitions(LogicalName='contact')?$select=MetadataId").json()
    flt = "RelationshipType eq Microsoft.Dynamics.CRM.RelationshipType'ManyToManyRelationship'"
    r = api.get(
        f"EntityDefinitions({meta['MetadataId']})/ManyToManyRelationships", params={"$filter": flt}
    )
    assert r.status_code == 200, r.text
    assert sorted(x["SchemaName"] for x in r.json()["value"]) == [
        "contactinvoices_association",
        "new_account_contact",
    ]
    assert "@odata.type" not in r.json()["value"][0]
    expanded = api.get(
        "EntityDefinitions(LogicalName='account')?$select=LogicalName"
        "&$expand=ManyToManyRelationships($select=SchemaName,IntersectEntityName)"
    ).json()
    assert expanded["ManyToManyRelationships"][0]["IntersectEntityName"] == "new_account_contact"
    one = api.get(
        "EntityDefinitions(LogicalName='account')/ManyToManyRelationships(SchemaName='new_account_contact')"
    )
    assert one.json()["Entity2LogicalName"] == "contact"


def test_navigation_property_names_and_menus_are_applied(api: httpx.Client) -> None:
    menu = {"Behavior": "UseLabel", "Group": "Details", "Label": label("Accounts"), "Order": 10000}
    body = sdk_many_to_many(
        "new_coaching",
        intersect_entity_name="new_coaching_pairs",
        additional_properties={
            "Entity1NavigationPropertyName": "new_Clients",
            "Entity2NavigationPropertyName": "new_Coaches",
            "Entity1AssociatedMenuConfiguration": menu,
        },
    )
    rid = rel_id(api.post("RelationshipDefinitions", json=body))
    got = api.get(f"RelationshipDefinitions({rid})").json()
    assert (got["Entity1NavigationPropertyName"], got["Entity2NavigationPropertyName"]) == (
        "new_Clients",
        "new_Coaches",
    )
    assert got["Entity1AssociatedMenuConfiguration"]["Behavior"] == "UseLabel"
    assert got["Entity2AssociatedMenuConfiguration"]["Behavior"] == "UseCollectionName"
    acc = created_id(api.post("accounts", json={"name": "Acme"}))
    person = created_id(api.post("contacts", json={"lastname": "Ng"}))
    assoc = api.post(f"accounts({acc})/new_Clients/$ref", json={"@odata.id": f"contacts({person})"})
    assert assoc.status_code == 204, assoc.text
    assert api.get(f"contacts({person})/new_Coaches").json()["value"][0]["accountid"] == acc


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"Entity1LogicalName": "nosuchtable"}, 404, "0x80040217"),
        ({"IntersectEntityName": None}, 400, "0x80040203"),
        ({"SchemaName": "noprefix"}, 400, "0x80040203"),
        ({"Entity2LogicalName": "account"}, 501, "0x80040219"),
        ({"Entity1IntersectAttribute": "name"}, 400, "0x80040203"),
        ({"Entity1NavigationPropertyName": "contact_customer_accounts"}, 400, "0x80040237"),
        ({"IsValidForAdvancedFind": False}, 501, "0x80040219"),
        ({"NoSuchProperty": 1}, 400, "0x80048d19"),
        ({"RelationshipType": "OneToManyRelationship"}, 400, "0x80040203"),
    ],
)
def test_many_to_many_errors(
    api: httpx.Client, body: dict[str, Any], status: int, code: str
) -> None:
    sent = {**sdk_many_to_many(), **body}
    sent = {k: v for k, v in sent.items() if v is not None}
    r = api.post("RelationshipDefinitions", json=sent)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text


def test_relationship_names_are_unique_across_kinds(api: httpx.Client) -> None:
    rel_id(api.post("RelationshipDefinitions", json=sdk_many_to_many()))
    again = api.post("RelationshipDefinitions", json=sdk_many_to_many("NEW_account_contact"))
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "0x80040237"
    clash = api.post("RelationshipDefinitions", json=sdk_many_to_many("account_primary_contact"))
    assert clash.status_code == 400
    same_table = api.post(
        "RelationshipDefinitions",
        json=sdk_many_to_many("new_other", intersect_entity_name="new_account_contact"),
    )
    assert same_table.status_code == 400
    assert same_table.json()["error"]["code"] == "0x80040237"


def test_deleting_the_relationship_removes_its_pairs_and_navigation(
    api: httpx.Client, core_emulator: Emulator, linked: dict[str, str]
) -> None:
    nav = f"accounts({linked['account']})/new_account_contact"
    api.post(f"{nav}/$ref", json={"@odata.id": f"contacts({linked['contact']})"})
    assert len(list(core_emulator.store.rows("new_account_contact"))) == 1
    # the SDK deletes with If-Match: *
    r = api.delete(f"RelationshipDefinitions({linked['rel']})", headers={"If-Match": "*"})
    assert r.status_code == 204, r.text
    assert list(core_emulator.store.rows("new_account_contact")) == []
    assert api.get(nav).status_code == 400  # no such property any more
    assert api.get(f"RelationshipDefinitions({linked['rel']})").status_code == 404
    system = api.delete("RelationshipDefinitions(SchemaName='teammembership_association')")
    assert system.status_code == 400


# -- rows ----------------------------------------------------------------------------------


def test_pairs_are_associated_and_read_from_both_sides(
    api: httpx.Client, linked: dict[str, str]
) -> None:
    # NAV "Many-to-Many Relationships": the same collection operations as one-to-many
    acc, person = linked["account"], linked["contact"]
    r = api.post(
        f"accounts({acc})/new_account_contact/$ref", json={"@odata.id": f"{BASE}contacts({person})"}
    )
    assert r.status_code == 204, r.text
    twice = api.post(
        f"contacts({person})/new_account_contact/$ref", json={"@odata.id": f"accounts({acc})"}
    )
    assert twice.status_code == 412
    assert twice.json()["error"]["code"] == "0x80040237"
    assert api.get(f"contacts({person})/new_account_contact?$select=name").json()["value"] == [
        {
            "@odata.etag": api.get(f"accounts({acc})").json()["@odata.etag"],
            "name": "Acme",
            "accountid": acc,
        }
    ]
    expanded = api.get(
        f"accounts({acc})?$select=name&$expand=new_account_contact($select=lastname)"
    )
    assert [c["contactid"] for c in expanded.json()["new_account_contact"]] == [person]
    listed = api.get("accounts?$select=name&$expand=new_account_contact($select=lastname)").json()
    row = next(r for r in listed["value"] if r["accountid"] == acc)
    assert set(row["new_account_contact"][0]) == {"@odata.etag", "lastname", "contactid"}
    assert row["new_account_contact@odata.nextLink"] == (
        f"{BASE}accounts({acc})/new_account_contact?$select=lastname"
    )
    assert api.get(f"accounts({acc})/new_account_contact/$count").text == "1"
    filtered = api.get(
        "contacts?$filter=new_account_contact/any(a:a/name eq 'Acme')&$select=lastname"
    )
    assert [c["contactid"] for c in filtered.json()["value"]] == [person]


def test_associating_a_pair_does_not_update_the_rows(
    api: httpx.Client, linked: dict[str, str]
) -> None:
    acc, person = linked["account"], linked["contact"]
    before = api.get(f"accounts({acc})").json()["versionnumber"]
    api.post(f"accounts({acc})/new_account_contact/$ref", json={"@odata.id": f"contacts({person})"})
    assert api.get(f"accounts({acc})").json()["versionnumber"] == before


def test_pairs_are_removed_and_a_missing_pair_is_nothing_to_remove(
    api: httpx.Client, linked: dict[str, str]
) -> None:
    acc, person = linked["account"], linked["contact"]
    api.post(f"accounts({acc})/new_account_contact/$ref", json={"@odata.id": f"contacts({person})"})
    gone = api.delete(f"contacts({person})/new_account_contact({acc})/$ref")
    assert gone.status_code == 204, gone.text
    assert api.get(f"accounts({acc})/new_account_contact").json()["value"] == []
    assert api.delete(f"contacts({person})/new_account_contact({acc})/$ref").status_code == 204


def test_deleting_a_row_removes_its_pairs(
    api: httpx.Client, core_emulator: Emulator, linked: dict[str, str]
) -> None:
    acc, person = linked["account"], linked["contact"]
    other = created_id(api.post("accounts", json={"name": "Other"}))
    for row in (acc, other):
        api.post(
            f"accounts({row})/new_account_contact/$ref", json={"@odata.id": f"contacts({person})"}
        )
    assert api.delete(f"accounts({acc})").status_code == 204
    assert [
        a["accountid"] for a in api.get(f"contacts({person})/new_account_contact").json()["value"]
    ] == [other]
    assert len(list(core_emulator.store.rows("new_account_contact"))) == 1


def test_create_binds_and_deep_inserts_through_many_to_many(
    api: httpx.Client, linked: dict[str, str]
) -> None:
    person = linked["contact"]
    r = api.post(
        "accounts?$select=name&$expand=new_account_contact($select=lastname)",
        json={
            "name": "Bound",
            "new_account_contact@odata.bind": [f"/contacts({person})"],
        },
        headers={"Prefer": "return=representation"},
    )
    assert r.status_code == 201, r.text
    assert [c["contactid"] for c in r.json()["new_account_contact"]] == [person]
    deep = api.post("accounts", json={"name": "Deep", "new_account_contact": [{"lastname": "New"}]})
    acc = created_id(deep)
    (made,) = api.get(f"accounts({acc})/new_account_contact?$select=lastname").json()["value"]
    assert made["lastname"] == "New"


def test_many_to_many_refuses_nested_expand(api: httpx.Client, linked: dict[str, str]) -> None:
    # JOIN "Nested $expand with N:N relationships"
    acc = linked["account"]
    r = api.get(f"accounts({acc})?$expand=new_account_contact($select=lastname;$expand=createdby)")
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "0x80060888",
        "message": "The navigation property 'new_account_contact' cannot be expanded. Only "
        "many-to-one relationships are supported for nested expansion.",
    }


def test_team_membership_is_a_standard_many_to_many(
    api: httpx.Client, core_emulator: Emulator
) -> None:
    got = api.get("RelationshipDefinitions(SchemaName='teammembership_association')").json()
    assert (got["Entity1LogicalName"], got["Entity2LogicalName"], got["IntersectEntityName"]) == (
        "team",
        "systemuser",
        "teammembership",
    )
    assert got["IsCustomRelationship"] is False
    user = core_emulator.add_user("Casey", "Coach", "casey@crmferry.example")
    team = tenant.DEFAULT_TEAM_ID
    r = api.post(
        f"teams({team})/teammembership_association/$ref", json={"@odata.id": f"systemusers({user})"}
    )
    assert r.status_code == 204, r.text
    members = api.get(f"teams({team})/teammembership_association?$select=fullname").json()["value"]
    assert [m["systemuserid"] for m in members] == [user]


def test_pairs_and_relationships_survive_a_restart(tmp_path: Path) -> None:
    em = Emulator(CoreConfig(), data_dir=tmp_path)
    with httpx.Client(transport=httpx.MockTransport(em.handle), base_url=BASE) as api:
        rel_id(api.post("RelationshipDefinitions", json=sdk_many_to_many()))
        acc = created_id(api.post("accounts", json={"name": "Acme"}))
        person = created_id(api.post("contacts", json={"lastname": "Ng"}))
        api.post(
            f"accounts({acc})/new_account_contact/$ref", json={"@odata.id": f"contacts({person})"}
        )
    em.close()
    again = Emulator(CoreConfig(), data_dir=tmp_path)
    with httpx.Client(transport=httpx.MockTransport(again.handle), base_url=BASE) as api:
        linked = api.get(f"contacts({person})/new_account_contact").json()["value"]
        assert [a["accountid"] for a in linked] == [acc]
    again.close()


def test_a_custom_table_in_a_many_to_many_relationship_is_not_deleted(api: httpx.Client) -> None:
    create_table(api, "new_Project", display="Project")
    body = {**sdk_many_to_many("new_project_contact"), "Entity1LogicalName": "new_project"}
    rid = rel_id(api.post("RelationshipDefinitions", json=body))
    blocked = api.delete("EntityDefinitions(LogicalName='new_project')")
    assert blocked.status_code == 400
    assert blocked.json()["error"]["code"] == "0x8004f01f"
    assert api.delete(f"RelationshipDefinitions({rid})").status_code == 204
    assert api.delete("EntityDefinitions(LogicalName='new_project')").status_code == 204


# -- lookups to several tables ---------------------------------------------------------------


@pytest.fixture
def bank(api: httpx.Client) -> str:
    """A custom table ``new_bankaccount``."""
    return create_table(api, "new_BankAccount", display="Bank Account")


def customer_body(**extra: Any) -> dict[str, Any]:
    return {
        "Lookup": {
            "@odata.type": "Microsoft.Dynamics.CRM.ComplexLookupAttributeMetadata",
            "SchemaName": "new_CustomerId",
            "DisplayName": label("Customer"),
            "Description": label("The owner of the bank account"),
            "RequiredLevel": {"Value": "None"},
        },
        "OneToManyRelationships": [
            {
                "SchemaName": "new_bankaccount_customer_account",
                "ReferencedEntity": "account",
                "ReferencingEntity": "new_bankaccount",
            },
            {
                "SchemaName": "new_bankaccount_customer_contact",
                "ReferencedEntity": "contact",
                "ReferencingEntity": "new_bankaccount",
            },
        ],
        **extra,
    }


def test_create_customer_relationships(api: httpx.Client, bank: str) -> None:
    r = api.post("CreateCustomerRelationships", json=customer_body())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == (
        f"{BASE}$metadata#Microsoft.Dynamics.CRM.CreateCustomerRelationshipsResponse"
    )
    assert len(body["RelationshipIds"]) == 2
    attr = api.get(
        "EntityDefinitions(LogicalName='new_bankaccount')/Attributes(LogicalName='new_customerid')"
    )
    assert attr.json()["MetadataId"] == body["AttributeId"]
    assert attr.json()["AttributeType"] == "Customer"
    assert sorted(attr.json()["Targets"]) == ["account", "contact"]
    acc = created_id(api.post("accounts", json={"name": "Acme"}))
    person = created_id(api.post("contacts", json={"lastname": "Ng"}))
    a = created_id(
        api.post(
            "new_bankaccounts",
            json={"new_name": "A", "new_CustomerId_account@odata.bind": f"/accounts({acc})"},
        )
    )
    c = created_id(
        api.post(
            "new_bankaccounts",
            json={"new_name": "C", "new_CustomerId_contact@odata.bind": f"/contacts({person})"},
        )
    )
    assert (
        api.get(f"accounts({acc})/new_bankaccount_customer_account").json()["value"][0][
            "new_bankaccountid"
        ]
        == a
    )
    assert api.get(f"new_bankaccounts({c})/new_CustomerId_contact").json()["contactid"] == person
    assert api.get(f"new_bankaccounts({c})/new_CustomerId_account").status_code == 204


def test_create_customer_relationships_errors(api: httpx.Client, bank: str) -> None:
    only_one = customer_body()
    only_one["OneToManyRelationships"] = only_one["OneToManyRelationships"][:1]
    assert api.post("CreateCustomerRelationships", json=only_one).status_code == 400
    no_lookup = customer_body()
    del no_lookup["Lookup"]
    assert api.post("CreateCustomerRelationships", json=no_lookup).status_code == 400
    missing = api.post(
        "CreateCustomerRelationships", json=customer_body(SolutionUniqueName="nosuch")
    )
    assert missing.status_code == 404
    assert api.get("CreateCustomerRelationships").status_code == 405
    assert api.post("CreateCustomerRelationships", json=customer_body()).status_code == 200
    again = api.post("CreateCustomerRelationships", json=customer_body())
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "0x80040237"


def test_polymorphic_lookup_gains_and_loses_tables(
    api: httpx.Client, core_emulator: Emulator, bank: str
) -> None:
    # MULTI "CreatePolymorphicLookupAttribute", "Add relationship", "Remove relationship"
    body = {
        "OneToManyRelationships": [
            {
                "SchemaName": "new_bank_poly_account",
                "ReferencedEntity": "account",
                "ReferencingEntity": bank,
            },
            {
                "SchemaName": "new_bank_poly_opportunity",
                "ReferencedEntity": "opportunity",
                "ReferencingEntity": bank,
            },
        ],
        "Lookup": {
            "AttributeType": "Lookup",
            "AttributeTypeName": {"Value": "LookupType"},
            "SchemaName": "new_Item",
            "DisplayName": label("Item"),
            "@odata.type": "Microsoft.Dynamics.CRM.ComplexLookupAttributeMetadata",
        },
    }
    r = api.post("CreatePolymorphicLookupAttribute", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["@odata.context"].endswith("CreatePolymorphicLookupAttributeResponse")
    added = api.post(
        "RelationshipDefinitions",
        json={
            "SchemaName": "new_bank_poly_contact",
            "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
            "ReferencedEntity": "contact",
            "ReferencingEntity": bank,
            "Lookup": {
                "SchemaName": "new_Item",
                "DisplayName": label("Item"),
                "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
            },
        },
    )
    rid = rel_id(added)
    person = created_id(api.post("contacts", json={"lastname": "Ng"}))
    row = created_id(
        api.post(
            "new_bankaccounts",
            json={"new_name": "x", "new_Item_contact@odata.bind": f"/contacts({person})"},
        )
    )
    attr = core_emulator.schema.entity(bank).attributes["new_item"]  # type: ignore[union-attr]
    assert attr.targets == ("account", "opportunity", "contact")
    assert api.delete(f"RelationshipDefinitions({rid})").status_code == 204
    assert core_emulator.schema.entity(bank).attributes["new_item"].targets == (
        "account",
        "opportunity",
    )  # type: ignore[union-attr]
    assert api.get(f"new_bankaccounts({row})").json()["_new_item_value"] is None


def test_the_sdk_lookup_field_payload(api: httpx.Client, bank: str) -> None:
    # what client.tables.create_lookup_field posts: the relationship is named
    # <referenced>_<referencing>_<lookup>, so it carries a publisher prefix only when the
    # referenced table does (a relationship name without one is refused, as Dataverse
    # reportedly does: JM-Dataverse-Toolbelt issue 3)
    lookup, relationship = _ODataBase._build_lookup_field_models(
        referencing_table="contact", lookup_field_name="new_BankAccountId", referenced_table=bank
    )
    body = relationship.to_dict()
    body["Lookup"] = lookup.to_dict()
    rid = rel_id(api.post("RelationshipDefinitions", json=body))
    got = api.get(f"RelationshipDefinitions({rid})").json()
    assert got["ReferencingEntityNavigationPropertyName"] == "new_BankAccountId"
    assert got["SchemaName"] == "new_bankaccount_contact_new_BankAccountId"
    lookup, relationship = _ODataBase._build_lookup_field_models(
        referencing_table=bank, lookup_field_name="new_AccountId", referenced_table="account"
    )
    standard = {**relationship.to_dict(), "Lookup": lookup.to_dict()}
    refused = api.post("RelationshipDefinitions", json=standard)
    assert refused.status_code == 400
    assert "customization prefix" in refused.json()["error"]["message"]


def test_create_one_to_many_and_many_to_many_actions(api: httpx.Client, bank: str) -> None:
    one = api.post(
        "CreateOneToMany",
        json={
            "OneToManyRelationship": {
                "SchemaName": "new_account_bankaccounts",
                "ReferencedEntity": "account",
                "ReferencingEntity": bank,
            },
            "Lookup": {"SchemaName": "new_BankOf", "DisplayName": label("Bank of")},
        },
    )
    assert one.status_code == 200, one.text
    assert one.json()["@odata.context"].endswith("#Microsoft.Dynamics.CRM.CreateOneToManyResponse")
    got = api.get(f"RelationshipDefinitions({one.json()['RelationshipId']})").json()
    assert got["ReferencingAttribute"] == "new_bankof"
    many = api.post(
        "CreateManyToMany",
        json={
            "ManyToManyRelationship": {
                "SchemaName": "new_bank_contacts",
                "Entity1LogicalName": bank,
                "Entity2LogicalName": "contact",
            },
            "IntersectEntitySchemaName": "new_bank_contacts",
        },
    )
    assert many.status_code == 200, many.text
    rid = many.json()["ManyToManyRelationshipId"]
    assert api.get(f"RelationshipDefinitions({rid})").json()["IntersectEntityName"] == (
        "new_bank_contacts"
    )
    extra = api.post("CreateManyToMany", json={"ManyToManyRelationship": {}, "Other": 1})
    assert extra.status_code == 400
