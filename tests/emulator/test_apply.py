"""``$apply``: groupby and aggregate over a table, the 50,000-row limit, what Dataverse does
not allow, and a property: an aggregate over ``filter(F)`` equals the same sums and counts
worked out from the rows ``$filter=F`` returns.

Source: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data
(limits: https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/aggregate-data).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.odata import AggregateItem, ODataError, parse_apply
from crm_ferry.emulator.store import Store
from helpers.webapi import created_id

BASE = "https://apply.emulator.test/api/data/v9.2/"
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
ANNOTATED = {"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'}

ACCOUNTS: list[dict[str, Any]] = [
    {"name": "Contoso", "revenue": 100000, "numberofemployees": 1500,
     "address1_stateorprovince": "WA", "accountcategorycode": 1, "contact": "Jim"},
    {"name": "Fabrikam", "revenue": 200000, "numberofemployees": 2700,
     "address1_stateorprovince": "wa", "accountcategorycode": 2, "contact": "Maria"},
    {"name": "Litware", "revenue": 140000, "numberofemployees": 2900,
     "address1_stateorprovince": "OR", "contact": "Jim"},
    {"name": "Adatum", "numberofemployees": 2900, "address1_stateorprovince": "WA"},
    {"name": "Coho", "revenue": 10000.5, "accountcategorycode": 1},
]  # fmt: skip
"""Adatum is made inactive (statecode 1, statuscode 2)."""


class Sales:
    """Two contacts and the accounts above, on a tenant of its own."""

    def __init__(self, config: CoreConfig | None = None) -> None:
        clock = datetime(2024, 4, 7, 21, 59, 1, tzinfo=UTC)
        self.em = Emulator(config or CoreConfig(wall_clock=lambda: clock))
        self.http = httpx.Client(transport=httpx.MockTransport(self.em.handle), base_url=BASE)
        self.contacts = {
            first: created_id(
                self.http.post("contacts", json={"firstname": first, "lastname": last})
            )
            for first, last in (("Jim", "Glynn"), ("Maria", "Campbell"))
        }
        self.accounts: dict[str, str] = {}
        for spec in ACCOUNTS:
            body = {k: v for k, v in spec.items() if k != "contact"}
            if "contact" in spec:
                body["primarycontactid@odata.bind"] = f"/contacts({self.contacts[spec['contact']]})"
            self.accounts[spec["name"]] = created_id(self.http.post("accounts", json=body))
        closed = self.http.patch(
            f"accounts({self.accounts['Adatum']})", json={"statecode": 1, "statuscode": 2}
        )
        assert closed.status_code == 204, closed.text

    def apply(self, apply: str, **params: str) -> httpx.Response:
        return self.http.get("accounts", params={"$apply": apply, **params}, headers=ANNOTATED)

    def values(self, apply: str, **params: str) -> list[dict[str, Any]]:
        r = self.apply(apply, **params)
        assert r.status_code == 200, r.text
        return list(r.json()["value"])


@pytest.fixture(scope="module")
def sales() -> Iterator[Sales]:
    tenant = Sales()
    yield tenant
    tenant.http.close()
    tenant.em.close()


def plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if "@" not in k} for row in rows]


# -- parsing -------------------------------------------------------------------------------


def test_parse_the_documented_forms() -> None:
    a = parse_apply("groupby((statuscode),aggregate(revenue with average as averagevalue))")
    assert (a.groupby, a.grouped) == (("statuscode",), True)
    assert a.aggregates == (AggregateItem("revenue", "average", "averagevalue"),)
    b = parse_apply("filter(address1_stateorprovince eq 'WA')/groupby((primarycontactid/fullname))")
    assert len(b.filters) == 1
    assert (b.groupby, b.aggregates) == (("primarycontactid/fullname",), ())
    c = parse_apply("aggregate($count as n, revenue with sum as total)")
    assert not c.grouped
    assert c.output_names == ("n", "total")


@pytest.mark.parametrize(
    ("text", "status", "message"),
    [
        ("topcount(5,revenue)", 501, "The $apply transformation 'topcount'"),
        ("compute(revenue mul 2 as r)", 501, "The $apply transformation 'compute'"),
        ("aggregate(revenue with sum as t)/filter(t gt 1)", 501, "after aggregate"),
        ("filter(name eq 'x')", 501, "without groupby or aggregate"),
        ("groupby((name),filter(name eq 'x')/aggregate($count as n))", 501, "sequence"),
        ("aggregate(revenue with sum from name as t)", 501, "'from' clause"),
        ("aggregate(revenue as t)", 501, "custom aggregate"),
        ("aggregate(revenue with median as t)", 400, "'median' is not a valid aggregation"),
        ("aggregate(revenue with sum)", 400, "Syntax error"),
        ("groupby(name)", 400, "Syntax error"),
        ("shuffle(name)", 400, "'shuffle' is not a valid transformation"),
        ("groupby((name),aggregate($count as name))", 400, "used more than once"),
        ("filter(name eq @p)/aggregate($count as n)", 400, "not in $apply"),
        ("", 400, "must not be empty"),
    ],
)
def test_parse_refuses_what_dataverse_does_not_take(text: str, status: int, message: str) -> None:
    with pytest.raises(ODataError) as info:
        parse_apply(text)
    assert info.value.status == status
    assert message in info.value.message


# -- answers -------------------------------------------------------------------------------


def test_distinct_values_leave_nulls_out_and_come_in_order(sales: Sales) -> None:
    r = sales.apply("groupby((statecode,statuscode,accountcategorycode))")
    assert r.status_code == 200, r.text
    assert r.json()["@odata.context"] == f"{BASE}$metadata#accounts"
    assert plain(r.json()["value"]) == [
        {"statecode": 0, "statuscode": 1},
        {"statecode": 0, "statuscode": 1, "accountcategorycode": 1},
        {"statecode": 0, "statuscode": 1, "accountcategorycode": 2},
        {"statecode": 1, "statuscode": 2},
    ]
    first = r.json()["value"][1]
    assert first[f"accountcategorycode{FORMATTED}"] == "Preferred Customer"
    assert first[f"statuscode{FORMATTED}"] == "Active"


def test_count_and_sums_by_status(sales: Sales) -> None:
    rows = sales.values(
        "groupby((statuscode),aggregate($count as count,revenue with sum as total,"
        "revenue with average as mean,numberofemployees with max as most))"
    )
    assert plain(rows) == [
        {"statuscode": 1, "count": 4, "total": 450000.5, "mean": 112500.125, "most": 2900},
        {"statuscode": 2, "count": 1, "total": 0, "most": 2900},  # no revenue: sum 0, no mean
    ]
    assert rows[0][f"count{FORMATTED}"] == "4"
    assert rows[0][f"total{FORMATTED}"] == "$450,000.50"
    assert rows[0][f"mean{FORMATTED}"] == "$112,500.13"
    assert rows[0][f"most{FORMATTED}"] == "2,900"
    assert rows[1][f"statuscode{FORMATTED}"] == "Inactive"


def test_aggregates_without_groupby_are_one_row(sales: Sales) -> None:
    [row] = sales.values(
        "aggregate(numberofemployees with sum as s,numberofemployees with average as a,"
        "numberofemployees with min as lo,numberofemployees with countdistinct as d,"
        "address1_stateorprovince with countdistinct as states,createdon with max as last)"
    )
    # 1500+2700+2900+2900 over the 4 rows that hold a value (whole numbers average to one)
    assert plain([row]) == [
        {"s": 10000, "a": 2500, "lo": 1500, "d": 3, "states": 2, "last": "2024-04-07T21:59:01Z"}
    ]
    assert row[f"last{FORMATTED}"] == "4/7/2024 2:59 PM"  # the user's time zone (Pacific)
    assert row[f"s{FORMATTED}"] == "10,000"


def test_an_aggregate_over_no_rows(sales: Sales) -> None:
    [row] = sales.values(
        "filter(name eq 'nobody')/aggregate($count as n,revenue with sum as t,"
        "revenue with max as m)"
    )
    assert plain([row]) == [{"n": 0, "t": 0}]
    assert sales.values("filter(name eq 'nobody')/groupby((statuscode))") == []


def test_grouping_by_a_related_column_and_by_a_lookup(sales: Sales) -> None:
    rows = sales.values(
        "filter(address1_stateorprovince eq 'WA' or address1_stateorprovince eq 'OR')/"
        "groupby((primarycontactid/fullname),aggregate(revenue with sum as total))"
    )
    assert plain(rows) == [
        {"total": 0},  # Adatum has no primary contact
        {"contact_fullname": "Jim Glynn", "total": 240000},
        {"contact_fullname": "Maria Campbell", "total": 200000},
    ]
    by_lookup = sales.http.get(
        "accounts",
        params={"$apply": "groupby((_primarycontactid_value),aggregate($count as n))"},
        headers={"Prefer": 'odata.include-annotations="*"'},
    ).json()["value"]
    jim = next(r for r in by_lookup if r.get("_primarycontactid_value") == sales.contacts["Jim"])
    assert jim["n"] == 2
    assert jim[f"_primarycontactid_value{FORMATTED}"] == "Jim Glynn"
    assert jim["_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "contact"
    assert sum(r["n"] for r in by_lookup) == len(ACCOUNTS)


def test_orderby_and_top_apply_to_the_groups(sales: Sales) -> None:
    rows = sales.values(
        "groupby((accountcategorycode),aggregate($count as n))",
        **{"$orderby": "accountcategorycode desc", "$top": "2"},
    )
    assert plain(rows) == [{"accountcategorycode": 2, "n": 1}, {"accountcategorycode": 1, "n": 2}]
    # "$orderby with aggregate values is not supported" (the documented error)
    by_alias = sales.apply("groupby((statuscode),aggregate($count as n))", **{"$orderby": "n"})
    assert by_alias.status_code == 400
    assert by_alias.json()["error"]["message"] == (
        "The query node SingleValueOpenPropertyAccess is not supported."
    )
    assert by_alias.json()["error"]["code"] not in ("", "0x0")
    other = sales.apply("groupby((statuscode))", **{"$orderby": "name"})
    assert other.status_code == 501
    assert "not one of its groupby properties" in other.json()["error"]["message"]


@pytest.mark.parametrize(
    ("apply", "extra", "status", "message"),
    [
        ("groupby((createdon))", {}, 501, "date and time column 'createdon'"),
        ("groupby((primarycontactid))", {}, 501, "navigation property 'primarycontactid'"),
        ("groupby((contact_customer_accounts/fullname))", {}, 501, "collection-valued"),
        ("groupby((primarycontactid/parentcustomerid/name))", {}, 501, "one navigation deep"),
        ("groupby((bogus))", {}, 400, "Could not find a property named 'bogus'"),
        ("groupby((primarycontactid/bogus))", {}, 400, "'bogus' on type 'Microsoft.Dynamics"),
        ("aggregate(name with sum as x)", {}, 400, "can't be applied to 'name'"),
        ("aggregate(statuscode with average as x)", {}, 400, "can't be applied"),
        ("aggregate(primarycontactid/fullname with countdistinct as x)", {}, 501, "related"),
        ("groupby((name))", {"$filter": "name eq 'x'"}, 501, "$filter together with $apply"),
        ("groupby((name))", {"$select": "name"}, 501, "$select together with $apply"),
        ("groupby((name))", {"$count": "true"}, 501, "$count together with $apply"),
        ("groupby((name))", {"$orderby": "bogus"}, 400, "Could not find a property"),
    ],
)
def test_what_dataverse_does_not_allow_is_refused(
    sales: Sales, apply: str, extra: dict[str, str], status: int, message: str
) -> None:
    r = sales.apply(apply, **extra)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert message in error["message"]
    assert error["code"] == ("0x80040219" if status == 501 else error["code"])
    assert error["code"] not in ("", "0x0")


def test_maxpagesize_is_applied_when_the_groups_fit_and_refused_when_not(sales: Sales) -> None:
    fits = sales.http.get(
        "accounts",
        params={"$apply": "groupby((statuscode))"},
        headers={"Prefer": "odata.maxpagesize=2"},
    )
    assert fits.status_code == 200
    assert fits.headers["Preference-Applied"] == "odata.maxpagesize=2"
    too_many = sales.http.get(
        "accounts",
        params={"$apply": "groupby((name))"},
        headers={"Prefer": "odata.maxpagesize=2"},
    )
    assert too_many.status_code == 501
    assert "Paging the 5 groups" in too_many.json()["error"]["message"]


def test_more_than_the_aggregate_limit_of_matching_rows_fails() -> None:
    tenant = Sales(CoreConfig(aggregate_record_limit=4))
    try:
        r = tenant.apply("aggregate($count as n)")
        assert r.status_code == 400
        assert r.json()["error"] == {
            "code": "0x8004E023",
            "message": "AggregateQueryRecordLimit exceeded. Cannot perform this operation.",
        }
        # the limit counts the rows the filter matches, not the table's
        assert tenant.values("filter(statecode eq 0)/aggregate($count as n)") == [
            {"n@OData.Community.Display.V1.FormattedValue": "4", "n": 4}
        ]
    finally:
        tenant.http.close()
        tenant.em.close()


def test_apply_reads_the_table_once(sales: Sales, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = Store.rows_after

    def counted(self: Store, entity: str, after: str | None = None) -> Iterator[dict[str, Any]]:
        calls.append(entity)
        return original(self, entity, after)

    monkeypatch.setattr(Store, "rows_after", counted)
    sales.values("groupby((statuscode),aggregate($count as n,revenue with sum as s))")
    assert calls == ["account"]


# -- property: aggregates agree with the rows $filter returns -----------------------------

LEAVES = st.one_of(
    st.tuples(
        st.sampled_from(["numberofemployees", "revenue", "accountcategorycode", "statecode"]),
        st.sampled_from(["eq", "ne", "gt", "le"]),
        st.sampled_from(["0", "1", "2700", "100000", "null"]),
    ).map(" ".join),
    st.sampled_from(
        [
            "address1_stateorprovince eq 'WA'",
            "contains(name,'o')",
            "startswith(name,'C')",
            "primarycontactid/fullname eq 'Jim Glynn'",
            "_primarycontactid_value ne null",
        ]
    ),
)
FILTERS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda p: f"({p[0]}) {p[1]} ({p[2]})"
        ),
        inner.map(lambda f: f"not ({f})"),
    ),
    max_leaves=4,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flt=FILTERS)
def test_sums_and_counts_equal_those_of_the_filtered_rows(sales: Sales, flt: str) -> None:
    rows = sales.http.get(
        "accounts", params={"$filter": flt, "$select": "revenue,numberofemployees,statuscode"}
    )
    agg = sales.http.get(
        "accounts",
        params={
            "$apply": f"filter({flt})/aggregate($count as n,revenue with sum as r,"
            "numberofemployees with sum as e,revenue with countdistinct as d)"
        },
    )
    assert agg.status_code == rows.status_code
    if rows.status_code != 200:
        assert agg.json()["error"] == rows.json()["error"]
        return
    found = rows.json()["value"]
    [row] = agg.json()["value"]
    revenues = [Decimal(str(r["revenue"])) for r in found if r["revenue"] is not None]
    assert row["n"] == len(found)
    assert Decimal(str(row["r"])) == sum(revenues, Decimal(0))
    assert row["e"] == sum(r["numberofemployees"] or 0 for r in found)
    assert row["d"] == len(set(revenues))
    grouped = sales.http.get(
        "accounts", params={"$apply": f"filter({flt})/groupby((statuscode),aggregate($count as n))"}
    ).json()["value"]
    by_status: dict[int, int] = {}
    for r in found:
        by_status[r["statuscode"]] = by_status.get(r["statuscode"], 0) + 1
    assert {g["statuscode"]: g["n"] for g in grouped} == by_status
