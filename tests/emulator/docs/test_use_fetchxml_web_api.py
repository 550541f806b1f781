"""Use FetchXml with Web API, replayed.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-fetchxml-web-api
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/use-fetchxml-web-api.md
at 07d9bbc5e92d361a6f1f0233764b6f996839135c).

The article's contacts have ``annualincome``, which the emulated contact table lacks; the
replay uses ``creditlimit``, another money column, so the currency comes along the same way.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote

import httpx

from helpers.webapi import created_id

HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}


def test_a_fetchxml_query_on_the_entity_set(api: httpx.Client) -> None:
    """The first example: accounts, with properties null values leave out."""
    api.post("accounts", json={"name": "Fourth Coffee (sample)", "accountnumber": "1234"})
    api.post("accounts", json={"name": "Litware, Inc. (sample)"})
    fetch = (
        "<fetch mapping='logical'><entity name='account'><attribute name='accountid'/>"
        "<attribute name='name'/><attribute name='accountnumber'/></entity></fetch>"
    )
    response = api.get(f"accounts?fetchXml={quote(fetch)}", headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    body = response.json()
    assert body["@odata.context"].endswith(
        "/api/data/v9.2/$metadata#accounts(accountid,name,accountnumber)"
    )
    rows = {r["name"]: r for r in body["value"]}
    assert set(rows["Fourth Coffee (sample)"]) == {
        "@odata.etag",
        "accountid",
        "name",
        "accountnumber",
    }
    assert set(rows["Litware, Inc. (sample)"]) == {"@odata.etag", "accountid", "name"}  # no null
    assert all(
        isinstance(r["@odata.etag"], str) and r["@odata.etag"].startswith('W/"')
        for r in rows.values()
    )


def test_simple_paging_with_page_and_count(api: httpx.Client) -> None:
    for name in ("A. Datum", "Coho Winery", "Fabrikam"):
        api.post("accounts", json={"name": name, "industrycode": 1})
    fetch = (
        '<fetch mapping="logical" page="1" count="2"><entity name="account">'
        '<attribute name="accountid" /><attribute name="name" /><attribute name="industrycode" />'
        '<order attribute="name" /></entity></fetch>'
    )
    body = api.get(f"accounts?fetchXml={quote(fetch)}").json()
    assert [r["name"] for r in body["value"]] == ["A. Datum", "Coho Winery"]
    page_two = quote(fetch.replace('page="1"', 'page="2"'))
    second = api.get(f"accounts?fetchXml={page_two}").json()
    assert [r["name"] for r in second["value"]] == ["Fabrikam"]


SAMPLE = [
    "Susanna Stubberod",
    "Scott Konersmann",
    "Robert Lyon",
    "Rene Valdes",
    "Paul Cannon",
    "Nancy Anderson",
    "Maria Cambell",
    "Jim Glynn",
]


def _contacts(api: httpx.Client) -> str:
    parent = created_id(api.post("accounts", json={"name": "Contoso"}))
    for i, name in enumerate(SAMPLE):
        first, last = name.split(" ")
        api.post(
            "contacts",
            json={
                "firstname": first,
                "lastname": f"{last} (sample)",
                "jobtitle": f"Job {i}",
                "creditlimit": 1000 * (i + 1),
                "parentcustomerid_account@odata.bind": f"/accounts({parent})",
            },
        )
    api.post(
        "contacts",
        json={
            "firstname": "Not",
            "lastname": "Sampled",
            "parentcustomerid_account@odata.bind": f"/accounts({parent})",
        },
    )
    return parent


def _query(parent: str, page: int, cookie: str | None = None) -> str:
    fetch = ET.fromstring(
        "<fetch page='1' count='3' paging-cookie='' mapping='logical' output-format='xml-platform' "
        "version='1.0' distinct='false'><entity name='contact'><attribute name='fullname' />"
        "<attribute name='jobtitle' /><attribute name='creditlimit' />"
        "<order descending='true' attribute='fullname' /><filter type='and'>"
        "<condition value='%(sample)%' attribute='fullname' operator='like' />"
        f"<condition value='{parent}' attribute='parentcustomerid' operator='eq' />"
        "</filter></entity></fetch>"
    )
    fetch.set("page", str(page))
    if cookie is not None:
        fetch.set("paging-cookie", cookie)  # ElementTree XML-encodes it, as step 3 says
    return ET.tostring(fetch, encoding="unicode")


def test_paging_large_result_sets_with_the_cookie(api: httpx.Client) -> None:
    """First page, following pages with the cookie (decoded twice, XML-encoded into
    paging-cookie, page incremented), last page without the annotations."""
    parent = _contacts(api)
    prefer = {**HEADERS, "Prefer": 'odata.include-annotations="*"', "If-None-Match": "null"}
    names: list[str] = []
    cookie: str | None = None
    for page in (1, 2, 3):
        response = api.get(
            f"contacts?fetchXml={quote(_query(parent, page, cookie))}&$count=true", headers=prefer
        )
        assert response.status_code == 200, response.text
        assert response.headers["Preference-Applied"] == 'odata.include-annotations="*"'
        body = response.json()
        assert body["@odata.context"].startswith(str(api.base_url) + "$metadata#contacts(")
        assert "_transactioncurrencyid_value" in body["@odata.context"]
        assert body["@odata.count"] == 8
        assert body["@Microsoft.Dynamics.CRM.totalrecordcount"] == 8
        assert body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is False
        for row in body["value"]:
            assert set(row) >= {"@odata.etag", "fullname", "jobtitle", "creditlimit", "contactid"}
            assert isinstance(row["creditlimit@OData.Community.Display.V1.FormattedValue"], str)
            assert isinstance(row["creditlimit"], int | float)
            assert row["_transactioncurrencyid_value"]
            names.append(row["fullname"])
        if page < 3:
            assert body["@Microsoft.Dynamics.CRM.morerecords"] is True
            annotation = ET.fromstring(body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"])
            assert annotation.get("istracking") == "False"
            assert annotation.get("pagenumber") == str(page + 1)
            cookie = unquote(unquote(annotation.get("pagingcookie", "")))
            inner = ET.fromstring(cookie)
            assert inner.tag == "cookie"
            assert inner.get("page") == str(page)
            assert [e.tag for e in inner] == ["fullname", "contactid"]
            assert inner[0].get("last") == names[-1]
            assert inner[1].get("last", "").startswith("{")
        else:
            assert "@Microsoft.Dynamics.CRM.morerecords" not in body
            assert "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie" not in body
            assert len(body["value"]) == 2
    assert names == sorted((f"{n} (sample)" for n in SAMPLE), reverse=True)


def test_fetchxml_within_a_batch_request(api: httpx.Client) -> None:
    api.post("accounts", json={"name": "Fourth Coffee (sample)", "telephone1": "+1-425-555-0121"})
    api.post("accounts", json={"name": "Litware, Inc. (sample)", "telephone1": "+1-425-555-0120"})
    fetch = (
        "%3Cfetch%20mapping='logical'%3E%3Centity%20name='account'%3E%3Cattribute%20name='accountid'/%3E"
        "%3Cattribute%20name='name'/%3E%3Cattribute%20name='telephone1'/%3E"
        "%3Cattribute%20name='accountid'/%3E%3C/entity%3E%3C/fetch%3E"
    )
    body = (
        "--batch_AAA123\r\nContent-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n\r\n"
        f"GET {api.base_url}accounts?fetchXml={fetch} HTTP/1.1\r\n"
        "Content-Type: application/json\r\n"
        "OData-Version: 4.0\r\nOData-MaxVersion: 4.0\r\n\r\n--batch_AAA123--\r\n"
    )
    response = api.post(
        "$batch",
        content=body,
        headers={**HEADERS, "Content-Type": "multipart/mixed;boundary=batch_AAA123"},
    )
    assert response.status_code == 200, response.text
    content_type = response.headers["Content-Type"].replace(" ", "")
    assert content_type.startswith("multipart/mixed;boundary=batchresponse_")
    assert "HTTP/1.1 200 OK" in response.text
    part = response.text[response.text.index("{") : response.text.rindex("}") + 1]
    payload = json.loads(part)
    assert payload["@odata.context"].endswith("$metadata#accounts(accountid,name,telephone1)")
    assert sorted(r["telephone1"] for r in payload["value"]) == [
        "+1-425-555-0120",
        "+1-425-555-0121",
    ]
    assert all(
        set(r) == {"@odata.etag", "accountid", "name", "telephone1"} for r in payload["value"]
    )
