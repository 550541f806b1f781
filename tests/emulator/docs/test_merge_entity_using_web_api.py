"""Merge table rows using the Web API: refused, as the emulator does not implement Merge.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/merge-entity-using-web-api
(page read at commit 9f86c6e932ad34e382dd4f00dbd4fba15484723b of MicrosoftDocs/powerapps-docs).
"""

from __future__ import annotations

import httpx

from helpers.webapi import created_id


def test_merge_is_refused_and_changes_nothing(api: httpx.Client) -> None:
    target = created_id(api.post("accounts", json={"name": "Account 1"}))
    subordinate = created_id(api.post("accounts", json={"name": "Account 2"}))
    response = api.post(
        "Merge",
        headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"},
        json={
            "Target": {
                "name": "Account 1",
                "accountid": target,
                "@odata.type": "Microsoft.Dynamics.CRM.account",
            },
            "Subordinate": {
                "name": "Account 2",
                "accountid": subordinate,
                "@odata.type": "Microsoft.Dynamics.CRM.account",
            },
            "UpdateContent": {
                "accountnumber": "1234",
                "@odata.type": "Microsoft.Dynamics.CRM.account",
            },
            "PerformParentingChecks": False,
        },
    )
    assert response.status_code == 501
    assert response.json()["error"] == {
        "code": "0x80040219",
        "message": "The message Merge is not implemented by the emulator.",
    }
    row = api.get(f"accounts({subordinate})?$select=statecode").json()
    assert row["statecode"] == 0
