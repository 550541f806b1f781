"""Reading the CSDL ``$metadata`` document in tests: its namespaces, the primitive types a
property may have, the ``Schema`` element and an entity type in it
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
PRIMITIVES = frozenset(
    {
        "Edm.Binary",
        "Edm.Boolean",
        "Edm.Date",
        "Edm.DateTimeOffset",
        "Edm.Decimal",
        "Edm.Double",
        "Edm.Guid",
        "Edm.Int16",
        "Edm.Int32",
        "Edm.Int64",
        "Edm.String",
    }
)
"""The primitive types of the properties in Dataverse's CSDL (web-api-properties)."""


def schema(api: httpx.Client, **params: str) -> ET.Element:
    """The ``Schema`` element of ``GET $metadata`` (``params``: its query, such as
    ``annotations``)."""
    response = api.get("$metadata", params=params)
    assert response.status_code == 200
    found = ET.fromstring(response.content).find(f"{EDMX}DataServices/{EDM}Schema")
    assert found is not None
    return found


def entity_type(schema: ET.Element, name: str) -> ET.Element:
    """The ``EntityType`` element ``name`` (a table's logical name) of ``schema``."""
    found = schema.find(f"{EDM}EntityType[@Name='{name}']")
    assert found is not None, name
    return found


__all__ = ["EDM", "EDMX", "PRIMITIVES", "entity_type", "schema"]
