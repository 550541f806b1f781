"""The examples of "Join tables using OData",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables
(MicrosoftDocs/powerapps-docs, ``webapi/query/join-tables.md`` at commit
7df03445645ac234de3415d58a20e40d4e31be1d, ms.date 2024-10-30), replayed against a fresh
tenant.

The article's data: accounts with primary contacts, Litware with three tasks (phone calls
here: ``Account_Tasks`` → ``Account_Phonecalls``, ``regardingobjectid_contact_task`` →
``regardingobjectid_contact_phonecall``) and one contact whose parent is Litware. Its N:N
example (``contactleads_association``; the tenant has no lead table) is replayed on the
tenant's ``teammembership_association``.
"""

from __future__ import annotations

import httpx
import pytest

from crm_ferry.emulator import tenant
from crm_ferry.emulator.core import Emulator
from helpers.webapi import created_id, tasks

ORG = "https://contoso.crm.dynamics.com/api/data/v9.2/"
EXPAND_ERROR = "0x80060888"


@pytest.fixture
def litware(api: httpx.Client) -> str:
    person = created_id(
        api.post("contacts", json={"firstname": "Susanna", "lastname": "Stubberod"})
    )
    account = created_id(
        api.post(
            "accounts",
            json={
                "name": "Litware, Inc. (sample)",
                "primarycontactid@odata.bind": f"/contacts({person})",
            },
        )
    )
    api.patch(
        f"contacts({person})", json={"parentcustomerid_account@odata.bind": f"/accounts({account})"}
    )
    tasks(api, "account", account, "Litware", 3)
    other = created_id(api.post("contacts", json={"firstname": "Nancy", "lastname": "Anderson"}))
    api.post(
        "accounts",
        json={
            "name": "Adventure Works (sample)",
            "primarycontactid@odata.bind": f"/contacts({other})",
        },
    )
    return account


def test_expand_options_on_a_collection(api: httpx.Client, litware: str) -> None:
    r = api.get(
        "accounts?$select=name&$expand=Account_Phonecalls($select=subject;"
        "$filter=contains(subject,'Task');$orderby=createdon desc)"
    )
    assert r.status_code == 200, r.text
    rows = {row["accountid"]: row for row in r.json()["value"]}
    assert len(rows[litware]["Account_Phonecalls"]) == 3


def test_limit_columns_with_select(api: httpx.Client, litware: str) -> None:
    r = api.get(
        "accounts?$select=name&$expand=primarycontactid($select=fullname),Account_Phonecalls($select=subject)",
        headers={"Prefer": "odata.maxpagesize=1", "If-None-Match": "null"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["Preference-Applied"] == "odata.maxpagesize=1"
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#accounts(name,primarycontactid(fullname),Account_Phonecalls(subject))"
    )
    (row,) = body["value"]
    assert set(row) == {
        "@odata.etag",
        "name",
        "accountid",
        "primarycontactid",
        "Account_Phonecalls",
        "Account_Phonecalls@odata.nextLink",
    }
    assert set(row["primarycontactid"]) == {"fullname", "contactid"}
    for call in row["Account_Phonecalls"]:
        assert set(call) == {"@odata.etag", "subject", "_regardingobjectid_value", "activityid"}
    assert row["Account_Phonecalls@odata.nextLink"] == (
        f"{ORG}accounts({row['accountid']})/Account_Phonecalls?$select=subject"
    )
    assert "$skiptoken=" in body["@odata.nextLink"]


def test_expand_single_valued_navigation_properties(api: httpx.Client, litware: str) -> None:
    r = api.get(
        "accounts?$select=name&$expand=primarycontactid($select=contactid,fullname),createdby($select=fullname)",
        headers={"Prefer": "odata.maxpagesize=2", "If-None-Match": "null"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#accounts(name,primarycontactid(contactid,fullname),createdby(fullname))"
    )
    assert len(body["value"]) == 2
    for row in body["value"]:
        assert set(row["primarycontactid"]) == {"contactid", "fullname"}
        created = row["createdby"]
        assert set(created) == {"fullname", "systemuserid", "ownerid"}
        assert created["systemuserid"] == created["ownerid"] == tenant.DEFAULT_APP_USER_ID


def test_return_references(api: httpx.Client, litware: str) -> None:
    r = api.get("accounts?$select=name&$expand=primarycontactid/$ref")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["@odata.context"]
        == f"{ORG}$metadata#accounts(name,primarycontactid,primarycontactid/$ref())"
    )
    for row in body["value"]:
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


def test_references_only_on_single_valued_navigation_properties(api: httpx.Client) -> None:
    r = api.get("accounts?$select=name&$expand=Account_Phonecalls/$ref")
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": EXPAND_ERROR,
            "message": "Expand with $ref is only supported on lookup type navigation property.",
        }
    }


def test_nested_expand_of_single_valued_navigation_properties(
    api: httpx.Client, litware: str
) -> None:
    person = api.get(f"accounts({litware})/primarycontactid?$select=fullname").json()["contactid"]
    tasks(api, "contact", person, "Susanna Stubberod", 2)
    r = api.get(
        f"phonecalls?$filter=_regardingobjectid_value eq {person}&$select=subject"
        "&$expand=regardingobjectid_contact_phonecall($select=fullname;"
        "$expand=parentcustomerid_account($select=name;$expand=createdby($select=fullname)))",
        headers={"Prefer": "odata.maxpagesize=2"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#phonecalls(subject,regardingobjectid_contact_phonecall(fullname,"
        "parentcustomerid_account(name,createdby(fullname))))"
    )
    assert len(body["value"]) == 2
    for row in body["value"]:
        regarding = row["regardingobjectid_contact_phonecall"]
        assert regarding["fullname"] == "Susanna Stubberod"
        assert regarding["parentcustomerid_account"]["name"] == "Litware, Inc. (sample)"
        assert set(regarding["parentcustomerid_account"]["createdby"]) == {
            "fullname",
            "systemuserid",
            "ownerid",
        }


def test_single_expand_on_collection_valued_navigation_properties(
    api: httpx.Client, litware: str
) -> None:
    r = api.get(
        "accounts?$select=name,accountid&$expand=Account_Phonecalls($select=subject),"
        "contact_customer_accounts($select=fullname)",
        headers={"Prefer": "odata.maxpagesize=1"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#accounts(name,accountid,Account_Phonecalls(subject),contact_customer_accounts(fullname))"
    )
    (row,) = body["value"]
    account = row["accountid"]
    assert (
        row["Account_Phonecalls@odata.nextLink"]
        == f"{ORG}accounts({account})/Account_Phonecalls?$select=subject"
    )
    assert row["contact_customer_accounts@odata.nextLink"] == (
        f"{ORG}accounts({account})/contact_customer_accounts?$select=fullname"
    )
    for person in row["contact_customer_accounts"]:
        assert set(person) == {"@odata.etag", "fullname", "_parentcustomerid_value", "contactid"}
    if account == litware:
        assert len(row["Account_Phonecalls"]) == 3  # no paging on the expanded rows


def test_nested_expand_refuses_top_and_orderby(api: httpx.Client, litware: str) -> None:
    for option in ("$top=1", "$orderby=subject"):
        r = api.get(
            f"accounts?$select=name&$expand=Account_Phonecalls($select=subject;{option}),"
            "contact_customer_accounts($select=fullname;$expand=owninguser($select=fullname))"
        )
        assert r.status_code == 400, option
        assert r.json() == {
            "error": {
                "code": EXPAND_ERROR,
                "message": "Only $select and $filter clause can be provided while doing $expand on "
                "many-to-one relationship or nested one-to-many relationship.",
            }
        }


def test_nested_expand_on_collection_valued_navigation_properties(
    api: httpx.Client, litware: str
) -> None:
    headers = {"Prefer": "odata.maxpagesize=1"}
    r = api.get(
        f"accounts?$filter=accountid eq {litware}&$select=name,accountid"
        "&$expand=Account_Phonecalls($select=subject),"
        "contact_customer_accounts($select=fullname;$expand=owninguser($select=fullname))",
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#accounts(name,accountid,Account_Phonecalls(subject),"
        "contact_customer_accounts(fullname,owninguser(fullname)))"
    )
    (row,) = body["value"]
    (call,) = row["Account_Phonecalls"]  # the page size applies to the expanded rows
    assert set(call) == {"subject", "activityid"}
    calls_link = row["Account_Phonecalls@odata.nextLink"]
    assert calls_link.startswith(
        f"{ORG}accounts({litware})/Account_Phonecalls?$select=subject&$skiptoken="
    )
    (person,) = row["contact_customer_accounts"]
    assert set(person) == {"fullname", "contactid", "owninguser"}
    assert set(person["owninguser"]) == {"fullname", "systemuserid", "ownerid"}
    assert "$skiptoken=" in row["contact_customer_accounts@odata.nextLink"]
    # "The Account_Tasks@odata.nextLink URL returns the next two tasks"
    rest = api.get(calls_link, headers={"Prefer": "odata.maxpagesize=2"}).json()["value"]
    assert len(rest) == 2
    assert call["activityid"] not in {c["activityid"] for c in rest}


def test_nested_expand_with_many_to_many_relationships(
    api: httpx.Client, core_emulator: Emulator
) -> None:
    user = core_emulator.add_user("Casey", "Coach", "casey@crmferry.example")
    api.post(
        f"teams({tenant.DEFAULT_TEAM_ID})/teammembership_association/$ref",
        json={"@odata.id": f"systemusers({user})"},
    )
    plain = api.get("teams?$select=name&$expand=teammembership_association($select=fullname)")
    assert plain.status_code == 200, plain.text
    r = api.get(
        "teams?$select=name&$expand=teammembership_association($select=fullname;$expand=createdby)"
    )
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": EXPAND_ERROR,
        "message": "The navigation property 'teammembership_association' cannot be expanded. "
        "Only many-to-one relationships are supported for nested expansion.",
    }


def test_up_to_fifteen_expand_options(api: httpx.Client, litware: str) -> None:
    many = ",".join(["createdby($select=fullname)"] * 15)
    assert api.get(f"accounts?$select=name&$expand={many}").status_code == 200
    r = api.get(f"accounts?$select=name&$expand={many},modifiedby")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == EXPAND_ERROR


def test_expand_options_dataverse_does_not_support(api: httpx.Client, litware: str) -> None:
    # "The options $skip, $count, $search, and $levels aren't supported"
    for option in ("$skip=1", "$count=true", "$search=Task", "$levels=2"):
        r = api.get(f"accounts?$expand=Account_Phonecalls({option})")
        assert r.status_code == 400, option
        assert r.json()["error"]["code"] == EXPAND_ERROR
