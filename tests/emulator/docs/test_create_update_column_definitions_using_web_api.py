"""Create and update column definitions using the Web API.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/
create-update-column-definitions-using-web-api.md at 18c03d0e2743689e1eb3a07c8469b40030187da9).

Each example's request body is sent as the page shows it, to the ``sample_bankaccount`` or
``new_bankaccount`` table (created first, in the solution ``examplesolution`` whose publisher's
prefix is ``sample``). Adapted: the page adds ``new_``-prefixed columns (``new_BankName``,
``new_Balance``, ``new_Checkeddate``) to ``sample_bankaccount`` in ``examplesolution`` too; the
emulator takes a solution's own publisher prefix only, so those go without the header (to the
default solution, publisher ``new``). Beyond the status and headers, each test writes, reads
and filters a row through the new column, with the column's documented range or precision.
The customer lookup example (``CreateCustomerRelationships``) belongs to the relationships.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from helpers.metadata_docs import (
    NS,
    SOLUTION,
    add_bank_accounts,
    label,
    options,
    required_level,
    texts,
)
from helpers.webapi import created_id

GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SAMPLE = "EntityDefinitions(LogicalName='sample_bankaccount')/Attributes"
NEW = "EntityDefinitions(LogicalName='new_bankaccount')/Attributes"
IN_SOLUTION = {"MSCRM.SolutionUniqueName": SOLUTION}


@pytest.fixture
def tenant(api: httpx.Client) -> httpx.Client:
    add_bank_accounts(api)
    return api


def _created(response: httpx.Response, attributes: str) -> str:
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    url = response.headers["OData-EntityId"]
    assert re.fullmatch(re.escape(str(response.request.url)) + f"\\({GUID}\\)", url), url
    assert url.startswith(f"https://contoso.crm.dynamics.com/api/data/v9.2/{attributes}(")
    return url


def _column(api: httpx.Client, table: str, column: str, meta_type: str) -> dict[str, Any]:
    got = api.get(
        f"EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{column}')/{NS}{meta_type}"
    )
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def _row(api: httpx.Client, set_name: str, body: dict[str, Any]) -> httpx.Response:
    return api.post(set_name, json=body)


def _read(api: httpx.Client, set_name: str, row_id: str, select: str) -> dict[str, Any]:
    got = api.get(f"{set_name}({row_id})", params={"$select": select})
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def _found(api: httpx.Client, set_name: str, flt: str) -> int:
    got = api.get(set_name, params={"$filter": flt, "$select": "createdon"})
    assert got.status_code == 200, got.text
    return len(got.json()["value"])


def _refused(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"].startswith("0x8")
    return error


def test_create_a_string_column(tenant: httpx.Client) -> None:
    body = {
        "AttributeType": "String",
        "AttributeTypeName": {"Value": "StringType"},
        "Description": label("Type the name of the bank"),
        "DisplayName": label("Bank Name"),
        "RequiredLevel": required_level("None", True),
        "SchemaName": "new_BankName",
        "@odata.type": NS + "StringAttributeMetadata",
        "FormatName": {"Value": "Text"},
        "MaxLength": 100,
    }
    _created(tenant.post(SAMPLE, json=body), SAMPLE)
    column = _column(tenant, "sample_bankaccount", "new_bankname", "StringAttributeMetadata")
    assert (column["MaxLength"], column["FormatName"], column["Format"]) == (
        100,
        {"Value": "Text"},
        "Text",
    )
    assert texts(column["DisplayName"]) == {1033: "Bank Name"}
    assert column["IsCustomAttribute"] is True
    row = created_id(_row(tenant, "sample_bankaccounts", {"new_bankname": "Woodgrove"}))
    assert _read(tenant, "sample_bankaccounts", row, "new_bankname")["new_bankname"] == "Woodgrove"
    assert _found(tenant, "sample_bankaccounts", "new_bankname eq 'Woodgrove'") == 1
    _refused(_row(tenant, "sample_bankaccounts", {"new_bankname": "x" * 101}))


def test_create_a_money_column(tenant: httpx.Client) -> None:
    body = {
        "AttributeType": "Money",
        "AttributeTypeName": {"Value": "MoneyType"},
        "Description": label("Enter the balance amount"),
        "DisplayName": label("Balance"),
        "RequiredLevel": required_level("None", True),
        "SchemaName": "new_Balance",
        "@odata.type": NS + "MoneyAttributeMetadata",
        "PrecisionSource": 2,
    }
    _created(tenant.post(SAMPLE, json=body), SAMPLE)
    column = _column(tenant, "sample_bankaccount", "new_balance", "MoneyAttributeMetadata")
    assert column["PrecisionSource"] == 2
    # a money column comes with its base-currency column, and the table with its currency
    base = _column(tenant, "sample_bankaccount", "new_balance_base", "MoneyAttributeMetadata")
    assert base["AttributeOf"] == "new_balance"
    assert base["IsValidForCreate"] is False
    row = created_id(_row(tenant, "sample_bankaccounts", {"new_balance": 1234.5}))
    read = _read(
        tenant,
        "sample_bankaccounts",
        row,
        "new_balance,new_balance_base,_transactioncurrencyid_value",
    )
    assert read["new_balance"] == 1234.5
    assert read["new_balance_base"] == 1234.5
    assert re.fullmatch(GUID, read["_transactioncurrencyid_value"])
    assert _found(tenant, "sample_bankaccounts", "new_balance gt 1000") == 1


def test_create_a_datetime_column(tenant: httpx.Client) -> None:
    body = {
        "AttributeType": "DateTime",
        "AttributeTypeName": {"Value": "DateTimeType"},
        "Description": label("The date the account balance was last confirmed"),
        "DisplayName": label("Date"),
        "RequiredLevel": required_level("None", True),
        "SchemaName": "new_Checkeddate",
        "@odata.type": NS + "DateTimeAttributeMetadata",
        "Format": "DateOnly",
    }
    _created(tenant.post(SAMPLE, json=body), SAMPLE)
    column = _column(tenant, "sample_bankaccount", "new_checkeddate", "DateTimeAttributeMetadata")
    assert column["Format"] == "DateOnly"
    assert column["DateTimeBehavior"] == {"Value": "UserLocal"}
    row = created_id(
        _row(tenant, "sample_bankaccounts", {"new_checkeddate": "2024-03-04T00:00:00Z"})
    )
    read = _read(tenant, "sample_bankaccounts", row, "new_checkeddate")
    assert read["new_checkeddate"].startswith("2024-03-04")
    assert _found(tenant, "sample_bankaccounts", "new_checkeddate ge 2024-03-01T00:00:00Z") == 1


BOOLEAN = {
    "@odata.type": NS + "BooleanAttributeMetadata",
    "AttributeType": "Boolean",
    "AttributeTypeName": {"Value": "BooleanType"},
    "DefaultValue": False,
    "OptionSet": {
        "TrueOption": {"Value": 1, "Label": label("True")},
        "FalseOption": {"Value": 0, "Label": label("False")},
        "OptionSetType": "Boolean",
    },
    "Description": label("Boolean Attribute"),
    "DisplayName": label("Sample Boolean"),
    "RequiredLevel": required_level("None", False),
    "SchemaName": "new_Boolean",
}


def test_create_a_boolean_column(tenant: httpx.Client) -> None:
    _created(tenant.post(NEW, json=BOOLEAN), NEW)
    column = _column(tenant, "new_bankaccount", "new_boolean", "BooleanAttributeMetadata")
    assert column["DefaultValue"] is False
    assert column["RequiredLevel"] == required_level("None", False)
    option_set = tenant.get(
        f"{NEW}(LogicalName='new_boolean')/{NS}BooleanAttributeMetadata/OptionSet"
    ).json()
    assert texts(option_set["TrueOption"]["Label"]) == {1033: "True"}
    assert texts(option_set["FalseOption"]["Label"]) == {1033: "False"}
    row = created_id(_row(tenant, "new_bankaccounts", {"new_boolean": True}))
    assert _read(tenant, "new_bankaccounts", row, "new_boolean")["new_boolean"] is True
    assert _found(tenant, "new_bankaccounts", "new_boolean eq true") == 1
    _refused(_row(tenant, "new_bankaccounts", {"new_boolean": 2}))


def test_create_a_decimal_column(tenant: httpx.Client) -> None:
    body = {
        "@odata.type": NS + "DecimalAttributeMetadata",
        "AttributeType": "Decimal",
        "AttributeTypeName": {"Value": "DecimalType"},
        "MaxValue": 100.0,
        "MinValue": 0.0,
        "Precision": 1,
        "Description": label("Decimal Attribute"),
        "DisplayName": label("Sample Decimal"),
        "RequiredLevel": required_level("None", False),
        "SchemaName": "sample_Decimal",
    }
    _created(tenant.post(SAMPLE, json=body, headers=IN_SOLUTION), SAMPLE)
    column = _column(tenant, "sample_bankaccount", "sample_decimal", "DecimalAttributeMetadata")
    assert (column["MinValue"], column["MaxValue"], column["Precision"]) == (0.0, 100.0, 1)
    row = created_id(_row(tenant, "sample_bankaccounts", {"sample_decimal": 42.5}))
    assert _read(tenant, "sample_bankaccounts", row, "sample_decimal")["sample_decimal"] == 42.5
    assert _found(tenant, "sample_bankaccounts", "sample_decimal eq 42.5") == 1
    _refused(_row(tenant, "sample_bankaccounts", {"sample_decimal": 100.5}))
    _refused(_row(tenant, "sample_bankaccounts", {"sample_decimal": -1}))


def test_create_an_integer_column(tenant: httpx.Client) -> None:
    body = {
        "@odata.type": NS + "IntegerAttributeMetadata",
        "AttributeType": "Integer",
        "AttributeTypeName": {"Value": "IntegerType"},
        "MaxValue": 100,
        "MinValue": 0,
        "Format": "None",
        "SourceTypeMask": 0,
        "Description": label("Integer Attribute"),
        "DisplayName": label("Sample Integer"),
        "RequiredLevel": required_level("None", False),
        "SchemaName": "sample_Integer",
    }
    _created(tenant.post(SAMPLE, json=body, headers=IN_SOLUTION), SAMPLE)
    column = _column(tenant, "sample_bankaccount", "sample_integer", "IntegerAttributeMetadata")
    assert (column["MinValue"], column["MaxValue"], column["Format"]) == (0, 100, "None")
    row = created_id(_row(tenant, "sample_bankaccounts", {"sample_integer": 7}))
    assert _read(tenant, "sample_bankaccounts", row, "sample_integer")["sample_integer"] == 7
    assert _found(tenant, "sample_bankaccounts", "sample_integer lt 10") == 1
    _refused(_row(tenant, "sample_bankaccounts", {"sample_integer": 101}))


def test_create_a_memo_column(tenant: httpx.Client) -> None:
    body = {
        "@odata.type": NS + "MemoAttributeMetadata",
        "AttributeType": "Memo",
        "AttributeTypeName": {"Value": "MemoType"},
        "Format": "TextArea",
        "ImeMode": "Disabled",
        "MaxLength": 500,
        "IsLocalizable": False,
        "Description": label("Memo Attribute"),
        "DisplayName": label("Sample Memo"),
        "RequiredLevel": required_level("None", False),
        "SchemaName": "sample_Memo",
    }
    _created(tenant.post(SAMPLE, json=body, headers=IN_SOLUTION), SAMPLE)
    column = _column(tenant, "sample_bankaccount", "sample_memo", "MemoAttributeMetadata")
    assert (column["Format"], column["ImeMode"], column["MaxLength"]) == (
        "TextArea",
        "Disabled",
        500,
    )
    row = created_id(_row(tenant, "sample_bankaccounts", {"sample_memo": "line 1\nline 2"}))
    assert (
        _read(tenant, "sample_bankaccounts", row, "sample_memo")["sample_memo"] == "line 1\nline 2"
    )
    assert _found(tenant, "sample_bankaccounts", "contains(sample_memo,'line 2')") == 1
    _refused(_row(tenant, "sample_bankaccounts", {"sample_memo": "x" * 501}))


CHOICE = {
    "@odata.type": NS + "PicklistAttributeMetadata",
    "AttributeType": "Picklist",
    "AttributeTypeName": {"Value": "PicklistType"},
    "SourceTypeMask": 0,
    "OptionSet": {
        "@odata.type": NS + "OptionSetMetadata",
        "Options": options(
            (727000000, "Bravo"),
            (727000001, "Delta"),
            (727000002, "Alpha"),
            (727000003, "Charlie"),
            (727000004, "Foxtrot"),
        ),
        "IsGlobal": False,
        "OptionSetType": "Picklist",
    },
    "Description": label("Choice Attribute"),
    "DisplayName": label("Sample Choice"),
    "RequiredLevel": required_level("None", False),
    "SchemaName": "sample_Choice",
}


def test_create_a_choice_column(tenant: httpx.Client) -> None:
    _created(tenant.post(SAMPLE, json=CHOICE, headers=IN_SOLUTION), SAMPLE)
    option_set = tenant.get(
        f"{SAMPLE}(LogicalName='sample_choice')/{NS}PicklistAttributeMetadata/OptionSet",
        params={"$select": "Options,IsGlobal"},
    ).json()
    assert option_set["IsGlobal"] is False
    assert [(o["Value"], texts(o["Label"])[1033]) for o in option_set["Options"]] == [
        (727000000, "Bravo"),
        (727000001, "Delta"),
        (727000002, "Alpha"),
        (727000003, "Charlie"),
        (727000004, "Foxtrot"),
    ]
    row = created_id(_row(tenant, "sample_bankaccounts", {"sample_choice": 727000002}))
    read = tenant.get(
        f"sample_bankaccounts({row})",
        params={"$select": "sample_choice"},
        headers={"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'},
    ).json()
    assert read["sample_choice"] == 727000002
    assert read["sample_choice@OData.Community.Display.V1.FormattedValue"] == "Alpha"
    assert _found(tenant, "sample_bankaccounts", "sample_choice eq 727000002") == 1
    _refused(_row(tenant, "sample_bankaccounts", {"sample_choice": 727000009}))


def test_create_a_multi_select_choice_column(tenant: httpx.Client) -> None:
    body = {
        "@odata.type": NS + "MultiSelectPicklistAttributeMetadata",
        "AttributeType": "Virtual",
        "AttributeTypeName": {"Value": "MultiSelectPicklistType"},
        "SourceTypeMask": 0,
        "OptionSet": {
            "@odata.type": NS + "OptionSetMetadata",
            "Options": options(
                (727000000, "Appetizer"), (727000001, "Entree"), (727000002, "Dessert")
            ),
            "IsGlobal": False,
            "OptionSetType": "Picklist",
        },
        "Description": label("MultiSelect Choice Attribute"),
        "DisplayName": label("Sample MultiSelect Choice"),
        "RequiredLevel": required_level("None", False),
        "SchemaName": "sample_MultiSelectChoice",
    }
    _created(tenant.post(SAMPLE, json=body, headers=IN_SOLUTION), SAMPLE)
    column = _column(
        tenant,
        "sample_bankaccount",
        "sample_multiselectchoice",
        "MultiSelectPicklistAttributeMetadata",
    )
    assert column["AttributeType"] == "Virtual"
    assert column["AttributeTypeName"] == {"Value": "MultiSelectPicklistType"}
    row = created_id(
        _row(tenant, "sample_bankaccounts", {"sample_multiselectchoice": "727000000,727000002"})
    )
    read = _read(tenant, "sample_bankaccounts", row, "sample_multiselectchoice")
    assert read["sample_multiselectchoice"] == "727000000,727000002"
    # (filtering by its values, ContainValues, is the query engine's part)
    _refused(_row(tenant, "sample_bankaccounts", {"sample_multiselectchoice": "727000000,5"}))


def test_create_a_big_integer_column(tenant: httpx.Client) -> None:
    body = {
        "AttributeType": "BigInt",
        "AttributeTypeName": {"Value": "BigIntType"},
        "@odata.type": NS + "BigIntAttributeMetadata",
        "Description": label("BigInt Attribute"),
        "DisplayName": label("Sample BigInt"),
        "RequiredLevel": required_level("None", False),
        "SchemaName": "sample_BigInt",
    }
    _created(tenant.post(SAMPLE, json=body, headers=IN_SOLUTION), SAMPLE)
    column = _column(tenant, "sample_bankaccount", "sample_bigint", "BigIntAttributeMetadata")
    assert (column["MinValue"], column["MaxValue"]) == (-(2**63), 2**63 - 1)
    big = 2**62 + 1
    row = created_id(_row(tenant, "sample_bankaccounts", {"sample_bigint": big}))
    assert _read(tenant, "sample_bankaccounts", row, "sample_bigint")["sample_bigint"] == big
    assert _found(tenant, "sample_bankaccounts", f"sample_bigint eq {big}") == 1
    _refused(_row(tenant, "sample_bankaccounts", {"sample_bigint": 2**63}))
    _refused(_row(tenant, "sample_bankaccounts", {"sample_bigint": 1.5}))


def test_update_a_column(tenant: httpx.Client) -> None:
    _created(tenant.post(NEW, json=BOOLEAN), NEW)
    # "we must first retrieve the entire attribute"
    got = tenant.get(f"{NEW}(LogicalName='new_boolean')/{NS}BooleanAttributeMetadata")
    assert got.status_code == 200
    column = got.json()
    assert column["@odata.context"] == (
        "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#EntityDefinitions('"
        + tenant.get(
            "EntityDefinitions(LogicalName='new_bankaccount')", params={"$select": "MetadataId"}
        ).json()["MetadataId"]
        + f"')/Attributes/{NS}BooleanAttributeMetadata/$entity"
    )
    for name in ("ColumnNumber", "CreatedOn", "ModifiedOn", "SourceType", "Settings"):
        assert name in column, name
    # "Then, change the properties you want to change."
    column.pop("@odata.context")
    column["@odata.type"] = NS + "BooleanAttributeMetadata"
    column["DisplayName"] = label("Sample Boolean Updated")
    column["Description"] = label("Boolean Attribute Updated")
    column["RequiredLevel"] = required_level("ApplicationRequired", False)
    response = tenant.put(
        f"{NEW}(LogicalName='new_boolean')",
        json=column,
        headers={"MSCRM.SolutionUniqueName": SOLUTION, "MSCRM.MergeLabels": "true"},
    )
    assert response.status_code == 204, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["OData-EntityId"] == (
        f"https://contoso.crm.dynamics.com/api/data/v9.2/{NEW}(LogicalName='new_boolean')"
    )
    after = _column(tenant, "new_bankaccount", "new_boolean", "BooleanAttributeMetadata")
    assert texts(after["DisplayName"]) == {1033: "Sample Boolean Updated"}
    assert texts(after["Description"]) == {1033: "Boolean Attribute Updated"}
    assert after["RequiredLevel"]["Value"] == "ApplicationRequired"
    assert after["MetadataId"] == column["MetadataId"]
    # the options are not changed by PUT ("you must send a different request")
    option_set = tenant.get(
        f"{NEW}(LogicalName='new_boolean')/{NS}BooleanAttributeMetadata/OptionSet"
    ).json()
    assert texts(option_set["TrueOption"]["Label"]) == {1033: "True"}


def test_a_column_type_cannot_change(tenant: httpx.Client) -> None:
    _created(tenant.post(NEW, json=BOOLEAN), NEW)
    column = _column(tenant, "new_bankaccount", "new_boolean", "BooleanAttributeMetadata")
    column.pop("@odata.context")
    column["@odata.type"] = NS + "IntegerAttributeMetadata"
    response = tenant.put(f"{NEW}(LogicalName='new_boolean')", json=column)
    error = _refused(response)
    assert "IntegerAttributeMetadata" in error["message"] or "type" in error["message"]
