"""The examples of "Aggregate data using OData", replayed on a fresh tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/query/aggregate-data.md
at commit 93ea2a2baf94464fdfccd25162cbfb560f243ba2), with its limit from the include
cc-query-aggregation-limitations.md (commit 2f6e730ea443411dde6c8239c2ae26879fa7258d).

The tenant holds nine accounts shaped after the article's figures: eight active ones whose
revenue sums to $430,000 (an average of $53,750), one inactive one of $10,000 whose primary
contact is Jim Glynn, $80,000 for Maria Campbell, and three accounts in 'WA' whose primary
contacts are Rene Valdes, Robert Lyon and Scott Konersmann.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crm_ferry.emulator.core import CoreConfig, Emulator
from helpers.webapi import created_id

ROOT = "https://contoso.crm.dynamics.com/api/data/v9.2/"  # the api fixture's base URL
FV = "@OData.Community.Display.V1.FormattedValue"
PREFER = {"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'}

CONTACTS = ["Jim Glynn", "Maria Campbell", "Rene Valdes", "Robert Lyon", "Scott Konersmann"]
ACCOUNTS = [
    # name, revenue, primary contact, state, account category
    ("Fabrikam, Inc. (sample)", 80000, "Maria Campbell", None, 1),
    ("Contoso Pharmaceuticals (sample)", 60000, "Rene Valdes", "WA", 2),
    ("Litware, Inc. (sample)", 60000, "Robert Lyon", "WA", None),
    ("Adventure Works (sample)", 50000, "Scott Konersmann", "WA", None),
    ("Alpine Ski House (sample)", 50000, "Rene Valdes", None, None),
    ("Blue Yonder Airlines (sample)", 50000, None, None, None),
    ("City Power & Light (sample)", 40000, "Scott Konersmann", None, None),
    ("Coho Winery (sample)", 40000, "Robert Lyon", None, None),
    ("A. Datum Corporation (sample)", 10000, "Jim Glynn", None, None),  # made inactive
]


@pytest.fixture
def sample(api: httpx.Client) -> dict[str, str]:
    ids: dict[str, str] = {}
    for full in CONTACTS:
        first, last = full.split(" ", 1)
        body = {"firstname": first, "lastname": f"{last} (sample)"}
        ids[full] = created_id(api.post("contacts", json=body))
    for name, revenue, contact, state, category in ACCOUNTS:
        account: dict[str, Any] = {"name": name, "revenue": revenue}
        if contact:
            account["primarycontactid@odata.bind"] = f"/contacts({ids[contact]})"
        if state:
            account["address1_stateorprovince"] = state
        if category:
            account["accountcategorycode"] = category
        ids[name] = created_id(api.post("accounts", json=account))
    closed = api.patch(
        f"accounts({ids['A. Datum Corporation (sample)']})", json={"statecode": 1, "statuscode": 2}
    )
    assert closed.status_code == 204, closed.text
    return ids


def value(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert body["@odata.context"] == f"{ROOT}$metadata#accounts"
    assert set(body) == {"@odata.context", "value"}
    return list(body["value"])


def test_list_of_unique_statuses(api: httpx.Client, sample: dict[str, str]) -> None:
    rows = value(api.get("accounts?$apply=groupby((statuscode))", headers=PREFER))
    assert rows == [
        {f"statuscode{FV}": "Active", "statuscode": 1},
        {f"statuscode{FV}": "Inactive", "statuscode": 2},
    ]


def test_count_by_status_values(api: httpx.Client, sample: dict[str, str]) -> None:
    rows = value(
        api.get("accounts?$apply=groupby((statuscode),aggregate($count as count))", headers=PREFER)
    )
    assert rows == [
        {f"statuscode{FV}": "Active", "statuscode": 1, f"count{FV}": "8", "count": 8},
        {f"statuscode{FV}": "Inactive", "statuscode": 2, f"count{FV}": "1", "count": 1},
    ]


def test_aggregate_sum_of_revenue(api: httpx.Client, sample: dict[str, str]) -> None:
    rows = value(api.get("accounts?$apply=aggregate(revenue with sum as total)", headers=PREFER))
    assert rows == [{f"total{FV}": "$440,000.00", "total": 440000}]
    assert isinstance(rows[0]["total"], float)


def test_average_revenue_based_on_status(api: httpx.Client, sample: dict[str, str]) -> None:
    rows = value(
        api.get(
            "accounts?$apply=groupby((statuscode),aggregate(revenue with average as averagevalue))",
            headers=PREFER,
        )
    )
    assert rows == [
        {
            f"statuscode{FV}": "Active",
            "statuscode": 1,
            f"averagevalue{FV}": "$53,750.00",
            "averagevalue": 53750,
        },
        {
            f"statuscode{FV}": "Inactive",
            "statuscode": 2,
            f"averagevalue{FV}": "$10,000.00",
            "averagevalue": 10000,
        },
    ]


def test_sum_of_revenue_based_on_status(api: httpx.Client, sample: dict[str, str]) -> None:
    rows = value(
        api.get(
            "accounts?$apply=groupby((statuscode),aggregate(revenue with sum as total))",
            headers=PREFER,
        )
    )
    assert [(r["statuscode"], r[f"total{FV}"], r["total"]) for r in rows] == [
        (1, "$430,000.00", 430000),
        (2, "$10,000.00", 10000),
    ]


def test_total_account_revenue_by_primary_contact_name(
    api: httpx.Client, sample: dict[str, str]
) -> None:
    rows = value(
        api.get(
            "accounts?$apply=groupby((primarycontactid/fullname),"
            "aggregate(revenue with sum as total))",
            headers=PREFER,
        )
    )
    named = {r["contact_fullname"]: r for r in rows if "contact_fullname" in r}
    assert named["Jim Glynn (sample)"] == {
        f"total{FV}": "$10,000.00",
        "total": 10000,
        "contact_fullname": "Jim Glynn (sample)",
    }
    assert named["Maria Campbell (sample)"]["total"] == 80000
    assert all(set(r) <= {"contact_fullname", "total", f"total{FV}"} for r in rows)
    assert sum(r["total"] for r in rows) == 440000  # Blue Yonder's group has no contact


def test_primary_contact_names_for_accounts_in_wa(
    api: httpx.Client, sample: dict[str, str]
) -> None:
    rows = value(
        api.get(
            "accounts?$apply=filter(address1_stateorprovince eq 'WA')/"
            "groupby((primarycontactid/fullname))"
        )
    )
    assert rows == [
        {"contact_fullname": "Rene Valdes (sample)"},
        {"contact_fullname": "Robert Lyon (sample)"},
        {"contact_fullname": "Scott Konersmann (sample)"},
    ]


@pytest.mark.parametrize(("method", "alias"), [("max", "lastCreate"), ("min", "firstCreate")])
def test_last_and_first_created_record_date_and_time(
    api: httpx.Client, sample: dict[str, str], method: str, alias: str
) -> None:
    rows = value(
        api.get(f"accounts?$apply=aggregate(createdon with {method} as {alias})", headers=PREFER)
    )
    # the fixture's clock: 2026-01-02T03:04:05Z, 7:04 PM the day before in Pacific time
    assert rows == [{f"{alias}{FV}": "1/1/2026 7:04 PM", alias: "2026-01-02T03:04:05Z"}]


def test_distinct_column_values(api: httpx.Client, sample: dict[str, str]) -> None:
    response = api.get(
        "accounts?$apply=groupby((statecode,statuscode,accountcategorycode))",
        headers={
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            **PREFER,
        },
    )
    assert response.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    assert response.headers["Preference-Applied"] == PREFER["Prefer"]
    rows = [{k: v for k, v in r.items() if "@" not in k} for r in value(response)]
    assert rows == [
        {"statuscode": 1, "statecode": 0},
        {"statuscode": 1, "statecode": 0, "accountcategorycode": 1},
        {"statuscode": 1, "statecode": 0, "accountcategorycode": 2},
        {"statuscode": 2, "statecode": 1},
    ]


def test_orderby_with_aggregate_values_is_not_supported(
    api: httpx.Client, sample: dict[str, str]
) -> None:
    response = api.get(
        "accounts?$apply=groupby((statuscode),aggregate($count as count))&$orderby=count desc"
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "The query node SingleValueOpenPropertyAccess is not supported."
    )


def test_groupby_with_datetime_values_is_not_supported(
    api: httpx.Client, sample: dict[str, str]
) -> None:
    response = api.get("accounts?$apply=groupby((createdon))")
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "0x80040219"


def test_queries_over_more_than_the_aggregate_limit_fail() -> None:
    """The limit is 50,000 records; this tenant's is 3 (``CoreConfig.aggregate_record_limit``)
    so the example stays fast. The error is the include's: code 8004E023."""
    em = Emulator(CoreConfig(aggregate_record_limit=3))
    with httpx.Client(transport=httpx.MockTransport(em.handle), base_url=ROOT) as http:
        for i in range(4):
            created_id(http.post("accounts", json={"name": f"A{i}", "revenue": 1000}))
        response = http.get("accounts?$apply=aggregate(revenue with sum as total)")
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "0x8004E023",
            "message": "AggregateQueryRecordLimit exceeded. Cannot perform this operation.",
        }
        narrowed = http.get("accounts?$apply=filter(name ne 'A0')/aggregate($count as n)")
        assert narrowed.json()["value"] == [{"n": 3}]
    em.close()
