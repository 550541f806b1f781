"""Web API Navigation Properties: single-valued (lookups, with their ``ReferentialConstraint``),
multi-table lookups, and collection-valued navigation properties.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-navigation-properties
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
web-api-navigation-properties.md at 05cfff5341d4db7cec326318fdd63b9618e9c206).

Adapted: the names of the tenant's relationships (the ``Partner`` of ``createdby`` is the
relationship's ``ReferencedEntityNavigationPropertyName``, here not ``lk_accountbase_createdby``);
the multi-table lookup is contact's ``parentcustomerid`` (the tenant has no social profile);
``Account_Tasks`` is account's ``Account_Annotation`` (no task table). Many-to-many navigation
properties belong to the relationships.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from helpers import csdl
from helpers.csdl import EDM


@pytest.fixture
def schema(api: httpx.Client) -> ET.Element:
    return csdl.schema(api)


def _navs(schema: ET.Element, table: str) -> dict[str, ET.Element]:
    entity_type = csdl.entity_type(schema, table)
    return {n.get("Name", ""): n for n in entity_type.findall(f"{EDM}NavigationProperty")}


def _relationship(api: httpx.Client, referencing: str, attribute: str) -> dict[str, str]:
    rows = api.get(
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        params={
            "$select": "ReferencingEntityNavigationPropertyName,"
            "ReferencedEntityNavigationPropertyName,ReferencingAttribute,ReferencingEntity",
            "$filter": f"ReferencingEntity eq '{referencing}'",
        },
    ).json()["value"]
    return next(r for r in rows if r["ReferencingAttribute"] == attribute)


def test_single_valued_navigation_properties(api: httpx.Client, schema: ET.Element) -> None:
    created_by = _navs(schema, "account")["createdby"]
    assert (created_by.get("Type"), created_by.get("Nullable")) == ("mscrm.systemuser", "false")
    constraint = created_by.find(f"{EDM}ReferentialConstraint")
    assert constraint is not None
    assert constraint.attrib == {
        "Property": "_createdby_value",
        "ReferencedProperty": "systemuserid",
    }
    # Name and Partner are the relationship's navigation property names
    relationship = _relationship(api, "account", "createdby")
    assert relationship["ReferencingEntityNavigationPropertyName"] == "createdby"
    assert created_by.get("Partner") == relationship["ReferencedEntityNavigationPropertyName"]


def test_multi_table_lookups(schema: ET.Element) -> None:
    navs = _navs(schema, "contact")
    for target, key in (("account", "accountid"), ("contact", "contactid")):
        nav = navs[f"parentcustomerid_{target}"]
        assert (nav.get("Type"), nav.get("Nullable")) == (f"mscrm.{target}", "false")
        constraint = nav.find(f"{EDM}ReferentialConstraint")
        assert constraint is not None
        assert constraint.attrib == {
            "Property": "_parentcustomerid_value",
            "ReferencedProperty": key,
        }


def test_collection_valued_navigation_properties(schema: ET.Element) -> None:
    notes = _navs(schema, "account")["Account_Annotation"]
    assert notes.get("Type") == "Collection(mscrm.annotation)"
    assert notes.get("Nullable") is None
    partner = _navs(schema, "annotation")[str(notes.get("Partner"))]
    assert partner.get("Type") == "mscrm.account"


def test_many_to_one_is_the_mirror_of_one_to_many(schema: ET.Element) -> None:
    created_by = _navs(schema, "account")["createdby"]
    mirror = _navs(schema, "systemuser")[str(created_by.get("Partner"))]
    assert mirror.get("Type") == "Collection(mscrm.account)"
    assert mirror.get("Partner") == "createdby"
