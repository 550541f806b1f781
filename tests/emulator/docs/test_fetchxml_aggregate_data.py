"""Aggregate data using FetchXml, replayed on the article's ten accounts.

https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/aggregate-data
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/fetchxml/aggregate-data.md
at f7267f57e5744ee653bda413c4b06b6b61c6e2d4).

Grouping by fiscal periods and the hierarchy's row aggregate are refused (501). The article's
rows were created on two days; here they are created at the tenant's clock, so date grouping
is checked on one day.
"""

from __future__ import annotations

import httpx
import pytest

from helpers.webapi import fetch_xml

ACCOUNTS = [
    (None, "Example Account", None),
    (1500, "Contoso Pharmaceuticals (sample)", "Redmond"),
    (2700, "Fabrikam, Inc. (sample)", "Lynnwood"),
    (2900, "Blue Yonder Airlines (sample)", "Los Angeles"),
    (2900, "City Power & Light (sample)", "Redmond"),
    (3900, "Coho Winery (sample)", "Phoenix"),
    (4300, "Adventure Works (sample)", "Santa Cruz"),
    (4800, "Alpine Ski House (sample)", "Missoula"),
    (6000, "Litware, Inc. (sample)", "Dallas"),
    (6200, "A. Datum Corporation (sample)", "Redmond"),
]


@pytest.fixture
def accounts(api: httpx.Client) -> None:
    for employees, name, city in ACCOUNTS:
        body: dict[str, object] = {"name": name}
        if employees is not None:
            body["numberofemployees"] = employees
        if city is not None:
            body["address1_city"] = city
        assert api.post("accounts", json=body).status_code == 204


def rows(api: httpx.Client, fetch: str) -> list[dict[str, object]]:
    response = fetch_xml(api, "accounts", fetch)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


AGGREGATES = (
    "<fetch aggregate='true'><entity name='account'>"
    "<attribute name='numberofemployees' alias='Average' aggregate='avg' />"
    "<attribute name='numberofemployees' alias='Count' aggregate='count' />"
    "<attribute name='numberofemployees' alias='ColumnCount' aggregate='countcolumn'{distinct} />"
    "<attribute name='numberofemployees' alias='Maximum' aggregate='max' />"
    "<attribute name='numberofemployees' alias='Minimum' aggregate='min' />"
    "<attribute name='numberofemployees' alias='Sum' aggregate='sum' />"
    "</entity></fetch>"
)


def test_the_aggregate_functions(api: httpx.Client, accounts: None) -> None:
    assert rows(api, AGGREGATES.format(distinct="")) == [
        {
            "Average": 3911,
            "Count": 10,
            "ColumnCount": 9,
            "Maximum": 6200,
            "Minimum": 1500,
            "Sum": 35200,
        }
    ]


def test_distinct_column_values(api: httpx.Client, accounts: None) -> None:
    """ "the results return 8 rather than 9" (two rows have 2,900)."""
    (row,) = rows(api, AGGREGATES.format(distinct=" distinct='true'"))
    assert row["ColumnCount"] == 8


def test_grouping(api: httpx.Client, accounts: None) -> None:
    fetch = (
        "<fetch aggregate='true'><entity name='account'>"
        "<attribute name='numberofemployees' alias='Total' aggregate='sum' />"
        "<attribute name='address1_city' alias='Count' aggregate='count' />"
        "<attribute name='address1_city' alias='City' groupby='true' />"
        "<order alias='City' /></entity></fetch>"
    )
    assert [(r["Total"], r["Count"], r.get("City")) for r in rows(api, fetch)] == [
        (0, 1, None),
        (6000, 1, "Dallas"),
        (2900, 1, "Los Angeles"),
        (2700, 1, "Lynnwood"),
        (4800, 1, "Missoula"),
        (3900, 1, "Phoenix"),
        (10600, 3, "Redmond"),
        (4300, 1, "Santa Cruz"),
    ]


def test_grouping_by_parts_of_a_date(api: httpx.Client, accounts: None) -> None:
    """The article's query without its fiscal groupings (those are refused, below)."""
    fetch = (
        "<fetch aggregate='true'><entity name='account'>"
        "<attribute name='numberofemployees' alias='Total' aggregate='sum' />"
        "<attribute name='createdon' alias='Day' groupby='true' dategrouping='day' />"
        "<attribute name='createdon' alias='Week' groupby='true' dategrouping='week' />"
        "<attribute name='createdon' alias='Month' groupby='true' dategrouping='month' />"
        "<attribute name='createdon' alias='Year' groupby='true' dategrouping='year' />"
        "<order alias='Month' /></entity></fetch>"
    )
    # every row created at the tenant's clock, Friday 2 January 2026 (week 1)
    assert rows(api, fetch) == [{"Total": 35200, "Day": 2, "Week": 1, "Month": 1, "Year": 2026}]


@pytest.mark.parametrize(
    "fetch",
    [
        "<fetch aggregate='true'><entity name='account'>"
        "<attribute name='numberofemployees' alias='Total' aggregate='sum' />"
        "<attribute name='createdon' alias='FiscalPeriod' groupby='true' "
        "dategrouping='fiscal-period' />"
        "</entity></fetch>",
        '<fetch aggregate="true"><entity name="opportunity">'
        '<attribute name="estimatedvalue" aggregate="sum" alias="total" />'
        '<attribute name="estimatedclosedate" groupby="true" dategrouping="fiscal-period" />'
        "</entity></fetch>",
        "<fetch top='5'><entity name='account'><attribute name='name' />"
        "<attribute name='accountid' alias='numberOfChildren' rowaggregate='CountChildren' />"
        "<order attribute='accountid' descending='true' /></entity></fetch>",
    ],
)
def test_fiscal_groupings_and_row_aggregates_are_refused(api: httpx.Client, fetch: str) -> None:
    entity_set = "opportunities" if "opportunity" in fetch else "accounts"
    response = fetch_xml(api, entity_set, fetch)
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "0x80040219"


def test_the_per_query_limit(api: httpx.Client) -> None:
    for i in range(11):
        assert api.post("opportunities", json={"name": f"Opportunity {i}"}).status_code == 204
    fetch = (
        "<fetch aggregate='true' aggregatelimit = '10'><entity name='opportunity'>"
        "<attribute name='name' alias='opportunity_count' aggregate='count' /></entity></fetch>"
    )
    response = fetch_xml(api, "opportunities", fetch)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x8004E023",
        "message": "AggregateQueryRecordLimit exceeded. Cannot perform this operation.",
    }
    under = fetch_xml(api, "opportunities", fetch.replace("'10'", "'11'")).json()["value"]
    assert under == [{"opportunity_count": 11}]
