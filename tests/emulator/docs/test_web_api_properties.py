"""Web API Properties: the ``Property`` elements of the entity types, their primitive types,
annotations and the lookup properties.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-properties
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
web-api-properties.md at 07bda7ad9927a5a74b57e8d5706d0824239c1fd7).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from helpers import csdl
from helpers.csdl import EDM, PRIMITIVES
from helpers.webapi import created_id


def _properties(api: httpx.Client, table: str, **params: str) -> dict[str, ET.Element]:
    found = csdl.entity_type(csdl.schema(api, **params), table)
    return {p.get("Name", ""): p for p in found.findall(f"{EDM}Property")}


def test_property_elements_and_annotations(api: httpx.Client) -> None:
    props = _properties(api, "account", annotations="true")
    assert props["name"].get("Type") == "Edm.String"
    assert props["name"].find(f"{EDM}Annotation[@Term='Org.OData.Core.V1.Computed']") is None
    revenue_base = props["revenue_base"]
    assert (revenue_base.get("Type"), revenue_base.get("Scale")) == ("Edm.Decimal", "Variable")
    # a read-only property: Computed and Permissions Read
    computed = revenue_base.find(f"{EDM}Annotation[@Term='Org.OData.Core.V1.Computed']")
    assert computed is not None
    assert computed.get("Bool") == "true"
    permissions = revenue_base.find(f"{EDM}Annotation[@Term='Org.OData.Core.V1.Permissions']")
    assert permissions is not None
    member = permissions.find(f"{EDM}EnumMember")
    assert member is not None
    assert member.text == "Org.OData.Core.V1.PermissionType/Read"


def test_primitive_types_used_by_dataverse(api: httpx.Client) -> None:
    for entity_type in csdl.schema(api).findall(f"{EDM}EntityType"):
        if entity_type.get("Name", "")[0].isupper():
            continue  # the metadata API's types (EntityMetadata, ...) use complex types too
        for prop in entity_type.findall(f"{EDM}Property"):
            assert prop.get("Type") in PRIMITIVES, (entity_type.get("Name"), prop.get("Name"))


def test_lookup_properties(api: httpx.Client) -> None:
    props = _properties(api, "account")
    assert props["_primarycontactid_value"].get("Type") == "Edm.Guid"
    assert "primarycontactid" not in props
    # "You can use these lookup properties in a query filter"
    contact = created_id(api.post("contacts", json={"lastname": "Lookup"}))
    bind = {"name": "With contact", "primarycontactid@odata.bind": f"/contacts({contact})"}
    assert api.post("accounts", json=bind).status_code == 204
    found = api.get(
        "accounts", params={"$select": "name", "$filter": f"_primarycontactid_value eq {contact}"}
    ).json()["value"]
    assert [row["name"] for row in found] == ["With contact"]
    # "Lookup properties are computed, read-only properties": set the navigation property
    refused = api.post("accounts", json={"name": "x", "_primarycontactid_value": contact})
    assert refused.status_code == 400
