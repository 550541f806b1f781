"""The examples of "Filter rows using OData", replayed on a fresh tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows
(MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/webapi/query/filter-rows.md
at commit bf4ba4c2dac5914c50e4e8fc1bdcc71b7aa3cfa2).

Not here: the Dataverse query functions (``Between``, ``In`` with an array in double quotes)
and the navigation examples (``systemusers(<id>)/user_accounts``,
``primarycontactid/createdby/fullname`` with a nested ``$expand``), which have modules of
their own. The emulated tenant has no task table, so ``Account_Tasks/all(...)`` is replayed
on ``Account_Phonecalls``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crm_ferry.emulator import tenant
from helpers.webapi import created_id

ROOT = "https://contoso.crm.dynamics.com/api/data/v9.2/"
HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
FORMATTED = {"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'}
FV = "@OData.Community.Display.V1.FormattedValue"


@pytest.fixture
def sample(api: httpx.Client) -> dict[str, str]:
    susanna = created_id(
        api.post("contacts", json={"firstname": "Susanna", "lastname": "Stubberod (sample)"})
    )
    ids = {"susanna": susanna}
    for name, revenue in (
        ("Litware, Inc. (sample)", 100000),
        ("Fabrikam, Inc. (sample)", 250000),
        ("Contoso test", 3000),
        ("Fourth Coffee", 1500),
        ("Phone +123 Ltd", 100001),
    ):
        body: dict[str, Any] = {"name": name, "revenue": revenue}
        if name.startswith("Litware"):
            body["primarycontactid@odata.bind"] = f"/contacts({susanna})"
        ids[name] = created_id(api.post("accounts", json=body))
    return ids


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(row["name"] for row in response.json()["value"])


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("eq", ["Litware, Inc. (sample)"]),
        ("ne", ["Contoso test", "Fabrikam, Inc. (sample)", "Fourth Coffee", "Phone +123 Ltd"]),
        ("gt", ["Fabrikam, Inc. (sample)", "Phone +123 Ltd"]),
        ("ge", ["Fabrikam, Inc. (sample)", "Litware, Inc. (sample)", "Phone +123 Ltd"]),
        ("lt", ["Contoso test", "Fourth Coffee"]),
        ("le", ["Contoso test", "Fourth Coffee", "Litware, Inc. (sample)"]),
    ],
)
def test_comparison_operators(
    api: httpx.Client, sample: dict[str, str], op: str, expected: list[str]
) -> None:
    assert names(api.get(f"accounts?$select=name&$filter=revenue {op} 100000")) == expected


def test_column_comparison(api: httpx.Client) -> None:
    for first, last in (("Kim", "Kim"), ("Kim", "Abercrombie"), ("Ng", "ng")):
        created_id(api.post("contacts", json={"firstname": first, "lastname": last}))
    r = api.get("contacts?$select=fullname&$filter=firstname eq lastname")
    assert r.status_code == 200
    assert r.json()["@odata.context"] == f"{ROOT}$metadata#contacts(fullname)"
    # the columns' values compare like any string: without case
    assert sorted(row["fullname"] for row in r.json()["value"]) == ["Kim Kim", "Ng ng"]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("revenue lt 100000 and revenue gt 2000", ["Contoso test"]),
        (
            "contains(name,'(sample)') or contains(name,'test')",
            ["Contoso test", "Fabrikam, Inc. (sample)", "Litware, Inc. (sample)"],
        ),
        ("not contains(name,'sample')", ["Contoso test", "Fourth Coffee", "Phone +123 Ltd"]),
        (
            "(contains(name,'sample') or contains(name,'test')) and revenue gt 5000",
            ["Fabrikam, Inc. (sample)", "Litware, Inc. (sample)"],
        ),
        ("contains(name,'(sample)')", ["Fabrikam, Inc. (sample)", "Litware, Inc. (sample)"]),
        ("endswith(name,'Inc. (sample)')", ["Fabrikam, Inc. (sample)", "Litware, Inc. (sample)"]),
        ("startswith(name,'f')", ["Fabrikam, Inc. (sample)", "Fourth Coffee"]),  # no case
    ],
)
def test_logical_grouping_and_string_functions(
    api: httpx.Client, sample: dict[str, str], expr: str, expected: list[str]
) -> None:
    assert names(api.get("accounts", params={"$select": "name", "$filter": expr})) == expected


def test_url_encoded_special_characters(api: httpx.Client, sample: dict[str, str]) -> None:
    # "contains(name,'+123') ... will not work because + is a character that can't be
    # included in a URL": a bare + is a space; %2B is the plus sign
    encoded = api.get("accounts?$select=name&$filter=contains(name,'%2B123')")
    assert names(encoded) == ["Phone +123 Ltd"]
    bare = api.get("accounts?$select=name&$filter=contains(name,'+123')")
    assert names(bare) == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("F%Coffee", ["Fourth Coffee"]),  # % any string
        ("F_urth", ["Fourth Coffee"]),  # _ one character
        ("[CF]o", ["Contoso test", "Fourth Coffee"]),  # [] one of a set
        ("[^CF]i", ["Litware, Inc. (sample)"]),  # [^] one not in the set
    ],
)
def test_wildcard_characters(
    api: httpx.Client, sample: dict[str, str], pattern: str, expected: list[str]
) -> None:
    r = api.get("accounts", params={"$select": "name", "$filter": f"startswith(name,'{pattern}')"})
    assert names(r) == expected


def test_single_quotes_in_a_single_value(api: httpx.Client) -> None:
    for last in ("O'Bryan", "OBryan"):
        created_id(api.post("contacts", json={"firstname": "Pat", "lastname": last}))
    r = api.get("contacts", params={"$select": "fullname", "$filter": "lastname eq 'O''Bryan'"})
    assert [row["fullname"] for row in r.json()["value"]] == ["Pat O'Bryan"]
    # "If you don't, you get an error like this: There is an unterminated literal at
    # position 21 in 'lastname eq 'O'Bryan''."
    wrong = api.get("contacts", params={"$select": "fullname", "$filter": "lastname eq 'O'Bryan'"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["message"] == (
        "There is an unterminated string literal at position 21 in 'lastname eq 'O'Bryan''."
    )


def test_filter_on_a_lookup_property(api: httpx.Client, sample: dict[str, str]) -> None:
    r = api.get(
        "accounts",
        params={"$filter": f"_owninguser_value eq {tenant.DEFAULT_APP_USER_ID}", "$select": "name"},
    )
    assert len(names(r)) == 5  # the caller owns every row it created


def test_filter_using_lookup_column_property_values(
    api: httpx.Client, sample: dict[str, str]
) -> None:
    r = api.get(
        "accounts?$filter=primarycontactid/fullname eq 'Susanna Stubberod (sample)'"
        "&$select=name,_primarycontactid_value",
        headers={**HEADERS, **FORMATTED},
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    assert r.headers["Preference-Applied"] == FORMATTED["Prefer"]
    body = r.json()
    assert body["@odata.context"] == f"{ROOT}$metadata#accounts(name,_primarycontactid_value)"
    assert body["value"] == [
        {
            "@odata.etag": body["value"][0]["@odata.etag"],
            "name": "Litware, Inc. (sample)",
            f"_primarycontactid_value{FV}": "Susanna Stubberod (sample)",
            "_primarycontactid_value": sample["susanna"],
            "accountid": sample["Litware, Inc. (sample)"],
        }
    ]


@pytest.fixture
def activities(api: httpx.Client, sample: dict[str, str]) -> dict[str, str]:
    """Litware: an email about "sometext" (open) and two completed calls; Fabrikam: an email
    without it and one open call."""
    litware, fabrikam = sample["Litware, Inc. (sample)"], sample["Fabrikam, Inc. (sample)"]

    def activity(kind: str, account: str, subject: str, *, completed: bool) -> None:
        bind = f"regardingobjectid_account_{kind}@odata.bind"
        row = created_id(
            api.post(f"{kind}s", json={"subject": subject, bind: f"/accounts({account})"})
        )
        if completed:
            done = api.patch(f"{kind}s({row})", json={"statecode": 1, "statuscode": 2})
            assert done.status_code == 204, done.text
        return

    activity("email", litware, "About sometext here", completed=False)
    activity("email", fabrikam, "Nothing to see", completed=False)
    activity("phonecall", litware, "Call 1", completed=True)
    activity("phonecall", litware, "Call 2", completed=True)
    activity("phonecall", fabrikam, "Call 3", completed=False)
    return sample


def test_lambda_operators(api: httpx.Client, activities: dict[str, str]) -> None:
    some = api.get(
        "accounts?$select=name&$filter=Account_Emails/any(e:contains(e/subject,'sometext'))",
        headers=HEADERS,
    )
    assert names(some) == ["Litware, Inc. (sample)"]
    closed = api.get("accounts?$select=name&$filter=Account_Phonecalls/all(t:t/statecode eq 1)")
    # all() of an empty collection is true: the accounts without calls match too
    assert names(closed) == [
        "Contoso test",
        "Fourth Coffee",
        "Litware, Inc. (sample)",
        "Phone +123 Ltd",
    ]
    active = api.get(
        "accounts?$select=name&$filter=Account_Emails/any(e:contains(e/subject,'sometext') and "
        "e/statecode eq 0)"
    )
    assert names(active) == ["Litware, Inc. (sample)"]


def test_a_nested_lambda_is_refused(api: httpx.Client, activities: dict[str, str]) -> None:
    employee = {
        "lastname": "Employee",
        "jobtitle": "jobtitle",
        "parentcustomerid_account@odata.bind": f"/accounts({activities['Litware, Inc. (sample)']})",
    }
    created_id(api.post("contacts", json=employee))
    r = api.get(
        "accounts?$select=name&$filter=(contact_customer_accounts/any(c:c/jobtitle eq 'jobtitle'"
        " and c/opportunity_customer_contacts/any(o:o/description ne 'N/A'))) and "
        "endswith(name,'Inc.')"
    )
    assert r.status_code == 501
    assert r.json()["error"]["code"] == "0x80040219"


def test_condition_limits(api: httpx.Client, sample: dict[str, str]) -> None:
    many = " or ".join(f"revenue eq {i}" for i in range(501))
    r = api.get("accounts", params={"$filter": many})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "0x8004430C",
        "message": "Number of conditions in query exceeded maximum limit.",
    }
