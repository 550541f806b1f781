"""Collections: $filter, $select, $orderby, $top, $count, $expand and paging."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from helpers.webapi import pages

QUERY = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-data-web-api"
FILTER = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows"
SELECT = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns"
)
ORDER = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/order-rows"
PAGE = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results"
COUNT = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows"
JOIN = "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables"


def _id(response: httpx.Response) -> str:
    url = response.headers["OData-EntityId"]
    return url[url.rindex("(") + 1 : -1]


@pytest.fixture
def people(api: httpx.Client) -> dict[str, str]:
    acme = _id(api.post("accounts", json={"name": "Acme", "industrycode": 7}))
    globex = _id(api.post("accounts", json={"name": "Globex", "industrycode": 16}))
    ids = {"acme": acme, "globex": globex}
    rows = [
        ("Ada", "Lovelace", acme, "ada@example.com"),
        ("Alan", "Turing", acme, "alan@example.com"),
        ("Grace", "Hopper", globex, None),
        ("Edsger", "Dijkstra", None, "ewd@example.com"),
    ]
    for first, last, parent, email in rows:
        body: dict[str, object] = {"firstname": first, "lastname": last}
        if parent:
            body["parentcustomerid_account@odata.bind"] = f"/accounts({parent})"
        if email:
            body["emailaddress1"] = email
        ids[last] = _id(api.post("contacts", json=body))
    return ids


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["lastname"] for row in response.json()["value"]]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("lastname eq 'Turing'", ["Turing"]),
        ("lastname eq 'turing'", ["Turing"]),  # string comparisons are case-insensitive
        ("startswith(firstname,'A')", ["Lovelace", "Turing"]),
        ("contains(lastname,'op')", ["Hopper"]),
        ("endswith(emailaddress1,'example.com') and firstname ne 'Ada'", ["Dijkstra", "Turing"]),
        ("emailaddress1 eq null", ["Hopper"]),
        ("firstname eq 'Ada' or lastname eq 'Hopper'", ["Hopper", "Lovelace"]),
        ("not startswith(lastname,'L')", ["Dijkstra", "Hopper", "Turing"]),
        ("parentcustomerid_account/name eq 'Globex'", ["Hopper"]),
        ("parentcustomerid_account/industrycode eq 7", ["Lovelace", "Turing"]),
    ],
)
def test_filter_forms(
    api: httpx.Client, people: dict[str, str], expr: str, expected: list[str]
) -> None:
    # FILTER: comparison, logical and string operators, null, lookup paths
    r = api.get("contacts", params={"$select": "lastname", "$filter": expr, "$orderby": "lastname"})
    assert names(r) == expected


def test_filter_on_lookup_value(api: httpx.Client, people: dict[str, str]) -> None:
    # FILTER "Filter on lookup properties": _parentcustomerid_value eq <guid>
    r = api.get(
        "contacts",
        params={"$filter": f"_parentcustomerid_value eq {people['acme']}", "$orderby": "lastname"},
    )
    assert names(r) == ["Lovelace", "Turing"]


def test_unknown_property_in_filter_select_orderby(
    api: httpx.Client, people: dict[str, str]
) -> None:
    # SELECT / FILTER: "Could not find a property named ..."
    for params in ({"$filter": "bogus eq 1"}, {"$select": "bogus"}, {"$orderby": "bogus"}):
        r = api.get("contacts", params=params)
        assert r.status_code == 400, params
        assert "Could not find a property named 'bogus'" in r.json()["error"]["message"]
    # a polymorphic lookup is selected as _x_value, not by its column name
    assert api.get("contacts", params={"$select": "parentcustomerid"}).status_code == 400


def test_select_returns_only_asked_columns_and_key(
    api: httpx.Client, people: dict[str, str]
) -> None:
    # SELECT: the primary key and @odata.etag always come back
    r = api.get("contacts", params={"$select": "firstname", "$top": "1"})
    row = r.json()["value"][0]
    assert set(row) == {"@odata.etag", "firstname", "contactid"}
    assert r.json()["@odata.context"].endswith("$metadata#contacts(firstname)")


def test_orderby_desc_and_top(api: httpx.Client, people: dict[str, str]) -> None:
    # ORDER; QUERY ($top)
    r = api.get("contacts", params={"$orderby": "lastname desc", "$top": "2"})
    assert names(r) == ["Turing", "Lovelace"]


def test_count(api: httpx.Client, people: dict[str, str]) -> None:
    # COUNT: $count=true adds @odata.count; /$count answers the number
    r = api.get("contacts", params={"$count": "true", "$filter": "startswith(firstname,'A')"})
    assert r.json()["@odata.count"] == 2
    plain = api.get("contacts/$count")
    assert plain.text == "4"


def test_expand_collection(api: httpx.Client, people: dict[str, str]) -> None:
    # JOIN: expand a collection-valued navigation property
    r = api.get(
        f"accounts({people['acme']})",
        params={
            "$select": "name",
            "$expand": "contact_customer_accounts($select=lastname;$orderby=lastname)",
        },
    )
    assert r.status_code == 200, r.text
    assert [c["lastname"] for c in r.json()["contact_customer_accounts"]] == ["Lovelace", "Turing"]


def test_paging_with_maxpagesize(api: httpx.Client) -> None:
    # PAGE: odata.maxpagesize, @odata.nextLink with $skiptoken, $top ignored, same page size
    for i in range(7):
        api.post("accounts", json={"name": f"A{i}"})
    read = list(pages(api, "accounts?$select=name&$orderby=name&$top=1", 3))
    for body in read[:-1]:
        url = body["@odata.nextLink"]
        assert "$skiptoken=" in url
        parts = urlsplit(url)
        assert parts.netloc == "contoso.crm.dynamics.com"
    assert len(read) == 3
    assert [row["name"] for body in read for row in body["value"]] == [f"A{i}" for i in range(7)]


def test_page_size_is_capped_at_5000(api: httpx.Client) -> None:
    # PAGE: "the maximum page size is 5,000"
    r = api.get("accounts", headers={"Prefer": "odata.maxpagesize=10000"})
    assert r.headers["Preference-Applied"] == "odata.maxpagesize=5000"


def test_unknown_entity_set_is_404(api: httpx.Client) -> None:
    # QUERY (entity set names come from EntitySetName)
    r = api.get("contact")
    assert r.status_code == 404


def test_records_extension_counts_rows_read(api: httpx.Client, people: dict[str, str]) -> None:
    # the cost model reads response.extensions["crm_ferry.records"]
    r = api.get("contacts")
    assert r.extensions["crm_ferry.records"] == 4


def test_default_page_size_pages_without_preference() -> None:
    # PAGE: without odata.maxpagesize, at most 5,000 rows come back, with a nextLink
    # (the limit is configurable so the test needs only a few rows)
    from crm_ferry.emulator.core import CoreConfig, Emulator

    em = Emulator(CoreConfig(max_page_size=2))
    with httpx.Client(
        transport=httpx.MockTransport(em.handle), base_url="https://x.example/api/data/v9.2/"
    ) as client:
        for i in range(3):
            client.post("accounts", json={"name": f"N{i}"})
        first = client.get("accounts?$select=name&$orderby=name").json()
        assert [r["name"] for r in first["value"]] == ["N0", "N1"]
        second = client.get(first["@odata.nextLink"]).json()
        assert [r["name"] for r in second["value"]] == ["N2"]
        assert "@odata.nextLink" not in second
    em.close()
