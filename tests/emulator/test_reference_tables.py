"""The emulator's standard tables are Microsoft's table reference: for every table of the
reference set, the metadata API (read as a client reads it) gives exactly the columns the
committed facts list (``src/crm_ferry/emulator/reference/tables/<table>.json``, each naming the
page and commit it was read from), with the same type, length, format, range, precision,
options, state/status pairs, required level and create/update/read validity; and the table's
names and ownership.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.reference import TABLES, available, facts
from crm_ferry.emulator.reference.build import LOOKUP_TYPES, OWNING_TARGETS

TYPE_NAMES = {
    "Uniqueidentifier": "UniqueidentifierType",
    "PartyList": "PartyListType",
}
OPTION_CASTS = {
    "Picklist": "PicklistAttributeMetadata",
    "MultiSelectPicklist": "MultiSelectPicklistAttributeMetadata",
    "Boolean": "BooleanAttributeMetadata",
    "State": "StateAttributeMetadata",
    "Status": "StatusAttributeMetadata",
}


def test_every_table_of_the_set_has_its_facts() -> None:
    assert available() == TABLES


def test_every_fact_file_names_its_page_and_commit() -> None:
    for table in TABLES:
        for source in facts(table)["sources"]:
            assert source["repository"].startswith("MicrosoftDocs/"), table
            assert source["path"].endswith(".md"), table
            assert len(source["commit"]) == 40, table
            int(source["commit"], 16)


def _type_name(type_: str) -> str:
    return TYPE_NAMES.get(type_, f"{type_}Type")


def _label(value: Any) -> str:
    user = (value or {}).get("UserLocalizedLabel") or {}
    return str(user.get("Label") or "")


def _num(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _expected(col: dict[str, Any]) -> dict[str, Any]:
    type_ = col["type"]
    want: dict[str, Any] = {
        "type": _type_name(type_),
        "required": col.get("required", "None"),
        "create": col.get("create", True),
        "update": col.get("update", True),
        "read": col.get("read", True),
    }
    if "max_length" in col:
        want["max_length"] = col["max_length"]
    for key in ("min", "max"):
        if key in col:
            want[key] = _num(col[key])
    if "precision" in col:
        want["precision"] = col["precision"]
    if "datetime_behavior" in col:
        want["datetime_behavior"] = col["datetime_behavior"]
    return want


def _actual(attr: dict[str, Any], col: dict[str, Any]) -> dict[str, Any]:
    got: dict[str, Any] = {
        "type": (attr.get("AttributeTypeName") or {}).get("Value"),
        "required": (attr.get("RequiredLevel") or {}).get("Value"),
        "create": attr.get("IsValidForCreate"),
        "update": attr.get("IsValidForUpdate"),
        "read": attr.get("IsValidForRead"),
    }
    if "max_length" in col:
        got["max_length"] = attr.get("MaxLength")
    for key, prop in (("min", "MinValue"), ("max", "MaxValue")):
        if key in col:
            got[key] = _num(attr.get(prop))
    if "precision" in col:
        got["precision"] = attr.get("Precision")
    if "datetime_behavior" in col:
        got["datetime_behavior"] = (attr.get("DateTimeBehavior") or {}).get("Value")
    return got


def _options(api: httpx.Client, table: str, cast: str) -> dict[str, list[Any]]:
    answer = api.get(
        f"EntityDefinitions(LogicalName='{table}')/Attributes/Microsoft.Dynamics.CRM.{cast}"
        "?$select=LogicalName&$expand=OptionSet"
    )
    assert answer.status_code == 200, answer.text
    out: dict[str, list[Any]] = {}
    for attr in answer.json()["value"]:
        option_set = attr["OptionSet"]
        if cast == "BooleanAttributeMetadata":
            items = [option_set["TrueOption"], option_set["FalseOption"]]
        else:
            items = option_set["Options"]
        out[attr["LogicalName"]] = items
    return out


def _option_facts(col: dict[str, Any]) -> list[tuple[Any, ...]]:
    if col["type"] == "State":
        return sorted((v, label, d) for v, label, d, _ in col["states"])
    if col["type"] == "Status":
        return sorted((v, label, s) for v, label, s in col["statuses"])
    return sorted((v, label) for v, label in col["options"])


def _option_answers(type_: str, items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    if type_ == "State":
        return sorted((o["Value"], _label(o["Label"]), o["DefaultStatus"]) for o in items)
    if type_ == "Status":
        return sorted((o["Value"], _label(o["Label"]), o["State"]) for o in items)
    return sorted((o["Value"], _label(o["Label"])) for o in items)


@pytest.mark.parametrize("table", TABLES)
def test_the_metadata_api_gives_the_reference(api: httpx.Client, table: str) -> None:
    data = facts(table)
    answer = api.get(f"EntityDefinitions(LogicalName='{table}')?$expand=Attributes")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    info = data["table"]
    assert body["SchemaName"] == info["schema_name"]
    assert body["EntitySetName"] == info["entity_set_name"]
    assert body["PrimaryIdAttribute"] == info["primary_id"]
    assert body["PrimaryNameAttribute"] == info.get("primary_name")
    assert body["OwnershipType"] == info["ownership"]
    assert _label(body["DisplayName"]) == info.get("display_name", "")

    columns = data["columns"]
    attrs = {a["LogicalName"]: a for a in body["Attributes"]}
    assert set(attrs) == set(columns), (
        f"missing {sorted(set(columns) - set(attrs))}, not in the reference "
        f"{sorted(set(attrs) - set(columns))}"
    )
    wrong = {
        name: (_expected(col), _actual(attrs[name], col))
        for name, col in columns.items()
        if _expected(col) != _actual(attrs[name], col)
    }
    assert not wrong, wrong
    for name, col in columns.items():
        assert attrs[name]["SchemaName"] == col["schema_name"], name
        assert _label(attrs[name]["DisplayName"]) == col.get("label", ""), name
        if col["type"] in LOOKUP_TYPES:
            listed = col["targets"] or OWNING_TARGETS[name]
            assert set(attrs[name]["Targets"]) <= set(listed), name

    for type_, cast in OPTION_CASTS.items():
        wanted = {n: c for n, c in columns.items() if c["type"] == type_}
        if not wanted:
            continue
        got = _options(api, table, cast)
        assert set(got) == set(wanted), type_
        differ = {
            n: (_option_facts(c), _option_answers(type_, got[n]))
            for n, c in wanted.items()
            if _option_facts(c) != _option_answers(type_, got[n])
        }
        assert not differ, differ
