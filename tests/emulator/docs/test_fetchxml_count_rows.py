"""Count rows using FetchXml, replayed.

https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/count-rows
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/fetchxml/count-rows.md at
f8f56bd17b3b55b1f0842b11f294f9cf6ea57169).
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from helpers.webapi import fetch_xml

ANNOTATIONS = {
    "Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,'
    'Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"'
}


@pytest.fixture
def accounts(api: httpx.Client) -> int:
    for i in range(7):
        api.post("accounts", json={"name": f"Account {i}"})
    return 7


def test_returntotalrecordcount(api: httpx.Client, accounts: int) -> None:
    fetch = (
        "<fetch returntotalrecordcount='true' count='3' page='1'><entity name='account'>"
        "<attribute name='name' /></entity></fetch>"
    )
    body = fetch_xml(api, "accounts", fetch).json()
    assert body["@odata.count"] == accounts
    assert len(body["value"]) == 3
    annotated = fetch_xml(api, "accounts", fetch, ANNOTATIONS).json()
    assert annotated["@Microsoft.Dynamics.CRM.totalrecordcount"] == accounts
    assert annotated["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is False


def test_the_same_with_count_true(api: httpx.Client, accounts: int) -> None:
    fetch = "<fetch count='3'><entity name='account'><attribute name='name' /></entity></fetch>"
    body = api.get(f"accounts?fetchXml={quote(fetch)}&$count=true", headers=ANNOTATIONS).json()
    assert body["@odata.count"] == accounts
    assert body["@Microsoft.Dynamics.CRM.totalrecordcount"] == accounts


def test_without_a_count_the_total_is_minus_one(api: httpx.Client, accounts: int) -> None:
    fetch = "<fetch><entity name='account'><attribute name='name' /></entity></fetch>"
    body = fetch_xml(api, "accounts", fetch, ANNOTATIONS).json()
    assert "@odata.count" not in body
    assert body["@Microsoft.Dynamics.CRM.totalrecordcount"] == -1


def test_top_cannot_go_with_returntotalrecordcount(api: httpx.Client, accounts: int) -> None:
    fetch = "<fetch top='2' returntotalrecordcount='true'><entity name='account' /></fetch>"
    response = fetch_xml(api, "accounts", fetch)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "The top attribute can't be specified with paging attribute returntotalrecordcount"
    )
