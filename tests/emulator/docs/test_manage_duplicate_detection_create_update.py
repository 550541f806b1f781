"""Detect duplicate data using the Web API: the emulator runs no duplicate detection rules, so
asking for detection (``MSCRM.SuppressDuplicateDetection: false``) is refused with 501, and
suppressing it (what every write does without rules) is taken.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/manage-duplicate-detection-create-update
(page read at commit ee736d0e6a2d118b623c0132b1da26c055d57575 of MicrosoftDocs/powerapps-docs).
"""

from __future__ import annotations

import httpx

from helpers.webapi import created_id


def test_asking_for_duplicate_detection_on_create_is_refused(api: httpx.Client) -> None:
    response = api.post(
        "accounts",
        headers={"MSCRM.SuppressDuplicateDetection": "false"},
        json={"name": "Sample Account", "emailaddress1": "someone@example.com"},
    )
    assert response.status_code == 501
    assert "MSCRM.SuppressDuplicateDetection" in response.json()["error"]["message"]


def test_asking_for_duplicate_detection_on_update_is_refused(api: httpx.Client) -> None:
    account = created_id(api.post("accounts", json={"name": "Sample Account"}))
    response = api.patch(
        f"accounts({account})",
        headers={"MSCRM.SuppressDuplicateDetection": "false", "If-Match": "*"},
        json={"emailaddress1": "someone@example.com"},
    )
    assert response.status_code == 501
    assert api.get(f"accounts({account})/emailaddress1").json()["value"] is None


def test_suppressing_duplicate_detection_is_taken(api: httpx.Client) -> None:
    response = api.post(
        "accounts",
        headers={"MSCRM.SuppressDuplicateDetection": "true"},
        json={"name": "Sample Account"},
    )
    assert response.status_code == 204
