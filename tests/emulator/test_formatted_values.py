"""Formatted values of every kind, the currency of money columns (``_transactioncurrencyid_
value``, ``exchangerate``, ``<money>_base``) and composite address columns.

Sources (Microsoft Learn): Select columns, "Formatted values"
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns),
Query data using the Web API, "Include formatted values" and "Request specific properties"
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-data-web-api),
the contact and account table references (``address1_composite``, ``donotemail``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crm_ferry.emulator import tenant
from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.records.formatting import (
    Currencies,
    format_datetime,
    format_money,
    format_number,
    formatted,
)
from crm_ferry.emulator.schema import AttributeDef, OptionDef, OptionSetDef
from helpers.webapi import created_id

BASE = "https://formats.emulator.test/api/data/v9.2/"
FV = "@OData.Community.Display.V1.FormattedValue"
ANNOTATED = {"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'}
EUR = tenant.seed_id("transactioncurrency", "EUR")


@pytest.fixture
def em() -> Iterator[Emulator]:
    clock = datetime(2023, 4, 7, 21, 59, 1, tzinfo=UTC)
    emulator = Emulator(CoreConfig(wall_clock=lambda: clock))
    yield emulator
    emulator.close()


@pytest.fixture
def http(em: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(em.handle), base_url=BASE) as client:
        yield client


def one(http: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    r = http.get(path, params=params, headers=ANNOTATED)
    assert r.status_code == 200, r.text
    return dict(r.json())


# -- the formatting functions ---------------------------------------------------------------


def test_numbers_money_and_dates_in_the_en_us_format() -> None:
    assert format_number(9500) == "9,500"
    assert format_number(-1234567) == "-1,234,567"
    assert format_number(1234.5, 2) == "1,234.50"
    assert format_number(0.125, 2) == "0.13"  # halves away from zero, as .NET formats them
    assert format_money(20000, "$", 2) == "$20,000.00"
    assert format_money(-12.5, "€", 2) == "-€12.50"
    user_local = AttributeDef(
        "x", "X", "DateTime", datetime_behavior="UserLocal", format="DateAndTime"
    )
    assert format_datetime(user_local, "2023-04-07T21:59:01Z") == "4/7/2023 2:59 PM"  # PDT
    assert format_datetime(user_local, "2023-01-07T21:59:01Z") == "1/7/2023 1:59 PM"  # PST
    assert format_datetime(user_local, "2023-03-25T07:05:00Z") == "3/25/2023 12:05 AM"
    independent = AttributeDef(
        "y", "Y", "DateTime", datetime_behavior="TimeZoneIndependent", format="DateAndTime"
    )
    assert format_datetime(independent, "2023-04-07T21:59:01Z") == "4/7/2023 9:59 PM"
    date_only = AttributeDef("z", "Z", "DateTime", datetime_behavior="DateOnly", format="DateOnly")
    assert format_datetime(date_only, "2024-03-05") == "3/5/2024"
    local_date = AttributeDef(
        "w", "W", "DateTime", datetime_behavior="UserLocal", format="DateOnly"
    )
    assert format_datetime(local_date, "2023-04-08T03:00:00Z") == "4/7/2023"  # still the 7th


def test_choices_labels(em: Emulator) -> None:
    options = OptionSetDef(
        "colors", "MultiSelectPicklist", [OptionDef(1, "Red"), OptionDef(2, "Blue")]
    )
    multi = AttributeDef("c", "C", "MultiSelectPicklist", option_set=options)
    assert formatted(em, Currencies(), multi, "1,2") == "Red; Blue"
    text = AttributeDef("t", "T", "String")
    assert formatted(em, Currencies(), text, "plain") is None


# -- over the Web API ----------------------------------------------------------------------


def test_every_kind_of_column_of_a_row(http: httpx.Client) -> None:
    contact = created_id(
        http.post("contacts", json={"firstname": "Susanna", "lastname": "Stubberod"})
    )
    account = created_id(
        http.post(
            "accounts",
            json={
                "name": "Litware, Inc.",
                "revenue": 20000,
                "numberofemployees": 9500,
                "customertypecode": 1,
                "primarycontactid@odata.bind": f"/contacts({contact})",
            },
        )
    )
    row = one(
        http,
        f"accounts({account})",
        **{
            "$select": "name,revenue,_primarycontactid_value,customertypecode,modifiedon,"
            "numberofemployees"
        },
    )
    assert f"name{FV}" not in row  # text has no formatted value
    assert row[f"revenue{FV}"] == "$20,000.00"
    assert row[f"_primarycontactid_value{FV}"] == "Susanna Stubberod"
    assert row[f"customertypecode{FV}"] == "Competitor"
    assert row[f"modifiedon{FV}"] == "4/7/2023 2:59 PM"
    assert row[f"numberofemployees{FV}"] == "9,500"
    # a money column brings its currency along, formatted by the currency's name
    assert row["_transactioncurrencyid_value"] == tenant.BASE_CURRENCY_ID
    assert row[f"_transactioncurrencyid_value{FV}"] == "US Dollar"
    assert f"accountid{FV}" not in row


def test_yes_no_columns_show_their_own_labels(http: httpx.Client) -> None:
    contact = created_id(
        http.post("contacts", json={"lastname": "Ng", "donotemail": True, "donotphone": False})
    )
    row = one(http, f"contacts({contact})", **{"$select": "donotemail,donotphone"})
    assert row[f"donotemail{FV}"] == "Do Not Allow"
    assert row[f"donotphone{FV}"] == "Allow"


def test_money_in_another_currency(http: httpx.Client, em: Emulator) -> None:
    account = created_id(
        http.post(
            "accounts",
            json={
                "name": "Euro GmbH",
                "revenue": 920,
                "transactioncurrencyid@odata.bind": f"/transactioncurrencies({EUR})",
            },
        )
    )
    row = one(http, f"accounts({account})", **{"$select": "revenue,revenue_base,exchangerate"})
    assert row[f"revenue{FV}"] == "€920.00"
    assert row["revenue_base"] == 1000  # 920 ÷ 0.92, in the base currency
    assert row[f"revenue_base{FV}"] == "$1,000.00"
    assert row["exchangerate"] == 0.92
    assert row["_transactioncurrencyid_value"] == EUR
    assert row[f"_transactioncurrencyid_value{FV}"] == "Euro"
    stored = em.store.get("account", account)
    assert stored is not None
    assert stored["exchangerate"] == 0.92


def test_a_row_without_money_names_no_currency_until_it_has_some(http: httpx.Client) -> None:
    account = created_id(http.post("accounts", json={"name": "Plain"}))
    before = one(http, f"accounts({account})", **{"$select": "name,revenue"})
    assert before["_transactioncurrencyid_value"] is None
    assert http.patch(f"accounts({account})", json={"creditlimit": 5}).status_code == 204
    after = one(http, f"accounts({account})", **{"$select": "creditlimit,exchangerate"})
    assert after["_transactioncurrencyid_value"] == tenant.BASE_CURRENCY_ID
    assert after["exchangerate"] == 1.0
    assert after[f"exchangerate{FV}"] == "1.000000000000"  # precision 12 (table reference)


def test_the_composite_address_is_built_and_returned_with_its_parts(http: httpx.Client) -> None:
    contact = created_id(
        http.post(
            "contacts",
            json={
                "lastname": "Ng",
                "address1_line1": "1 Microsoft Way",
                "address1_city": "Redmond",
                "address1_stateorprovince": "WA",
                "address1_postalcode": "98052",
                "address1_country": "USA",
            },
        )
    )
    row = one(http, f"contacts({contact})", **{"$select": "address1_line1"})
    assert row["address1_composite"] == "1 Microsoft Way\r\nRedmond, WA 98052\r\nUSA"
    assert "address2_composite" not in row
    assert http.patch(f"contacts({contact})", json={"address1_line1": None}).status_code == 204
    row = one(http, f"contacts({contact})", **{"$select": "address1_city"})
    assert row["address1_composite"] == "Redmond, WA 98052\r\nUSA"
    cleared = {f"address1_{p}": None for p in ("city", "stateorprovince", "postalcode", "country")}
    assert http.patch(f"contacts({contact})", json=cleared).status_code == 204
    assert (
        one(http, f"contacts({contact})", **{"$select": "address1_composite"})["address1_composite"]
        is None
    )
    refused = http.post("contacts", json={"lastname": "X", "address1_composite": "typed in"})
    assert refused.status_code == 400
    found = one(http, "contacts", **{"$filter": "contains(address1_composite,'Redmond')"})
    assert found["value"] == []


def test_aggregated_money_is_in_the_base_currency(http: httpx.Client) -> None:
    for revenue in (920, 80):
        created_id(http.post("accounts", json={"name": "A", "revenue": revenue}))
    [row] = one(http, "accounts", **{"$apply": "aggregate(revenue with sum as total)"})["value"]
    assert row == {"total@OData.Community.Display.V1.FormattedValue": "$1,000.00", "total": 1000}
