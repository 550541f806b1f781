"""The examples of "Retrieve related table records with a query",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-related-entities-query
(MicrosoftDocs/powerapps-docs, ``webapi/retrieve-related-entities-query.md`` at commit
74294d98fdc436add933528694a045d442d0911f, ms.date 2021-04-29), replayed against a fresh
tenant.

Adapted: tasks are phone calls (``Account_Tasks`` → ``Account_Phonecalls``,
``regardingobjectid_contact_task`` → ``regardingobjectid_contact_phonecall``). The
``@odata.context`` URLs follow the newer join-tables article
(``accounts(name,primarycontactid(contactid,fullname))``), not this 2021 page's
(``accounts(name,primarycontactid,primarycontactid(contactid,fullname))``). The note's limit of
10 ``$expand`` options is 15 in the newer article; the emulator applies 15.
"""

from __future__ import annotations

import httpx

from crm_ferry.emulator import tenant
from helpers.webapi import created_id, tasks

ORG = "https://contoso.crm.dynamics.com/api/data/v9.2/"


def _accounts(api: httpx.Client) -> tuple[str, str]:
    """Two accounts with primary contacts; the first with three phone calls."""
    made = []
    for name, person in (
        ("Contoso, Ltd. (sample)", "Yvonne McKay"),
        ("Fourth Coffee", "Charlie Brown"),
    ):
        first, last = person.split(" ")
        contact = created_id(api.post("contacts", json={"firstname": first, "lastname": last}))
        made.append(
            created_id(
                api.post(
                    "accounts",
                    json={"name": name, "primarycontactid@odata.bind": f"/contacts({contact})"},
                )
            )
        )
    tasks(api, "account", made[0], "Contoso, Ltd.", 3)
    return made[0], made[1]


def test_expand_single_valued_navigation_properties(api: httpx.Client) -> None:
    _accounts(api)
    r = api.get("accounts?$select=name&$expand=primarycontactid($select=contactid,fullname)")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["@odata.context"]
        == f"{ORG}$metadata#accounts(name,primarycontactid(contactid,fullname))"
    )
    for row in body["value"]:
        assert set(row) == {"@odata.etag", "name", "accountid", "primarycontactid"}
        assert set(row["primarycontactid"]) == {"contactid", "fullname"}


def test_expand_single_valued_references(api: httpx.Client) -> None:
    _accounts(api)
    r = api.get("accounts?$select=name&$expand=primarycontactid/$ref")
    assert r.status_code == 200, r.text
    for row in r.json()["value"]:
        assert set(row) == {
            "@odata.etag",
            "name",
            "_primarycontactid_value",
            "accountid",
            "primarycontactid",
        }
        assert row["primarycontactid"] == {
            "@odata.id": f"{ORG}contacts({row['_primarycontactid_value']})"
        }


def test_multi_level_expand_of_single_valued_navigation_properties(api: httpx.Client) -> None:
    account = created_id(api.post("accounts", json={"name": "Contoso, Ltd. (sample)"}))
    contact = created_id(
        api.post(
            "contacts",
            json={
                "firstname": "Susanna",
                "lastname": "Stubberod",
                "parentcustomerid_account@odata.bind": f"/accounts({account})",
            },
        )
    )
    tasks(api, "contact", contact, "Susanna Stubberod", 2)
    r = api.get(
        "phonecalls?$select=subject&$expand=regardingobjectid_contact_phonecall($select=fullname;"
        "$expand=parentcustomerid_account($select=name;$expand=createdby($select=fullname)))"
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#phonecalls(subject,regardingobjectid_contact_phonecall(fullname,"
        "parentcustomerid_account(name,createdby(fullname))))"
    )
    assert len(body["value"]) == 2
    for row in body["value"]:
        assert set(row) == {
            "@odata.etag",
            "subject",
            "activityid",
            "regardingobjectid_contact_phonecall",
        }
        regarding = row["regardingobjectid_contact_phonecall"]
        assert set(regarding) == {"fullname", "contactid", "parentcustomerid_account"}
        parent = regarding["parentcustomerid_account"]
        assert set(parent) == {"name", "accountid", "createdby"}
        assert parent["createdby"] == {
            "fullname": parent["createdby"]["fullname"],
            "systemuserid": tenant.DEFAULT_APP_USER_ID,
            "ownerid": tenant.DEFAULT_APP_USER_ID,
        }


def test_expand_collection_valued_navigation_properties(api: httpx.Client) -> None:
    contoso, fourth = _accounts(api)
    r = api.get(
        "accounts?$top=2&$select=name&$expand=Account_Phonecalls($select=subject,scheduledstart)"
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["@odata.context"]
        == f"{ORG}$metadata#accounts(name,Account_Phonecalls(subject,scheduledstart))"
    )
    rows = {row["accountid"]: row for row in body["value"]}
    calls = rows[contoso]["Account_Phonecalls"]
    assert len(calls) == 3
    for call in calls:
        assert set(call) == {
            "@odata.etag",
            "subject",
            "scheduledstart",
            "_regardingobjectid_value",
            "activityid",
        }
        assert call["scheduledstart"] is None
        assert call["_regardingobjectid_value"] == contoso
    assert rows[fourth]["Account_Phonecalls"] == []
    for row_id, row in rows.items():
        assert row["Account_Phonecalls@odata.nextLink"] == (
            f"{ORG}accounts({row_id})/Account_Phonecalls?$select=subject,scheduledstart"
        )


def test_expand_single_and_collection_valued_navigation_properties(api: httpx.Client) -> None:
    contoso, _ = _accounts(api)
    r = api.get(
        "accounts?$top=2&$select=name&$expand=primarycontactid($select=contactid,fullname),"
        "Account_Phonecalls($select=subject,scheduledstart)"
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#accounts(name,primarycontactid(contactid,fullname),"
        "Account_Phonecalls(subject,scheduledstart))"
    )
    for row in body["value"]:
        assert set(row) == {
            "@odata.etag",
            "name",
            "accountid",
            "primarycontactid",
            "Account_Phonecalls",
            "Account_Phonecalls@odata.nextLink",
        }
        assert set(row["primarycontactid"]) == {"contactid", "fullname"}
    assert {row["accountid"]: len(row["Account_Phonecalls"]) for row in body["value"]}[contoso] == 3
