"""The examples of "Order rows using OData", replayed on a fresh tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/order-rows
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/query/order-rows.md
at commit 18c03d0e2743689e1eb3a07c8469b40030187da9): the ``revenue asc,name desc`` example,
lookups sorted by the related row's primary name, choices by their number.
"""

from __future__ import annotations

import httpx
import pytest

from helpers.webapi import created_id

ROOT = "https://contoso.crm.dynamics.com/api/data/v9.2/"
FV = "@OData.Community.Display.V1.FormattedValue"


@pytest.fixture
def accounts(api: httpx.Client) -> dict[str, str]:
    ids = {
        "Zoe": created_id(api.post("contacts", json={"firstname": "Zoe", "lastname": "Adams"})),
        "Ann": created_id(api.post("contacts", json={"firstname": "Ann", "lastname": "Young"})),
    }
    for name, revenue, contact, category in (
        ("Fourth Coffee", 50000, "Zoe", 2),
        ("Litware", 20000, "Ann", 1),
        ("Adventure Works", 50000, None, None),
        ("Contoso", None, "Zoe", 1),
    ):
        body: dict[str, object] = {"name": name}
        if revenue is not None:
            body["revenue"] = revenue
        if contact:
            body["primarycontactid@odata.bind"] = f"/contacts({ids[contact]})"
        if category:
            body["accountcategorycode"] = category
        ids[name] = created_id(api.post("accounts", json=body))
    return ids


def test_ascending_revenue_and_descending_name(api: httpx.Client, accounts: dict[str, str]) -> None:
    r = api.get(
        "accounts?$select=name,revenue&$orderby=revenue asc,name desc&$filter=revenue ne null"
    )
    assert r.status_code == 200
    body = r.json()
    assert body["@odata.context"] == f"{ROOT}$metadata#accounts(name,revenue)"
    assert [(row["name"], row["revenue"]) for row in body["value"]] == [
        ("Litware", 20000),
        ("Fourth Coffee", 50000),
        ("Adventure Works", 50000),
    ]


def test_lookups_are_sorted_by_the_related_primary_name(
    api: httpx.Client, accounts: dict[str, str]
) -> None:
    r = api.get(
        "accounts?$select=name,_primarycontactid_value&$orderby=_primarycontactid_value,name",
        headers={"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'},
    )
    assert r.status_code == 200
    rows = r.json()["value"]
    # "sorted using the primary name field for the related table" (a contact's full name:
    # Ann Young before Zoe Adams, whatever the GUIDs or last names); no contact first
    assert [(row["name"], row.get(f"_primarycontactid_value{FV}")) for row in rows] == [
        ("Adventure Works", None),
        ("Litware", "Ann Young"),
        ("Contoso", "Zoe Adams"),
        ("Fourth Coffee", "Zoe Adams"),
    ]


def test_choices_are_sorted_by_their_integer_value(
    api: httpx.Client, accounts: dict[str, str]
) -> None:
    r = api.get(
        "accounts?$select=name,accountcategorycode&$orderby=accountcategorycode desc,name",
        headers={"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'},
    )
    rows = r.json()["value"]
    # 2 "Standard" before 1 "Preferred Customer": by number, not by label
    assert [(row["name"], row.get(f"accountcategorycode{FV}")) for row in rows] == [
        ("Fourth Coffee", "Standard"),
        ("Contoso", "Preferred Customer"),
        ("Litware", "Preferred Customer"),
        ("Adventure Works", None),
    ]
