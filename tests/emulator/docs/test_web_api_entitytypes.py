"""Web API EntityTypes: the ``EntityType`` elements of the CSDL $metadata document.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-entitytypes
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
web-api-entitytypes.md at 131d74da02324b8d648832f2534f965941d7aed2).

The page's XML excerpts, found in the emulator's $metadata. Adapted: the alternate key on
``accountnumber`` is created first (the page assumes it is configured).
"""

from __future__ import annotations

import httpx

from helpers import csdl
from helpers.csdl import EDM
from helpers.definitions import create_table
from helpers.metadata_docs import label


def test_the_account_entity_type(api: httpx.Client) -> None:
    account = csdl.entity_type(csdl.schema(api), "account")
    assert account.get("BaseType") == "mscrm.crmbaseentity"
    key = account.findall(f"{EDM}Key/{EDM}PropertyRef")
    assert [k.get("Name") for k in key] == ["accountid"]
    assert account.findall(f"{EDM}Property")
    assert account.findall(f"{EDM}NavigationProperty")


def test_a_table_description_is_an_annotation(api: httpx.Client) -> None:
    description = label("Business that represents a customer.")
    create_table(api, "new_Customer", display="Customer", Description=description)
    annotated = csdl.entity_type(csdl.schema(api, annotations="true"), "new_customer")
    note = annotated.find(f"{EDM}Annotation[@Term='Org.OData.Core.V1.Description']")
    assert note is not None
    assert note.get("String") == "Business that represents a customer."
    assert csdl.entity_type(csdl.schema(api), "new_customer").find(f"{EDM}Annotation") is None


def test_special_entity_types(api: httpx.Client) -> None:
    schema = csdl.schema(api)
    base = csdl.entity_type(schema, "crmbaseentity")
    assert (base.get("Abstract"), base.get("BaseType"), list(base)) == ("true", None, [])
    expando = csdl.entity_type(schema, "expando")
    assert (expando.get("BaseType"), expando.get("OpenType")) == ("mscrm.crmbaseentity", "true")
    model = csdl.entity_type(schema, "crmmodelbaseentity")
    assert (model.get("Abstract"), list(model)) == ("true", [])


def test_entity_type_inheritance(api: httpx.Client) -> None:
    schema = csdl.schema(api)
    principal = csdl.entity_type(schema, "principal")
    assert principal.get("BaseType") == "mscrm.crmbaseentity"
    assert [p.get("Name") for p in principal.findall(f"{EDM}Property")] == ["ownerid"]
    assert [k.get("Name") for k in principal.findall(f"{EDM}Key/{EDM}PropertyRef")] == ["ownerid"]
    for name in ("systemuser", "team"):
        assert csdl.entity_type(schema, name).get("BaseType") == "mscrm.principal"
    pointer = csdl.entity_type(schema, "activitypointer")
    assert [k.get("Name") for k in pointer.findall(f"{EDM}Key/{EDM}PropertyRef")] == ["activityid"]
    for name in ("appointment", "email", "phonecall"):
        assert csdl.entity_type(schema, name).get("BaseType") == "mscrm.activitypointer"
    metadata_base = csdl.entity_type(schema, "MetadataBase")
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
    account = csdl.entity_type(csdl.schema(api), "account")
    note = account.find(f"{EDM}Annotation[@Term='OData.Community.Keys.V1.AlternateKeys']")
    assert note is not None
    [record] = note.findall(f"{EDM}Collection/{EDM}Record")
    assert record.get("Type") == "OData.Community.Keys.V1.AlternateKey"
    [ref] = record.findall(f"{EDM}PropertyValue[@Property='Key']/{EDM}Collection/{EDM}Record")
    assert ref.get("Type") == "OData.Community.Keys.V1.PropertyRef"
    values = {p.get("Property"): p.attrib for p in ref.findall(f"{EDM}PropertyValue")}
    assert values["Alias"]["String"] == "accountnumber"
    assert values["Name"]["PropertyPath"] == "accountnumber"
