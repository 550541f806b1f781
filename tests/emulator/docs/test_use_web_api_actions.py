"""Use Web API actions: the article's examples.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-actions
(page read at commit 1b6722f3d3bb2df684b71d6c2aab31dca9d8d4b4 of MicrosoftDocs/powerapps-docs).
The queue, letter and custom-action examples need tables and processes a fresh tenant does
not have; the messages the emulator lacks are refused with 501 naming them.
"""

from __future__ import annotations

import httpx
import pytest

from helpers.webapi import created_id


def test_an_unbound_action_win_opportunity(api: httpx.Client) -> None:
    account = created_id(api.post("accounts", json={"name": "Customer"}))
    opportunity = created_id(
        api.post(
            "opportunities",
            json={"name": "Deal", "customerid_account@odata.bind": f"/accounts({account})"},
        )
    )
    response = api.post(
        "WinOpportunity",
        headers={"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"},
        json={
            "Status": 3,
            "OpportunityClose": {
                "subject": "Won Opportunity",
                "opportunityid@odata.bind": f"{api.base_url}opportunities({opportunity})",
            },
        },
    )
    assert response.status_code == 204
    assert response.headers["OData-Version"] == "4.0"
    row = api.get(f"opportunities({opportunity})?$select=statecode,statuscode").json()
    assert (row["statecode"], row["statuscode"]) == (1, 3)
    closes = api.get(
        f"opportunitycloses?$select=subject&$filter=_opportunityid_value eq {opportunity}"
    ).json()["value"]
    assert [c["subject"] for c in closes] == ["Won Opportunity"]


def test_a_bound_function_needs_its_full_name(api: httpx.Client) -> None:
    user = api.get("WhoAmI()").json()["UserId"]
    qualified = api.get(f"systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()")
    assert qualified.status_code == 200
    bare = api.get(f"systemusers({user})/RetrieveUserPrivileges()")
    assert bare.status_code == 400
    assert bare.json()["error"]["code"] not in ("", "0x0")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("solutions/Microsoft.Dynamics.CRM.ExportTranslation", "ExportTranslation"),
        ("teams({team})/Microsoft.Dynamics.CRM.AddMembersTeam", "AddMembersTeam"),
        ("teams({team})/Microsoft.Dynamics.CRM.RemoveMembersTeam", "RemoveMembersTeam"),
    ],
)
def test_a_bound_action_the_emulator_lacks_is_refused(
    api: httpx.Client, url: str, message: str
) -> None:
    team = api.get("teams?$select=teamid").json()["value"][0]["teamid"]
    user = api.get("WhoAmI()").json()["UserId"]
    response = api.post(
        url.format(team=team),
        json={
            "SolutionName": "MySolution",
            "Members": [{"@odata.type": "Microsoft.Dynamics.CRM.systemuser", "ownerid": user}],
        },
    )
    assert response.status_code == 501
    assert response.json()["error"] == {
        "code": "0x80040219",
        "message": f"The message {message} is not implemented by the emulator.",
    }


def test_a_custom_action_the_tenant_does_not_have_is_not_found(api: httpx.Client) -> None:
    contact = created_id(api.post("contacts", json={"lastname": "Note taker"}))
    response = api.post(
        f"contacts({contact})/Microsoft.Dynamics.CRM.new_AddNoteToContact",
        json={"NoteTitle": "New Note Title", "NoteText": "This is the text of the note"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "0x80060888"


def test_retrieve_version(api: httpx.Client) -> None:
    response = api.get("RetrieveVersion()")
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith(
        "$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse"
    )
    assert body["Version"].startswith("9.2.")
