"""No metadata property is silently dropped (point 1 of the issue).

Every property of EntityMetadata, AttributeMetadata and the derived attribute types the
emulator creates, as the Web API reference pages list them (``tests/cases/metadata/
reference_properties.json``: names, types, and the page and commit each list was copied from),
is sent on create and on update (``PUT``) with a value other than the one the service reports
for a new definition. Each must then either read back as sent, or be refused — 400 or 501 with
a real error code and a message naming the property. A property answered 204 that does not
read back fails the test: that is what silently dropped means.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.metadata.properties import ENTITY, attribute_rules

CASES = Path(__file__).resolve().parents[1] / "cases" / "metadata" / "reference_properties.json"
REFERENCE: dict[str, Any] = json.loads(CASES.read_text(encoding="utf-8"))
NS = "Microsoft.Dynamics.CRM."


def listed(type_name: str) -> dict[str, str]:
    """The properties (name → type) the reference lists for ``type_name``."""
    out: dict[str, str] = {}
    for part in REFERENCE[type_name]:
        out.update(part["properties"])
    return out


COLUMN_TYPES = [
    k for k in REFERENCE if k.endswith("AttributeMetadata") and k != "AttributeMetadata"
]
ENTITY_PROPERTIES = listed("EntityMetadata")
COMMON_PROPERTIES = listed("AttributeMetadata")
COLUMN_CASES = [("StringAttributeMetadata", name, t) for name, t in COMMON_PROPERTIES.items()] + [
    (meta, name, t) for meta in COLUMN_TYPES for name, t in listed(meta).items()
]


def label(*texts: tuple[str, int]) -> dict[str, Any]:
    return {"LocalizedLabels": [{"Label": text, "LanguageCode": code} for text, code in texts]}


def table_body(schema_name: str) -> dict[str, Any]:
    return {
        "@odata.type": NS + "EntityMetadata",
        "SchemaName": schema_name,
        "DisplayName": label(("Thing", 1033)),
        "DisplayCollectionName": label(("Things", 1033)),
        "OwnershipType": "UserOwned",
        "Attributes": [
            {
                "@odata.type": NS + "StringAttributeMetadata",
                "SchemaName": f"{schema_name}Name",
                "IsPrimaryName": True,
                "DisplayName": label(("Name", 1033)),
            }
        ],
    }


def _options(*values: int) -> list[dict[str, Any]]:
    return [{"Value": v, "Label": label((f"Option {v}", 1033))} for v in values]


def column_body(meta_type: str, schema_name: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.type": NS + meta_type,
        "SchemaName": schema_name,
        "DisplayName": label(("Column", 1033)),
    }
    if meta_type == "BooleanAttributeMetadata":
        body["OptionSet"] = {
            "TrueOption": {"Value": 1, "Label": label(("Yes", 1033))},
            "FalseOption": {"Value": 0, "Label": label(("No", 1033))},
        }
    elif meta_type in ("PicklistAttributeMetadata", "MultiSelectPicklistAttributeMetadata"):
        body["OptionSet"] = {"IsGlobal": False, "Options": _options(100000000, 100000001)}
    return body


def sample(name: str, type_: str, current: Any) -> Any:
    """A value for ``name`` other than ``current`` (what a new definition reads), valid for
    its type where one can be."""
    special = {
        "SchemaName": f"new_Other{uuid.uuid4().hex[:6]}",
        "EntitySetName": f"new_set{uuid.uuid4().hex[:6]}",
        "OwnershipType": "OrganizationOwned",
        "AttributeType": "Integer",
        "AttributeTypeName": {"Value": "IntegerType"},
        "ImeMode": "Disabled",
        "DateTimeBehavior": {"Value": "TimeZoneIndependent"},
        "DefaultFormValue": 100000001,
        "PrecisionSource": 0,
        "RequiredLevel": {"Value": "Recommended"},
    }
    if name in special:
        return special[name]
    if name == "Format":
        return {"DateAndTime": "DateOnly", "None": "Duration"}.get(current, "Email")
    if name == "FormatName":
        return {"Value": "Email"}
    if name in ("MinValue", "MaxValue"):
        if type_ in ("Edm.Int32", "Edm.Int64"):
            return current + 1 if name == "MinValue" else current - 1
        return current / 2
    if type_ == "Edm.Boolean":
        return not current
    if type_ in ("Edm.Int32", "Edm.Int64"):
        return (current or 0) + 1
    if type_ == "Edm.Guid":
        return str(uuid.uuid4())
    if type_ == "Edm.DateTimeOffset":
        return "2001-02-03T04:05:06Z"
    if type_ == "Label":
        return label(("Sample", 1033), ("Exemple", 1036))
    if type_ == "BooleanManagedProperty":
        return {**current, "Value": not current["Value"]}
    if type_.startswith("Collection("):
        return []
    return "sample"


def same(sent: Any, read: Any) -> bool:
    """Whether ``sent`` reads back in ``read`` (Labels by their language/text pairs)."""
    if isinstance(sent, dict):
        if "LocalizedLabels" in sent:
            pairs = {(x["LanguageCode"], x["Label"]) for x in sent["LocalizedLabels"]}
            got = {(x["LanguageCode"], x["Label"]) for x in (read or {}).get("LocalizedLabels", [])}
            return pairs <= got
        return isinstance(read, dict) and all(same(v, read.get(k)) for k, v in sent.items())
    if isinstance(sent, float | int) and not isinstance(sent, bool):
        return isinstance(read, float | int) and not isinstance(read, bool) and sent == read
    return bool(sent == read)


def judged(response: httpx.Response, name: str) -> str:
    """``applied`` (204) or ``refused`` (a 400/501 naming ``name``, with a real code)."""
    if response.status_code == 204:
        return "applied"
    assert response.status_code in (400, 501), (name, response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] not in ("", "0x0"), (name, error)
    assert name in error["message"], (name, error["message"])
    return "refused"


@pytest.fixture(scope="module")
def api() -> Iterator[httpx.Client]:
    emulator = Emulator(CoreConfig(custom_table_limit=None))
    with httpx.Client(
        transport=httpx.MockTransport(emulator.handle),
        base_url="https://contoso.crm.dynamics.com/api/data/v9.2/",
    ) as client:
        yield client
    emulator.close()


def _new_table(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return api.post("EntityDefinitions", json=body)


def _definition(api: httpx.Client, path: str) -> dict[str, Any]:
    """A definition as ``GET`` reads it, without its ``@odata.context``."""
    got = api.get(path)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    body.pop("@odata.context")
    return body


def _table(api: httpx.Client, logical: str) -> dict[str, Any]:
    return _definition(api, f"EntityDefinitions(LogicalName='{logical}')")


@pytest.fixture(scope="module")
def new_table(api: httpx.Client) -> dict[str, Any]:
    """How a new table reads (the values the samples differ from)."""
    assert _new_table(api, table_body("new_Reference")).status_code == 204
    return _table(api, "new_reference")


@pytest.fixture(scope="module")
def host(api: httpx.Client) -> str:
    """The table new columns are added to."""
    assert _new_table(api, table_body("new_Host")).status_code == 204
    return "EntityDefinitions(LogicalName='new_host')/Attributes"


def _column(api: httpx.Client, host: str, logical: str, meta_type: str) -> dict[str, Any]:
    return _definition(api, f"{host}(LogicalName='{logical}')/{NS}{meta_type}")


@pytest.fixture(scope="module")
def new_columns(api: httpx.Client, host: str) -> dict[str, dict[str, Any]]:
    """How a new column of each type reads."""
    out = {}
    for meta_type in COLUMN_TYPES:
        schema_name = f"new_Ref{meta_type[:6]}"
        response = api.post(host, json=column_body(meta_type, schema_name))
        assert response.status_code == 204, response.text
        out[meta_type] = _column(api, host, schema_name.lower(), meta_type)
    return out


def test_the_reference_lists_are_the_emulators() -> None:
    # every listed property has a rule, so none can be dropped by a missing case
    assert set(ENTITY_PROPERTIES) <= set(ENTITY)
    for meta_type in COLUMN_TYPES:
        assert set(COMMON_PROPERTIES) | set(listed(meta_type)) <= set(attribute_rules(meta_type))


@pytest.mark.parametrize(("name", "type_"), sorted(ENTITY_PROPERTIES.items()))
def test_a_table_property_on_create(
    api: httpx.Client, new_table: dict[str, Any], name: str, type_: str
) -> None:
    schema_name = f"new_T{uuid.uuid4().hex[:8]}"
    body = table_body(schema_name)
    value = sample(name, type_, new_table.get(name))
    body[name] = value
    response = _new_table(api, body)
    if judged(response, name) == "applied":
        logical = (value if name == "SchemaName" else schema_name).lower()
        read = _table(api, logical)
        assert same(value, read.get(name)), (name, value, read.get(name))
        assert api.delete(f"EntityDefinitions(LogicalName='{logical}')").status_code == 204


@pytest.mark.parametrize(("name", "type_"), sorted(ENTITY_PROPERTIES.items()))
def test_a_table_property_on_update(api: httpx.Client, name: str, type_: str) -> None:
    schema_name = f"new_U{uuid.uuid4().hex[:8]}"
    assert _new_table(api, table_body(schema_name)).status_code == 204
    logical = schema_name.lower()
    body = _table(api, logical)
    value = sample(name, type_, body.get(name))
    body[name] = value
    response = api.put(f"EntityDefinitions(LogicalName='{logical}')", json=body)
    if judged(response, name) == "applied":
        read = _table(api, logical)
        assert same(value, read.get(name)), (name, value, read.get(name))
    assert api.delete(f"EntityDefinitions(LogicalName='{logical}')").status_code == 204


@pytest.mark.parametrize(("meta_type", "name", "type_"), COLUMN_CASES)
def test_a_column_property_on_create(
    api: httpx.Client,
    host: str,
    new_columns: dict[str, dict[str, Any]],
    meta_type: str,
    name: str,
    type_: str,
) -> None:
    schema_name = f"new_C{uuid.uuid4().hex[:8]}"
    body = column_body(meta_type, schema_name)
    value = sample(name, type_, new_columns[meta_type].get(name))
    body[name] = value
    response = api.post(host, json=body)
    if judged(response, name) == "applied":
        logical = (value if name == "SchemaName" else schema_name).lower()
        read = _column(api, host, logical, meta_type)
        assert same(value, read.get(name)), (name, value, read.get(name))


@pytest.mark.parametrize(("meta_type", "name", "type_"), COLUMN_CASES)
def test_a_column_property_on_update(
    api: httpx.Client, host: str, meta_type: str, name: str, type_: str
) -> None:
    schema_name = f"new_D{uuid.uuid4().hex[:8]}"
    assert api.post(host, json=column_body(meta_type, schema_name)).status_code == 204
    logical = schema_name.lower()
    body = _column(api, host, logical, meta_type)
    value = sample(name, type_, body.get(name))
    body[name] = value
    response = api.put(f"{host}(LogicalName='{logical}')", json=body)
    if judged(response, name) == "applied":
        read = _column(api, host, logical, meta_type)
        assert same(value, read.get(name)), (name, value, read.get(name))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("EntityColor", "applied"),
        ("IsQuickCreateEnabled", "applied"),
        ("DisplayName", "applied"),
        ("HasNotes", "applied"),
        ("IsActivity", "refused"),
        ("IsBusinessProcessEnabled", "refused"),
        ("ObjectTypeCode", "refused"),
        ("IsCustomEntity", "refused"),
    ],
)
def test_what_a_table_property_does(
    api: httpx.Client, new_table: dict[str, Any], name: str, expected: str
) -> None:
    body = table_body(f"new_W{uuid.uuid4().hex[:8]}")
    body[name] = sample(name, ENTITY_PROPERTIES[name], new_table.get(name))
    response = _new_table(api, body)
    assert judged(response, name) == expected
    if expected == "refused" and ENTITY[name].policy == "unsupported":
        assert response.status_code == 501
        assert response.json()["error"]["code"] == "0x80040219"


def test_an_unknown_property_is_refused(api: httpx.Client, host: str) -> None:
    body = table_body("new_Unknown")
    body["NoSuchProperty"] = True
    response = _new_table(api, body)
    assert response.status_code == 400
    assert "Could not find a property named 'NoSuchProperty'" in response.json()["error"]["message"]
    column = column_body("StringAttributeMetadata", "new_Unknown")
    column["Color@odata.bind"] = "/GlobalOptionSetDefinitions(Name='x')"
    response = api.post(host, json=column)
    assert response.status_code == 400
    assert "Color" in response.json()["error"]["message"]


def test_labels_in_other_languages_are_kept(api: httpx.Client, host: str) -> None:
    body = table_body("new_Labels")
    body["Description"] = label(("Accounts", 1033), ("Comptes", 1036))
    assert _new_table(api, body).status_code == 204
    read = _table(api, "new_labels")["Description"]
    assert [(x["LanguageCode"], x["Label"]) for x in read["LocalizedLabels"]] == [
        (1033, "Accounts"),
        (1036, "Comptes"),
    ]
    assert read["UserLocalizedLabel"]["LanguageCode"] == 1033


@pytest.mark.parametrize(
    ("changed", "value", "expected"),
    [("FormatName", {"Value": "Email"}, "Email"), ("Format", "Url", "Url")],
)
def test_a_string_format_changed_in_one_of_its_two_properties(
    api: httpx.Client, host: str, changed: str, value: Any, expected: str
) -> None:
    # A String column carries its format twice (Format and FormatName); a definition read
    # back and changed in one of them updates the format, the other being as it was.
    schema_name = f"new_F{uuid.uuid4().hex[:8]}"
    assert (
        api.post(host, json=column_body("StringAttributeMetadata", schema_name)).status_code == 204
    )
    body = _column(api, host, schema_name.lower(), "StringAttributeMetadata")
    assert (body["Format"], body["FormatName"]) == ("Text", {"Value": "Text"})
    body[changed] = value
    response = api.put(f"{host}(LogicalName='{schema_name.lower()}')", json=body)
    assert response.status_code == 204, response.text
    read = _column(api, host, schema_name.lower(), "StringAttributeMetadata")
    assert (read["Format"], read["FormatName"]) == (expected, {"Value": expected})
    # both changed, and not alike: refused
    read["Format"], read["FormatName"] = "Phone", {"Value": "TickerSymbol"}
    refused = api.put(f"{host}(LogicalName='{schema_name.lower()}')", json=read)
    assert refused.status_code == 400
    assert "disagree" in refused.json()["error"]["message"]
