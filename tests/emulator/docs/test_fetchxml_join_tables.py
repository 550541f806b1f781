"""Join tables using FetchXml, replayed.

https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/join-tables
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/fetchxml/join-tables.md at
d2174f86bc2371f700a5f23db8e3e57a053755a4).

The emulated tenant has no ``teammembership`` table, so the many-to-many example is answered
as for any table the tenant lacks; ``exists``, ``in`` and ``matchfirstrowusingcrossapply``
are refused (501).
"""

from __future__ import annotations

import httpx
import pytest

from helpers.webapi import created_id, fetch_xml

PAIRS = [
    ("Litware, Inc. (sample)", "Susanna", "Stubberod (sample)"),
    ("Adventure Works (sample)", "Nancy", "Anderson (sample)"),
    ("Fabrikam, Inc. (sample)", "Maria", "Campbell (sample)"),
]


@pytest.fixture
def primary(api: httpx.Client) -> None:
    """Accounts whose primary contact is set (and one without)."""
    for account, first, last in PAIRS:
        contact = created_id(api.post("contacts", json={"firstname": first, "lastname": last}))
        api.post(
            "accounts",
            json={"name": account, "primarycontactid@odata.bind": f"/contacts({contact})"},
        )
    api.post("accounts", json={"name": "No Contact Inc."})


def test_many_to_one(api: httpx.Client, primary: None) -> None:
    fetch = (
        "<fetch top='5'><entity name='account'><attribute name='name' />"
        "<link-entity name='contact' from='contactid' to='primarycontactid' link-type='inner' "
        "alias='contact'><attribute name='fullname' /></link-entity></entity></fetch>"
    )
    response = fetch_xml(api, "accounts", fetch)
    assert response.status_code == 200
    rows = response.json()["value"]
    assert sorted((r["name"], r["contact.fullname"]) for r in rows) == sorted(
        (a, f"{f} {la}") for a, f, la in PAIRS
    )
    assert all(set(r) == {"@odata.etag", "name", "accountid", "contact.fullname"} for r in rows)


def test_one_to_many_with_and_without_an_alias(api: httpx.Client, primary: None) -> None:
    fetch = (
        "<fetch top='5'><entity name='contact'><attribute name='fullname' />"
        "<link-entity name='account' from='primarycontactid' to='contactid' alias='account'>"
        "<attribute name='name' /></link-entity></entity></fetch>"
    )
    rows = fetch_xml(api, "contacts", fetch).json()["value"]
    assert sorted(r["account.name"] for r in rows) == sorted(a for a, _, _ in PAIRS)
    generated = fetch_xml(api, "contacts", fetch.replace(" alias='account'", "")).json()["value"]
    # "if no alias is provided, the data is returned with a column named account1.name"
    assert sorted(r["account1.name"] for r in generated) == sorted(a for a, _, _ in PAIRS)


def test_many_to_many_through_a_table_the_tenant_lacks(api: httpx.Client) -> None:
    fetch = (
        "<fetch top='2'><entity name='systemuser'><attribute name='fullname' />"
        "<link-entity name='teammembership' from='systemuserid' to='systemuserid' intersect='true'>"
        "<link-entity name='team' from='teamid' to='teamid' link-type='inner' alias='team'>"
        "<attribute name='name' /></link-entity></link-entity></entity></fetch>"
    )
    response = fetch_xml(api, "systemusers", fetch)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80041102"
    chosen = (
        "<fetch top='2'><entity name='systemuser'><link-entity name='team' alias='team' />"
        "</entity></fetch>"
    )
    refused = fetch_xml(api, "systemusers", chosen)
    assert refused.status_code == 501  # Dataverse choosing from and to itself


def test_no_relationship(api: httpx.Client) -> None:
    """Account names matching contact full names, with no lookup between them."""
    api.post("accounts", json={"name": "Jim Glynn"})
    api.post("accounts", json={"name": "Nobody"})
    api.post("contacts", json={"firstname": "Jim", "lastname": "Glynn"})
    fetch = (
        "<fetch><entity name='account'><attribute name='name' /><link-entity name='contact' "
        "from='fullname' to='name' link-type='inner' alias='contact'><attribute name='fullname' />"
        "</link-entity></entity></fetch>"
    )
    rows = fetch_xml(api, "accounts", fetch).json()["value"]
    assert [(r["name"], r["contact.fullname"]) for r in rows] == [("Jim Glynn", "Jim Glynn")]


def test_find_records_not_in_a_set(api: httpx.Client) -> None:
    """ "returns all account records with no contacts" (a left outer join and entityname)."""
    with_contact = created_id(api.post("accounts", json={"name": "Has Contacts"}))
    api.post("accounts", json={"name": "Lonely B"})
    api.post("accounts", json={"name": "Lonely A"})
    api.post(
        "contacts",
        json={"lastname": "C", "parentcustomerid_account@odata.bind": f"/accounts({with_contact})"},
    )
    fetch = (
        "<fetch><entity name='account'><attribute name='name' /><order attribute='name' />"
        "<link-entity name='contact' from='parentcustomerid' to='accountid' link-type='outer' "
        "alias='contact' /><filter type='and'><condition entityname='contact' "
        "attribute='parentcustomerid' operator='null' /></filter></entity></fetch>"
    )
    assert [r["name"] for r in fetch_xml(api, "accounts", fetch).json()["value"]] == [
        "Lonely A",
        "Lonely B",
    ]


@pytest.mark.parametrize("link_type", ["exists", "in", "matchfirstrowusingcrossapply"])
def test_advanced_link_types_are_refused(api: httpx.Client, link_type: str) -> None:
    fetch = (
        "<fetch><entity name='contact'><attribute name='fullname' /><link-entity name='account' "
        f"from='primarycontactid' to='contactid' link-type='{link_type}'><filter type='and'>"
        "<condition attribute='statecode' operator='eq' value='1' /></filter></link-entity>"
        "</entity></fetch>"
    )
    response = fetch_xml(api, "contacts", fetch)
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "0x80040219"
    assert link_type in response.json()["error"]["message"]


def test_more_than_15_link_entities(api: httpx.Client) -> None:
    links = "".join(
        f"<link-entity name='contact' from='parentcustomerid' to='accountid' alias='c{i}' />"
        for i in range(16)
    )
    response = fetch_xml(api, "accounts", f"<fetch><entity name='account'>{links}</entity></fetch>")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x8004430D",
        "message": "Number of link entities in query exceeded maximum limit.",
    }
