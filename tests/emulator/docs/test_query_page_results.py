"""The examples of "Page results using OData", replayed on a fresh tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/query/page-results.md
at commit d2174f86bc2371f700a5f23db8e3e57a053755a4).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import httpx
import pytest

from helpers.webapi import created_id

ROOT = "https://contoso.crm.dynamics.com/api/data/v9.2/"
HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
    "Prefer": "odata.maxpagesize=2",
}
COOKIE = re.compile(
    r'<cookie pagenumber="(\d+)" pagingcookie="<cookie page="(\d+)"><contactid '
    r'last="\{([0-9A-F-]{36})\}" first="\{([0-9A-F-]{36})\}" /></cookie>" istracking="False" />'
)


@pytest.fixture
def contacts(api: httpx.Client) -> list[str]:
    names = ["Yvonne McKay", "Susanna Stubberod", "Nancy Anderson", "Maria Campbell", "Sidney Higa"]
    ids = []
    for full in names:
        first, last = full.split(" ")
        body = {"firstname": first, "lastname": f"{last} (sample)"}
        ids.append(created_id(api.post("contacts", json=body)))
    return sorted(ids)


def cookie(link: str) -> tuple[int, int, str, str]:
    """pagenumber, the page it follows, last and first id of the nextLink's $skiptoken (whose
    paging cookie is URL-encoded twice, as in the article)."""
    token = link.split("$skiptoken=", 1)[1]
    match = COOKIE.fullmatch(unquote(unquote(token)))
    assert match is not None, unquote(unquote(token))
    return int(match[1]), int(match[2]), match[3], match[4]


def page(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=2"
    body = response.json()
    assert body["@odata.context"] == f"{ROOT}$metadata#contacts(fullname)"
    for row in body["value"]:
        assert set(row) == {"@odata.etag", "fullname", "contactid"}
        assert row["@odata.etag"].startswith('W/"')
    return dict(body)


def test_the_first_two_contacts_and_the_next_pages(api: httpx.Client, contacts: list[str]) -> None:
    first = page(api.get("contacts?$select=fullname", headers=HEADERS))
    assert [r["contactid"] for r in first["value"]] == contacts[:2]
    link = str(first["@odata.nextLink"])
    assert link.startswith(f"{ROOT}contacts?")
    assert cookie(link) == (2, 1, contacts[1].upper(), contacts[0].upper())
    # "use it with GET to return the next page of data", with the same page size
    second = page(api.get(link, headers=HEADERS))
    assert [r["contactid"] for r in second["value"]] == contacts[2:4]
    assert cookie(str(second["@odata.nextLink"])) == (
        3,
        2,
        contacts[3].upper(),
        contacts[2].upper(),
    )
    last = page(api.get(str(second["@odata.nextLink"]), headers=HEADERS))
    assert [r["contactid"] for r in last["value"]] == contacts[4:]
    assert "@odata.nextLink" not in last  # "until no @odata.nextLink annotation is included"


def test_a_page_size_larger_than_5000_is_cut_to_5000(
    api: httpx.Client, contacts: list[str]
) -> None:
    r = api.get("contacts?$select=fullname", headers={"Prefer": "odata.maxpagesize=10000"})
    assert r.headers["Preference-Applied"] == "odata.maxpagesize=5000"


def test_top_limits_the_rows(api: httpx.Client) -> None:
    for name in ("A", "B", "C", "D"):
        created_id(api.post("accounts", json={"name": name, "revenue": 10}))
    r = api.get("accounts?$select=name,revenue&$top=3")
    assert r.status_code == 200
    body = r.json()
    assert len(body["value"]) == 3
    assert "@odata.nextLink" not in body
    assert set(body["value"][0]) == {
        "@odata.etag",
        "name",
        "revenue",
        "accountid",
        "_transactioncurrencyid_value",
    }


def test_top_is_ignored_with_a_page_size(api: httpx.Client, contacts: list[str]) -> None:
    # "If you include both, $top is ignored."
    r = api.get("contacts?$select=fullname&$top=1", headers=HEADERS)
    body = page(r)
    assert len(body["value"]) == 2
    assert "@odata.nextLink" in body


def test_skip_is_not_supported(api: httpx.Client, contacts: list[str]) -> None:
    r = api.get("contacts?$top=2&$skip=2")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "The query parameter $skip is not supported"
