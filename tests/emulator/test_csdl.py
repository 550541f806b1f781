"""The service document and the CSDL ``$metadata``, made from the live schema.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-entitytypes
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-properties
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-navigation-properties
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.actions import NOT_EMULATED
from crm_ferry.emulator.csdl import OPERATIONS
from helpers.csdl import EDM, EDMX, PRIMITIVES
from helpers.definitions import create_table, label
from helpers.files import file_column, image_column

NS = "Microsoft.Dynamics.CRM."


def _metadata(api: httpx.Client, **params: str) -> ET.Element:
    response = api.get("$metadata", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/xml")
    assert response.headers["OData-Version"] == "4.0"
    return ET.fromstring(response.content)


def _schema(root: ET.Element) -> ET.Element:
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    assert schema is not None
    return schema


def _entity_type(root: ET.Element, name: str) -> ET.Element:
    found = _schema(root).find(f"{EDM}EntityType[@Name='{name}']")
    assert found is not None, name
    return found


def _properties(entity_type: ET.Element) -> dict[str, ET.Element]:
    return {p.get("Name", ""): p for p in entity_type.findall(f"{EDM}Property")}


def _navigations(entity_type: ET.Element) -> dict[str, ET.Element]:
    return {p.get("Name", ""): p for p in entity_type.findall(f"{EDM}NavigationProperty")}


def _declared(root: ET.Element) -> set[str]:
    schema = _schema(root)
    kinds = ("EntityType", "ComplexType", "EnumType")
    return {f"mscrm.{t.get('Name')}" for kind in kinds for t in schema.findall(f"{EDM}{kind}")}


# ---------------------------------------------------------------------------------------
# The service document


def test_the_service_document_lists_every_entity_set(api: httpx.Client) -> None:
    response = api.get("")
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert body["@odata.context"] == "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata"
    names = [entry["name"] for entry in body["value"]]
    assert {"accounts", "contacts", "systemusers", "EntityDefinitions"} <= set(names)
    assert names == sorted(names)
    for entry in body["value"]:
        assert entry == {"name": entry["name"], "kind": "EntitySet", "url": entry["name"]}


def test_the_service_document_without_the_trailing_slash(api: httpx.Client) -> None:
    response = api.get("https://contoso.crm.dynamics.com/api/data/v9.2")
    assert response.status_code == 200
    assert response.json()["@odata.context"].endswith("/api/data/v9.2/$metadata")


def test_metadata_names_every_entity_set_of_the_service_document(api: httpx.Client) -> None:
    names = {entry["name"] for entry in api.get("").json()["value"]}
    root = _metadata(api)
    container = _schema(root).find(f"{EDM}EntityContainer")
    assert container is not None
    assert container.get("Name") == "System"
    sets = {s.get("Name"): s.get("EntityType") for s in container.findall(f"{EDM}EntitySet")}
    assert set(sets) == names
    declared = _declared(root)
    assert {t for t in sets.values() if t} <= declared


def test_metadata_declares_every_type_it_uses(api: httpx.Client) -> None:
    root = _metadata(api)
    declared = _declared(root)
    used: set[str] = set()
    for node in root.iter():
        for attr in ("Type", "BaseType", "EntityType"):
            value = node.get(attr)
            if value:
                used.add(value.removeprefix("Collection(").removesuffix(")"))
    undeclared = {t for t in used if t not in declared and t not in PRIMITIVES}
    assert undeclared == set()


def test_the_namespace_alias_and_vocabularies(api: httpx.Client) -> None:
    root = _metadata(api)
    assert root.tag == f"{EDMX}Edmx"
    assert root.get("Version") == "4.0"
    schema = _schema(root)
    assert schema.get("Namespace") == "Microsoft.Dynamics.CRM"
    assert schema.get("Alias") == "mscrm"
    included = {i.get("Namespace") for i in root.iter(f"{EDMX}Include")}
    assert "Org.OData.Core.V1" in included


def test_entity_types_derive_as_dataverse_does(api: httpx.Client) -> None:
    root = _metadata(api)
    assert _entity_type(root, "crmbaseentity").get("Abstract") == "true"
    assert _entity_type(root, "account").get("BaseType") == "mscrm.crmbaseentity"
    assert _entity_type(root, "email").get("BaseType") == "mscrm.activitypointer"
    assert _entity_type(root, "systemuser").get("BaseType") == "mscrm.principal"
    assert _entity_type(root, "team").get("BaseType") == "mscrm.principal"
    key = _entity_type(root, "account").find(f"{EDM}Key/{EDM}PropertyRef")
    assert key is not None
    assert key.get("Name") == "accountid"


def test_an_activity_inherits_its_key_and_common_columns(api: httpx.Client) -> None:
    root = _metadata(api)
    email = _entity_type(root, "email")
    assert email.find(f"{EDM}Key") is None  # the key is activitypointer's
    pointer = _entity_type(root, "activitypointer")
    key = pointer.find(f"{EDM}Key/{EDM}PropertyRef")
    assert key is not None
    assert key.get("Name") == "activityid"
    assert "subject" in _properties(pointer)
    assert "activityid" not in _properties(email)


def test_lookups_are_value_properties_and_single_valued_navigations(api: httpx.Client) -> None:
    account = _entity_type(_metadata(api), "account")
    props = _properties(account)
    assert props["_primarycontactid_value"].get("Type") == "Edm.Guid"
    assert "primarycontactid" not in props
    nav = _navigations(account)["primarycontactid"]
    assert nav.get("Type") == "mscrm.contact"
    constraint = nav.find(f"{EDM}ReferentialConstraint")
    assert constraint is not None
    assert constraint.get("Property") == "_primarycontactid_value"
    assert constraint.get("ReferencedProperty") == "contactid"
    owner = _navigations(account)["ownerid"]
    assert owner.get("Type") == "mscrm.principal"


def test_collection_valued_navigations_partner_the_lookup(api: httpx.Client) -> None:
    root = _metadata(api)
    contact_navs = _navigations(_entity_type(root, "contact"))
    one_to_many = contact_navs["account_primary_contact"]
    assert one_to_many.get("Type") == "Collection(mscrm.account)"
    assert one_to_many.get("Partner") == "primarycontactid"
    account_navs = _navigations(_entity_type(root, "account"))
    assert account_navs["primarycontactid"].get("Partner") == "account_primary_contact"


def test_the_container_binds_navigations_to_entity_sets(api: httpx.Client) -> None:
    container = _schema(_metadata(api)).find(f"{EDM}EntityContainer")
    assert container is not None
    accounts = container.find(f"{EDM}EntitySet[@Name='accounts']")
    assert accounts is not None
    bindings = {
        b.get("Path"): b.get("Target") for b in accounts.findall(f"{EDM}NavigationPropertyBinding")
    }
    assert bindings["primarycontactid"] == "contacts"
    assert bindings["contact_customer_accounts"] == "contacts"


def test_column_types_map_to_edm_types(api: httpx.Client) -> None:
    props = _properties(_entity_type(_metadata(api), "account"))
    assert props["name"].get("Type") == "Edm.String"
    assert props["accountid"].get("Type") == "Edm.Guid"
    assert props["revenue"].get("Type") == "Edm.Decimal"
    assert props["revenue"].get("Scale") == "Variable"
    assert props["numberofemployees"].get("Type") == "Edm.Int32"
    assert props["createdon"].get("Type") == "Edm.DateTimeOffset"
    assert props["versionnumber"].get("Type") == "Edm.Int64"
    assert props["statecode"].get("Type") == "Edm.Int32"
    contact = _properties(_entity_type(_metadata(api), "contact"))
    assert contact["birthdate"].get("Type") == "Edm.Date"


COLUMNS = {
    "BigIntAttributeMetadata": ("new_big", "Edm.Int64"),
    "DoubleAttributeMetadata": ("new_ratio", "Edm.Double"),
    "DecimalAttributeMetadata": ("new_amount", "Edm.Decimal"),
    "IntegerAttributeMetadata": ("new_count", "Edm.Int32"),
    "MemoAttributeMetadata": ("new_notes", "Edm.String"),
    "MoneyAttributeMetadata": ("new_price", "Edm.Decimal"),
    "BooleanAttributeMetadata": ("new_active", "Edm.Boolean"),
    "DateTimeAttributeMetadata": ("new_due", "Edm.DateTimeOffset"),
}


def _column(meta_type: str, schema_name: str) -> dict[str, Any]:
    column = {
        "@odata.type": NS + meta_type,
        "SchemaName": schema_name,
        "DisplayName": label(schema_name),
        "Description": label(f"The {schema_name} column"),
    }
    if meta_type == "BooleanAttributeMetadata":
        column["OptionSet"] = {
            "TrueOption": {"Value": 1, "Label": label("Yes")},
            "FalseOption": {"Value": 0, "Label": label("No")},
        }
    return column


def test_a_new_table_and_its_columns_appear_live(api: httpx.Client) -> None:
    columns = [_column(meta_type, schema_name) for meta_type, (schema_name, _) in COLUMNS.items()]
    create_table(api, "new_Gadget", *columns, display="Gadget")
    root = _metadata(api)
    gadget = _entity_type(root, "new_gadget")
    assert gadget.get("BaseType") == "mscrm.crmbaseentity"
    props = _properties(gadget)
    for schema_name, edm in COLUMNS.values():
        assert props[schema_name].get("Type") == edm, schema_name
    assert props["new_price_base"].get("Type") == "Edm.Decimal"
    assert props["_transactioncurrencyid_value"].get("Type") == "Edm.Guid"
    assert "_ownerid_value" in props
    container = _schema(root).find(f"{EDM}EntityContainer")
    assert container is not None
    assert container.find(f"{EDM}EntitySet[@Name='new_gadgets']") is not None
    names = {entry["name"] for entry in api.get("").json()["value"]}
    assert "new_gadgets" in names
    described = _properties(_entity_type(_metadata(api, annotations="true"), "new_gadget"))
    note = described["new_due"].find(f"{EDM}Annotation")
    assert note is not None
    assert note.get("Term") == "Org.OData.Core.V1.Description"
    assert note.get("String") == "The new_due column"
    # the table's set is gone with the table
    assert api.delete("EntityDefinitions(LogicalName='new_gadget')").status_code == 204
    assert "new_gadgets" not in {entry["name"] for entry in api.get("").json()["value"]}
    assert _schema(_metadata(api)).find(f"{EDM}EntityType[@Name='new_gadget']") is None


# ---------------------------------------------------------------------------------------
# Operations


def test_the_operations_are_declared_and_imported(api: httpx.Client) -> None:
    schema = _schema(_metadata(api))
    container = schema.find(f"{EDM}EntityContainer")
    assert container is not None
    for op in OPERATIONS:
        node = schema.find(f"{EDM}{op.kind}[@Name='{op.name}']")
        assert node is not None, op.name
        imported = container.find(f"{EDM}{op.kind}Import[@Name='{op.name}']")
        assert (imported is None) == (op.bound_to is not None), op.name
        if op.bound_to is not None:
            assert node.get("IsBound") == "true"
    who = container.find(f"{EDM}FunctionImport[@Name='WhoAmI']")
    assert who is not None
    assert who.get("IncludeInServiceDocument") == "false"


def test_messages_the_emulator_does_not_answer_are_not_declared(api: httpx.Client) -> None:
    schema = _schema(_metadata(api))
    kinds = (
        "Action",
        "Function",
        "EntityContainer/{E}ActionImport",
        "EntityContainer/{E}FunctionImport",
    )
    for name in NOT_EMULATED:
        for kind in kinds:
            path = EDM + kind.replace("{E}", EDM) + f"[@Name='{name}']"
            assert schema.find(path) is None, name


def _call(api: httpx.Client, name: str, kind: str, bound_to: str | None) -> httpx.Response:
    if bound_to == "mscrm.systemuser":
        user = api.get("WhoAmI").json()["UserId"]
        return api.get(f"systemusers({user})/{NS}{name}")
    path = f"accounts/{NS}{name}" if bound_to is not None else name
    return api.get(path) if kind == "Function" else api.post(path, json={})


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_every_declared_operation_is_answered(api: httpx.Client, op: Any) -> None:
    # with no parameters an action may be refused 400, never "not found" or "not implemented"
    response = _call(api, op.name, op.kind, op.bound_to)
    assert response.status_code not in (404, 405, 501), response.text
    if response.status_code >= 400:
        assert response.status_code == 400
        assert response.json()["error"]["code"].startswith("0x8")


# ---------------------------------------------------------------------------------------
# Options of $metadata


def test_annotations_are_left_out_unless_asked_for(api: httpx.Client) -> None:
    plain = api.get("$metadata").text
    assert "<Annotation " not in plain
    asked = api.get("$metadata", params={"annotations": "true"})
    assert asked.status_code == 200
    account = _entity_type(ET.fromstring(asked.content), "account")
    computed = _properties(account)["createdon"].find(f"{EDM}Annotation")
    assert computed is not None
    assert computed.get("Term") == "Org.OData.Core.V1.Computed"
    assert _properties(account)["name"].find(f"{EDM}Annotation") is None
    preferred = api.get("$metadata", headers={"Prefer": 'odata.include-annotations="*"'})
    assert preferred.status_code == 200
    assert "<Annotation " in preferred.text
    refused = api.get("$metadata", params={"annotations": "false"})
    assert "<Annotation " not in refused.text


def test_an_invalid_annotations_value_is_refused(api: httpx.Client) -> None:
    response = api.get("$metadata", params={"annotations": "yes"})
    assert response.status_code == 400
    assert response.json()["error"]["code"].startswith("0x8")


@pytest.mark.parametrize(
    ("path", "param"), [("$metadata", "$format"), ("$metadata", "$select"), ("", "$top")]
)
def test_other_query_options_are_not_implemented(api: httpx.Client, path: str, param: str) -> None:
    response = api.get(path, params={param: "1"})
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == "0x80040219"
    assert param in error["message"]
    assert "not implemented by the emulator" in error["message"]


@pytest.mark.parametrize("path", ["", "$metadata"])
@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE", "PUT"])
def test_only_get_is_allowed(api: httpx.Client, path: str, method: str) -> None:
    response = api.request(method, path, json={})
    assert response.status_code == 405
    assert response.json()["error"]["code"].startswith("0x8")


def test_many_to_many_navigation_properties_and_file_and_image_columns_are_declared(
    api: httpx.Client,
) -> None:
    """An N:N relationship gives both tables a collection-valued property, each the other's
    partner, bound to the other table's set; a file column is its file's id, an image column
    its thumbnail's bytes."""
    made = api.post(
        "RelationshipDefinitions",
        json={
            "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
            "SchemaName": "new_account_contact",
            "Entity1LogicalName": "account",
            "Entity2LogicalName": "contact",
            "Entity1NavigationPropertyName": "new_account_contact_contacts",
            "Entity2NavigationPropertyName": "new_account_contact_accounts",
            "IntersectEntityName": "new_account_contact",
        },
    )
    assert made.status_code == 204, made.text
    file_column(api)
    image_column(api)
    root = _metadata(api)
    account, contact = _entity_type(root, "account"), _entity_type(root, "contact")
    to_contacts = account.find(f"{EDM}NavigationProperty[@Name='new_account_contact_contacts']")
    to_accounts = contact.find(f"{EDM}NavigationProperty[@Name='new_account_contact_accounts']")
    assert to_contacts is not None
    assert to_accounts is not None
    assert to_contacts.get("Type") == "Collection(mscrm.contact)"
    assert to_contacts.get("Partner") == "new_account_contact_accounts"
    assert to_accounts.get("Type") == "Collection(mscrm.account)"
    assert to_accounts.get("Partner") == "new_account_contact_contacts"
    assert to_contacts.find(f"{EDM}ReferentialConstraint") is None
    accounts = _schema(root).find(f"{EDM}EntityContainer/{EDM}EntitySet[@Name='accounts']")
    assert accounts is not None
    bound = {
        b.get("Path"): b.get("Target") for b in accounts.findall(f"{EDM}NavigationPropertyBinding")
    }
    assert bound["new_account_contact_contacts"] == "contacts"
    types = {p.get("Name"): p.get("Type") for p in account.findall(f"{EDM}Property")}
    assert types["new_filecolumn"] == "Edm.Guid"
    assert types["new_imagecolumn"] == "Edm.Binary"
