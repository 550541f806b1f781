"""The examples of "Select columns using OData", replayed on a fresh tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/query/select-columns.md
at commit 7df03445645ac234de3415d58a20e40d4e31be1d).

The article's formatted-values response shows ``@odata.context`` ending in
``accounts(name,revenue)`` for a ``$select`` of five columns (copied from the example
before it); the emulator names the columns selected, as every other example does.
"""

from __future__ import annotations

import httpx
import pytest

from crm_ferry.emulator import tenant
from helpers.webapi import created_id

ROOT = "https://contoso.crm.dynamics.com/api/data/v9.2/"
HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
FV = "@OData.Community.Display.V1.FormattedValue"
FORMATTED = {"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'}
LOOKUPS = {
    "Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.associatednavigationproperty,'
    'Microsoft.Dynamics.CRM.lookuplogicalname"'
}


@pytest.fixture
def litware(api: httpx.Client) -> str:
    contact = created_id(
        api.post("contacts", json={"firstname": "Susanna", "lastname": "Stubberod (sample)"})
    )
    body = {
        "name": "Litware, Inc. (sample)",
        "revenue": 20000,
        "customertypecode": 1,
        "primarycontactid@odata.bind": f"/contacts({contact})",
    }
    return created_id(api.post("accounts", json=body))


def test_select_name_and_revenue(api: httpx.Client, litware: str) -> None:
    r = api.get("accounts?$select=name,revenue&$top=1", headers=HEADERS)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    assert r.headers["OData-Version"] == "4.0"
    body = r.json()
    assert body["@odata.context"] == f"{ROOT}$metadata#accounts(name,revenue)"
    [row] = body["value"]
    # the primary key always, and the currency because revenue is a currency property
    assert set(row) == {
        "@odata.etag",
        "name",
        "revenue",
        "_transactioncurrencyid_value",
        "accountid",
    }
    assert row["revenue"] == 20000
    assert row["_transactioncurrencyid_value"] == tenant.BASE_CURRENCY_ID
    assert row["accountid"] == litware


def test_formatted_values(api: httpx.Client, litware: str) -> None:
    r = api.get(
        "accounts?$select=name,revenue,_primarycontactid_value,customertypecode,modifiedon&$top=1",
        headers={**HEADERS, **FORMATTED},
    )
    assert r.status_code == 200
    assert r.headers["Preference-Applied"] == FORMATTED["Prefer"]
    [row] = r.json()["value"]
    assert set(row) == {
        "@odata.etag",
        "name",
        f"revenue{FV}",
        "revenue",
        f"_primarycontactid_value{FV}",
        "_primarycontactid_value",
        f"customertypecode{FV}",
        "customertypecode",
        f"modifiedon{FV}",
        "modifiedon",
        f"_transactioncurrencyid_value{FV}",
        "_transactioncurrencyid_value",
        "accountid",
    }
    assert row[f"revenue{FV}"] == "$20,000.00"
    assert row[f"_primarycontactid_value{FV}"] == "Susanna Stubberod (sample)"
    assert row[f"customertypecode{FV}"] == "Competitor"
    assert row["customertypecode"] == 1
    # the fixture's clock, 2026-01-02T03:04:05Z, in the user's time zone (Pacific)
    assert (row["modifiedon"], row[f"modifiedon{FV}"]) == (
        "2026-01-02T03:04:05Z",
        "1/1/2026 7:04 PM",
    )
    assert row[f"_transactioncurrencyid_value{FV}"] == "US Dollar"


def test_lookup_property_data(api: httpx.Client, litware: str) -> None:
    team_owned = created_id(
        api.post(
            "accounts",
            json={
                "name": "Adventure Works (sample)",
                "ownerid@odata.bind": f"/teams({tenant.DEFAULT_TEAM_ID})",
            },
        )
    )
    r = api.get(
        "accounts?$select=name,_ownerid_value&$orderby=name&$top=2", headers={**HEADERS, **LOOKUPS}
    )
    assert r.status_code == 200
    assert r.headers["Preference-Applied"] == LOOKUPS["Prefer"]
    body = r.json()
    assert body["@odata.context"] == f"{ROOT}$metadata#accounts(name,_ownerid_value)"
    team, user = body["value"]
    assert team["accountid"] == team_owned
    nav = "_ownerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"
    table = "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
    assert (team[nav], team[table], team["_ownerid_value"]) == (
        "ownerid",
        "team",
        tenant.DEFAULT_TEAM_ID,
    )
    assert (user[nav], user[table]) == ("ownerid", "systemuser")
    assert set(user) == {"@odata.etag", "name", nav, table, "_ownerid_value", "accountid"}


def test_there_is_no_way_to_alias_a_column(api: httpx.Client, litware: str) -> None:
    # "OData 4.0 doesn't include the $compute system query option"
    r = api.get("accounts?$select=name&$compute=name as title")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "The query parameter $compute is not supported"
