"""Perform conditional operations using the Web API: the article's examples.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api
(page read at commit 1b6722f3d3bb2df684b71d6c2aab31dca9d8d4b4 of MicrosoftDocs/powerapps-docs).
The article's error bodies show an empty ``code``; the service's carry the hex code, which
the emulator gives too.
"""

from __future__ import annotations

import uuid

import httpx

from helpers.webapi import created_id

SELECT = "accountcategorycode,accountnumber,creditonhold,createdon,numberofemployees,name,revenue"
UPDATE = {
    "name": "Updated Sample Account ",
    "creditonhold": True,
    "address1_latitude": 47.639583,
    "description": "This is the updated description of the sample account",
    "revenue": 6000000,
    "accountcategorycode": 2,
}


def _account(api: httpx.Client) -> tuple[str, str]:
    account = created_id(api.post("accounts", json={"name": "Sample Account"}))
    etag = api.get(f"accounts({account})?$select={SELECT}").json()["@odata.etag"]
    return account, etag


def test_a_retrieval_of_an_unchanged_row_is_not_modified(api: httpx.Client) -> None:
    account, etag = _account(api)
    response = api.get(
        f"accounts({account})?$select={SELECT}",
        headers={"If-None-Match": etag, "Accept": "application/json"},
    )
    assert response.status_code == 304
    assert response.headers["OData-Version"] == "4.0"
    assert response.content == b""


def test_a_retrieval_of_a_changed_row_returns_it(api: httpx.Client) -> None:
    account, etag = _account(api)
    assert api.patch(f"accounts({account})", json={"name": "Changed"}).status_code == 204
    response = api.get(f"accounts({account})?$select={SELECT}", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.json()["@odata.etag"] != etag


def test_optimistic_concurrency_is_enabled_on_the_table(api: httpx.Client) -> None:
    response = api.get(
        "EntityDefinitions(LogicalName='account')?$select=IsOptimisticConcurrencyEnabled"
    )
    assert response.status_code == 200
    assert response.json()["IsOptimisticConcurrencyEnabled"] is True


def test_a_query_with_expand_is_never_not_modified(api: httpx.Client) -> None:
    account, _ = _account(api)
    url = f"accounts({account})?$select=name&$expand=primarycontactid($select=fullname)"
    etag = api.get(url).json()["@odata.etag"]
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_a_query_with_annotations_is_never_not_modified(api: httpx.Client) -> None:
    account, etag = _account(api)
    response = api.get(
        f"accounts({account})?$select={SELECT}",
        headers={"If-None-Match": etag, "Prefer": 'odata.include-annotations="*"'},
    )
    assert response.status_code == 200


def test_prevent_create_in_upsert(api: httpx.Client) -> None:
    account, _ = _account(api)
    found = api.patch(f"accounts({account})", headers={"If-Match": "*"}, json=UPDATE)
    assert found.status_code == 204
    missing_id = str(uuid.uuid4())
    missing = api.patch(f"accounts({missing_id})", headers={"If-Match": "*"}, json=UPDATE)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"].startswith("application/json")
    error = missing.json()["error"]
    assert error["message"] == f"account With Id = {missing_id} Does Not Exist"
    assert error["code"] == "0x80040217"
    assert api.get(f"accounts({missing_id})").status_code == 404


def test_prevent_update_in_upsert(api: httpx.Client) -> None:
    account, _ = _account(api)
    found = api.patch(f"accounts({account})", headers={"If-None-Match": "*"}, json=UPDATE)
    assert found.status_code == 412
    error = found.json()["error"]
    assert error["message"] == "A record with matching key values already exists."
    assert error["code"] == "0x80040237"  # DuplicateRecord
    assert api.get(f"accounts({account})/name").json()["value"] == "Sample Account"
    new_id = str(uuid.uuid4())
    created = api.patch(f"accounts({new_id})", headers={"If-None-Match": "*"}, json=UPDATE)
    assert created.status_code == 204


def test_optimistic_concurrency_on_delete(api: httpx.Client) -> None:
    account, etag = _account(api)
    assert api.patch(f"accounts({account})", json={"name": "Changed"}).status_code == 204
    stale = api.delete(f"accounts({account})", headers={"If-Match": etag})
    assert stale.status_code == 412
    error = stale.json()["error"]
    assert error["message"] == (
        "The version of the existing record doesn't match the RowVersion property provided."
    )
    assert error["code"] == "0x80060882"  # ConcurrencyVersionMismatch
    current = api.get(f"accounts({account})?$select=name").json()["@odata.etag"]
    assert api.delete(f"accounts({account})", headers={"If-Match": current}).status_code == 204


def test_optimistic_concurrency_on_update(api: httpx.Client) -> None:
    account, etag = _account(api)
    assert api.patch(f"accounts({account})", json={"name": "Changed"}).status_code == 204
    stale = api.patch(
        f"accounts({account})", headers={"If-Match": etag}, json={"name": "Updated Account Name"}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "0x80060882"
    assert api.get(f"accounts({account})/name").json()["value"] == "Changed"
