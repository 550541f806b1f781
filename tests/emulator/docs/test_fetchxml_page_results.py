"""Page results using FetchXml, replayed.

https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/fetchxml/page-results.md at
7df03445645ac234de3415d58a20e40d4e31be1d).

The article's contacts carry ``annualincome``; the emulated contact table has ``creditlimit``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

from helpers.webapi import fetch_xml

PREFER = {
    "Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.fetchxmlpagingcookie,'
    'Microsoft.Dynamics.CRM.morerecords"',
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
    "If-None-Match": "null",
    "Accept": "application/json",
}
PEOPLE = [
    "Yvonne McKay",
    "Thomas Andersen",
    "Susanna Stubberod",
    "Susan Burk",
    "Sidney Higa",
    "Scott Konersmann",
    "Rene Valdes",
    "Robert Lyon",
    "Patrick Sands",
    "Paul Cannon",
    "Nancy Anderson",
    "Maria Campbell",
    "Jim Glynn",
]


@pytest.fixture
def contacts(api: httpx.Client) -> list[str]:
    names = []
    for person in PEOPLE:
        first, last = person.split(" ")
        api.post(
            "contacts",
            json={
                "firstname": first,
                "lastname": f"{last} (sample)",
                "jobtitle": "Owner",
                "creditlimit": 45000,
            },
        )
        names.append(f"{person} (sample)")
    return names


def test_simple_paging(api: httpx.Client) -> None:
    for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo"):
        api.post("accounts", json={"name": name})
    fetch = (
        "<fetch count='3' page='1'><entity name='account'><attribute name='name' />"
        "<order attribute='name' /><order attribute='accountid' /></entity></fetch>"
    )
    first = fetch_xml(api, "accounts", fetch).json()["value"]
    second = fetch_xml(api, "accounts", fetch.replace("page='1'", "page='2'")).json()["value"]
    assert [r["name"] for r in first] == ["Alpha", "Bravo", "Charlie"]
    assert [r["name"] for r in second] == ["Delta", "Echo"]


QUERY = (
    "<fetch count='3' page='1'><entity name='contact'><attribute name='fullname' />"
    "<attribute name='jobtitle' /><attribute name='creditlimit' />"
    "<order descending='true' attribute='fullname' /></entity></fetch>"
)


def test_paging_cookies_with_the_web_api(api: httpx.Client, contacts: list[str]) -> None:
    """First page, following pages (cookie decoded twice, set as paging-cookie, page
    incremented), last page without ``morerecords`` and the cookie."""
    fetch = ET.fromstring(QUERY)
    seen: list[str] = []
    page = 1
    while True:
        response = fetch_xml(api, "contacts", ET.tostring(fetch, encoding="unicode"), PREFER)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["@odata.context"].startswith(str(api.base_url) + "$metadata#contacts(fullname,")
        for row in body["value"]:
            assert {
                "@odata.etag",
                "fullname",
                "jobtitle",
                "_transactioncurrencyid_value",
                "contactid",
            } <= set(row)
            seen.append(row["fullname"])
        if "@Microsoft.Dynamics.CRM.morerecords" not in body:
            assert "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie" not in body
            assert "Preference-Applied" in response.headers
            break
        assert response.headers["Preference-Applied"] == PREFER["Prefer"]
        assert body["@Microsoft.Dynamics.CRM.morerecords"] is True
        cookie = ET.fromstring(body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"])
        decoded = unquote(unquote(cookie.get("pagingcookie", "")))
        inner = ET.fromstring(decoded)
        assert inner.get("page") == str(page)
        assert inner[0].tag == "fullname"
        assert inner[0].get("last") == seen[-1]
        assert inner[0].get("first") == seen[-3]
        assert inner[1].tag == "contactid"
        page += 1
        fetch.set("paging-cookie", decoded)
        fetch.set("page", str(page))
    assert page == 5
    assert seen == sorted(contacts, reverse=True)


def test_the_article_s_encoded_second_request_shape(api: httpx.Client, contacts: list[str]) -> None:
    """The request the article sends for page 2: the cookie XML-encoded inside paging-cookie."""
    first = fetch_xml(api, "contacts", QUERY, PREFER).json()
    cookie = ET.fromstring(first["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"])
    decoded = unquote(unquote(cookie.get("pagingcookie", "")))
    escaped = decoded.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = QUERY.replace("page='1'", f"page='2' paging-cookie='{escaped}'")
    second = api.get(f"contacts?fetchXml={quote(text)}", headers=PREFER).json()
    assert [r["fullname"] for r in second["value"]] == sorted(contacts, reverse=True)[3:6]
