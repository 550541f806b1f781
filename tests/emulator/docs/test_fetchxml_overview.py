"""Query data using FetchXml (overview), replayed.

https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/overview
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/fetchxml/overview.md at
00706f5505221be98166ca89b859e6338d222f61).

The console samples' query selects ``accountclassificationcode``, a column the emulated
account table does not have; the Web API example is replayed as written.
"""

from __future__ import annotations

import httpx

from helpers.webapi import fetch_xml

NAMES = [
    "Litware, Inc. (sample)",
    "Adventure Works (sample)",
    "Fabrikam, Inc. (sample)",
    "Blue Yonder Airlines (sample)",
    "City Power & Light (sample)",
    "Coho Winery (sample)",
]


def test_compose_a_query_with_top(api: httpx.Client) -> None:
    """``<fetch top='5'>``: the name of the first 5 accounts, sent as ``fetchXml``."""
    for name in NAMES:
        assert api.post("accounts", json={"name": name}).status_code == 204
    fetch = (
        "<fetch top='5'>\r\n<entity name='account'>\r\n<attribute name='name'/>\r\n"
        "</entity>\r\n</fetch>"
    )
    response = fetch_xml(api, "accounts", fetch, {"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#accounts(name,accountid)")
    assert len(body["value"]) == 5
    for row in body["value"]:
        assert list(row) == ["@odata.etag", "name", "accountid"]
        assert row["name"] in NAMES


def test_the_encoded_query_of_the_article(api: httpx.Client) -> None:
    """The URL-encoded string the article shows, sent as it is."""
    for name in NAMES:
        api.post("accounts", json={"name": name})
    encoded = (
        "%3Cfetch%20top%3D%275%27%3E%0D%0A%3Centity%20name%3D%27account%27%3E%0D%0A"
        "%3Cattribute%20name%3D%27name%27%2F%3E%0D%0A%3C%2Fentity%3E%0D%0A%3C%2Ffetch%3E"
    )
    response = api.get(f"accounts?fetchXml={encoded}")
    assert response.status_code == 200
    assert len(response.json()["value"]) == 5


def test_without_top_up_to_5000_rows(api: httpx.Client) -> None:
    for name in NAMES:
        api.post("accounts", json={"name": name})
    fetch = "<fetch><entity name='account'><attribute name='name'/></entity></fetch>"
    assert len(fetch_xml(api, "accounts", fetch).json()["value"]) == len(NAMES)
