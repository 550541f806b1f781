"""Web API EntityTypes: the ``EntityType`` elements of the CSDL $metadata document.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-entitytypes
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
web-api-entitytypes.md at 131d74da02324b8d648832f2534f965941d7aed2).

The page's XML excerpts, found in the emulator's $metadata. Adapted: the alternate key on
``accountnumber`` is created first (the page assumes it is configured).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from helpers.metadata_docs import label

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"


def _schema(api: httpx.Client, **params: str) -> ET.Element:
    response = api.get("$metadata", params=params)
    assert response.status_code == 200
    schema = ET.fromstring(response.content).find(f"{EDMX}DataServices/{EDM}Schema")
    assert schema is not None
    return schema


def _type(schema: ET.Element, name: str) -> ET.Element:
    found = schema.find(f"{EDM}EntityType[@Name='{name}']")
    assert found is not None, name
    return found


def test_the_account_entity_type(api: httpx.Client) -> None:
    account = _type(_schema(api), "account")
    assert account.get("BaseType") == "mscrm.crmbaseentity"
    key = account.findall(f"{EDM}Key/{EDM}PropertyRef")
    assert [k.get("Name") for k in key] == ["accountid"]
    assert account.findall(f"{EDM}Property")
    assert account.findall(f"{EDM}NavigationProperty")


def test_a_table_description_is_an_annotation(api: httpx.Client) -> None:
    body = {
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": "new_Customer",
        "DisplayName": label("Customer"),
        "DisplayCollectionName": label("Customers"),
        "Description": label("Business that represents a customer."),
        "OwnershipType": "UserOwned",
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "new_Name",
                "IsPrimaryName": True,
                "DisplayName": label("Name"),
            }
        ],
    }
    assert api.post("EntityDefinitions", json=body).status_code == 204
    annotated = _type(_schema(api, annotations="true"), "new_customer")
    note = annotated.find(f"{EDM}Annotation[@Term='Org.OData.Core.V1.Description']")
    assert note is not None
    assert note.get("String") == "Business that represents a customer."
    assert _type(_schema(api), "new_customer").find(f"{EDM}Annotation") is None


def test_special_entity_types(api: httpx.Client) -> None:
    schema = _schema(api)
    base = _type(schema, "crmbaseentity")
    assert (base.get("Abstract"), base.get("BaseType"), list(base)) == ("true", None, [])
    expando = _type(schema, "expando")
    assert (expando.get("BaseType"), expando.get("OpenType")) == ("mscrm.crmbaseentity", "true")
    model = _type(schema, "crmmodelbaseentity")
    assert (model.get("Abstract"), list(model)) == ("true", [])


def test_entity_type_inheritance(api: httpx.Client) -> None:
    schema = _schema(api)
    principal = _type(schema, "principal")
    assert principal.get("BaseType") == "mscrm.crmbaseentity"
    assert [p.get("Name") for p in principal.findall(f"{EDM}Property")] == ["ownerid"]
    assert [k.get("Name") for k in principal.findall(f"{EDM}Key/{EDM}PropertyRef")] == ["ownerid"]
    for name in ("systemuser", "team"):
        assert _type(schema, name).get("BaseType") == "mscrm.principal"
    pointer = _type(schema, "activitypointer")
    assert [k.get("Name") for k in pointer.findall(f"{EDM}Key/{EDM}PropertyRef")] == ["activityid"]
    for name in ("appointment", "email", "phonecall"):
        assert _type(schema, name).get("BaseType") == "mscrm.activitypointer"
    metadata_base = _type(schema, "MetadataBase")
    assert metadata_base.get("BaseType") == "mscrm.crmmodelbaseentity"
    assert {p.get("Name") for p in metadata_base.findall(f"{EDM}Property")} >= {
        "MetadataId",
        "HasChanged",
    }


def test_alternate_keys(api: httpx.Client) -> None:
    key = {
        "SchemaName": "new_accountnumber_key",
        "DisplayName": label("Account number"),
        "KeyAttributes": ["accountnumber"],
    }
    made = api.post("EntityDefinitions(LogicalName='account')/Keys", json=key)
    assert made.status_code == 204, made.text
    account = _type(_schema(api), "account")
    note = account.find(f"{EDM}Annotation[@Term='OData.Community.Keys.V1.AlternateKeys']")
    assert note is not None
    [record] = note.findall(f"{EDM}Collection/{EDM}Record")
    assert record.get("Type") == "OData.Community.Keys.V1.AlternateKey"
    [ref] = record.findall(f"{EDM}PropertyValue[@Property='Key']/{EDM}Collection/{EDM}Record")
    assert ref.get("Type") == "OData.Community.Keys.V1.PropertyRef"
    values = {p.get("Property"): p.attrib for p in ref.findall(f"{EDM}PropertyValue")}
    assert values["Alias"]["String"] == "accountnumber"
    assert values["Name"]["PropertyPath"] == "accountnumber"
