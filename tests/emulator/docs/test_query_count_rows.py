"""The examples of "Count rows using OData", replayed on a fresh tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/query/count-rows.md
at commit 09d2ca01442806eab093e2143c2a5148c1c7738f).

The article's second example shows ``@odata.count: 10`` beside a total record count of 5,000
with the limit exceeded, which its own rules contradict ("If there are fewer than 5000
records, the actual count is returned"); the tests follow the rules.
"""

from __future__ import annotations

from urllib.parse import unquote

import httpx
import pytest

from crm_ferry.emulator.core import CoreConfig, Emulator
from helpers.webapi import created_id

ROOT = "https://contoso.crm.dynamics.com/api/data/v9.2/"
HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
TOTAL = "@Microsoft.Dynamics.CRM.totalrecordcount"
EXCEEDED = "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"


@pytest.fixture
def accounts(api: httpx.Client) -> list[str]:
    """Ten sample accounts and one more."""
    names = [f"Account {i} (sample)" for i in range(10)] + ["Another account"]
    return [created_id(api.post("accounts", json={"name": n})) for n in names]


def test_count_true_adds_the_count(api: httpx.Client, accounts: list[str]) -> None:
    r = api.get("accounts?$select=accountid&$count=true", headers=HEADERS)
    assert r.status_code == 200
    assert r.headers["OData-Version"] == "4.0"
    body = r.json()
    assert list(body) == ["@odata.context", "@odata.count", "value"]
    assert body["@odata.context"] == f"{ROOT}$metadata#accounts(accountid)"
    assert body["@odata.count"] == 11
    assert isinstance(body["@odata.count"], int)
    assert set(body["value"][0]) == {"@odata.etag", "accountid"}


def test_count_with_annotations_and_a_page_size(api: httpx.Client, accounts: list[str]) -> None:
    # the article's request, with its two Prefer headers
    r = api.get(
        "accounts?$select=name&$filter=contains(name,'sample')&$count=true",
        headers=[
            *HEADERS.items(),
            ("Prefer", "odata.maxpagesize=3"),
            ("Prefer", 'odata.include-annotations="Microsoft.Dynamics.CRM.*"'),
        ],
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    assert r.headers.get_list("Preference-Applied", split_commas=True) == [
        "odata.maxpagesize=3",
        'odata.include-annotations="Microsoft.Dynamics.CRM.*"',
    ]
    body = r.json()
    assert list(body) == [
        "@odata.context",
        "@odata.count",
        TOTAL,
        EXCEEDED,
        "value",
        "@odata.nextLink",
    ]
    assert body["@odata.context"] == f"{ROOT}$metadata#accounts(name)"
    assert (body["@odata.count"], body[TOTAL], body[EXCEEDED]) == (10, 10, False)
    assert len(body["value"]) == 3
    assert all(set(row) == {"@odata.etag", "name", "accountid"} for row in body["value"])
    link = unquote(body["@odata.nextLink"])
    assert link.startswith(f"{ROOT}accounts?")
    assert '<cookie pagenumber="2" pagingcookie="' in link


def test_over_the_limit_the_count_is_5000_and_the_annotation_says_so() -> None:
    """ "When used with the $count=true query option and there are more than 5,000 records":
    ``5000``, ``5000``, ``true`` (this tenant counts to 3, ``CoreConfig.count_limit``)."""
    em = Emulator(CoreConfig(count_limit=3))
    with httpx.Client(transport=httpx.MockTransport(em.handle), base_url=ROOT) as http:
        for i in range(4):
            created_id(http.post("accounts", json={"name": f"A{i}"}))
        prefer = {
            "Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,'
            'Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"'
        }
        body = http.get("accounts?$count=true", headers=prefer).json()
        assert (body["@odata.count"], body[TOTAL], body[EXCEEDED]) == (3, 3, True)
        # "If you don't include the $count=true query option, the total ... value is -1."
        without = http.get("accounts", headers=prefer).json()
        assert without[TOTAL] == -1
        assert "@odata.count" not in without
    em.close()


def test_the_count_of_a_collection(api: httpx.Client, accounts: list[str]) -> None:
    r = api.get("accounts/$count", headers=HEADERS)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain"
    assert r.headers["OData-Version"] == "4.0"
    assert r.text == "11"
