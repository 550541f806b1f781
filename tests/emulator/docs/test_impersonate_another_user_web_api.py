"""Impersonate another user using the Web API: refused, as the emulator does not implement
impersonation (both headers answer 501 naming them, and nothing is written).

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/impersonate-another-user-web-api
(page read at commit 6eaf509cdccbaf07a443c86f7d061b5b13d0ceaf of MicrosoftDocs/powerapps-docs).
"""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("header", ["CallerObjectId", "MSCRM.CallerID"])
def test_impersonation_is_refused(api: httpx.Client, header: str) -> None:
    user = api.get("systemusers?$select=azureactivedirectoryobjectid,systemuserid").json()["value"]
    other = next(u for u in user if u["azureactivedirectoryobjectid"])
    value = (
        other["azureactivedirectoryobjectid"]
        if header == "CallerObjectId"
        else other["systemuserid"]
    )
    response = api.post(
        "accounts",
        headers={header: value},
        json={"name": "Sample Account created using impersonation"},
    )
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == "0x80040219"
    assert header in error["message"]
    assert "not implemented by the emulator" in error["message"]
    found = api.get("accounts?$filter=startswith(name,'Sample Account created')").json()
    assert found["value"] == []
