"""Update and delete table rows using the Web API: the article's examples.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api
(page read at commit c3061dcf2b4568d0cac77d281fa969edf94041e7 of MicrosoftDocs/powerapps-docs).
"""

from __future__ import annotations

import uuid

import httpx

from helpers.webapi import created_id


def _account(api: httpx.Client) -> str:
    return created_id(
        api.post(
            "accounts",
            json={"name": "Sample Account", "revenue": 5000000, "accountcategorycode": 1},
        )
    )


def test_basic_update(api: httpx.Client) -> None:
    account = _account(api)
    response = api.patch(
        f"accounts({account})",
        headers={"If-Match": "*", "OData-MaxVersion": "4.0", "OData-Version": "4.0"},
        json={
            "name": "Updated Sample Account ",
            "creditonhold": True,
            "address1_latitude": 47.639583,
            "description": "This is the updated description of the sample account",
            "revenue": 6000000,
            "accountcategorycode": 2,
        },
    )
    assert response.status_code == 204
    assert response.headers["OData-Version"] == "4.0"
    row = api.get(f"accounts({account})?$select=creditonhold,revenue,accountcategorycode").json()
    assert (row["creditonhold"], row["revenue"], row["accountcategorycode"]) == (True, 6000000, 2)


def test_update_with_data_returned(api: httpx.Client) -> None:
    account = _account(api)
    select = "name,creditonhold,address1_latitude,description,revenue,accountcategorycode,createdon"
    response = api.patch(
        f"accounts({account})?$select={select}",
        headers={"Prefer": "return=representation", "If-Match": "*", "Accept": "application/json"},
        json={"name": "Updated Sample Account"},
    )
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "return=representation"
    assert response.headers["Content-Type"].startswith("application/json")
    assert "odata.metadata=minimal" in response.headers["Content-Type"]
    body = response.json()
    # The article shows the context without the selected columns; the service (like OData)
    # names them: $metadata#accounts(name,...)/$entity
    assert body["@odata.context"].split("$metadata#")[1].startswith("accounts(")
    assert body["@odata.context"].endswith("/$entity")
    assert body["@odata.etag"].startswith('W/"')
    assert body["accountid"] == account
    assert body["name"] == "Updated Sample Account"
    assert body["accountcategorycode"] == 1
    assert body["revenue"] == 5000000
    assert body["createdon"].endswith("Z")
    # the row's currency comes with its money columns
    uuid.UUID(body["_transactioncurrencyid_value"])
    assert set(body) >= set(select.split(","))


def test_update_a_single_property_value(api: httpx.Client) -> None:
    account = _account(api)
    response = api.put(f"accounts({account})/name", json={"value": "Updated Sample Account Name"})
    assert response.status_code == 204
    assert api.get(f"accounts({account})/name").json()["value"] == "Updated Sample Account Name"


def test_delete_a_single_property_value(api: httpx.Client) -> None:
    account = created_id(api.post("accounts", json={"name": "A", "description": "To go"}))
    response = api.delete(f"accounts({account})/description")
    assert response.status_code == 204
    assert api.get(f"accounts({account})?$select=description").json()["description"] is None


def test_a_single_valued_navigation_property_is_not_deleted_as_a_value(api: httpx.Client) -> None:
    contact = created_id(api.post("contacts", json={"lastname": "Primary"}))
    account = created_id(
        api.post(
            "accounts", json={"name": "A", "primarycontactid@odata.bind": f"/contacts({contact})"}
        )
    )
    response = api.delete(f"accounts({account})/primarycontactid")
    assert response.status_code == 405  # a navigation property, not a value: use /$ref
    assert response.json()["error"]["code"] not in ("", "0x0")
    row = api.get(f"accounts({account})?$select=_primarycontactid_value").json()
    assert row["_primarycontactid_value"] == contact


def test_upsert_creates_a_row_with_the_id_given(api: httpx.Client) -> None:
    new_id = str(uuid.uuid4())
    response = api.patch(f"accounts({new_id})", json={"name": "Upserted"})
    assert response.status_code == 204
    assert response.headers["OData-EntityId"].endswith(f"accounts({new_id})")
    again = api.patch(f"accounts({new_id})", json={"name": "Upserted again"})
    assert again.status_code == 204
    assert api.get(f"accounts({new_id})/name").json()["value"] == "Upserted again"


def test_basic_delete_and_a_missing_row(api: httpx.Client) -> None:
    account = _account(api)
    response = api.delete(f"accounts({account})")
    assert response.status_code == 204
    assert response.headers["OData-Version"] == "4.0"
    missing = api.delete(f"accounts({account})")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "0x80040217"  # ObjectDoesNotExist
