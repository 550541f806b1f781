"""Select columns using FetchXml, replayed.

https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/select-columns
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/fetchxml/select-columns.md
at 0b25050b206d4928271922ac7c6132b229c8e8c1).

The emulated account table has no ``accountclassificationcode``; ``industrycode``, another
choice column, takes its place.
"""

from __future__ import annotations

import httpx

from helpers.webapi import created_id, fetch_xml

ALL = {"Prefer": 'odata.include-annotations="*"'}
QUERY = (
    "<fetch><entity name='account'><attribute name='industrycode' />"
    "<attribute name='createdby' /><attribute name='createdon' /><attribute name='name' />"
    "</entity></fetch>"
)


def test_the_columns_asked_for(api: httpx.Client) -> None:
    for name in ("Litware, Inc. (sample)", "Adventure Works (sample)"):
        api.post("accounts", json={"name": name, "industrycode": 1})
    body = fetch_xml(api, "accounts", QUERY).json()
    assert body["@odata.context"].endswith(
        "$metadata#accounts(industrycode,_createdby_value,createdon,name,accountid)"
    )
    for row in body["value"]:
        assert set(row) == {
            "@odata.etag",
            "industrycode",
            "_createdby_value",
            "createdon",
            "name",
            "accountid",
        }
        assert row["industrycode"] == 1
        assert row["createdon"].endswith("Z")  # the UTC value


def test_formatted_values(api: httpx.Client) -> None:
    """ "the results returned include formatted values": the choice's label, the user's name."""
    api.post("accounts", json={"name": "Fabrikam, Inc. (sample)", "industrycode": 1})
    row = fetch_xml(api, "accounts", QUERY, ALL).json()["value"][0]
    formatted = "@OData.Community.Display.V1.FormattedValue"
    assert row[f"industrycode{formatted}"] == "Accounting"
    assert isinstance(row[f"_createdby_value{formatted}"], str)
    assert row["_createdby_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "systemuser"


def test_column_aliases(api: httpx.Client) -> None:
    """A link-entity's columns are named ``{alias}.{column}``, unless given an alias."""
    contact = created_id(
        api.post("contacts", json={"firstname": "Susanna", "lastname": "Stubberod"})
    )
    api.post(
        "accounts", json={"name": "Litware", "primarycontactid@odata.bind": f"/contacts({contact})"}
    )
    fetch = (
        "<fetch><entity name='account'><attribute name='name' alias='account_name' />"
        "<link-entity name='contact' from='contactid' to='primarycontactid' alias='contact'>"
        "<attribute name='fullname' /><attribute name='firstname' alias='given' /></link-entity>"
        "</entity></fetch>"
    )
    row = fetch_xml(api, "accounts", fetch).json()["value"][0]
    assert row["account_name"] == "Litware"
    assert row["contact.fullname"] == "Susanna Stubberod"
    assert row["given"] == "Susanna"
    assert "name" not in row


def test_names_must_be_unique(api: httpx.Client) -> None:
    fetch = (
        "<fetch><entity name='account'><attribute name='name' alias='x' />"
        "<attribute name='accountnumber' alias='x' /></entity></fetch>"
    )
    response = fetch_xml(api, "accounts", fetch)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80041130"
