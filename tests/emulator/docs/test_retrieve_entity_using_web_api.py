"""Retrieve a table row using the Web API: the article's examples.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api
(page read at commit 74294d98fdc436add933528694a045d442d0911f of MicrosoftDocs/powerapps-docs).
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from helpers.webapi import created_id


@pytest.fixture
def account(api: httpx.Client) -> dict[str, str]:
    contact = created_id(
        api.post("contacts", json={"firstname": "Nancy", "lastname": "Anderson (sample)"})
    )
    parent = created_id(api.post("accounts", json={"name": "Adventure Works (sample)"}))
    account = created_id(
        api.post(
            "accounts",
            json={
                "name": "A. Datum Corporation (sample)",
                "revenue": 10000,
                "primarycontactid@odata.bind": f"/contacts({contact})",
                "parentaccountid@odata.bind": f"/accounts({parent})",
            },
        )
    )
    tasks = [
        created_id(
            api.post(
                "tasks",
                json={
                    "subject": f"Sample Task {n}",
                    "scheduledstart": f"2016-04-1{n}T15:00:00Z",
                    "regardingobjectid_account_task@odata.bind": f"/accounts({account})",
                },
            )
        )
        for n in (1, 3)
    ]
    return {"account": account, "contact": contact, "parent": parent, "task1": tasks[0]}


def test_basic_retrieve_returns_every_property(api: httpx.Client, account: dict[str, str]) -> None:
    response = api.get(f"accounts({account['account']})")
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#accounts/$entity")
    assert {"name", "revenue", "accountid", "_primarycontactid_value", "createdon"} <= set(body)


def test_retrieve_specific_properties(api: httpx.Client, account: dict[str, str]) -> None:
    response = api.get(
        f"accounts({account['account']})?$select=name,revenue",
        headers={"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#accounts(name,revenue)/$entity")
    assert body["@odata.etag"].startswith('W/"')
    assert body["name"] == "A. Datum Corporation (sample)"
    assert body["revenue"] == 10000
    assert body["accountid"] == account["account"]
    # a money value brings its currency
    uuid.UUID(body["_transactioncurrencyid_value"])


def test_an_address_part_brings_the_composite_address(api: httpx.Client) -> None:
    contact = created_id(
        api.post(
            "contacts",
            json={"lastname": "A", "address1_line1": "1 Main St", "address1_city": "Redmond"},
        )
    )
    body = api.get(f"contacts({contact})?$select=address1_line1").json()
    assert body["address1_line1"] == "1 Main St"
    assert "1 Main St" in body["address1_composite"]
    assert "Redmond" in body["address1_composite"]


def test_retrieve_using_an_alternate_key(api: httpx.Client) -> None:
    key = api.post(
        "EntityDefinitions(LogicalName='contact')/Keys",
        json={
            "SchemaName": "new_FirstNameEmail",
            "DisplayName": {
                "LocalizedLabels": [{"Label": "First name and email", "LanguageCode": 1033}]
            },
            "KeyAttributes": ["firstname", "emailaddress1"],
        },
    )
    assert key.status_code == 204, key.text
    contact = created_id(
        api.post(
            "contacts",
            json={"firstname": "Joe", "lastname": "Key", "emailaddress1": "abc@example.com"},
        )
    )
    url = "contacts(firstname='Joe',emailaddress1='abc@example.com')?$select=lastname"
    for _ in range(100):  # the key's index is built in the background, as in Dataverse
        response = api.get(url)
        if response.status_code == 200:
            break
        time.sleep(0.05)
    assert response.status_code == 200, response.text
    assert response.json()["contactid"] == contact


def test_retrieve_a_single_property_value(api: httpx.Client, account: dict[str, str]) -> None:
    response = api.get(f"accounts({account['account']})/name")
    assert response.status_code == 200
    assert response.json() == {
        "@odata.context": f"{api.base_url}$metadata#accounts({account['account']})/name",
        "value": "A. Datum Corporation (sample)",
    }


def test_retrieve_a_single_valued_navigation_property(
    api: httpx.Client, account: dict[str, str]
) -> None:
    response = api.get(f"accounts({account['account']})/primarycontactid?$select=fullname")
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#contacts(fullname)/$entity")
    assert body["@odata.etag"].startswith('W/"')
    assert body["fullname"] == "Nancy Anderson (sample)"
    assert body["contactid"] == account["contact"]


def test_references_to_the_related_rows(api: httpx.Client, account: dict[str, str]) -> None:
    response = api.get(f"accounts({account['account']})/Account_Tasks/$ref")
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#Collection($ref)")
    assert len(body["value"]) == 2
    assert all(ref["@odata.id"].startswith(f"{api.base_url}tasks(") for ref in body["value"])


def test_the_count_of_the_related_rows(api: httpx.Client, account: dict[str, str]) -> None:
    response = api.get(f"accounts({account['account']})/Account_Tasks/$count")
    assert response.status_code == 200
    # the article notes the UTF-8 byte order mark before the number
    assert response.content.decode("utf-8-sig") == "2"


def test_expand_a_single_valued_navigation_property(
    api: httpx.Client, account: dict[str, str]
) -> None:
    response = api.get(
        f"accounts({account['account']})?$select=name&$expand=primarycontactid($select=contactid,fullname)"
    )
    assert response.status_code == 200
    body = response.json()
    # this 2021 page names an expanded property twice (``primarycontactid,primarycontactid(…)``);
    # the newer articles (Join tables, Multi-level expand) show it once, with its columns
    assert body["@odata.context"].endswith(
        "$metadata#accounts(name,primarycontactid(contactid,fullname))/$entity"
    )
    assert body["primarycontactid"]["contactid"] == account["contact"]
    assert body["primarycontactid"]["fullname"] == "Nancy Anderson (sample)"
    assert body["primarycontactid"]["@odata.etag"].startswith('W/"')


def test_expand_a_reference(api: httpx.Client, account: dict[str, str]) -> None:
    response = api.get(f"accounts({account['account']})?$select=name&$expand=primarycontactid/$ref")
    assert response.status_code == 200
    body = response.json()
    assert body["_primarycontactid_value"] == account["contact"]
    assert body["primarycontactid"] == {
        "@odata.id": f"{api.base_url}contacts({account['contact']})"
    }


def test_expand_a_collection_valued_navigation_property(
    api: httpx.Client, account: dict[str, str]
) -> None:
    response = api.get(
        f"accounts({account['account']})?$select=name&$expand=Account_Tasks($select=subject,scheduledstart)"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith(
        "$metadata#accounts(name,Account_Tasks(subject,scheduledstart))/$entity"
    )
    subjects = sorted(task["subject"] for task in body["Account_Tasks"])
    assert subjects == ["Sample Task 1", "Sample Task 3"]
    assert all(
        {"@odata.etag", "activityid", "scheduledstart"} <= set(t) for t in body["Account_Tasks"]
    )


def test_expand_single_and_collection_valued_together(
    api: httpx.Client, account: dict[str, str]
) -> None:
    response = api.get(
        f"accounts({account['account']})?$select=accountid"
        "&$expand=parentaccountid($select%20=%20createdon,%20name),"
        "Account_Tasks($select%20=%20subject,%20scheduledstart)"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["parentaccountid"]["accountid"] == account["parent"]
    assert body["parentaccountid"]["name"] == "Adventure Works (sample)"
    assert len(body["Account_Tasks"]) == 2
