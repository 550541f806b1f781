"""FetchXML on ``GET <set>?fetchXml=``: columns, every condition operator (table-driven),
link-entities, orders, aggregates, paging with the cookie through several pages, counts, and
the documented errors and refusals.

Sources: Use FetchXml with Web API
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-fetchxml-web-api),
the FetchXML articles and reference
(https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/overview) and the
Web service error codes. The date operators' windows are those emulator/conditions documents,
at the tenant's clock (Friday 2026-01-02 03:04:05 UTC).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

from crm_ferry.emulator import tenant as seed
from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.fetchxml.aggregate import _week
from crm_ferry.emulator.fetchxml.handler import COUNT_LIMIT, _annotations
from crm_ferry.emulator.fetchxml.parser import parse_fetch
from crm_ferry.emulator.fetchxml.plan import plan
from crm_ferry.emulator.records import make_ctx
from helpers.webapi import batch_body, batch_request

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ALL = 'odata.include-annotations="*"'


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Tenant:
    em: Emulator
    http: httpx.Client
    clock: Clock
    ids: dict[str, str] = field(default_factory=dict)

    def create(self, entity_set: str, body: dict[str, Any], *, at: datetime = NOW) -> str:
        self.clock.now = at
        try:
            response = self.http.post(entity_set, json=body)
        finally:
            self.clock.now = NOW
        assert response.status_code == 204, response.text
        url = response.headers["OData-EntityId"]
        return url[url.rindex("(") + 1 : -1]

    def fetch(
        self, xml: str, entity_set: str = "accounts", *, prefer: str | None = None, extra: str = ""
    ) -> httpx.Response:
        headers = {"Prefer": prefer} if prefer else {}
        return self.http.get(f"{entity_set}?fetchXml={quote(xml)}{extra}", headers=headers)

    def names(self, xml: str, entity_set: str = "accounts", key: str = "name") -> list[Any]:
        response = self.fetch(xml, entity_set)
        assert response.status_code == 200, response.text
        return [row.get(key) for row in response.json()["value"]]


ACCOUNTS = [
    {
        "name": "Alpha",
        "numberofemployees": 10,
        "address1_city": "Redmond",
        "industrycode": 1,
        "customertypecode": 12,
    },
    {
        "name": "Beta Corp",
        "numberofemployees": 20,
        "address1_city": "Seattle",
        "industrycode": 2,
        "customertypecode": 1,
    },
    {"name": "gamma"},
    {
        "name": "Delta_1",
        "numberofemployees": 40,
        "address1_city": "redmond",
        "industrycode": 1,
        "customertypecode": 8,
    },
    {"name": "100% Pure", "numberofemployees": 5, "address1_city": "Bellevue", "revenue": 12.5},
]

# contacts created at these moments (the tenant's clock moved for each create)
CREATED = {
    "HalfHourAgo": datetime(2026, 1, 2, 2, 34, 5, tzinfo=UTC),
    "Yesterday": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    "TwoDaysAgo": datetime(2025, 12, 31, 8, 0, tzinfo=UTC),
    "LastWeek": datetime(2025, 12, 24, 10, 0, tzinfo=UTC),
    "LastMonth": datetime(2025, 12, 5, tzinfo=UTC),
    "LastYear": datetime(2025, 6, 15, tzinfo=UTC),
    "Old": datetime(2020, 1, 1, tzinfo=UTC),
    "Tomorrow": datetime(2026, 1, 3, 9, 0, tzinfo=UTC),
    "NextWeek": datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
    "NextMonth": datetime(2026, 2, 10, tzinfo=UTC),
    "NextYear": datetime(2027, 3, 1, tzinfo=UTC),
}


@pytest.fixture(scope="module")
def tenant() -> Iterator[Tenant]:
    clock = Clock()
    em = Emulator(CoreConfig(wall_clock=clock))
    http = httpx.Client(transport=httpx.MockTransport(em.handle), base_url=BASE)
    t = Tenant(em, http, clock)
    for body in ACCOUNTS:
        t.ids[body["name"]] = t.create("accounts", body)
    for name, at in CREATED.items():
        body = {"firstname": name, "lastname": "Dated", "birthdate": at.date().isoformat()}
        t.ids[name] = t.create("contacts", body, at=at)
    # Ada works at Alpha (and is its primary contact), Bob at Beta Corp, Cy at no account
    t.ids["Ada"] = t.create(
        "contacts",
        {
            "firstname": "Ada",
            "lastname": "Lovelace",
            "jobtitle": "Engineer",
            "creditlimit": 100,
            "parentcustomerid_account@odata.bind": f"/accounts({t.ids['Alpha']})",
        },
    )
    t.ids["Bob"] = t.create(
        "contacts",
        {
            "firstname": "Bob",
            "lastname": "Builder",
            "jobtitle": "Builder",
            "parentcustomerid_account@odata.bind": f"/accounts({t.ids['Beta Corp']})",
        },
    )
    t.ids["Cy"] = t.create("contacts", {"firstname": "Cy", "lastname": "Nobody"})
    assert (
        http.patch(
            f"accounts({t.ids['Alpha']})",
            json={"primarycontactid@odata.bind": f"/contacts({t.ids['Ada']})"},
        ).status_code
        == 204
    )
    yield t
    http.close()
    em.close()


def accounts(condition: str, *, order: str = "name") -> str:
    return (
        f"<fetch><entity name='account'><attribute name='name'/>"
        f"<filter>{condition}</filter><order attribute='{order}'/></entity></fetch>"
    )


def dated(condition: str) -> str:
    return (
        "<fetch><entity name='contact'><attribute name='firstname'/><filter>"
        f"<condition attribute='lastname' operator='eq' value='Dated'/>{condition}"
        "</filter><order attribute='createdon'/></entity></fetch>"
    )


# ---------------------------------------------------------------------------------------------
# Operators


TEXT_AND_NUMBER_OPERATORS = [
    ("<condition attribute='name' operator='eq' value='ALPHA'/>", ["Alpha"]),
    (
        "<condition attribute='address1_city' operator='ne' value='Redmond'/>",
        ["100% Pure", "Beta Corp"],
    ),
    (
        "<condition attribute='address1_city' operator='neq' value='redmond'/>",
        ["100% Pure", "Beta Corp"],
    ),
    (
        "<condition attribute='numberofemployees' operator='gt' value='10'/>",
        ["Beta Corp", "Delta_1"],
    ),
    (
        "<condition attribute='numberofemployees' operator='ge' value='10'/>",
        ["Alpha", "Beta Corp", "Delta_1"],
    ),
    ("<condition attribute='numberofemployees' operator='lt' value='20'/>", ["100% Pure", "Alpha"]),
    (
        "<condition attribute='numberofemployees' operator='le' value='20'/>",
        ["100% Pure", "Alpha", "Beta Corp"],
    ),
    (
        "<condition attribute='name' operator='like' value='%A%'/>",
        ["Alpha", "Beta Corp", "Delta_1", "gamma"],
    ),
    ("<condition attribute='name' operator='like' value='delta[_]_'/>", ["Delta_1"]),
    ("<condition attribute='name' operator='like' value='100[%]%'/>", ["100% Pure"]),
    ("<condition attribute='name' operator='not-like' value='%a%'/>", ["100% Pure"]),
    ("<condition attribute='name' operator='begins-with' value='b'/>", ["Beta Corp"]),
    (
        "<condition attribute='name' operator='not-begin-with' value='b'/>",
        ["100% Pure", "Alpha", "Delta_1", "gamma"],
    ),
    ("<condition attribute='name' operator='ends-with' value='CORP'/>", ["Beta Corp"]),
    (
        "<condition attribute='name' operator='not-end-with' value='a'/>",
        ["100% Pure", "Beta Corp", "Delta_1"],
    ),
    (
        "<condition attribute='address1_city' operator='in'><value>Redmond</value>"
        "<value>Seattle</value></condition>",
        ["Alpha", "Beta Corp", "Delta_1"],
    ),
    (
        "<condition attribute='address1_city' operator='not-in'><value>Redmond</value>"
        "<value>Seattle</value></condition>",
        ["100% Pure"],
    ),
    (
        "<condition attribute='numberofemployees' operator='between'><value>10</value>"
        "<value>20</value></condition>",
        ["Alpha", "Beta Corp"],
    ),
    (
        "<condition attribute='numberofemployees' operator='not-between'><value>10</value>"
        "<value>20</value></condition>",
        ["100% Pure", "Delta_1"],
    ),
    ("<condition attribute='address1_city' operator='null'/>", ["gamma"]),
    (
        "<condition attribute='address1_city' operator='not-null'/>",
        ["100% Pure", "Alpha", "Beta Corp", "Delta_1"],
    ),
    ("<condition attribute='industrycode' operator='eq' value='1'/>", ["Alpha", "Delta_1"]),
    ("<condition attribute='revenue' operator='gt' value='12.4'/>", ["100% Pure"]),
    (
        "<condition attribute='ownerid' operator='eq-userid'/>",
        ["100% Pure", "Alpha", "Beta Corp", "Delta_1", "gamma"],
    ),
    ("<condition attribute='ownerid' operator='ne-userid'/>", []),
    (
        "<condition attribute='owningbusinessunit' operator='eq-businessid'/>",
        ["100% Pure", "Alpha", "Beta Corp", "Delta_1", "gamma"],
    ),
    ("<condition attribute='owningbusinessunit' operator='ne-businessid'/>", []),
]


@pytest.mark.parametrize(("condition", "expected"), TEXT_AND_NUMBER_OPERATORS)
def test_text_number_and_caller_operators(
    tenant: Tenant, condition: str, expected: list[str]
) -> None:
    assert tenant.names(accounts(condition)) == expected


PAST = ["HalfHourAgo", "Yesterday", "TwoDaysAgo", "LastWeek", "LastMonth", "LastYear", "Old"]

DATE_OPERATORS = [
    ("today", None, ["HalfHourAgo"]),
    ("yesterday", None, ["Yesterday"]),
    ("tomorrow", None, ["Tomorrow"]),
    ("last-x-hours", "1", ["HalfHourAgo"]),
    ("last-x-hours", "24", ["Yesterday", "HalfHourAgo"]),
    ("next-x-hours", "24", []),
    ("next-x-hours", "30", ["Tomorrow"]),
    ("last-x-days", "1", ["Yesterday", "HalfHourAgo"]),
    ("last-x-days", "2", ["TwoDaysAgo", "Yesterday", "HalfHourAgo"]),
    ("next-x-days", "1", ["Tomorrow"]),
    ("last-x-weeks", "1", ["TwoDaysAgo", "Yesterday", "HalfHourAgo"]),
    ("next-x-weeks", "1", ["Tomorrow", "NextWeek"]),
    ("last-x-months", "1", ["LastMonth", "LastWeek", "TwoDaysAgo", "Yesterday", "HalfHourAgo"]),
    ("next-x-months", "1", ["Tomorrow", "NextWeek"]),
    (
        "last-x-years",
        "1",
        ["LastYear", "LastMonth", "LastWeek", "TwoDaysAgo", "Yesterday", "HalfHourAgo"],
    ),
    ("next-x-years", "1", ["Tomorrow", "NextWeek", "NextMonth"]),
    ("olderthan-x-minutes", "10", PAST[::-1]),
    ("olderthan-x-hours", "1", PAST[:0:-1]),
    ("olderthan-x-days", "1", ["Old", "LastYear", "LastMonth", "LastWeek", "TwoDaysAgo"]),
    ("olderthan-x-weeks", "1", ["Old", "LastYear", "LastMonth", "LastWeek"]),
    ("olderthan-x-months", "1", ["Old", "LastYear"]),
    ("olderthan-x-years", "1", ["Old"]),
    ("this-week", None, ["TwoDaysAgo", "Yesterday", "HalfHourAgo", "Tomorrow"]),
    ("last-week", None, ["LastWeek"]),
    ("next-week", None, ["NextWeek"]),
    ("this-month", None, ["Yesterday", "HalfHourAgo", "Tomorrow", "NextWeek"]),
    ("last-month", None, ["LastMonth", "LastWeek", "TwoDaysAgo"]),
    ("next-month", None, ["NextMonth"]),
    ("this-year", None, ["Yesterday", "HalfHourAgo", "Tomorrow", "NextWeek", "NextMonth"]),
    ("last-year", None, ["LastYear", "LastMonth", "LastWeek", "TwoDaysAgo"]),
    ("next-year", None, ["NextYear"]),
    ("last-seven-days", None, ["TwoDaysAgo", "Yesterday", "HalfHourAgo"]),
    ("next-seven-days", None, ["Tomorrow", "NextWeek"]),
    ("on", "2026-01-01", ["Yesterday"]),
    ("on-or-before", "2025-12-31", ["Old", "LastYear", "LastMonth", "LastWeek", "TwoDaysAgo"]),
    ("on-or-after", "2026-01-03", ["Tomorrow", "NextWeek", "NextMonth", "NextYear"]),
]


@pytest.mark.parametrize(("operator", "value", "expected"), DATE_OPERATORS)
def test_date_operators(
    tenant: Tenant, operator: str, value: str | None, expected: list[str]
) -> None:
    given = f" value='{value}'" if value is not None else ""
    condition = f"<condition attribute='createdon' operator='{operator}'{given}/>"
    assert tenant.names(dated(condition), "contacts", "firstname") == expected


@pytest.mark.parametrize(("operator", "value", "expected"), DATE_OPERATORS)
def test_the_same_operators_as_web_api_query_functions(
    tenant: Tenant, operator: str, value: str | None, expected: list[str]
) -> None:
    """Each query function is the ConditionOperator of the same name (Use Web API functions)."""
    function = {
        "last-seven-days": "Last7Days",
        "next-seven-days": "Next7Days",
        "olderthan-x-minutes": "OlderThanXMinutes",
        "olderthan-x-hours": "OlderThanXHours",
        "olderthan-x-days": "OlderThanXDays",
        "olderthan-x-weeks": "OlderThanXWeeks",
        "olderthan-x-months": "OlderThanXMonths",
        "olderthan-x-years": "OlderThanXYears",
        "on-or-before": "OnOrBefore",
        "on-or-after": "OnOrAfter",
    }.get(operator) or "".join(p.title() if p != "x" else "X" for p in operator.split("-"))
    given = (
        ""
        if value is None
        else (f",PropertyValue={value}" if value.isdigit() else f",PropertyValue='{value}'")
    )
    flt = quote(
        "lastname eq 'Dated' and"
        f" Microsoft.Dynamics.CRM.{function}(PropertyName='createdon'{given})"
    )
    response = tenant.http.get(f"contacts?$select=firstname&$filter={flt}&$orderby=createdon")
    assert response.status_code == 200, response.text
    assert [r["firstname"] for r in response.json()["value"]] == expected


def test_date_only_columns_take_day_windows_but_not_hours(tenant: Tenant) -> None:
    by_day = dated("<condition attribute='birthdate' operator='last-x-days' value='2'/>")
    assert tenant.names(by_day, "contacts", "firstname") == [
        "TwoDaysAgo",
        "Yesterday",
        "HalfHourAgo",
    ]
    by_hour = tenant.fetch(
        dated("<condition attribute='birthdate' operator='last-x-hours' value='2'/>"), "contacts"
    )
    assert by_hour.status_code == 400
    assert by_hour.json()["error"]["code"] == "0x80041120"
    assert "DateOnly" in by_hour.json()["error"]["message"]
    function = quote("Microsoft.Dynamics.CRM.LastXHours(PropertyName='birthdate',PropertyValue=2)")
    odata = tenant.http.get(f"contacts?$filter={function}")
    assert odata.status_code == 400
    assert "DateOnly" in odata.json()["error"]["message"]


def test_in_and_between_as_query_functions_take_either_quote_style(tenant: Tenant) -> None:
    """ "use double quotes around the values" that hold a single quote (filter-rows)."""
    for values in ('["Redmond","Seattle"]', "['Redmond','Seattle']"):
        flt = quote(
            f"Microsoft.Dynamics.CRM.In(PropertyName='address1_city',PropertyValues={values})"
        )
        response = tenant.http.get(f"accounts?$select=name&$filter={flt}&$orderby=name")
        assert [r["name"] for r in response.json()["value"]] == ["Alpha", "Beta Corp", "Delta_1"]
    flt = quote(
        'Microsoft.Dynamics.CRM.Between(PropertyName=\'numberofemployees\',PropertyValues=["5","10"])'
    )
    response = tenant.http.get(f"accounts?$select=name&$filter={flt}&$orderby=name")
    assert [r["name"] for r in response.json()["value"]] == ["100% Pure", "Alpha"]
    quoted = quote(
        """Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["O'Brian","Alpha"])"""
    )
    assert [r["name"] for r in tenant.http.get(f"accounts?$filter={quoted}").json()["value"]] == [
        "Alpha"
    ]
    outside = tenant.http.get("accounts?$filter=" + quote('name eq "Alpha"'))
    assert outside.status_code == 400


def test_not_over_a_query_function_is_the_documented_error(tenant: Tenant) -> None:
    for flt in (
        "not Microsoft.Dynamics.CRM.EqualUserId(PropertyName=@p1)&@p1='_ownerid_value'",
        "not (name eq 'x' or Microsoft.Dynamics.CRM.Last7Days(PropertyName='createdon'))",
    ):
        response = tenant.http.get(f"accounts?$filter={flt}")
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["message"] == (
            "Not operator along with the Custom Named Condition operators is not allowed"
        )
        assert error["code"] == "0x80040203"
    negated = tenant.http.get(
        "accounts?$select=name&$filter=Microsoft.Dynamics.CRM.NotEqualUserId(PropertyName='_ownerid_value')"
    )
    assert negated.json()["value"] == []


def test_user_and_business_unit_functions(tenant: Tenant) -> None:
    mine = tenant.http.get(
        "accounts?$select=name&$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='_ownerid_value')"
    )
    assert len(mine.json()["value"]) == len(ACCOUNTS)
    unit = tenant.http.get(
        "accounts?$select=name&$filter=Microsoft.Dynamics.CRM.EqualBusinessId(PropertyName='_owningbusinessunit_value')"
    )
    assert len(unit.json()["value"]) == len(ACCOUNTS)


@pytest.mark.parametrize(
    ("text", "status", "code"),
    [
        (
            "Microsoft.Dynamics.CRM.InFiscalYear(PropertyName='createdon',PropertyValue=2025)",
            501,
            "0x80040219",
        ),
        (
            "Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue='x')",
            501,
            "0x80040219",
        ),
        ("Microsoft.Dynamics.CRM.NoSuchThing(PropertyName='name')", 400, None),
        ("Microsoft.Dynamics.CRM.Today(PropertyName='createdon',PropertyValue=1)", 400, None),
        ("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon')", 400, None),
        ("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue='x')", 400, None),
        ("Microsoft.Dynamics.CRM.Today(PropertyName='name')", 400, None),
    ],
)
def test_query_function_errors(tenant: Tenant, text: str, status: int, code: str | None) -> None:
    response = tenant.http.get(f"accounts?$filter={quote(text)}")
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] not in ("", "0x0")
    if code:
        assert error["code"] == code
        assert "is not implemented by the emulator" in error["message"]


@pytest.mark.parametrize(
    ("operator", "feature"),
    [("under", "hierarchies"), ("in-fiscal-year", "fiscal"), ("contain-values", "choices")],
)
def test_a_documented_operator_the_emulator_lacks_is_501(
    tenant: Tenant, operator: str, feature: str
) -> None:
    response = tenant.fetch(
        accounts(f"<condition attribute='accountid' operator='{operator}' value='1'/>")
    )
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == "0x80040219"
    assert operator in error["message"]
    assert feature in error["message"]


def test_an_unknown_operator_is_the_documented_error(tenant: Tenant) -> None:
    response = tenant.fetch(
        accounts("<condition attribute='name' operator='sounds-like' value='x'/>")
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80041120"


def test_nested_filters_and_or(tenant: Tenant) -> None:
    condition = (
        "<filter type='or'><condition attribute='name' operator='eq' value='gamma'/>"
        "<filter type='and'><condition attribute='address1_city' operator='eq' value='redmond'/>"
        "<condition attribute='numberofemployees' operator='gt' value='15'/></filter></filter>"
    )
    assert tenant.names(accounts(condition)) == ["Delta_1", "gamma"]


# ---------------------------------------------------------------------------------------------
# Columns and rows


def test_only_chosen_columns_the_key_and_no_nulls(tenant: Tenant) -> None:
    xml = (
        "<fetch><entity name='account'><attribute name='name'/><attribute name='address1_city'/>"
        "<filter><condition attribute='name' operator='in'><value>gamma</value><value>Alpha</value>"
        "</condition></filter><order attribute='name'/></entity></fetch>"
    )
    rows = tenant.fetch(xml).json()["value"]
    assert [set(r) for r in rows] == [
        {"@odata.etag", "name", "address1_city", "accountid"},
        {"@odata.etag", "name", "accountid"},
    ]


def test_lookups_choices_and_annotations(tenant: Tenant) -> None:
    xml = (
        "<fetch><entity name='contact'><attribute name='fullname'/>"
        "<attribute name='parentcustomerid'/><attribute name='creditlimit'/>"
        "<filter><condition attribute='firstname' operator='eq' value='Ada'/></filter></entity>"
        "</fetch>"
    )
    plain = tenant.fetch(xml, "contacts").json()["value"][0]
    assert plain["_parentcustomerid_value"] == tenant.ids["Alpha"]
    assert plain["_transactioncurrencyid_value"]  # a money column brings its currency
    annotated = tenant.fetch(xml, "contacts", prefer=ALL).json()["value"][0]
    lookup = "_parentcustomerid_value"
    assert annotated[f"{lookup}@OData.Community.Display.V1.FormattedValue"] == "Alpha"
    assert annotated[f"{lookup}@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert "creditlimit@OData.Community.Display.V1.FormattedValue" in annotated


def test_all_attributes_and_no_attributes_return_every_column_with_a_value(tenant: Tenant) -> None:
    for inner in ("<all-attributes/>", ""):
        xml = (
            f"<fetch><entity name='account'>{inner}<filter>"
            "<condition attribute='name' operator='eq' value='gamma'/></filter></entity></fetch>"
        )
        response = tenant.fetch(xml)
        assert response.json()["@odata.context"].endswith("$metadata#accounts")
        row = response.json()["value"][0]
        assert row["name"] == "gamma"
        assert "address1_city" not in row
        assert "createdon" in row
        assert all(v is not None for v in row.values())


def test_aliased_columns(tenant: Tenant) -> None:
    xml = (
        "<fetch><entity name='account'><attribute name='name' alias='title'/>"
        "<filter><condition attribute='name' operator='eq' value='Alpha'/></filter></entity>"
        "</fetch>"
    )
    row = tenant.fetch(xml, prefer=ALL).json()["value"][0]
    assert row["title"] == "Alpha"
    assert row["title@OData.Community.Display.V1.AttributeName"] == "name"
    assert "name" not in row


def test_distinct_rows(tenant: Tenant) -> None:
    xml = (
        "<fetch distinct='true' useraworderby='1'><entity name='account'>"
        "<attribute name='industrycode'/>"
        "<filter><condition attribute='industrycode' operator='not-null'/></filter>"
        "<order attribute='industrycode'/></entity></fetch>"
    )
    rows = tenant.fetch(xml).json()["value"]
    assert rows == [{"industrycode": 1}, {"industrycode": 2}]


# ---------------------------------------------------------------------------------------------
# Link-entities


def test_inner_and_outer_joins(tenant: Tenant) -> None:
    def xml(link_type: str) -> str:
        return (
            "<fetch><entity name='contact'><attribute name='firstname'/>"
            "<filter><condition attribute='lastname' operator='ne' value='Dated'/></filter>"
            "<link-entity name='account' from='accountid' to='parentcustomerid'"
            f" link-type='{link_type}' alias='a'>"
            "<attribute name='name'/><attribute name='address1_city'/></link-entity>"
            "<order attribute='firstname'/></entity></fetch>"
        )

    inner = tenant.fetch(xml("inner"), "contacts").json()["value"]
    assert [(r["firstname"], r["a.name"]) for r in inner] == [
        ("Ada", "Alpha"),
        ("Bob", "Beta Corp"),
    ]
    assert inner[0]["a.address1_city"] == "Redmond"
    outer = tenant.fetch(xml("outer"), "contacts").json()["value"]
    assert [(r["firstname"], r.get("a.name")) for r in outer] == [
        ("Ada", "Alpha"),
        ("Bob", "Beta Corp"),
        ("Cy", None),
    ]


def test_one_to_many_link_with_its_own_filter_and_a_generated_alias(tenant: Tenant) -> None:
    xml = (
        "<fetch><entity name='account'><attribute name='name'/>"
        "<link-entity name='contact' from='parentcustomerid' to='accountid'>"
        "<attribute name='fullname'/><filter><condition attribute='jobtitle' operator='eq' "
        "value='Engineer'/></filter></link-entity></entity></fetch>"
    )
    rows = tenant.fetch(xml).json()["value"]
    assert [(r["name"], r["contact1.fullname"]) for r in rows] == [("Alpha", "Ada Lovelace")]


def test_accounts_with_no_contacts_by_an_outer_join_and_entityname(tenant: Tenant) -> None:
    """ "Find records not in a set" (Join tables using FetchXml)."""
    xml = (
        "<fetch><entity name='account'><attribute name='name'/><order attribute='name'/>"
        "<link-entity name='contact' from='parentcustomerid' to='accountid' link-type='outer'"
        " alias='contact'/>"
        "<filter type='and'>"
        "<condition entityname='contact' attribute='parentcustomerid' operator='null'/>"
        "</filter></entity></fetch>"
    )
    assert tenant.names(xml) == ["100% Pure", "Delta_1", "gamma"]


def test_nested_link_entities_and_link_orders_apply_after_the_entitys(tenant: Tenant) -> None:
    xml = (
        "<fetch><entity name='contact'><attribute name='firstname'/>"
        "<link-entity name='account' from='accountid' to='parentcustomerid' alias='a'>"
        "<attribute name='name'/><order attribute='name' descending='true'/>"
        "<link-entity name='contact' from='contactid' to='primarycontactid' alias='p'>"
        "<attribute name='firstname'/></link-entity></link-entity>"
        "<order attribute='lastname'/></entity></fetch>"
    )
    rows = tenant.fetch(xml, "contacts").json()["value"]
    assert [(r["firstname"], r["a.name"], r["p.firstname"]) for r in rows] == [
        ("Ada", "Alpha", "Ada")
    ]


def test_ordering_by_a_lookup_uses_the_name_and_by_a_choice_its_label(tenant: Tenant) -> None:
    by_lookup = (
        "<fetch><entity name='contact'><attribute name='firstname'/>"
        "<filter><condition attribute='parentcustomerid' operator='not-null'/></filter>"
        "<order attribute='parentcustomerid' descending='true'/></entity></fetch>"
    )
    assert tenant.names(by_lookup, "contacts", "firstname") == ["Bob", "Ada"]  # Beta Corp, Alpha
    # customertypecode: 1 Competitor (Beta Corp), 8 Prospect (Delta_1), 12 Other (Alpha)
    label = accounts(
        "<condition attribute='customertypecode' operator='not-null'/>", order="customertypecode"
    )
    assert tenant.names(label) == ["Beta Corp", "Alpha", "Delta_1"]
    raw = label.replace("<fetch>", "<fetch useraworderby='true'>")
    assert tenant.names(raw) == ["Beta Corp", "Delta_1", "Alpha"]


# ---------------------------------------------------------------------------------------------
# Aggregates


def test_aggregate_functions(tenant: Tenant) -> None:
    xml = (
        "<fetch aggregate='true'><entity name='account'>"
        "<attribute name='numberofemployees' alias='Average' aggregate='avg'/>"
        "<attribute name='numberofemployees' alias='Count' aggregate='count'/>"
        "<attribute name='numberofemployees' alias='ColumnCount' aggregate='countcolumn'/>"
        "<attribute name='address1_city' alias='Cities' aggregate='countcolumn' distinct='true'/>"
        "<attribute name='numberofemployees' alias='Maximum' aggregate='max'/>"
        "<attribute name='numberofemployees' alias='Minimum' aggregate='min'/>"
        "<attribute name='numberofemployees' alias='Sum' aggregate='sum'/>"
        "</entity></fetch>"
    )
    response = tenant.fetch(xml)
    assert response.status_code == 200, response.text
    assert response.json()["value"] == [
        {
            "Average": 18,
            "Count": 5,
            "ColumnCount": 4,
            "Cities": 3,
            "Maximum": 40,
            "Minimum": 5,
            "Sum": 75,
        }
    ]


def test_group_by_with_an_order_on_the_alias(tenant: Tenant) -> None:
    xml = (
        "<fetch aggregate='true'><entity name='account'>"
        "<attribute name='numberofemployees' alias='Total' aggregate='sum'/>"
        "<attribute name='address1_city' alias='Count' aggregate='count'/>"
        "<attribute name='address1_city' alias='City' groupby='true'/>"
        "<order alias='City' descending='true'/></entity></fetch>"
    )
    rows = tenant.fetch(xml, prefer=ALL).json()["value"]
    assert [((r.get("City") or "").casefold(), r["Total"], r["Count"]) for r in rows] == [
        ("seattle", 20, 1),
        ("redmond", 50, 2),
        ("bellevue", 5, 1),
        ("", 0, 1),
    ]
    assert rows[0]["Total@OData.Community.Display.V1.FormattedValue"] == "20"


def test_group_by_a_lookup_and_a_linked_column(tenant: Tenant) -> None:
    xml = (
        "<fetch aggregate='true'><entity name='contact'>"
        "<attribute name='contactid' alias='People' aggregate='count'/>"
        "<link-entity name='account' from='accountid' to='parentcustomerid' alias='a'>"
        "<attribute name='address1_city' alias='City' groupby='true'/></link-entity>"
        "</entity></fetch>"
    )
    assert tenant.fetch(xml, "contacts").json()["value"] == [
        {"People": 1, "City": "Redmond"},
        {"People": 1, "City": "Seattle"},
    ]


@pytest.mark.parametrize(
    ("grouping", "expected"),
    [
        ("year", [2020, 2025, 2026, 2027]),
        ("quarter", [1, 2, 4]),
        ("month", [1, 2, 3, 6, 12]),
        ("week", [1, 2, 7, 10, 25, 49, 52, 53]),
        ("day", [1, 2, 3, 5, 6, 10, 15, 24, 31]),
    ],
)
def test_date_grouping(tenant: Tenant, grouping: str, expected: list[int]) -> None:
    xml = (
        "<fetch aggregate='true'><entity name='contact'>"
        "<attribute name='contactid' alias='n' aggregate='count'/>"
        f"<attribute name='createdon' alias='part' groupby='true' dategrouping='{grouping}'/>"
        "<filter><condition attribute='lastname' operator='eq' value='Dated'/></filter>"
        "<order alias='part'/></entity></fetch>"
    )
    rows = tenant.fetch(xml, "contacts").json()["value"]
    assert [r["part"] for r in rows] == expected
    assert sum(r["n"] for r in rows) == len(CREATED)


def test_week_grouping_counts_from_sunday_like_sql_server(tenant: Tenant) -> None:
    """The aggregate article's example: 2023-03-25 in week 12, 2023-08-27 in week 35."""
    assert _week(datetime(2023, 3, 25).date()) == 12
    assert _week(datetime(2023, 8, 27).date()) == 35


def test_the_aggregate_limit(tenant: Tenant) -> None:
    xml = (
        "<fetch aggregate='true' aggregatelimit='4'><entity name='account'>"
        "<attribute name='accountid' alias='n' aggregate='count'/></entity></fetch>"
    )
    response = tenant.fetch(xml)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x8004E023",
        "message": "AggregateQueryRecordLimit exceeded. Cannot perform this operation.",
    }
    assert tenant.fetch(xml.replace("'4'", "'5'")).json()["value"] == [{"n": 5}]
    over = tenant.fetch(xml.replace("'4'", "'50001'"))
    assert over.status_code == 400


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        (
            "<fetch aggregate='true'><entity name='account'><attribute name='name'/></entity>"
            "</fetch>",
            "0x80041107",
        ),
        (
            "<fetch aggregate='true'><entity name='account'>"
            "<attribute name='name' aggregate='count'/></entity></fetch>",
            "0x80041109",
        ),
        (
            "<fetch aggregate='true'><entity name='account'>"
            "<attribute name='name' alias='n' aggregate='sum'/></entity></fetch>",
            "0x8004112f",
        ),
        (
            "<fetch aggregate='true'><entity name='account'>"
            "<attribute name='name' alias='n' aggregate='count' groupby='true'/></entity></fetch>",
            "0x80041137",
        ),
        (
            "<fetch aggregate='true'><entity name='account'>"
            "<attribute name='name' alias='n' aggregate='median'/></entity></fetch>",
            "0x8004111a",
        ),
        (
            "<fetch><entity name='account'><attribute name='name' alias='n' aggregate='count'/>"
            "</entity></fetch>",
            "0x8004111a",
        ),
        (
            "<fetch aggregate='true'><entity name='account'>"
            "<attribute name='name' alias='n' groupby='true'/><order attribute='name'/></entity>"
            "</fetch>",
            "0x80041131",
        ),
        (
            "<fetch aggregate='true'><entity name='account'>"
            "<attribute name='name' alias='n' groupby='true' dategrouping='day'/></entity></fetch>",
            "0x80041135",
        ),
        (
            "<fetch><entity name='account'><attribute name='name'/><order alias='name'/></entity>"
            "</fetch>",
            "0x80041132",
        ),
    ],
)
def test_aggregate_errors(tenant: Tenant, xml: str, code: str) -> None:
    response = tenant.fetch(xml)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


# ---------------------------------------------------------------------------------------------
# Paging and counts


def _next_fetch(xml: str, body: dict[str, Any], page: int) -> str:
    """What Microsoft's Python SDK (and Page results using FetchXml) does with the cookie:
    decode the pagingcookie twice, set it as paging-cookie, set page to pagenumber."""
    cookie = ET.fromstring(body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"])
    assert cookie.get("pagenumber") == str(page + 1)
    fetch = ET.fromstring(xml)
    fetch.set("paging-cookie", unquote(unquote(cookie.get("pagingcookie", ""))))
    fetch.set("page", cookie.get("pagenumber", ""))
    return ET.tostring(fetch, encoding="unicode")


@pytest.fixture
def many(api: httpx.Client) -> list[str]:
    names = [f"Row {i:02}" for i in range(11)]
    for name in names:
        assert api.post("accounts", json={"name": name}).status_code == 204
    return names


@pytest.mark.parametrize("descending", [False, True])
def test_paging_with_the_cookie_through_several_pages(
    api: httpx.Client, many: list[str], descending: bool
) -> None:
    prefer = (
        'odata.include-annotations="Microsoft.Dynamics.CRM.fetchxmlpagingcookie,'
        'Microsoft.Dynamics.CRM.morerecords"'
    )
    xml = (
        f"<fetch count='4' page='1'><entity name='account'><attribute name='name'/>"
        f"<order attribute='name' descending='{str(descending).lower()}'/></entity></fetch>"
    )
    seen: list[str] = []
    for page in range(1, 10):
        response = api.get(f"accounts?fetchXml={quote(xml)}", headers={"Prefer": prefer})
        assert response.status_code == 200, response.text
        assert response.headers["Preference-Applied"] == prefer
        body = response.json()
        seen += [r["name"] for r in body["value"]]
        if "@Microsoft.Dynamics.CRM.morerecords" not in body:
            assert "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie" not in body
            break
        assert body["@Microsoft.Dynamics.CRM.morerecords"] is True
        inner = unquote(
            unquote(
                ET.fromstring(body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]).get(
                    "pagingcookie", ""
                )
            )
        )
        assert ET.fromstring(inner).get("page") == str(page)
        if page == 1:  # a row added before the cookie's last row does not shift the next page
            assert (
                api.post(
                    "accounts", json={"name": "Row 00a" if not descending else "Row 99"}
                ).status_code
                == 204
            )
        xml = _next_fetch(xml, body, page)
    assert page == 3
    assert seen == sorted(many, reverse=descending)


def test_the_cookie_is_checked(api: httpx.Client, many: list[str]) -> None:
    xml = (
        "<fetch count='2' page='2' paging-cookie='{}'><entity name='account'>"
        "<attribute name='name'/><order attribute='name'/></entity></fetch>"
    )
    wrong_order = xml.format(
        "&lt;cookie page=&quot;1&quot;&gt;&lt;accountnumber last=&quot;x&quot; /&gt;&lt;accountid"
        " last=&quot;{00000000-0000-0000-0000-000000000000}&quot; /&gt;&lt;/cookie&gt;"
    )
    response = api.get(f"accounts?fetchXml={quote(wrong_order)}")
    assert response.json()["error"]["code"] == "0x80041129"
    no_page = xml.format("&lt;cookie&gt;&lt;accountid last=&quot;x&quot; /&gt;&lt;/cookie&gt;")
    assert api.get(f"accounts?fetchXml={quote(no_page)}").json()["error"]["code"] == "0x8004112a"


def test_simple_paging_and_no_cookie_without_the_annotation(
    api: httpx.Client, many: list[str]
) -> None:
    xml = (
        "<fetch count='5' page='3'><entity name='account'><attribute name='name'/>"
        "<order attribute='name'/></entity></fetch>"
    )
    body = api.get(f"accounts?fetchXml={quote(xml)}").json()
    assert [r["name"] for r in body["value"]] == ["Row 10"]
    assert set(body) == {"@odata.context", "value"}
    first_page = quote(xml.replace("page='3'", "page='1'"))
    first = api.get(f"accounts?fetchXml={first_page}").json()
    assert set(first) == {"@odata.context", "value"}  # more rows, but no annotation asked for


def test_a_page_without_count_holds_up_to_5000(api: httpx.Client, many: list[str]) -> None:
    xml = "<fetch page='1'><entity name='account'><attribute name='name'/></entity></fetch>"
    assert len(api.get(f"accounts?fetchXml={quote(xml)}").json()["value"]) == len(many)


def test_no_cookie_when_ordered_by_a_link_entity(api: httpx.Client, many: list[str]) -> None:
    xml = (
        "<fetch count='2'><entity name='account'><attribute name='name'/>"
        "<link-entity name='systemuser' from='systemuserid' to='ownerid' alias='o'>"
        "<order attribute='fullname'/></link-entity></entity></fetch>"
    )
    body = api.get(f"accounts?fetchXml={quote(xml)}", headers={"Prefer": ALL}).json()
    assert body["@Microsoft.Dynamics.CRM.morerecords"] is True
    assert "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie" not in body


def test_top(api: httpx.Client, many: list[str]) -> None:
    xml = (
        "<fetch top='3'><entity name='account'><attribute name='name'/>"
        "<order attribute='name' descending='true'/></entity></fetch>"
    )
    body = api.get(f"accounts?fetchXml={quote(xml)}", headers={"Prefer": ALL}).json()
    assert [r["name"] for r in body["value"]] == ["Row 10", "Row 09", "Row 08"]
    assert "@Microsoft.Dynamics.CRM.morerecords" not in body


@pytest.mark.parametrize("how", ["returntotalrecordcount", "$count"])
def test_counts(api: httpx.Client, many: list[str], how: str) -> None:
    if how == "$count":
        xml, extra = (
            "<fetch count='2'><entity name='account'><attribute name='name'/></entity></fetch>",
            "&$count=true",
        )
    else:
        xml, extra = (
            "<fetch count='2' returntotalrecordcount='true'><entity name='account'>"
            "<attribute name='name'/></entity></fetch>",
            "",
        )
    body = api.get(f"accounts?fetchXml={quote(xml)}{extra}", headers={"Prefer": ALL}).json()
    assert body["@odata.count"] == len(many)
    assert body["@Microsoft.Dynamics.CRM.totalrecordcount"] == len(many)
    assert body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is False
    assert len(body["value"]) == 2


def test_counts_stop_at_5000(tenant: Tenant) -> None:
    """ "The total number of records up to 5,000" (Count rows using FetchXml)."""
    ctx = make_ctx(httpx.Request("GET", BASE + "accounts", headers={"Prefer": ALL}))
    entity = tenant.em.schema.entity("account")
    assert entity is not None
    text = "<fetch returntotalrecordcount='true'><entity name='account'/></fetch>"
    bound = plan(tenant.em, ctx, entity, parse_fetch(text))
    body = _annotations(ctx, bound, 5001, counted=True)
    assert body["@odata.count"] == COUNT_LIMIT == 5000
    assert body["@Microsoft.Dynamics.CRM.totalrecordcount"] == 5000
    assert body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is True
    assert (
        _annotations(ctx, bound, 5000, counted=False)["@Microsoft.Dynamics.CRM.totalrecordcount"]
        == -1
    )


# ---------------------------------------------------------------------------------------------
# Errors and refusals


@pytest.mark.parametrize(
    ("xml", "status", "code"),
    [
        ("<fetch><entity name='account'><attribute name='name'/></entity>", 400, "0x80040201"),
        ("", 400, "0x80041124"),
        (
            "<!DOCTYPE x [<!ENTITY a 'b'>]><fetch><entity name='account'/></fetch>",
            400,
            "0x80040201",
        ),
        ("<fetch><entity name='nosuchtable'/></fetch>", 400, "0x80041102"),
        ("<fetch><entity name='contact'/></fetch>", 400, "0x80041128"),
        (
            "<fetch><entity name='account'><attribute name='nosuch'/></entity></fetch>",
            400,
            "0x80041103",
        ),
        (
            "<fetch><entity name='account'><order attribute='nosuch'/></entity></fetch>",
            400,
            "0x80041103",
        ),
        (
            "<fetch><entity name='account'><filter><condition attribute='nosuch' operator='null'/>"
            "</filter></entity></fetch>",
            400,
            "0x80041103",
        ),
        (
            "<fetch><entity name='account'>"
            "<link-entity name='contact' from='nosuch' to='accountid'/></entity></fetch>",
            400,
            "0x80041103",
        ),
        (
            "<fetch><entity name='account'><link-entity name='nosuch' from='x' to='accountid'/>"
            "</entity></fetch>",
            400,
            "0x80041102",
        ),
        ("<fetch top='2' page='1'><entity name='account'/></fetch>", 400, "0x80040203"),
        ("<fetch top='2' count='1'><entity name='account'/></fetch>", 400, "0x80040203"),
        (
            "<fetch top='2' returntotalrecordcount='true'><entity name='account'/></fetch>",
            400,
            "0x80040203",
        ),
        ("<fetch top='5001'><entity name='account'/></fetch>", 400, "0x80040203"),
        ("<fetch count='0'><entity name='account'/></fetch>", 400, "0x8004110c"),
        ("<fetch page='x'><entity name='account'/></fetch>", 400, "0x8004110c"),
        ("<fetch distinct='maybe'><entity name='account'/></fetch>", 400, "0x80041115"),
        ("<fetch mapping='other'><entity name='account'/></fetch>", 400, "0x80041116"),
        ("<fetch utc-offset='60'><entity name='account'/></fetch>", 400, "0x8004111d"),
        ("<fetch><entity name='account'><filter type='xor'/></entity></fetch>", 400, "0x80041122"),
        (
            "<fetch><entity name='account'>"
            "<link-entity name='contact' from='parentcustomerid' to='accountid'"
            " link-type='sideways'/>"
            "</entity></fetch>",
            400,
            "0x80041117",
        ),
        ("<fetch><entity name='account'><bogus/></entity></fetch>", 400, "0x8004111c"),
        ("<fetch color='red'><entity name='account'/></fetch>", 400, "0x8004111c"),
        ("<query><entity name='account'/></query>", 400, "0x8004111c"),
        ("<fetch/>", 400, "0x80041123"),
        (
            "<fetch><entity name='account'><filter><condition operator='null'/></filter></entity>"
            "</fetch>",
            400,
            "0x8004111e",
        ),
        (
            "<fetch><entity name='account'><filter>"
            "<condition attribute='numberofemployees' operator='eq' value='many'/></filter>"
            "</entity></fetch>",
            400,
            "0x80040203",
        ),
        (
            "<fetch><entity name='account'><filter>"
            "<condition attribute='name' operator='between' value='a'/></filter></entity></fetch>",
            400,
            "0x80041106",
        ),
        (
            "<fetch><entity name='account'><filter><condition attribute='name' operator='in'/>"
            "</filter></entity></fetch>",
            400,
            "0x80041106",
        ),
        (
            "<fetch><entity name='account'><filter>"
            "<condition attribute='name' operator='null' value='x'/></filter></entity></fetch>",
            400,
            "0x80041106",
        ),
        (
            "<fetch><entity name='account'><filter>"
            "<condition attribute='createdon' operator='last-x-days' value='-1'/></filter>"
            "</entity></fetch>",
            400,
            "0x80041106",
        ),
        (
            "<fetch><entity name='account'><filter><condition attribute='name' operator='today'/>"
            "</filter></entity></fetch>",
            400,
            "0x80041120",
        ),
        (
            "<fetch><entity name='account'><filter>"
            "<condition attribute='numberofemployees' operator='like' value='1%'/></filter>"
            "</entity></fetch>",
            400,
            "0x80041120",
        ),
        (
            "<fetch><entity name='account'><filter>"
            "<condition entityname='nobody' attribute='name' operator='null'/></filter></entity>"
            "</fetch>",
            400,
            "0x8004110a",
        ),
        (
            "<fetch><entity name='account'>"
            "<link-entity name='contact' from='parentcustomerid' to='accountid' alias='a'/>"
            "<link-entity name='contact' from='parentcustomerid' to='accountid' alias='a'/>"
            "</entity></fetch>",
            400,
            "0x80041130",
        ),
        ("<fetch datasource='retained'><entity name='account'/></fetch>", 501, "0x80040219"),
        ("<fetch options='HashJoin'><entity name='account'/></fetch>", 501, "0x80040219"),
        ("<fetch latematerialize='true'><entity name='account'/></fetch>", 501, "0x80040219"),
        (
            "<fetch><entity name='account'>"
            "<attribute name='accountid' alias='c' rowaggregate='CountChildren'/></entity></fetch>",
            501,
            "0x80040219",
        ),
        (
            "<fetch><entity name='account'>"
            "<link-entity name='contact' from='parentcustomerid' to='accountid'"
            " link-type='exists'/>"
            "</entity></fetch>",
            501,
            "0x80040219",
        ),
        (
            "<fetch><entity name='account'><link-entity name='team'/></entity></fetch>",
            501,
            "0x80040219",
        ),
        (
            "<fetch><entity name='account'><filter>"
            "<link-entity name='contact' from='parentcustomerid' to='accountid' link-type='any'/>"
            "</filter></entity></fetch>",
            501,
            "0x80040219",
        ),
        (
            "<fetch><entity name='account'><filter>"
            "<condition attribute='name' operator='eq' valueof='accountnumber'/></filter></entity>"
            "</fetch>",
            501,
            "0x80040219",
        ),
        (
            "<fetch><entity name='account'><filter hint='union'/></entity></fetch>",
            501,
            "0x80040219",
        ),
        (
            "<fetch aggregate='true'><entity name='account'>"
            "<attribute name='createdon' alias='p' groupby='true' dategrouping='fiscal-year'/>"
            "</entity></fetch>",
            501,
            "0x80040219",
        ),
    ],
)
def test_errors_and_refusals(tenant: Tenant, xml: str, status: int, code: str) -> None:
    response = tenant.fetch(xml)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    if status == 501:
        assert "is not implemented by the emulator" in error["message"]


def test_too_many_link_entities_and_conditions(tenant: Tenant) -> None:
    links = "".join(
        f"<link-entity name='contact' from='parentcustomerid' to='accountid' alias='c{i}'/>"
        for i in range(16)
    )
    response = tenant.fetch(f"<fetch><entity name='account'>{links}</entity></fetch>")
    assert response.json()["error"] == {
        "code": "0x8004430D",
        "message": "Number of link entities in query exceeded maximum limit.",
    }
    conditions = "<condition attribute='name' operator='not-null'/>" * 501
    many = tenant.fetch(
        f"<fetch><entity name='account'><filter>{conditions}</filter></entity></fetch>"
    )
    assert many.json()["error"]["code"] == "0x8004430C"


def test_hints_without_a_visible_effect_are_accepted(tenant: Tenant) -> None:
    xml = (
        "<fetch no-lock='true' version='1.0' output-format='xml-platform' mapping='logical'>"
        "<entity name='account'><attribute name='name'/><filter><condition attribute='ownerid' "
        f"operator='eq' uiname='crm-ferry' uitype='systemuser' "
        f"value='{{{seed.DEFAULT_APP_USER_ID.upper()}}}'/>"
        "</filter></entity></fetch>"
    )
    assert len(tenant.names(xml)) == len(ACCOUNTS)


@pytest.mark.parametrize(
    "request_line",
    [
        ("POST", "accounts"),
        ("GET", "accounts({id})"),
        ("GET", "accounts/$count"),
        ("GET", "WhoAmI"),
    ],
)
def test_fetchxml_is_refused_anywhere_but_get_on_a_set(
    tenant: Tenant, request_line: tuple[str, str]
) -> None:
    method, path = request_line
    xml = quote("<fetch><entity name='account'/></fetch>")
    url = path.format(id=tenant.ids["Alpha"]) + f"?fetchXml={xml}"
    response = tenant.http.request(method, url, json={"name": "x"} if method == "POST" else None)
    assert response.status_code == 501, response.text
    assert "FetchXML (fetchXml)" in response.json()["error"]["message"]


@pytest.mark.parametrize("option", ["$select=name", "$filter=name eq 'x'", "$top=1", "@p1=1"])
def test_fetchxml_with_another_option_is_refused(tenant: Tenant, option: str) -> None:
    xml = quote("<fetch><entity name='account'/></fetch>")
    response = tenant.http.get(f"accounts?fetchXml={xml}&{option}")
    assert response.status_code == 501
    assert "together with fetchXml" in response.json()["error"]["message"]


def test_maxpagesize_beside_fetchxml_is_refused(tenant: Tenant) -> None:
    xml = "<fetch count='2'><entity name='account'/></fetch>"
    response = tenant.fetch(xml, prefer="odata.maxpagesize=1")
    assert response.status_code == 501
    assert "odata.maxpagesize" in response.json()["error"]["message"]


def test_fetchxml_in_a_batch(tenant: Tenant) -> None:
    xml = quote(
        "<fetch><entity name='account'><attribute name='name'/><filter>"
        "<condition attribute='name' operator='eq' value='Alpha'/></filter></entity></fetch>"
    )
    request = batch_request(
        "GET", f"{BASE}accounts?fetchXml={xml}", headers={"Accept": "application/json"}
    )
    content_type, body = batch_body(request, boundary="batch_AAA123")
    response = tenant.http.post("$batch", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    assert '"name": "Alpha"' in response.text
