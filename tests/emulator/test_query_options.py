"""Parameter aliases in ``$filter`` and ``$orderby``, ``$orderby`` on lookups and choices,
counts (``$count=true``, ``/$count``, the total record count annotations), the 500-condition
limit and ``Preference-Applied``.

Sources (Microsoft Learn, Dataverse Web API):
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/overview
(parameter aliases), .../webapi/query/order-rows, .../webapi/query/count-rows,
.../webapi/query/filter-rows ("Condition limits").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crm_ferry.emulator.core import CoreConfig, Emulator
from crm_ferry.emulator.odata import ODataError, parse_filter, parse_query
from crm_ferry.emulator.odata.syntax import Compare, Literal, Property
from helpers.webapi import created_id

BASE = "https://options.emulator.test/api/data/v9.2/"


@pytest.fixture
def tenant() -> Iterator[tuple[Emulator, httpx.Client]]:
    em = Emulator(CoreConfig(count_limit=3))
    with httpx.Client(transport=httpx.MockTransport(em.handle), base_url=BASE) as http:
        yield em, http
    em.close()


@pytest.fixture
def http(tenant: tuple[Emulator, httpx.Client]) -> httpx.Client:
    return tenant[1]


@pytest.fixture
def accounts(http: httpx.Client) -> dict[str, str]:
    """Four accounts; three name a primary contact (Zed, Amy, Amy), one none."""
    zed = created_id(http.post("contacts", json={"firstname": "Zed", "lastname": "Young"}))
    amy = created_id(http.post("contacts", json={"firstname": "Amy", "lastname": "Adams"}))
    ids = {"zed": zed, "amy": amy}
    for name, contact, revenue, category in (
        ("Alpha", zed, 300, 2),
        ("Bravo", amy, 100, 1),
        ("Charlie", None, None, None),
        ("Delta", amy, 200, 2),
    ):
        body: dict[str, Any] = {"name": name}
        if contact:
            body["primarycontactid@odata.bind"] = f"/contacts({contact})"
        if revenue is not None:
            body["revenue"] = revenue
        if category is not None:
            body["accountcategorycode"] = category
        ids[name] = created_id(http.post("accounts", json=body))
    return ids


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["name"] for row in response.json()["value"]]


# -- parameter aliases ---------------------------------------------------------------------


def test_an_alias_may_stand_for_a_property_or_a_value() -> None:
    aliases = {"@p1": "revenue", "@p2": "'Contoso'", "@p3": "primarycontactid/fullname"}
    assert parse_filter("@p1 ne @p9", aliases) == Compare(
        "ne", Property(("revenue",)), Literal(None)
    )
    assert parse_filter("name eq @p2", aliases) == Compare(
        "eq", Property(("name",)), Literal("Contoso")
    )
    assert parse_filter("@p3 eq 'x'", aliases).left == Property(("primarycontactid", "fullname"))
    assert parse_query(
        {"$orderby": "@p1 asc,@p2 desc", "@p1": "revenue", "@p2": "name"}
    ).orderby == [
        ("revenue", False),
        ("name", True),
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"$orderby": "@o"}, "The parameter alias '@o' in $orderby at position 0"),
        ({"$orderby": "@o", "@o": "name desc"}, "')' or operator expected at position 5"),
        ({"$orderby": "@o", "@o": "'name'"}, "An identifier was expected"),
        ({"$filter": "name eq @a", "@a": "@b", "@b": "'x'"}, "can't use another parameter"),
        (
            {"$expand": "contact_customer_accounts($filter=name eq @p)", "@p": "'x'"},
            "not inside the $expand option",
        ),
        ({"$expand": "contact_customer_accounts($orderby=@p)", "@p": "name"}, "not inside"),
    ],
)
def test_aliases_where_the_docs_do_not_allow_them(params: dict[str, str], message: str) -> None:
    with pytest.raises(ODataError) as info:
        parse_query(params)
    assert info.value.status == 400
    assert message in info.value.message


def test_the_documented_alias_example_answers_like_the_plain_query(
    http: httpx.Client, accounts: dict[str, str]
) -> None:
    plain = http.get(
        "accounts",
        params={
            "$select": "name,revenue",
            "$orderby": "revenue asc,name desc",
            "$filter": "revenue ne null",
        },
    )
    aliased = http.get(
        "accounts",
        params={
            "$select": "name,revenue",
            "$orderby": "@p1 asc,@p2 desc",
            "$filter": "@p1 ne @p3",
            "@p1": "revenue",
            "@p2": "name",
        },
    )
    assert names(aliased) == names(plain) == ["Bravo", "Delta", "Alpha"]
    missing = http.get("accounts", params={"$orderby": "@nope"})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] not in ("", "0x0")


# -- ordering -----------------------------------------------------------------------------


def test_lookups_sort_by_the_related_rows_primary_name(
    http: httpx.Client, accounts: dict[str, str]
) -> None:
    # Amy Adams < Zed Young, although the GUIDs may sort either way; no contact comes first
    asc = http.get("accounts", params={"$orderby": "_primarycontactid_value,name"})
    assert names(asc) == ["Charlie", "Bravo", "Delta", "Alpha"]
    desc = http.get("accounts", params={"$orderby": "_primarycontactid_value desc,name"})
    assert names(desc) == ["Alpha", "Bravo", "Delta", "Charlie"]
    renamed = http.patch(
        f"contacts({accounts['zed']})", json={"firstname": "Aaron", "lastname": "A"}
    )
    assert renamed.status_code == 204
    again = http.get("accounts", params={"$orderby": "_primarycontactid_value,name"})
    assert names(again) == ["Charlie", "Alpha", "Bravo", "Delta"]


def test_choices_sort_by_their_number_not_their_label(
    http: httpx.Client, accounts: dict[str, str]
) -> None:
    # 1 "Preferred Customer" < 2 "Standard" either way; descending puts 2 first
    r = http.get("accounts", params={"$orderby": "accountcategorycode desc,name"})
    assert names(r) == ["Alpha", "Delta", "Bravo", "Charlie"]


# -- counts --------------------------------------------------------------------------------

TOTALS = {
    "Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,'
    'Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"'
}


def test_count_is_capped_and_the_annotations_say_so(
    http: httpx.Client, accounts: dict[str, str]
) -> None:
    # this tenant's cap is 3 (CoreConfig.count_limit; Dataverse's is 5,000)
    over = http.get("accounts", params={"$count": "true", "$select": "name"}, headers=TOTALS).json()
    assert over["@odata.count"] == 3
    assert over["@Microsoft.Dynamics.CRM.totalrecordcount"] == 3
    assert over["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is True
    assert len(over["value"]) == 4  # the count is capped, the rows are not
    under = http.get(
        "accounts", params={"$count": "true", "$filter": "revenue gt 150"}, headers=TOTALS
    ).json()
    assert (under["@odata.count"], under["@Microsoft.Dynamics.CRM.totalrecordcount"]) == (2, 2)
    assert under["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is False
    without = http.get("accounts", headers=TOTALS).json()
    assert "@odata.count" not in without
    assert without["@Microsoft.Dynamics.CRM.totalrecordcount"] == -1
    assert without["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is False
    unasked = http.get("accounts", params={"$count": "true"}).json()
    assert [k for k in unasked if k.startswith("@Microsoft")] == []


def test_the_count_of_a_collection_takes_a_filter_only(
    http: httpx.Client, accounts: dict[str, str]
) -> None:
    all_rows = http.get("accounts/$count")
    assert all_rows.status_code == 200
    assert all_rows.headers["Content-Type"] == "text/plain"
    assert all_rows.text == "3"  # capped like @odata.count
    assert http.get("accounts/$count", params={"$filter": "revenue lt 250"}).text == "2"
    refused = http.get("accounts/$count", params={"$orderby": "name"})
    assert refused.status_code == 501
    assert "$orderby on a /$count request" in refused.json()["error"]["message"]


def test_preference_applied_echoes_what_was_applied(
    http: httpx.Client, accounts: dict[str, str]
) -> None:
    both = http.get(
        "accounts",
        params={"$select": "name"},
        headers={"Prefer": 'odata.maxpagesize=2, odata.include-annotations="*"'},
    )
    assert (
        both.headers["Preference-Applied"] == 'odata.maxpagesize=2, odata.include-annotations="*"'
    )
    created = http.post(
        "accounts",
        json={"name": "Echo"},
        headers={"Prefer": 'return=representation, odata.include-annotations="*"'},
    )
    assert created.status_code == 201
    assert (
        created.headers["Preference-Applied"]
        == 'return=representation, odata.include-annotations="*"'
    )
    assert created.json()["statecode@OData.Community.Display.V1.FormattedValue"] == "Active"
    one = http.get(
        f"accounts({accounts['Alpha']})", headers={"Prefer": 'odata.include-annotations="*"'}
    )
    assert one.headers["Preference-Applied"] == 'odata.include-annotations="*"'
    silent = http.post(
        "accounts", json={"name": "Quiet"}, headers={"Prefer": 'odata.include-annotations="*"'}
    )
    assert silent.status_code == 204
    assert "Preference-Applied" not in silent.headers  # nothing came back to annotate
    assert "Preference-Applied" not in http.get("accounts").headers


# -- condition limit -----------------------------------------------------------------------


def test_more_than_500_conditions_are_refused(http: httpx.Client, accounts: dict[str, str]) -> None:
    at_limit = " or ".join(f"name eq 'n{i}'" for i in range(500))
    assert http.get("accounts", params={"$filter": at_limit}).status_code == 200
    over = http.get("accounts", params={"$filter": at_limit + " or name eq 'Alpha'"})
    assert over.status_code == 400
    assert over.json()["error"] == {
        "code": "0x8004430C",
        "message": "Number of conditions in query exceeded maximum limit.",
    }
    ids = ",".join(f"'{i}'" for i in range(600))  # one In is one condition
    listed = f"Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[{ids}])"
    assert http.get("accounts", params={"$filter": listed}).status_code == 200
