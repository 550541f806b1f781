"""Compose HTTP requests and handle errors: the article's headers, status codes and errors.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors
(page read at commit e5cdea5324a2584235118429c5daf1957bd658a1 of MicrosoftDocs/powerapps-docs).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from helpers.webapi import batch_body, batch_request, created_id

HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
    "If-None-Match": "null",
}


def test_the_headers_every_request_should_carry_are_accepted(api: httpx.Client) -> None:
    account = created_id(api.post("accounts", headers=HEADERS, json={"name": "Example Account"}))
    response = api.get(f"accounts({account})?$select=name", headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.json()["name"] == "Example Account"


def test_create_with_representation_is_201_and_update_200(api: httpx.Client) -> None:
    prefer = {"Prefer": "return=representation", **HEADERS}
    created = api.post("accounts?$select=name", headers=prefer, json={"name": "Example Account"})
    assert created.status_code == 201
    assert created.headers["Preference-Applied"] == "return=representation"
    account = created.json()["accountid"]
    updated = api.patch(f"accounts({account})?$select=name", headers=prefer, json={"name": "B"})
    assert updated.status_code == 200
    assert updated.json()["name"] == "B"
    plain = api.patch(f"accounts({account})", headers=HEADERS, json={"name": "C"})
    assert plain.status_code == 204
    assert plain.content == b""


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "PUT"])
def test_a_method_a_collection_does_not_take_is_405(api: httpx.Client, method: str) -> None:
    response = api.request(method, "accounts", headers=HEADERS, json={"name": "x"})
    assert response.status_code == 405
    assert response.json()["error"]["code"] not in ("", "0x0")


def test_a_missing_resource_is_404(api: httpx.Client) -> None:
    response = api.get(f"accounts({uuid.uuid4()})", headers=HEADERS)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")


def test_an_invalid_argument_is_400_in_the_documented_error_shape(api: httpx.Client) -> None:
    response = api.post("accounts", headers=HEADERS, json={"name": "x", "nosuchcolumn": 1})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}  # no innererror any more
    assert body["error"]["code"].startswith("0x")
    assert body["error"]["message"]


def test_errors_carry_their_details_when_every_annotation_is_asked_for(api: httpx.Client) -> None:
    response = api.post(
        "accounts",
        headers={"Prefer": 'odata.include-annotations="*"', **HEADERS},
        json={"name": "x", "nosuchcolumn": 1},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    code = error["code"]
    assert error["@Microsoft.PowerApps.CDS.HelpLink"] == (
        "http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException"
        f"%3a{code[2:]}&client=platform"
    )
    assert error["@Microsoft.PowerApps.CDS.InnerError.Message"] == error["message"]


def test_only_the_help_link_when_only_it_is_asked_for(api: httpx.Client) -> None:
    prefer = (
        'odata.include-annotations="OData.Community.Display.V1.FormattedValue,'
        'Microsoft.PowerApps.CDS.HelpLink"'
    )
    response = api.post(
        "accounts", headers={"Prefer": prefer, **HEADERS}, json={"name": "x", "nosuchcolumn": 1}
    )
    error = response.json()["error"]
    assert "@Microsoft.PowerApps.CDS.HelpLink" in error
    assert "@Microsoft.PowerApps.CDS.InnerError.Message" not in error


def test_a_batch_part_error_carries_the_annotations_its_part_asked_for(api: httpx.Client) -> None:
    request = batch_request(
        "GET",
        f"{api.base_url}accounts({uuid.uuid4()})",
        headers={"Accept": "application/json", "Prefer": 'odata.include-annotations="*"'},
    )
    content_type, body = batch_body(request, boundary="batch_1")
    response = api.post("$batch", headers={"Content-Type": content_type, **HEADERS}, content=body)
    # without odata.continue-on-error the batch stops at the failure and is itself a 400
    # (execute-batch-operations-using-web-api)
    assert response.status_code == 400, response.text
    assert b"@Microsoft.PowerApps.CDS.HelpLink" in response.content
