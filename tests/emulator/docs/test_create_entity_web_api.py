"""The examples of "Create a table row using the Web API",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api
(MicrosoftDocs/powerapps-docs, ``webapi/create-entity-web-api.md`` at commit
c05b4d585a227d0e9959d6d68049dea51c9b9073), replayed against a fresh tenant.

Adapted to the tenant: the account columns the emulator does not model (``creditonhold``,
``address1_latitude``) are left out of the bodies, and tasks, which the tenant has no table
for, are phone calls (``Opportunity_Tasks`` → ``Opportunity_Phonecalls``, ``Account_Tasks`` →
``Account_Phonecalls``). The emulator refuses duplicate detection and ``InitializeFrom``.
"""

from __future__ import annotations

import re

import httpx

from helpers.webapi import created_id

ORG = "https://contoso.crm.dynamics.com/api/data/v9.2/"
SAMPLE = {
    "name": "Sample Account",
    "description": "This is the description of the sample account",
    "revenue": 5000000,
    "accountcategorycode": 1,
}
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_basic_create(api: httpx.Client) -> None:
    r = api.post("accounts", json=SAMPLE)
    assert r.status_code == 204, r.text
    assert r.headers["OData-Version"] == "4.0"
    assert re.fullmatch(rf"{re.escape(ORG)}accounts\({GUID}\)", r.headers["OData-EntityId"])


def test_create_with_data_returned(api: httpx.Client) -> None:
    r = api.post(
        "accounts?$select=name,description,revenue,accountcategorycode,createdon",
        json=SAMPLE,
        headers={"Prefer": "return=representation"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["Preference-Applied"] == "return=representation"
    assert r.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    assert "OData-EntityId" not in r.headers
    body = r.json()
    selected = "name,description,revenue,accountcategorycode,createdon"
    assert body["@odata.context"] == f"{ORG}$metadata#accounts({selected})/$entity"
    assert re.fullmatch(r'W/"\d+"', body["@odata.etag"])
    assert re.fullmatch(GUID, body["accountid"])
    assert (body["name"], body["accountcategorycode"], body["revenue"]) == (
        "Sample Account",
        1,
        5000000,
    )
    assert isinstance(body["createdon"], str)


def test_create_related_table_rows_in_one_operation(api: httpx.Client) -> None:
    # deep insert: an account, its primary contact, an opportunity and the opportunity's
    # (phone call instead of) task: four rows
    r = api.post(
        "accounts",
        json={
            "name": "Sample Account",
            "primarycontactid": {"firstname": "John", "lastname": "Smith"},
            "opportunity_customer_accounts": [
                {
                    "name": "Opportunity associated to Sample Account",
                    "Opportunity_Phonecalls": [{"subject": "Task associated to opportunity"}],
                }
            ],
        },
    )
    account = created_id(r)
    got = api.get(
        f"accounts({account})?$select=name&$expand=primarycontactid($select=fullname),"
        "opportunity_customer_accounts($select=name)"
    ).json()
    assert got["primarycontactid"]["fullname"] == "John Smith"
    (opportunity,) = got["opportunity_customer_accounts"]
    calls = api.get(f"opportunities({opportunity['opportunityid']})/Opportunity_Phonecalls").json()
    assert [c["subject"] for c in calls["value"]] == ["Task associated to opportunity"]


def test_associate_table_rows_on_create(api: httpx.Client) -> None:
    person = created_id(api.post("contacts", json={"firstname": "Yvonne", "lastname": "McKay"}))
    calls = [created_id(api.post("phonecalls", json={"subject": f"Task {n}"})) for n in (1, 2)]
    r = api.post(
        "accounts?$select=name&$expand=primarycontactid($select=fullname),"
        "Account_Phonecalls($select=subject)",
        json={
            "name": "Sample Account",
            "primarycontactid@odata.bind": f"/contacts({person})",
            "Account_Phonecalls@odata.bind": [f"/phonecalls({c})" for c in calls],
        },
        headers={"Prefer": "return=representation"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["Preference-Applied"] == "return=representation"
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#accounts(name,primarycontactid(fullname),Account_Phonecalls(subject))/$entity"
    )
    assert set(body) == {
        "@odata.context",
        "@odata.etag",
        "name",
        "accountid",
        "primarycontactid",
        "Account_Phonecalls",
    }
    assert set(body["primarycontactid"]) == {"@odata.etag", "fullname", "contactid"}
    assert body["primarycontactid"]["fullname"] == "Yvonne McKay"
    tasks = body["Account_Phonecalls"]
    assert sorted(t["activityid"] for t in tasks) == sorted(calls)
    assert all(set(t) == {"@odata.etag", "subject", "activityid"} for t in tasks)


def test_duplicate_detection_is_refused(api: httpx.Client) -> None:
    r = api.post("accounts", json=SAMPLE, headers={"MSCRM.SuppressDuplicateDetection": "false"})
    assert r.status_code == 501
    assert r.json()["error"]["code"] == "0x80040219"


def test_initialize_from_is_refused(api: httpx.Client) -> None:
    account = created_id(api.post("accounts", json=SAMPLE))
    r = api.get(
        "InitializeFrom(EntityMoniker=@p1,TargetEntityName=@p2,TargetFieldType=@p3)",
        params={
            "@p1": "{'@odata.id':'accounts(" + account + ")'}",
            "@p2": "'account'",
            "@p3": "Microsoft.Dynamics.CRM.TargetFieldType'ValidForCreate'",
        },
        headers={"If-None-Match": "null"},
    )
    assert r.status_code == 501, r.text
    assert r.json()["error"]["code"] == "0x80040219"
