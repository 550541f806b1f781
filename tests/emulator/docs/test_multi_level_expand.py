"""The examples of "Multi-level $expand with collection-valued navigation properties",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/multi-level-expand
(MicrosoftDocs/powerapps-docs, ``webapi/multi-level-expand.md`` at commit
16f17219a2dcc652deaaf1e2593b34ccdb0eb7c0, ms.date 2022-03-25), replayed against a fresh
tenant.

The data of the article: a user owning three accounts, the first with three tasks (phone
calls here: ``Account_Tasks`` → ``Account_Phonecalls``). The article's fourth tab shows a
platform bug ("I'm just including this here so you can see it in the review": the nested
``$expand`` ignored) and is not replayed. With a nested ``$expand`` the article's service
returned one account where the page size allowed two ("didn't limit it strictly"); the
emulator returns full pages, so the tests check what the article promises: at most a page,
and a ``<nav>@odata.nextLink`` with paging data for the rest.
"""

from __future__ import annotations

import httpx
import pytest

from crm_ferry.emulator.core import Emulator
from helpers.webapi import created_id, tasks

ORG = "https://contoso.crm.dynamics.com/api/data/v9.2/"
PAGE = {"Prefer": "odata.maxpagesize=2", "If-None-Match": "null"}


@pytest.fixture
def owner(api: httpx.Client, core_emulator: Emulator) -> dict[str, str]:
    user = core_emulator.add_user("FirstName", "LastName", "first.last@crmferry.example")
    made = {"user": user}
    # ids in the article's order, so that pages hold the rows the article shows first
    for n, name in enumerate(("Litware, Inc.", "Adventure Works", "Fabrikam, Inc."), start=1):
        body = {
            "accountid": f"00000000-0000-0000-0000-00000000000{n}",
            "name": name,
            "ownerid@odata.bind": f"/systemusers({user})",
        }
        made[name] = created_id(api.post("accounts", json=body))
    tasks(api, "account", made["Litware, Inc."], "Litware", 3)
    return made


def test_single_expand_accounts(api: httpx.Client, owner: dict[str, str]) -> None:
    r = api.get(
        f"accounts?$filter=_ownerid_value eq {owner['user']}&$select=name"
        "&$expand=Account_Phonecalls($select=subject)",
        headers=PAGE,
    )
    assert r.status_code == 200, r.text
    assert r.headers["Preference-Applied"] == "odata.maxpagesize=2"
    body = r.json()
    assert body["@odata.context"] == f"{ORG}$metadata#accounts(name,Account_Phonecalls(subject))"
    assert len(body["value"]) == 2  # the page size applies to the accounts only
    assert "$skiptoken=" in body["@odata.nextLink"]
    for row in body["value"]:
        link = row["Account_Phonecalls@odata.nextLink"]
        assert link == f"{ORG}accounts({row['accountid']})/Account_Phonecalls?$select=subject"
        assert "$skiptoken" not in link  # no paging data with a single $expand
        for call in row["Account_Phonecalls"]:
            assert set(call) == {"@odata.etag", "subject", "_regardingobjectid_value", "activityid"}
    litware = next(row for row in body["value"] if row["name"] == "Litware, Inc.")
    assert len(litware["Account_Phonecalls"]) == 3  # no paging on expanded rows


def test_single_expand_systemuser(api: httpx.Client, owner: dict[str, str]) -> None:
    r = api.get(
        f"systemusers({owner['user']})/user_accounts?$select=name&$expand=Account_Phonecalls($select=subject)",
        headers=PAGE,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == f"{ORG}$metadata#accounts(name,Account_Phonecalls(subject))"
    assert len(body["value"]) == 2
    assert body["@odata.nextLink"].startswith(f"{ORG}systemusers({owner['user']})/user_accounts?")
    for row in body["value"]:
        assert set(row) == {"@odata.etag", "name", "accountid", "Account_Phonecalls"}
    rest = api.get(body["@odata.nextLink"], headers=PAGE).json()
    names = {row["name"] for row in body["value"] + rest["value"]}
    assert names == {"Litware, Inc.", "Adventure Works", "Fabrikam, Inc."}


def test_multi_level_expand_systemuser(api: httpx.Client, owner: dict[str, str]) -> None:
    r = api.get(
        f"systemusers?$filter=systemuserid eq {owner['user']}&$select=fullname"
        "&$expand=user_accounts($select=name;$expand=Account_Phonecalls($select=subject))",
        headers=PAGE,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == (
        f"{ORG}$metadata#systemusers(fullname,user_accounts(name,Account_Phonecalls(subject)))"
    )
    (user,) = body["value"]
    assert set(user) == {
        "@odata.etag",
        "fullname",
        "systemuserid",
        "ownerid",
        "user_accounts",
        "user_accounts@odata.nextLink",
    }
    assert user["fullname"] == "FirstName LastName"
    accounts = user["user_accounts"]
    assert 1 <= len(accounts) <= 2
    for account in accounts:
        assert "@odata.etag" not in account  # nested $expand: no etags
        assert set(account) <= {
            "name",
            "accountid",
            "Account_Phonecalls",
            "Account_Phonecalls@odata.nextLink",
        }
    assert "$skiptoken=" in user["user_accounts@odata.nextLink"]
    # the rest of the user's accounts, each with its phone calls paged the same way
    others = api.get(user["user_accounts@odata.nextLink"], headers=PAGE).json()["value"]
    assert {a["name"] for a in accounts + others} == {
        "Litware, Inc.",
        "Adventure Works",
        "Fabrikam, Inc.",
    }
    litware = next(a for a in accounts + others if a["name"] == "Litware, Inc.")
    assert len(litware["Account_Phonecalls"]) == 2
    assert all(set(t) == {"subject", "activityid"} for t in litware["Account_Phonecalls"])
    link = litware["Account_Phonecalls@odata.nextLink"]
    assert link.startswith(
        f"{ORG}accounts({litware['accountid']})/Account_Phonecalls?$select=subject&$skiptoken="
    )
    third = api.get(link, headers=PAGE).json()["value"]  # "returns the third task record"
    assert len(third) == 1
    shown = {t["activityid"] for t in litware["Account_Phonecalls"]}
    assert not shown & {t["activityid"] for t in third}


def test_limited_options_top_and_orderby(api: httpx.Client, owner: dict[str, str]) -> None:
    # "Limited options: $orderby and $top not supported" (with a nested $expand)
    for option in ("$top=1", "$orderby=name"):
        r = api.get(
            f"systemusers({owner['user']})?$select=fullname"
            f"&$expand=user_accounts($select=name;{option};$expand=Account_Phonecalls($select=subject))"
        )
        assert r.status_code == 400, option
        assert r.json()["error"]["code"] == "0x80060888"
