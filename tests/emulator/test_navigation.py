"""Navigation properties through raw Web API requests: related rows, ``$ref``, associate and
disassociate, deep insert, collection binds on create and ``$expand``.

Sources (Microsoft Learn, Dataverse Web API):

* RETRIEVE https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api
* ASSOCIATE https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api
* CREATE https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api
* JOIN https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry.emulator import tenant
from crm_ferry.emulator.core import CoreConfig, Emulator
from helpers.webapi import created_id, pages

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
REP = {"Prefer": "return=representation"}


class Clock:
    """A wall clock that moves a second per reading, so modifiedon shows each write."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _client(em: Emulator) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(em.handle), base_url=BASE)


@pytest.fixture
def ticking() -> Iterator[httpx.Client]:
    em = Emulator(CoreConfig(wall_clock=Clock()))
    with _client(em) as client:
        yield client
    em.close()


def account(api: httpx.Client, name: str = "Acme", **extra: Any) -> str:
    return created_id(api.post("accounts", json={"name": name, **extra}))


def contact(api: httpx.Client, last: str = "Ng", **extra: Any) -> str:
    return created_id(api.post("contacts", json={"lastname": last, **extra}))


def bind(set_name: str, row_id: str) -> str:
    return f"/{set_name}({row_id})"


# -- reading through navigation properties ---------------------------------------------


def test_single_valued_navigation_property_is_the_related_row(api: httpx.Client) -> None:
    # RETRIEVE "Retrieve navigation property values": accounts(id)/primarycontactid?$select
    person = contact(api, "Valdes", firstname="Rene")
    acc = account(api, **{"primarycontactid@odata.bind": bind("contacts", person)})
    r = api.get(f"accounts({acc})/primarycontactid?$select=fullname")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == f"{BASE}$metadata#contacts(fullname)/$entity"
    assert set(body) == {"@odata.context", "@odata.etag", "fullname", "contactid"}
    assert body["contactid"] == person


def test_empty_single_valued_navigation_property_is_no_content(api: httpx.Client) -> None:
    acc = account(api)
    assert api.get(f"accounts({acc})/primarycontactid").status_code == 204
    assert api.get(f"accounts({acc})/primarycontactid/$ref").status_code == 204


def test_a_polymorphic_navigation_property_sees_only_its_table(api: httpx.Client) -> None:
    acc = account(api)
    person = contact(api, **{"parentcustomerid_account@odata.bind": bind("accounts", acc)})
    assert api.get(f"contacts({person})/parentcustomerid_account").json()["accountid"] == acc
    assert api.get(f"contacts({person})/parentcustomerid_contact").status_code == 204


def test_single_valued_navigation_takes_select_and_expand_only(api: httpx.Client) -> None:
    person = contact(api)
    acc = account(api, **{"primarycontactid@odata.bind": bind("contacts", person)})
    r = api.get(
        f"accounts({acc})/primarycontactid?$select=lastname&$expand=createdby($select=fullname)"
    )
    assert r.status_code == 200, r.text
    assert r.json()["createdby"]["systemuserid"] == tenant.DEFAULT_APP_USER_ID
    refused = api.get(f"accounts({acc})/primarycontactid?$filter=lastname eq 'Ng'")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "0x80060888"


def test_collection_valued_navigation_property_is_a_filtered_collection(api: httpx.Client) -> None:
    acc = account(api)
    other = account(api, "Other")
    for last in ("Lovelace", "Turing", "Hopper"):
        contact(api, last, **{"parentcustomerid_account@odata.bind": bind("accounts", acc)})
    contact(api, "Elsewhere", **{"parentcustomerid_account@odata.bind": bind("accounts", other)})
    r = api.get(
        f"accounts({acc})/contact_customer_accounts",
        params={
            "$select": "lastname",
            "$filter": "lastname ne 'Hopper'",
            "$orderby": "lastname desc",
            "$count": "true",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.context"] == f"{BASE}$metadata#contacts(lastname)"
    assert [c["lastname"] for c in body["value"]] == ["Turing", "Lovelace"]
    assert body["@odata.count"] == 2
    top = api.get(f"accounts({acc})/contact_customer_accounts?$select=lastname&$top=1")
    assert len(top.json()["value"]) == 1


def test_related_collection_pages_with_maxpagesize(api: httpx.Client) -> None:
    acc = account(api)
    made = {
        contact(api, f"C{i}", **{"parentcustomerid_account@odata.bind": bind("accounts", acc)})
        for i in range(7)
    }
    read = list(pages(api, f"accounts({acc})/contact_customer_accounts?$select=lastname", 3))
    for body in read:
        assert len(body["value"]) <= 3
    link = f"{BASE}accounts({acc})/contact_customer_accounts?"
    for body in read[:-1]:
        assert body["@odata.nextLink"].startswith(link)
    assert len(read) == 3
    assert sorted(c["contactid"] for body in read for c in body["value"]) == sorted(made)


def test_count_and_references_of_a_related_collection(api: httpx.Client) -> None:
    # RETRIEVE: .../AccountTasks/$ref (Collection($ref)) and .../Account_Tasks/$count
    acc = account(api)
    people = [
        contact(api, n, **{"parentcustomerid_account@odata.bind": bind("accounts", acc)})
        for n in ("A", "B")
    ]
    count = api.get(f"accounts({acc})/contact_customer_accounts/$count")
    assert (count.status_code, count.text) == (200, "2")
    assert count.headers["Content-Type"].startswith("text/plain")
    refs = api.get(f"accounts({acc})/contact_customer_accounts/$ref").json()
    assert refs["@odata.context"] == f"{BASE}$metadata#Collection($ref)"
    assert sorted(refs["value"], key=str) == sorted(
        ({"@odata.id": f"{BASE}contacts({p})"} for p in people), key=str
    )
    person = people[0]
    api.put(f"accounts({acc})/primarycontactid/$ref", json={"@odata.id": f"contacts({person})"})
    single = api.get(f"accounts({acc})/primarycontactid/$ref").json()
    assert single == {
        "@odata.context": f"{BASE}$metadata#$ref",
        "@odata.id": f"{BASE}contacts({person})",
    }


def test_paths_past_a_navigation_property_are_not_implemented(api: httpx.Client) -> None:
    person = contact(api)
    acc = account(api, **{"primarycontactid@odata.bind": bind("contacts", person)})
    for path in (
        f"accounts({acc})/primarycontactid/fullname",
        f"accounts({acc})/primarycontactid/parentcustomerid_account",
        f"accounts({acc})/contact_customer_accounts({person})",
    ):
        r = api.get(path)
        assert r.status_code == 501, path
        assert r.json()["error"]["code"] == "0x80040219"
        assert "is not implemented by the emulator" in r.json()["error"]["message"]


def test_methods_a_navigation_property_does_not_take(api: httpx.Client) -> None:
    acc = account(api)
    assert api.post(f"accounts({acc})/contact_customer_accounts", json={}).status_code == 405
    assert api.delete(f"accounts({acc})/primarycontactid").status_code == 405
    assert api.post(f"accounts({acc})/primarycontactid/$ref", json={}).status_code == 405
    assert api.put(f"accounts({acc})/contact_customer_accounts/$ref", json={}).status_code == 405


# -- associate and disassociate ------------------------------------------------------------


def test_put_single_valued_reference_is_an_update(ticking: httpx.Client) -> None:
    api = ticking
    acc = account(api)
    person = contact(api)
    before = api.get(f"accounts({acc})").json()
    r = api.put(
        f"accounts({acc})/primarycontactid/$ref", json={"@odata.id": f"{BASE}contacts({person})"}
    )
    assert r.status_code == 204, r.text
    after = api.get(f"accounts({acc})").json()
    assert after["_primarycontactid_value"] == person
    assert after["versionnumber"] > before["versionnumber"]
    assert after["modifiedon"] > before["modifiedon"]
    assert after["@odata.etag"] != before["@odata.etag"]


def test_references_check_the_row_version_and_the_target(api: httpx.Client) -> None:
    acc = account(api)
    person = contact(api)
    stale = api.put(
        f"accounts({acc})/primarycontactid/$ref",
        json={"@odata.id": f"contacts({person})"},
        headers={"If-Match": 'W/"1"'},
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "0x80060882"
    wrong = api.put(
        f"accounts({acc})/primarycontactid/$ref", json={"@odata.id": f"accounts({acc})"}
    )
    assert wrong.status_code == 400
    missing = api.put(
        f"accounts({acc})/primarycontactid/$ref",
        json={"@odata.id": "contacts(00000000-0000-0000-0000-000000000001)"},
    )
    assert missing.status_code == 404
    assert api.put(f"accounts({acc})/primarycontactid/$ref", json={}).status_code == 400


def test_clearing_an_empty_lookup_is_an_update(ticking: httpx.Client) -> None:
    # what crm-ferry's rollback sends to restore a lookup that was empty
    api = ticking
    acc = account(api)
    version = api.get(f"accounts({acc})").json()["versionnumber"]
    assert api.delete(f"accounts({acc})/primarycontactid/$ref").status_code == 204
    cleared = api.get(f"accounts({acc})").json()
    assert cleared["_primarycontactid_value"] is None
    assert cleared["versionnumber"] > version
    r = api.patch(
        f"accounts({acc})", json={"primarycontactid@odata.bind": None}, headers={"If-Match": "*"}
    )
    assert r.status_code == 204, r.text
    again = api.patch(
        f"accounts({acc})", json={"primarycontactid": None}, headers={"If-Match": "*"}
    )
    assert again.status_code == 204, again.text


def test_patch_with_the_navigation_property_name_set_to_null_disassociates(
    api: httpx.Client,
) -> None:
    # ASSOCIATE "Disassociate table rows on update": {"parentaccountid": null, ...}
    parent = account(api, "Parent")
    person = contact(api)
    acc = account(
        api,
        **{
            "parentaccountid@odata.bind": bind("accounts", parent),
            "primarycontactid@odata.bind": bind("contacts", person),
        },
    )
    r = api.patch(f"accounts({acc})", json={"parentaccountid": None, "primarycontactid": None})
    assert r.status_code == 204, r.text
    row = api.get(f"accounts({acc})?$select=_parentaccountid_value,_primarycontactid_value").json()
    assert row["_parentaccountid_value"] is None
    assert row["_primarycontactid_value"] is None
    plain = api.patch(f"accounts({acc})", json={"primarycontactid": "not a row"})
    assert plain.status_code == 400


def test_collection_reference_associates_the_related_row(ticking: httpx.Client) -> None:
    api = ticking
    acc = account(api)
    person = contact(api)
    before = api.get(f"contacts({person})").json()
    r = api.post(
        f"accounts({acc})/contact_customer_accounts/$ref",
        json={"@odata.id": f"{BASE}contacts({person})"},
    )
    assert r.status_code == 204, r.text
    after = api.get(f"contacts({person})").json()
    assert after["_parentcustomerid_value"] == acc
    assert after["versionnumber"] > before["versionnumber"]
    wrong = api.post(
        f"accounts({acc})/contact_customer_accounts/$ref", json={"@odata.id": f"accounts({acc})"}
    )
    assert wrong.status_code == 400


def test_collection_reference_is_removed_by_id_or_by_key(api: httpx.Client) -> None:
    acc = account(api)
    first, second = (
        contact(api, n, **{"parentcustomerid_account@odata.bind": bind("accounts", acc)})
        for n in ("A", "B")
    )
    by_id = api.delete(
        f"accounts({acc})/contact_customer_accounts/$ref",
        params={"$id": f"{BASE}contacts({first})"},
    )
    assert by_id.status_code == 204, by_id.text
    by_key = api.delete(f"accounts({acc})/contact_customer_accounts({second})/$ref")
    assert by_key.status_code == 204, by_key.text
    for person in (first, second):
        assert api.get(f"contacts({person})").json()["_parentcustomerid_value"] is None
    # a row that is not in the collection: its lookup is not this account's to clear
    other = account(api, "Other")
    theirs = contact(api, "C", **{"parentcustomerid_account@odata.bind": bind("accounts", other)})
    refused = api.delete(f"accounts({acc})/contact_customer_accounts({theirs})/$ref")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "0x80040217"
    assert api.get(f"contacts({theirs})").json()["_parentcustomerid_value"] == other
    assert api.delete(f"accounts({acc})/contact_customer_accounts/$ref").status_code == 400


def test_the_id_option_is_refused_elsewhere(api: httpx.Client) -> None:
    acc = account(api)
    for r in (
        api.get(f"accounts({acc})", params={"$id": "x"}),
        api.get("accounts", params={"$id": "x"}),
        api.get(f"accounts({acc})/contact_customer_accounts", params={"$id": "x"}),
    ):
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "0x80060888"


def test_associating_needs_append_and_append_to() -> None:
    removed = {tenant.DEFAULT_APP_CLIENT_ID: frozenset({"prvAppendToAccount"})}
    em = Emulator(CoreConfig(privileges_removed=removed))
    with _client(em) as api:
        acc = account(api)
        person = contact(api)
        r = api.post(
            f"accounts({acc})/contact_customer_accounts/$ref",
            json={"@odata.id": f"contacts({person})"},
        )
        assert r.status_code == 403
        assert "prvAppendToAccount" in r.json()["error"]["message"]
        assert api.get(f"contacts({person})").json()["_parentcustomerid_value"] is None
    em.close()


def test_activity_parties_are_replaced_by_put(api: httpx.Client) -> None:
    # ASSOCIATE "Associate table rows on update using collection-valued navigation property"
    people = [contact(api, n) for n in ("To", "Cc", "Later")]
    email = created_id(
        api.post(
            "emails",
            json={
                "subject": "Hello",
                "email_activity_parties": [
                    {
                        "partyid_contact@odata.bind": bind("contacts", people[2]),
                        "participationtypemask": 2,
                    }
                ],
            },
        )
    )
    r = api.put(
        f"emails({email})/email_activity_parties",
        json={
            "value": [
                {
                    "partyid_contact@odata.bind": bind("contacts", people[0]),
                    "participationtypemask": 2,
                },
                {
                    "partyid_contact@odata.bind": bind("contacts", people[1]),
                    "participationtypemask": 3,
                },
            ]
        },
    )
    assert r.status_code == 204, r.text
    parties = api.get(f"emails({email})/email_activity_parties").json()["value"]
    assert sorted((p["_partyid_value"], p["participationtypemask"]) for p in parties) == sorted(
        [(people[0], 2), (people[1], 3)]
    )
    assert (
        api.put(
            f"accounts({account(api)})/contact_customer_accounts", json={"value": []}
        ).status_code
        == 405
    )


# -- create with related rows ---------------------------------------------------------------


def test_collection_binds_on_create_associate_existing_rows(api: httpx.Client) -> None:
    people = [contact(api, n) for n in ("A", "B")]
    r = api.post(
        "accounts?$select=name&$expand=contact_customer_accounts($select=lastname)",
        json={
            "name": "Bound",
            "contact_customer_accounts@odata.bind": [bind("contacts", p) for p in people],
        },
        headers=REP,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert sorted(c["contactid"] for c in body["contact_customer_accounts"]) == sorted(people)
    for person in people:
        assert api.get(f"contacts({person})").json()["_parentcustomerid_value"] == body["accountid"]
    update = api.patch(
        f"accounts({body['accountid']})",
        json={"contact_customer_accounts@odata.bind": [bind("contacts", people[0])]},
    )
    assert update.status_code == 400
    not_array = api.post(
        "accounts", json={"name": "X", "contact_customer_accounts@odata.bind": "x"}
    )
    assert not_array.status_code == 400
    wrong = api.post(
        "accounts",
        json={
            "name": "X",
            "contact_customer_accounts@odata.bind": [bind("accounts", body["accountid"])],
        },
    )
    assert wrong.status_code == 400


def test_deep_insert_several_levels_with_representation(api: httpx.Client) -> None:
    # CREATE "Create related table rows in one operation", tasks adapted to phone calls
    r = api.post(
        "accounts?$select=name&$expand=primarycontactid($select=fullname),"
        "opportunity_customer_accounts($select=name;$expand=createdby($select=fullname))",
        json={
            "name": "Deep",
            "primarycontactid": {
                "firstname": "John",
                "lastname": "Smith",
                "parentcustomerid_account": {"name": "Contact's company"},
            },
            "opportunity_customer_accounts": [
                {
                    "name": "Opportunity",
                    "Opportunity_Phonecalls": [{"subject": "Call 1"}, {"subject": "Call 2"}],
                }
            ],
        },
        headers=REP,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["primarycontactid"]["fullname"] == "John Smith"
    (opp,) = body["opportunity_customer_accounts"]
    assert opp["name"] == "Opportunity"
    calls = api.get(f"opportunities({opp['opportunityid']})/Opportunity_Phonecalls?$select=subject")
    assert sorted(c["subject"] for c in calls.json()["value"]) == ["Call 1", "Call 2"]
    person = api.get(f"contacts({body['primarycontactid']['contactid']})/parentcustomerid_account")
    assert person.json()["name"] == "Contact's company"


def test_deep_insert_is_atomic(api: httpx.Client) -> None:
    before = len(api.get("contacts?$select=lastname").json()["value"])
    r = api.post(
        "accounts",
        json={
            "name": "Atomic",
            "primarycontactid": {"lastname": "Kept?"},
            "opportunity_customer_accounts": [{"name": "ok"}, {"name": "x" * 301}],
        },
    )
    assert r.status_code == 400
    assert api.get("accounts?$filter=name eq 'Atomic'").json()["value"] == []
    assert len(api.get("contacts?$select=lastname").json()["value"]) == before
    assert api.get("opportunities?$filter=name eq 'ok'").json()["value"] == []


# -- $expand ----------------------------------------------------------------------------


def test_expand_options_single_valued_and_collection_valued(api: httpx.Client) -> None:
    person = contact(api, "Target")
    acc = account(api, **{"primarycontactid@odata.bind": bind("contacts", person)})
    for n in ("B", "A", "C"):
        contact(api, n, **{"parentcustomerid_account@odata.bind": bind("accounts", acc)})
    r = api.get(
        f"accounts({acc})?$select=name"
        "&$expand=primarycontactid($select=lastname;$filter=lastname eq 'Other'),"
        "contact_customer_accounts("
        "$select=lastname;$filter=lastname ne 'C';$orderby=lastname;$top=1)"
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["primarycontactid"] is None  # the related row does not match $filter
    assert [c["lastname"] for c in body["contact_customer_accounts"]] == ["A"]
    for bad in ("primarycontactid($top=1)", "primarycontactid($orderby=lastname)"):
        refused = api.get(f"accounts({acc})?$expand={bad}")
        assert refused.status_code == 400, bad
        assert refused.json()["error"] == {
            "code": "0x80060888",
            "message": "Only $select and $filter clause can be provided while doing $expand on "
            "many-to-one relationship or nested one-to-many relationship.",
        }


def test_nested_expand_refuses_top_and_orderby_on_collections(api: httpx.Client) -> None:
    acc = account(api)
    r = api.get(
        f"accounts({acc})?$expand=contact_customer_accounts($top=2;$expand=createdby($select=fullname))"
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "0x80060888"
    other = api.get(
        f"accounts({acc})?$expand=contact_customer_accounts($orderby=lastname),primarycontactid($expand=createdby)"
    )
    assert other.status_code == 400


def test_expand_limits_and_errors(api: httpx.Client) -> None:
    acc = account(api)
    fifteen = ",".join(["createdby"] * 15)
    assert api.get(f"accounts({acc})?$expand={fifteen}").status_code == 200
    sixteen = api.get(f"accounts({acc})?$expand={fifteen},modifiedby")
    assert sixteen.status_code == 400
    assert sixteen.json()["error"]["code"] == "0x80060888"
    nested = "createdby($expand=" * 8 + "createdby" + ")" * 8
    nested_too_many = "createdby($expand=" * 15 + "createdby" + ")" * 15
    assert api.get(f"accounts({acc})?$expand={nested}").status_code == 200
    assert api.get(f"accounts({acc})?$expand={nested_too_many}").status_code == 400
    ref = api.get("accounts?$expand=contact_customer_accounts/$ref")
    assert ref.json()["error"] == {
        "code": "0x80060888",
        "message": "Expand with $ref is only supported on lookup type navigation property.",
    }
    unknown = api.get("accounts?$expand=nosuchnav")
    assert unknown.status_code == 400
    bad_select = api.get("accounts?$expand=primarycontactid($select=nosuchcolumn)")
    assert bad_select.status_code == 400
    for option in ("$skip=1", "$count=true", "$levels=2", "$search=x"):
        assert api.get(f"accounts?$expand=contact_customer_accounts({option})").status_code == 400


def test_single_expand_over_a_collection_links_each_related_collection(api: httpx.Client) -> None:
    # JOIN "Single $expand on collection-valued navigation properties"
    acc = account(api, "With")
    empty = account(api, "Without")
    for n in ("A", "B", "C"):
        contact(api, n, **{"parentcustomerid_account@odata.bind": bind("accounts", acc)})
    r = api.get(
        "accounts?$select=name&$expand=contact_customer_accounts($select=lastname)",
        headers={"Prefer": "odata.maxpagesize=5"},
    )
    assert r.status_code == 200, r.text
    rows = {row["accountid"]: row for row in r.json()["value"]}
    children = rows[acc]["contact_customer_accounts"]
    assert len(children) == 3
    assert set(children[0]) == {"@odata.etag", "lastname", "_parentcustomerid_value", "contactid"}
    for row_id in (acc, empty):
        link = rows[row_id]["contact_customer_accounts@odata.nextLink"]
        assert link == f"{BASE}accounts({row_id})/contact_customer_accounts?$select=lastname"
    assert rows[empty]["contact_customer_accounts"] == []
    again = api.get(rows[acc]["contact_customer_accounts@odata.nextLink"]).json()["value"]
    assert sorted(c["lastname"] for c in again) == ["A", "B", "C"]


def test_nested_expand_pages_each_related_collection(api: httpx.Client) -> None:
    # JOIN "Nested $expand on collection-valued navigation properties"
    acc = account(api)
    made = [
        contact(api, n, **{"parentcustomerid_account@odata.bind": bind("accounts", acc)})
        for n in ("A", "B", "C")
    ]
    headers = {"Prefer": "odata.maxpagesize=2"}
    r = api.get(
        f"accounts?$filter=accountid eq {acc}&$select=name"
        "&$expand=contact_customer_accounts($select=lastname;$expand=createdby($select=fullname))",
        headers=headers,
    )
    assert r.status_code == 200, r.text
    (row,) = r.json()["value"]
    first = row["contact_customer_accounts"]
    assert len(first) == 2
    assert set(first[0]) == {"lastname", "contactid", "createdby"}  # no etag, no back lookup
    assert set(first[0]["createdby"]) == {"fullname", "systemuserid", "ownerid"}
    link = row["contact_customer_accounts@odata.nextLink"]
    assert link.startswith(
        f"{BASE}accounts({acc})/contact_customer_accounts?$select=lastname"
        "&$expand=createdby($select=fullname)&$skiptoken="
    )
    rest = api.get(link, headers=headers).json()
    assert sorted(c["contactid"] for c in first + rest["value"]) == sorted(made)
    assert "@odata.nextLink" not in rest


def test_expanded_single_valued_rows_carry_an_etag_only_in_one_record(api: httpx.Client) -> None:
    person = contact(api)
    acc = account(api, **{"primarycontactid@odata.bind": bind("contacts", person)})
    one = api.get(f"accounts({acc})?$expand=primarycontactid($select=lastname)").json()
    assert "@odata.etag" in one["primarycontactid"]
    many = api.get(
        f"accounts?$filter=accountid eq {acc}&$expand=primarycontactid($select=lastname)"
    )
    assert set(many.json()["value"][0]["primarycontactid"]) == {"lastname", "contactid"}


def test_expand_reference_of_a_lookup(api: httpx.Client) -> None:
    # RETRIEVE "$expand=primarycontactid/$ref"
    person = contact(api)
    acc = account(api, **{"primarycontactid@odata.bind": bind("contacts", person)})
    r = api.get(f"accounts({acc})?$select=name&$expand=primarycontactid/$ref")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["primarycontactid"] == {"@odata.id": f"{BASE}contacts({person})"}
    assert body["_primarycontactid_value"] == person
    assert body["@odata.context"] == (
        f"{BASE}$metadata#accounts(name,primarycontactid,primarycontactid/$ref())/$entity"
    )
    empty = account(api, "Empty")
    assert (
        api.get(f"accounts({empty})?$expand=primarycontactid/$ref").json()["primarycontactid"]
        is None
    )
    assert api.get("accounts?$expand=primarycontactid/$ref($select=fullname)").status_code == 400


def test_patch_with_representation_expands_too(api: httpx.Client) -> None:
    person = contact(api, "Related")
    acc = account(api)
    r = api.patch(
        f"accounts({acc})?$select=name&$expand=primarycontactid($select=lastname)",
        json={"primarycontactid@odata.bind": bind("contacts", person)},
        headers=REP,
    )
    assert r.status_code == 200, r.text
    assert r.json()["primarycontactid"]["lastname"] == "Related"


def test_expand_filter_reads_through_navigation_properties(api: httpx.Client) -> None:
    acc = account(api)
    contact(api, "Kept", **{"parentcustomerid_account@odata.bind": bind("accounts", acc)})
    r = api.get(
        f"accounts({acc})?$expand=contact_customer_accounts("
        "$filter=createdby/fullname ne null;$select=lastname)"
    )
    assert r.status_code == 200, r.text
    assert [c["lastname"] for c in r.json()["contact_customer_accounts"]] == ["Kept"]


# -- the property: associate then disassociate leaves the rows as they were ----------------


class World:
    """One tenant shared by the examples of the property (each leaves it as it found it)."""

    def __init__(self) -> None:
        self.em = Emulator(CoreConfig())
        self.api = _client(self.em)
        self.account = account(self.api, "Property")
        self.people = [contact(self.api, f"P{i}") for i in range(3)]
        self.team = tenant.DEFAULT_TEAM_ID
        self.users = [self.em.add_user(f"U{i}", "User", f"u{i}@crmferry.example") for i in range(2)]

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        volatile = ("modifiedon", "versionnumber", "@odata.etag")
        out: dict[str, list[dict[str, Any]]] = {}
        for table in ("accounts", "contacts", "teams", "systemusers"):
            rows = self.api.get(table).json()["value"]
            out[table] = [{k: v for k, v in r.items() if k not in volatile} for r in rows]
        return out

    def pairs(self) -> int:
        return len(list(self.em.store.rows("teammembership")))

    def associate(self, kind: str, index: int) -> None:
        api, acc = self.api, self.account
        if kind == "single":
            other = self.people[index % 3]
            r = api.put(
                f"accounts({acc})/primarycontactid/$ref", json={"@odata.id": f"contacts({other})"}
            )
        elif kind == "collection":
            other = self.people[index % 3]
            r = api.post(
                f"accounts({acc})/contact_customer_accounts/$ref",
                json={"@odata.id": f"contacts({other})"},
            )
        else:
            other = self.users[index % 2]
            r = api.post(
                f"teams({self.team})/teammembership_association/$ref",
                json={"@odata.id": f"{BASE}systemusers({other})"},
            )
        assert r.status_code == 204, r.text

    def disassociate(self, kind: str, index: int) -> None:
        api, acc = self.api, self.account
        if kind == "single":
            r = api.delete(f"accounts({acc})/primarycontactid/$ref")
        elif kind == "collection":
            other = self.people[index % 3]
            r = api.delete(f"accounts({acc})/contact_customer_accounts({other})/$ref")
        else:
            other = self.users[index % 2]
            r = api.delete(
                f"systemusers({other})/teammembership_association/$ref",
                params={"$id": f"{BASE}teams({self.team})"},
            )
        assert r.status_code == 204, r.text


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    made = World()
    yield made
    made.api.close()
    made.em.close()


_ASSOCIATIONS = st.tuples(st.sampled_from(["single", "collection", "many"]), st.integers(0, 5))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(associations=st.lists(_ASSOCIATIONS, min_size=1, max_size=4))
def test_associate_then_disassociate_leaves_the_rows_as_they_were(
    world: World, associations: list[tuple[str, int]]
) -> None:
    # each one-to-many row and each pair is associated once (a second time is an error)
    seen: set[tuple[str, int]] = set()
    chosen = []
    for kind, index in associations:
        key = (kind, index % (3 if kind != "many" else 2))
        if kind == "single" or key not in seen:
            seen.add(key)
            chosen.append((kind, index))
    before, pairs = world.rows(), world.pairs()
    for kind, index in chosen:
        world.associate(kind, index)
    if any(kind == "many" for kind, _ in chosen):
        assert world.pairs() > pairs
    for kind, index in reversed(chosen):
        world.disassociate(kind, index)
    assert world.rows() == before
    assert world.pairs() == pairs
