"""Filter rows using FetchXml, replayed.

https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/filter-rows
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/fetchxml/filter-rows.md at
8c880b4b1b5b387b181152e54345ca465cf4cada).

Column comparisons (``valueof``) and filters on related records (a ``link-entity`` inside a
``filter``: ``any``, ``not any``, ``all``, ``not all``) are refused (501).
"""

from __future__ import annotations

import httpx
import pytest

from helpers.webapi import created_id, fetch_xml

CITIES = {"Contoso": "Redmond", "Fabrikam": "Seattle", "Litware": "Bellevue", "Coho": "Tacoma"}


@pytest.fixture
def accounts(api: httpx.Client) -> dict[str, str]:
    ids = {}
    for i, (name, city) in enumerate(CITIES.items()):
        body = {"name": name, "address1_city": city, "numberofemployees": 5 * (i + 1)}
        ids[name] = created_id(api.post("accounts", json=body))
    return ids


def names(
    api: httpx.Client, fetch: str, entity_set: str = "accounts", key: str = "name"
) -> list[str]:
    response = fetch_xml(api, entity_set, fetch)
    assert response.status_code == 200, response.text
    return sorted(r[key] for r in response.json()["value"])


def test_and_filter_with_eq(api: httpx.Client, accounts: dict[str, str]) -> None:
    fetch = (
        "<fetch><entity name='account'><attribute name='name' /><filter type='and'>"
        "<condition attribute='address1_city' operator='eq' value='Redmond' /></filter>"
        "</entity></fetch>"
    )
    assert names(api, fetch) == ["Contoso"]


def test_or_filter_and_the_same_with_in(api: httpx.Client, accounts: dict[str, str]) -> None:
    by_or = (
        "<fetch><entity name='account'><attribute name='name' /><attribute name='address1_city' />"
        "<filter type='or'><condition attribute='address1_city' operator='eq' value='Redmond' />"
        "<condition attribute='address1_city' operator='eq' value='Seattle' />"
        "<condition attribute='address1_city' operator='eq' value='Bellevue' /></filter>"
        "</entity></fetch>"
    )
    by_in = (
        "<fetch><entity name='account'><attribute name='name' /><attribute name='address1_city' />"
        "<filter type='and'><condition attribute='address1_city' operator='in'>"
        "<value>Redmond</value><value>Seattle</value><value>Bellevue</value></condition>"
        "</filter></entity></fetch>"
    )
    assert names(api, by_or) == names(api, by_in) == ["Contoso", "Fabrikam", "Litware"]


def test_no_single_and_multiple_parameters(api: httpx.Client, accounts: dict[str, str]) -> None:
    eq_userid = (
        "<fetch><entity name='account'><attribute name='name' /><filter>"
        "<condition attribute='ownerid' operator='eq-userid' /></filter></entity></fetch>"
    )
    assert names(api, eq_userid) == sorted(CITIES)
    statecode = eq_userid.replace(
        "attribute='ownerid' operator='eq-userid'", "attribute='statecode' operator='eq' value='0'"
    )
    assert names(api, statecode) == sorted(CITIES)
    between = (
        "<fetch><entity name='account'><attribute name='name' /><filter>"
        '<condition attribute="numberofemployees" operator="between"><value>6</value>'
        "<value>20</value></condition></filter></entity></fetch>"
    )
    assert names(api, between) == ["Coho", "Fabrikam", "Litware"]  # 10, 15, 20


def test_filters_on_a_link_entity_after_the_outer_join(
    api: httpx.Client, accounts: dict[str, str]
) -> None:
    """Contacts without a parent account, or whose parent account has no fax."""
    faxed = created_id(api.post("accounts", json={"name": "Faxed", "fax": "+1-555-0100"}))
    for last, parent in (("Orphan", None), ("NoFax", accounts["Contoso"]), ("Fax", faxed)):
        body = {"firstname": "Contact", "lastname": last}
        if parent:
            body["parentcustomerid_account@odata.bind"] = f"/accounts({parent})"
        api.post("contacts", json=body)
    fetch = (
        "<fetch><entity name='contact'><attribute name='fullname' /><filter>"
        "<condition entityname='a' attribute='fax' operator='null' /></filter>"
        "<link-entity name='account' from='accountid' to='parentcustomerid' link-type='outer' "
        "alias='a' /></entity></fetch>"
    )
    assert names(api, fetch, "contacts", "fullname") == ["Contact NoFax", "Contact Orphan"]


@pytest.mark.parametrize(
    "fetch",
    [
        "<fetch><entity name='contact'><attribute name='firstname' /><filter>"
        "<condition attribute='firstname' operator='eq' valueof='lastname' /></filter>"
        "</entity></fetch>",
        "<fetch><entity name='contact'><attribute name='contactid' /><filter type='and'>"
        "<condition attribute='fullname' operator='eq' valueof='acct.name' /></filter>"
        "<link-entity name='account' from='accountid' to='parentcustomerid' link-type='outer' "
        "alias='acct'><attribute name='name' /></link-entity></entity></fetch>",
    ],
)
def test_column_comparisons_are_refused(api: httpx.Client, fetch: str) -> None:
    response = fetch_xml(api, "contacts", fetch)
    assert response.status_code == 501
    assert "valueof" in response.json()["error"]["message"]


@pytest.mark.parametrize("link_type", ["any", "not any", "not all", "all"])
def test_filters_on_related_records_are_refused(api: httpx.Client, link_type: str) -> None:
    fetch = (
        "<fetch><entity name='contact'><attribute name='fullname' /><filter type='or'>"
        "<link-entity name='account' from='primarycontactid' to='contactid' "
        f"link-type='{link_type}'>"
        "<filter type='and'><condition attribute='name' operator='eq' value='Contoso' /></filter>"
        "</link-entity><condition attribute='statecode' operator='eq' value='1' /></filter>"
        "</entity></fetch>"
    )
    response = fetch_xml(api, "contacts", fetch)
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "0x80040219"


def test_condition_limits(api: httpx.Client) -> None:
    conditions = "<condition attribute='name' operator='eq' value='x' />" * 501
    response = fetch_xml(
        api,
        "accounts",
        f"<fetch><entity name='account'><filter type='or'>{conditions}</filter></entity></fetch>",
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x8004430C",
        "message": "Number of conditions in query exceeded maximum limit.",
    }
