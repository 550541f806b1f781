"""Execute batch operations using the Web API: the article's examples.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api
(page read at commit cab7b30938b39807efc6af081a7dee65aed33c25 of MicrosoftDocs/powerapps-docs).
The lead of one example is a contact here (the tenant has no lead table). Responses are
read with the standard library's MIME parser.
"""

from __future__ import annotations

import json
import re

import httpx

from helpers.webapi import batch_parts, created_id

BATCH = "batch_AAA123"
CHANGESET = "changeset_BBB456"


def _request(method: str, url: str, body: object = None, *, headers: str = "") -> str:
    text = f"{method} {url} HTTP/1.1\r\n{headers}"
    if body is not None:
        text += "Content-Type: application/json;type=entry\r\n\r\n" + json.dumps(body)
    else:
        text += "Accept: application/json\r\n\r\n"
    return text


def _changeset(*requests: str) -> str:
    out = f"--{BATCH}\r\nContent-Type: multipart/mixed;boundary={CHANGESET}\r\n\r\n"
    for n, request in enumerate(requests, start=1):
        out += (
            f"--{CHANGESET}\r\nContent-Type: application/http\r\n"
            f"Content-Transfer-Encoding:binary\r\nContent-ID: {n}\r\n\r\n{request}\r\n"
        )
    return out + f"--{CHANGESET}--\r\n\r\n"


def _single(request: str) -> str:
    return (
        f"--{BATCH}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding:binary\r\n\r\n"
        f"{request}\r\n"
    )


def _post(api: httpx.Client, body: str) -> httpx.Response:
    return api.post(
        "$batch",
        headers={
            "Content-Type": f"multipart/mixed;boundary={BATCH}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        },
        content=(body + f"--{BATCH}--\r\n").encode(),
    )


def test_a_change_set_and_a_get(api: httpx.Client) -> None:
    base = str(api.base_url)
    account = created_id(api.post("accounts", json={"name": "Test Account"}))
    for subject in ("Task Created with Test Account", "Task 1"):
        api.post(
            "tasks",
            json={
                "subject": subject,
                "regardingobjectid_account_task@odata.bind": f"/accounts({account})",
            },
        )
    bind = {"regardingobjectid_account_task@odata.bind": f"{base}accounts({account})"}
    body = _changeset(
        _request("POST", f"{base}tasks", {"subject": "Task 1 in batch", **bind}),
        _request("POST", f"{base}tasks", {"subject": "Task 2 in batch", **bind}),
    ) + _single(_request("GET", f"{base}accounts({account})/Account_Tasks?$select=subject"))
    response = _post(api, body)
    assert response.status_code == 200, response.text
    assert re.match(
        r"multipart/mixed; ?boundary=batchresponse_[0-9a-f-]{36}$", response.headers["Content-Type"]
    )
    created, second, listing = batch_parts(response)
    for n, part in enumerate((created, second), start=1):
        assert part.in_changeset
        assert part.content_id == str(n)
        assert part.status == 204
        assert part.headers["OData-Version"] == "4.0"
        assert re.match(rf"{re.escape(base)}tasks\([0-9a-f-]{{36}}\)$", part.headers["Location"])
        assert part.headers["OData-EntityId"] == part.headers["Location"]
    assert listing.status == 200
    assert not listing.in_changeset
    page = listing.json()
    assert page["@odata.context"].endswith("$metadata#tasks(subject)")
    assert sorted(t["subject"] for t in page["value"]) == [
        "Task 1",
        "Task 1 in batch",
        "Task 2 in batch",
        "Task Created with Test Account",
    ]
    assert all({"@odata.etag", "subject", "activityid"} <= set(t) for t in page["value"])


def test_a_get_in_a_batch_with_every_annotation(api: httpx.Client) -> None:
    base = str(api.base_url)
    account = created_id(api.post("accounts", json={"name": "Annotated", "donotemail": False}))
    request = _request(
        "GET",
        f"{base}accounts({account})?$select=name,telephone1,emailaddress1,followemail,"
        "donotemail,donotphone,statuscode",
        headers='Prefer: odata.include-annotations="*"\r\n',
    )
    (part,) = batch_parts(_post(api, _single(request)))
    assert part.status == 200
    row = part.json()
    assert row["statuscode@OData.Community.Display.V1.FormattedValue"] == "Active"


def test_references_to_created_rows_in_a_body(api: httpx.Client) -> None:
    base = str(api.base_url)
    body = _changeset(
        _request("POST", f"{base}contacts", {"firstname": "aaa", "lastname": "bbb"}),
        _request(
            "POST",
            f"{base}contacts",
            {"@odata.type": "Microsoft.Dynamics.CRM.contact", "firstname": "Oncall Contact-1111"},
        ),
        _request(
            "POST",
            f"{base}accounts",
            {
                "name": "IcM Account",
                "primarycontactid@odata.bind": "$2",
            },
        ),
    )
    response = _post(api, body)
    assert response.status_code == 200, response.text
    parts = batch_parts(response)
    assert [p.status for p in parts] == [204, 204, 204]
    account_url = parts[2].headers["OData-EntityId"]
    contact_url = parts[1].headers["OData-EntityId"]
    account = account_url[account_url.rindex("(") + 1 : -1]
    contact = contact_url[contact_url.rindex("(") + 1 : -1]
    row = api.get(f"accounts({account})?$select=_primarycontactid_value").json()
    assert row["_primarycontactid_value"] == contact


def test_a_reference_in_a_url(api: httpx.Client) -> None:
    base = str(api.base_url)
    body = _changeset(
        _request(
            "POST",
            f"{base}contacts",
            {
                "@odata.type": "Microsoft.Dynamics.CRM.contact",
                "firstname": "Contact",
                "lastname": "AAAAAA",
            },
        ),
        "PUT $1/lastname HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
        + json.dumps({"value": "BBBBB"}),
    )
    parts = batch_parts(_post(api, body))
    assert [p.status for p in parts] == [204, 204]
    assert "Location" not in parts[1].headers
    url = parts[0].headers["OData-EntityId"]
    assert api.get(f"{url}/lastname").json()["value"] == "BBBBB"


def test_references_in_a_url_and_in_an_odata_id(api: httpx.Client) -> None:
    base = str(api.base_url)
    body = _changeset(
        _request(
            "POST",
            f"{base}accounts",
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "IcM Account"},
        ),
        _request(
            "POST",
            f"{base}contacts",
            {"@odata.type": "Microsoft.Dynamics.CRM.contact", "firstname": "Oncall Contact"},
        ),
        "PUT $1/primarycontactid/$ref HTTP/1.1\r\nContent-Type:application/json\r\n\r\n"
        + json.dumps({"@odata.id": "$2"}),
    )
    parts = batch_parts(_post(api, body))
    assert [p.status for p in parts] == [204, 204, 204], [p.body for p in parts]
    account = parts[0].headers["OData-EntityId"]
    contact = parts[1].headers["OData-EntityId"]
    row = api.get(f"{account}?$select=_primarycontactid_value").json()
    assert contact.endswith(f"({row['_primarycontactid_value']})")


def test_references_in_a_url_and_a_navigation_property(api: httpx.Client) -> None:
    base = str(api.base_url)
    body = _changeset(
        _request("POST", f"{base}accounts", {"name": "IcM Account"}),
        _request("POST", f"{base}contacts", {"firstname": "Oncall Contact"}),
        "PATCH $1 HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
        + json.dumps({"primarycontactid@odata.bind": "$2"}),
    )
    parts = batch_parts(_post(api, body))
    assert [p.status for p in parts] == [204, 204, 204]
    # the update answers with the row's address too
    assert parts[2].headers["OData-EntityId"] == parts[0].headers["OData-EntityId"]


def test_a_reference_before_its_declaration_is_400(api: httpx.Client) -> None:
    base = str(api.base_url)
    body = (
        f"--{BATCH}\r\nContent-Type: multipart/mixed; boundary={CHANGESET}\r\n\r\n"
        f"--{CHANGESET}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding:binary\r\n"
        "Content-ID: 2\r\n\r\n"
        + _request(
            "POST",
            f"{base}phonecalls",
            {"phonenumber": "911", "regardingobjectid_account_phonecall@odata.bind": "$1"},
        )
        + f"\r\n--{CHANGESET}\r\nContent-Type: application/http\r\n"
        "Content-Transfer-Encoding:binary\r\nContent-ID: 1\r\n\r\n"
        + _request("POST", f"{base}accounts", {"name": "QQQQ", "revenue": 1.50})
        + f"\r\n--{CHANGESET}--\r\n\r\n"
    )
    response = _post(api, body)
    assert response.status_code == 400
    (part,) = batch_parts(response)
    assert part.status == 400
    assert part.json()["error"]["message"] == (
        "Content-ID Reference: '$1' does not exist in the batch context."
    )
    assert api.get("accounts?$filter=name eq 'QQQQ'").json()["value"] == []
