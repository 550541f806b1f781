"""Microsoft's Python SDK runs FetchXML against the emulator: ``client.query.fetchxml(...)``
pages with the paging cookie the emulator hands out (its ``execute_pages`` reads
``@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`` and ``morerecords``, decodes the cookie twice
and sends it back as ``paging-cookie``), and aggregates come back by alias.
"""

from __future__ import annotations

import warnings

import pytest
from PowerPlatform.Dataverse.client import DataverseClient


@pytest.fixture
def accounts(client: DataverseClient, unique: str) -> list[str]:
    names = [f"FetchXml {unique} {i}" for i in range(7)]
    client.records.create("account", [{"name": n, "numberofemployees": 10} for n in names])
    return names


def test_the_sdk_pages_a_fetchxml_query_with_the_cookie(
    client: DataverseClient, accounts: list[str], unique: str
) -> None:
    xml = f"""
      <fetch count="3">
        <entity name="account">
          <attribute name="name" />
          <order attribute="name" descending="true" />
          <filter>
            <condition attribute="name" operator="begins-with" value="FetchXml {unique}" />
          </filter>
        </entity>
      </fetch>"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to simple paging: a cookie on every page
        pages = list(client.query.fetchxml(xml).execute_pages())
    assert [len(p.records) for p in pages] == [3, 3, 1]
    names = [r["name"] for p in pages for r in p.records]
    assert names == sorted(accounts, reverse=True)


def test_the_sdk_reads_an_aggregate(
    client: DataverseClient, accounts: list[str], unique: str
) -> None:
    xml = f"""
      <fetch aggregate="true">
        <entity name="account">
          <attribute name="numberofemployees" alias="total" aggregate="sum" />
          <attribute name="accountid" alias="n" aggregate="count" />
          <filter><condition attribute="name" operator="like" value="FetchXml {unique}%" /></filter>
        </entity>
      </fetch>"""
    (row,) = client.query.fetchxml(xml).execute().records
    assert row["total"] == 70
    assert row["n"] == len(accounts)
