"""``CreateEntities``: the action Microsoft's Python SDK creates tables with.

The bodies are the SDK's (powerplatform-dataverse-client 1.1.0,
``PowerPlatform/Dataverse/data/_odata_base.py``: ``_build_create_entity`` and
``_base_attribute_payload`` with ``complex=True``), one per column type it offers, written out
here. The message has no Web API reference page; the answer's shape is the emulator's choice
(``CreateEntitiesResponse`` with the new tables' ``EntityIds``).
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any

import httpx
import pytest

from helpers.metadata_docs import add_solution
from helpers.webapi import created_id

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
NS = "Microsoft.Dynamics.CRM."
CX = NS + "Complex"
GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _label(text: str) -> dict[str, Any]:
    # the SDK's _label: a typed Label with one LocalizedLabel in the client's language
    localized = {"@odata.type": NS + "LocalizedLabel", "Label": text, "LanguageCode": 1033}
    return {
        "@odata.type": NS + "Label",
        "LocalizedLabels": [localized],
        "UserLocalizedLabel": localized,
    }


class Stage(IntEnum):
    Draft = 100000000
    Final = 100000001


def _column(name: str, kind: str) -> dict[str, Any]:
    common = {
        "SchemaName": name,
        "DisplayName": _label(name.split("_")[-1]),
        "RequiredLevel": {"Value": "None"},
    }
    if kind == "string":
        return {
            "@odata.type": CX + "StringAttributeMetadata",
            **common,
            "MaxLength": 200,
            "FormatName": {"Value": "Text"},
            "IsPrimaryName": False,
        }
    if kind == "memo":
        return {
            "@odata.type": CX + "MemoAttributeMetadata",
            **common,
            "MaxLength": 4000,
            "FormatName": {"Value": "Text"},
            "ImeMode": "Auto",
        }
    if kind == "int":
        return {
            "@odata.type": CX + "IntegerAttributeMetadata",
            **common,
            "Format": "None",
            "MinValue": -2147483648,
            "MaxValue": 2147483647,
        }
    if kind == "decimal":
        return {
            "@odata.type": CX + "DecimalAttributeMetadata",
            **common,
            "MinValue": -100000000000.0,
            "MaxValue": 100000000000.0,
            "Precision": 2,
        }
    if kind == "float":
        return {
            "@odata.type": CX + "DoubleAttributeMetadata",
            **common,
            "MinValue": -100000000000.0,
            "MaxValue": 100000000000.0,
            "Precision": 5,
        }
    if kind == "date":
        return {
            "@odata.type": CX + "DateTimeAttributeMetadata",
            **common,
            "Format": "DateOnly",
            "ImeMode": "Inactive",
        }
    if kind == "bool":
        return {
            "@odata.type": CX + "BooleanAttributeMetadata",
            **common,
            "OptionSet": {
                "@odata.type": CX + "BooleanOptionSetMetadata",
                "TrueOption": {"Value": 1, "Label": _label("True")},
                "FalseOption": {"Value": 0, "Label": _label("False")},
                "IsGlobal": False,
            },
        }
    assert kind == "choice"
    return {
        "@odata.type": CX + "PicklistAttributeMetadata",
        **common,
        "IsPrimaryName": False,
        "OptionSet": {
            "@odata.type": CX + "OptionSetMetadata",
            "IsGlobal": False,
            "Options": [
                {"@odata.type": NS + "OptionMetadata", "Value": m.value, "Label": _label(m.name)}
                for m in Stage
            ],
        },
    }


COLUMNS = {
    "new_Title": "string",
    "new_Notes": "memo",
    "new_Count": "int",
    "new_Amount": "decimal",
    "new_Ratio": "float",
    "new_Due": "date",
    "new_Done": "bool",
    "new_Stage": "choice",
}
META_TYPES = {
    "string": "StringAttributeMetadata",
    "memo": "MemoAttributeMetadata",
    "int": "IntegerAttributeMetadata",
    "decimal": "DecimalAttributeMetadata",
    "float": "DoubleAttributeMetadata",
    "date": "DateTimeAttributeMetadata",
    "bool": "BooleanAttributeMetadata",
    "choice": "PicklistAttributeMetadata",
}


def _entity(table: str, columns: dict[str, str] | None = None) -> dict[str, Any]:
    primary = {**_column(f"{table.split('_', 1)[0]}_Name", "string"), "IsPrimaryName": True}
    attributes = [primary] + [_column(n, k) for n, k in (columns or {}).items()]
    return {
        "@odata.type": NS + "ComplexEntityMetadata",
        "SchemaName": table,
        "DisplayName": _label(table),
        "DisplayCollectionName": _label(table + "s"),
        "Description": _label(f"Custom entity for {table}"),
        "OwnershipType": "UserOwned",
        "HasActivities": False,
        "HasNotes": True,
        "IsActivity": False,
        "Attributes": attributes,
    }


def _table(api: httpx.Client, logical: str) -> dict[str, Any] | None:
    rows = api.get(
        "EntityDefinitions",
        params={
            "$select": "MetadataId,LogicalName,SchemaName,EntitySetName,PrimaryNameAttribute",
            "$filter": f"LogicalName eq '{logical}'",
        },
        headers={"Consistency": "Strong"},
    ).json()["value"]
    return rows[0] if rows else None


def test_the_sdk_creates_a_table_with_every_column_type(api: httpx.Client) -> None:
    response = api.post("CreateEntities", json={"Entities": [_entity("new_Project", COLUMNS)]})
    assert response.status_code == 200, response.text
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert body["@odata.context"] == f"{BASE}$metadata#{NS}CreateEntitiesResponse"
    [entity_id] = body["EntityIds"]
    assert re.fullmatch(GUID, entity_id)
    table = _table(api, "new_project")
    assert table is not None
    assert table["MetadataId"] == entity_id
    assert (table["SchemaName"], table["EntitySetName"], table["PrimaryNameAttribute"]) == (
        "new_Project",
        "new_projects",
        "new_name",
    )
    for name, kind in COLUMNS.items():
        column = api.get(
            f"EntityDefinitions({entity_id})/Attributes(LogicalName='{name.lower()}')"
        ).json()
        assert column["@odata.type"] == f"#{NS}{META_TYPES[kind]}", name
        assert column["SchemaName"] == name
    ratio = api.get(
        f"EntityDefinitions({entity_id})/Attributes(LogicalName='new_ratio')/{NS}"
        "DoubleAttributeMetadata"
    ).json()
    assert (ratio["Precision"], ratio["MinValue"], ratio["MaxValue"]) == (5, -1e11, 1e11)
    due = api.get(
        f"EntityDefinitions({entity_id})/Attributes(LogicalName='new_due')/{NS}"
        "DateTimeAttributeMetadata"
    ).json()
    assert due["Format"] == "DateOnly"
    # HasNotes: the table's notes relationship
    notes = api.get(
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        params={"$select": "SchemaName", "$filter": "ReferencingEntity eq 'annotation'"},
    ).json()["value"]
    assert any("new_project" in r["SchemaName"].lower() for r in notes)


def test_the_new_table_takes_rows_of_every_column_type(api: httpx.Client) -> None:
    response = api.post("CreateEntities", json={"Entities": [_entity("new_Project", COLUMNS)]})
    assert response.status_code == 200, response.text
    row = {
        "new_name": "Apollo",
        "new_title": "Moon",
        "new_notes": "long\ntext",
        "new_count": 3,
        "new_amount": 12.34,
        "new_ratio": 0.123456789,
        # a DateOnly-format column of UserLocal behavior is an Edm.DateTimeOffset property:
        # a bare date is refused ("Cannot convert the literal '2026-05-01' ...")
        "new_due": "2026-05-01T00:00:00Z",
        "new_done": True,
        "new_stage": Stage.Final.value,
    }
    project = created_id(api.post("new_projects", json=row))
    read = api.get(f"new_projects({project})", params={"$select": ",".join(row)}).json()
    expected = {**row, "new_ratio": 0.12346}  # rounded to the column's Precision (5)
    for name, value in expected.items():
        assert read[name] == value, name
    found = api.get(
        "new_projects", params={"$filter": "new_ratio gt 0.1 and new_stage eq 100000001"}
    ).json()["value"]
    assert len(found) == 1
    too_big = api.post("new_projects", json={"new_name": "x", "new_ratio": 2e11})
    assert too_big.status_code == 400


def test_the_solution_is_the_query_parameter(api: httpx.Client) -> None:
    add_solution(api, "cr1")
    response = api.post(
        "CreateEntities",
        params={"SolutionUniqueName": "examplesolution"},
        json={"Entities": [_entity("cr1_Thing")]},
    )
    assert response.status_code == 200, response.text
    # the solution's publisher's prefix, not another
    other = api.post(
        "CreateEntities",
        params={"SolutionUniqueName": "examplesolution"},
        json={"Entities": [_entity("new_Other")]},
    )
    assert other.status_code == 400
    assert "cr1_" in other.json()["error"]["message"]
    missing = api.post(
        "CreateEntities",
        params={"SolutionUniqueName": "nosuch"},
        json={"Entities": [_entity("new_Thing")]},
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "0x80040217"


def test_several_tables_at_once_or_none(api: httpx.Client) -> None:
    both = api.post(
        "CreateEntities", json={"Entities": [_entity("new_Alpha"), _entity("new_Beta")]}
    )
    assert both.status_code == 200, both.text
    assert len(both.json()["EntityIds"]) == 2
    bad_column = _entity("new_Delta", {"new_Count": "int"})
    bad_column["Attributes"][1]["MaxValue"] = 2**40  # outside the Int32 range
    failed = api.post("CreateEntities", json={"Entities": [_entity("new_Gamma"), bad_column]})
    assert failed.status_code == 400
    assert "MaxValue" in failed.json()["error"]["message"]
    assert _table(api, "new_gamma") is None
    assert _table(api, "new_delta") is None


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({}, 400, "Entities"),
        ({"Entities": []}, 400, "Entities"),
        ({"Entities": [_entity("new_X")], "Extra": 1}, 400, "Extra"),
        ({"Entities": [{**_entity("new_X"), "Attributes": []}]}, 400, "PrimaryAttribute"),
        ({"Entities": [{**_entity("new_X"), "IsActivity": True}]}, 501, "IsActivity"),
        ({"Entities": [{**_entity("new_X"), "NoSuchProperty": 1}]}, 400, "NoSuchProperty"),
    ],
)
def test_what_is_refused(api: httpx.Client, body: dict[str, Any], status: int, needle: str) -> None:
    response = api.post("CreateEntities", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"].startswith("0x8")
    assert needle in error["message"]
    assert _table(api, "new_x") is None


def test_only_post(api: httpx.Client) -> None:
    response = api.get("CreateEntities")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "0x80040315"


def test_other_query_parameters_are_not_implemented(api: httpx.Client) -> None:
    response = api.post(
        "CreateEntities", params={"$select": "x"}, json={"Entities": [_entity("new_X")]}
    )
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == "0x80040219"
    assert "$select" in error["message"]


def test_a_failed_request_leaves_the_definitions_as_they_were(
    api: httpx.Client, core_emulator: Any
) -> None:
    # the undo keeps only the tables a request names (and every relationship and global
    # choice); what it puts back is the whole schema as it was
    before = core_emulator.schema.to_json()
    bad_column = _entity("new_Delta", {"new_Count": "int"})
    bad_column["Attributes"][1]["MaxValue"] = 2**40
    failed = api.post("CreateEntities", json={"Entities": [_entity("new_Gamma"), bad_column]})
    assert failed.status_code == 400
    assert core_emulator.schema.to_json() == before
    made = api.post("CreateEntities", json={"Entities": [_entity("new_Gamma")]})
    assert made.status_code == 200, made.text
    assert _table(api, "new_gamma") is not None
