"""Web API Service Documents: the service document, the CSDL $metadata document, its
annotations and the service namespace.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
web-api-service-documents.md at 0fab4f347ff7faf4b404a859d9aece4165d93cbe).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from helpers.csdl import EDM, EDMX
from helpers.definitions import create_table

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}


def _metadata(api: httpx.Client) -> ET.Element:
    response = api.get("$metadata")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/xml")
    return ET.fromstring(response.content)


def test_service_document(api: httpx.Client) -> None:
    response = api.get("", headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert set(body) == {"@odata.context", "value"}
    assert body["@odata.context"] == f"{BASE}$metadata"
    entries = {entry["name"]: entry for entry in body["value"]}
    assert entries["accounts"] == {"name": "accounts", "kind": "EntitySet", "url": "accounts"}
    assert {"contacts", "systemusers", "EntityDefinitions"} <= set(entries)


def test_the_entity_set_name_is_in_the_service_document(api: httpx.Client) -> None:
    # "The service document provides a list of all the EntitySets available in your
    # environment" — each table's EntitySetName
    sets = api.get("EntityDefinitions?$select=EntitySetName").json()["value"]
    names = {entry["name"] for entry in api.get("").json()["value"]}
    assert {row["EntitySetName"] for row in sets} <= names


def _new_table(api: httpx.Client, entity_set: str | None = None) -> None:
    named = {} if entity_set is None else {"EntitySetName": entity_set}
    create_table(api, "new_Widget", display="Widget", **named)


def test_changing_the_entity_set_name(api: httpx.Client) -> None:
    # "you can update the table EntityMetadata.EntitySetName property value to use a
    # different name"
    _new_table(api)
    assert "new_widgets" in {e["name"] for e in api.get("").json()["value"]}
    url = "EntityDefinitions(LogicalName='new_widget')"
    table = api.get(url).json()
    table["EntitySetName"] = "widgets"
    assert api.put(url, json=table).status_code == 204
    names = {e["name"] for e in api.get("").json()["value"]}
    assert "widgets" in names
    assert "new_widgets" not in names
    assert api.post("widgets", json={"new_name": "Sprocket"}).status_code == 204
    assert api.get("new_widgets").status_code == 404


def test_csdl_metadata_document(api: httpx.Client) -> None:
    # "This XML document describes all the tables and operations"
    root = _metadata(api)
    assert root.tag == f"{EDMX}Edmx"
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    assert schema is not None
    types = {t.get("Name") for t in schema.findall(f"{EDM}EntityType")}
    assert {"account", "contact", "crmbaseentity"} <= types
    for kind in ("EntityType", "Action", "Function", "ComplexType", "EnumType"):
        assert schema.findall(f"{EDM}{kind}"), kind
    container = schema.find(f"{EDM}EntityContainer")
    assert container is not None
    names = {entry["name"] for entry in api.get("").json()["value"]}
    assert {s.get("Name") for s in container.findall(f"{EDM}EntitySet")} == names


def test_metadata_annotations(api: httpx.Client) -> None:
    # "append ?annotations=true ... Most annotations aren't included by default"
    plain = api.get("$metadata").text
    annotated = api.get("$metadata", params={"annotations": "true"})
    assert annotated.status_code == 200
    assert "<Annotation " not in plain
    assert "<Annotation " in annotated.text
    assert len(annotated.content) > len(plain.encode())
    # "These annotations can also be returned by adding the Prefer:
    # odata.include-annotations="*" request header."
    preferred = api.get("$metadata", headers={"Prefer": 'odata.include-annotations="*"'})
    assert preferred.text == annotated.text


def test_annotations_true_only_works_for_the_metadata_document(api: httpx.Client) -> None:
    # "The annotations=true query parameter only works for the $metadata document."
    response = api.get("accounts", params={"annotations": "true"})
    assert response.status_code in (400, 501)
    assert response.json()["error"]["code"].startswith("0x8")


def test_service_namespace(api: httpx.Client) -> None:
    schema = _metadata(api).find(f"{EDMX}DataServices/{EDM}Schema")
    assert schema is not None
    assert schema.get("Namespace") == "Microsoft.Dynamics.CRM"
    assert schema.get("Alias") == "mscrm"
