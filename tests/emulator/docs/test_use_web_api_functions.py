"""Use Web API functions: the article's examples.

https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-functions
(page read at commit c1ca7a2edf2e239b529c60dfa6e5cd47d5c2a18c of MicrosoftDocs/powerapps-docs).
"""

from __future__ import annotations

import uuid

import httpx

from helpers.webapi import created_id


def test_an_unbound_function_without_parameters(api: httpx.Client) -> None:
    response = api.get("WhoAmI()", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
    for name in ("BusinessUnitId", "UserId", "OrganizationId"):
        uuid.UUID(body[name])


def test_a_function_the_emulator_lacks_is_refused_with_either_parameter_syntax(
    api: httpx.Client,
) -> None:
    for url in (
        "GetTimeZoneCodeByLocalizedName("
        "LocalizedStandardName='Pacific Standard Time',LocaleId=1033)",
        "GetTimeZoneCodeByLocalizedName(LocalizedStandardName=@p1,LocaleId=@p2)"
        "?@p1='Pacific Standard Time'&@p2=1033",
    ):
        response = api.get(url)
        assert response.status_code == 501, response.text
        assert "GetTimeZoneCodeByLocalizedName" in response.json()["error"]["message"]


def test_a_bound_function_the_emulator_lacks_is_refused(api: httpx.Client) -> None:
    user = api.get("WhoAmI()").json()["UserId"]
    contact = created_id(api.post("contacts", json={"lastname": "Target"}))
    response = api.get(
        f"systemusers({user})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@tid)"
        f"?@tid={{'@odata.id':'contacts({contact})'}}"
    )
    assert response.status_code == 501, response.text
    assert "RetrievePrincipalAccess" in response.json()["error"]["message"]


def test_a_query_function_with_aliased_parameters(api: httpx.Client) -> None:
    recent = created_id(api.post("accounts", json={"name": "Recent", "accountnumber": "1"}))
    response = api.get(
        "accounts?$select=name,accountnumber"
        "&$filter=Microsoft.Dynamics.CRM.LastXHours(PropertyName=@p1,PropertyValue=@p2)"
        "&@p1='modifiedon'&@p2=12"
    )
    assert response.status_code == 200, response.text
    assert [row["accountid"] for row in response.json()["value"]] == [recent]


def test_not_with_a_query_function_is_an_error(api: httpx.Client) -> None:
    response = api.get(
        "systemusers?$select=fullname,systemuserid"
        "&$filter=not Microsoft.Dynamics.CRM.EqualUserId(PropertyName=@p1)&@p1='systemuserid'"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (
        error["message"]
        == "Not operator along with the Custom Named Condition operators is not allowed"
    )
    assert error["code"] not in ("", "0x0")
    last7 = api.get(
        "accounts?$select=name&$filter=not Microsoft.Dynamics.CRM.Last7Days(PropertyName=@p1)"
        "&@p1='createdon'"
    )
    assert last7.status_code == 400
    assert last7.json()["error"]["message"] == error["message"]


def test_the_negated_companion_query_functions(api: httpx.Client) -> None:
    me = api.get("WhoAmI()").json()["UserId"]
    others = api.get(
        "systemusers?$select=fullname,systemuserid"
        "&$filter=Microsoft.Dynamics.CRM.NotEqualUserId(PropertyName=@p1)&@p1='systemuserid'"
    )
    assert others.status_code == 200, others.text
    ids = {row["systemuserid"] for row in others.json()["value"]}
    assert me not in ids
    assert ids  # the tenant has other users
    created_id(api.post("accounts", json={"name": "New"}))
    older = api.get(
        "accounts?$select=name"
        "&$filter=Microsoft.Dynamics.CRM.OlderThanXDays(PropertyName=@p1,PropertyValue=@p2)"
        "&@p1='createdon'&@p2=7"
    )
    assert older.status_code == 200, older.text
    assert older.json()["value"] == []
