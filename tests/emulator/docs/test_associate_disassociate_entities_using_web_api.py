"""The examples of "Associate and disassociate table rows using the Web API",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api
(MicrosoftDocs/powerapps-docs, ``webapi/associate-disassociate-entities-using-web-api.md`` at
commit 2b58bc64fdb8b36936dbb011fef37751d25902b4), replayed against a fresh tenant.

Each request is the article's, with the tenant's own ids. The article says collection
references work "for an N:N relationship" too: the last examples replay it on the tenant's
``teammembership_association``.
"""

from __future__ import annotations

import httpx

from crm_ferry.emulator import tenant
from crm_ferry.emulator.core import Emulator
from helpers.webapi import created_id

ORG = "https://contoso.crm.dynamics.com/api/data/v9.2/"


def _account(api: httpx.Client, **extra: str) -> str:
    return created_id(api.post("accounts", json={"name": "Sample Account", **extra}))


def _opportunity(api: httpx.Client, **extra: str) -> str:
    return created_id(api.post("opportunities", json={"name": "Sample Opportunity", **extra}))


def _no_content(r: httpx.Response) -> None:
    assert r.status_code == 204, r.text
    assert r.headers["OData-Version"] == "4.0"
    assert r.content == b""


def test_add_a_reference_to_a_collection_valued_navigation_property(api: httpx.Client) -> None:
    account = _account(api)
    opportunity = _opportunity(api)
    r = api.post(
        f"accounts({account})/opportunity_customer_accounts/$ref",
        json={"@odata.id": f"{ORG}opportunities({opportunity})"},
    )
    _no_content(r)
    got = api.get(f"opportunities({opportunity})?$select=_customerid_value").json()
    assert got["_customerid_value"] == account


def test_change_the_reference_in_a_single_valued_navigation_property(api: httpx.Client) -> None:
    account = _account(api)
    opportunity = _opportunity(api)
    r = api.put(
        f"opportunities({opportunity})/customerid_account/$ref",
        json={"@odata.id": f"accounts({account})"},
    )
    _no_content(r)
    assert (
        api.get(f"opportunities({opportunity})/customerid_account").json()["accountid"] == account
    )


def test_remove_a_reference_from_a_collection_with_id(api: httpx.Client) -> None:
    account = _account(api)
    opportunity = _opportunity(api, **{"customerid_account@odata.bind": f"/accounts({account})"})
    r = api.delete(
        f"accounts({account})/opportunity_customer_accounts/$ref",
        params={"$id": f"{ORG}opportunities({opportunity})"},
    )
    _no_content(r)
    assert api.get(f"opportunities({opportunity})").json()["_customerid_value"] is None


def test_remove_a_reference_from_a_collection_by_key(api: httpx.Client) -> None:
    account = _account(api)
    opportunity = _opportunity(api, **{"customerid_account@odata.bind": f"/accounts({account})"})
    r = api.delete(f"accounts({account})/opportunity_customer_accounts({opportunity})/$ref")
    _no_content(r)
    assert api.get(f"accounts({account})/opportunity_customer_accounts").json()["value"] == []


def test_remove_a_single_valued_reference(api: httpx.Client) -> None:
    account = _account(api)
    opportunity = _opportunity(api, **{"customerid_account@odata.bind": f"/accounts({account})"})
    _no_content(api.delete(f"opportunities({opportunity})/customerid_account/$ref"))
    assert api.get(f"opportunities({opportunity})/customerid_account").status_code == 204


def test_associate_table_rows_on_update(api: httpx.Client) -> None:
    account = _account(api)
    opportunity = _opportunity(api)
    r = api.patch(
        f"opportunities({opportunity})",
        json={"customerid_account@odata.bind": f"accounts({account})"},
    )
    _no_content(r)
    assert api.get(f"opportunities({opportunity})").json()["_customerid_value"] == account


def _linked_account(api: httpx.Client) -> str:
    parent = _account(api)
    person = created_id(api.post("contacts", json={"lastname": "Primary"}))
    return _account(
        api,
        **{
            "parentaccountid@odata.bind": f"/accounts({parent})",
            "primarycontactid@odata.bind": f"/contacts({person})",
        },
    )


def test_disassociate_on_update_with_odata_bind_null(api: httpx.Client) -> None:
    account = _linked_account(api)
    r = api.patch(
        f"accounts({account})",
        json={"parentaccountid@odata.bind": None, "primarycontactid@odata.bind": None},
    )
    _no_content(r)
    got = api.get(f"accounts({account})?$select=_parentaccountid_value,_primarycontactid_value")
    assert got.json()["_parentaccountid_value"] is None
    assert got.json()["_primarycontactid_value"] is None


def test_disassociate_on_update_with_the_navigation_property_name(api: httpx.Client) -> None:
    account = _linked_account(api)
    _no_content(
        api.patch(f"accounts({account})", json={"parentaccountid": None, "primarycontactid": None})
    )
    got = api.get(f"accounts({account})?$select=_parentaccountid_value,_primarycontactid_value")
    assert got.json()["_parentaccountid_value"] is None
    assert got.json()["_primarycontactid_value"] is None


def test_associate_on_update_using_a_collection_valued_navigation_property(
    api: httpx.Client,
) -> None:
    first = created_id(api.post("contacts", json={"lastname": "First"}))
    second = created_id(api.post("contacts", json={"lastname": "Second"}))
    email = created_id(api.post("emails", json={"subject": "Hello"}))
    r = api.put(
        f"emails({email})/email_activity_parties",
        json={
            "value": [
                {"partyid_contact@odata.bind": f"contacts({first})", "participationtypemask": 3},
                {"partyid_contact@odata.bind": f"contacts({second})", "participationtypemask": 2},
            ]
        },
    )
    _no_content(r)
    parties = api.get(f"emails({email})/email_activity_parties?$select=participationtypemask")
    assert sorted(p["participationtypemask"] for p in parties.json()["value"]) == [2, 3]


def test_the_same_operations_on_a_many_to_many_relationship(
    api: httpx.Client, core_emulator: Emulator
) -> None:
    user = core_emulator.add_user("Casey", "Coach", "casey@crmferry.example")
    team = tenant.DEFAULT_TEAM_ID
    r = api.post(
        f"teams({team})/teammembership_association/$ref",
        json={"@odata.id": f"{ORG}systemusers({user})"},
    )
    _no_content(r)
    members = api.get(f"teams({team})/teammembership_association/$ref").json()["value"]
    assert members == [{"@odata.id": f"{ORG}systemusers({user})"}]
    r = api.delete(
        f"teams({team})/teammembership_association/$ref",
        params={"$id": f"{ORG}systemusers({user})"},
    )
    _no_content(r)
    assert api.get(f"systemusers({user})/teammembership_association").json()["value"] == []
