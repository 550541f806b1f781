"""Nothing a client asks for is silently dropped: every documented query option, query
parameter, ``Prefer`` preference and Dataverse request header either visibly acts or is
refused (the documented error, else 501 naming the feature).

Sources: OData URL conventions (system query options), Query data using the Web API and its
articles (``savedQuery``/``userQuery``, ``sql``), Compose HTTP requests and
handle errors ("Prefer headers", "Other headers"), Query table definitions (``LabelLanguages``).
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.webapi import batch_body, batch_request

COMPOSE = (
    "https://learn.microsoft.com/power-apps/developer/data-platform/webapi/"
    "compose-http-requests-handle-errors"
)

REFUSED_OPTIONS = [
    "$skip",
    "$search",
    "$compute",
    "$format",
    "$levels",
    "$index",
    "$schemaversion",
    "$deltatoken",
    "$id",
    "$custom",
]
"""OData system query options (and one made up) the emulator does not act on."""

REFUSED_PARAMETERS = ["savedQuery", "userQuery", "sql", "api-version", "tag"]
"""Query parameters the emulator does not act on (``fetchXml`` it answers: test_fetchxml.py)."""

REFUSED_PREFERENCES = [
    "odata.track-changes",
    "respond-async",
    "wait=10",
    "handling=lenient",
    "odata.allow-entityreferences",
    "odata.callback",
    "odata.maxpagesize=2, odata.track-changes",
]

REFUSED_HEADERS = {
    "CallerObjectId": "9f3a2b1c-0000-0000-0000-000000000001",
    "MSCRM.CallerID": "9f3a2b1c-0000-0000-0000-000000000001",
    "MSCRM.SuppressDuplicateDetection": "false",
    "MSCRM.MergeLabels": "true",
    "MSCRM.ReturnNotifications": "true",
    "MSCRM.BypassBusinessLogicExecution": "CustomSync,Everything",
    "MSCRM.SomethingNew": "1",
}

HONOURED_HEADERS = {
    "Consistency": "Strong",
    "MSCRM.SuppressDuplicateDetection": "true",
    "MSCRM.BypassCustomPluginExecution": "true",
    "MSCRM.BypassBusinessLogicExecution": "CustomSync,CustomAsync",
    "If-None-Match": "null",
}


@pytest.fixture
def accounts(api: httpx.Client) -> list[str]:
    ids = []
    for name in ("Acme", "Globex", "Initech"):
        response = api.post("accounts", json={"name": name})
        assert response.status_code == 204
        url = response.headers["OData-EntityId"]
        ids.append(url[url.rindex("(") + 1 : -1])
    return ids


def _refused(response: httpx.Response, feature: str) -> None:
    assert response.status_code in (400, 501), (feature, response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] not in ("", "0x0"), error
    if response.status_code == 501:
        assert error["code"] == "0x80040219"  # NotImplemented
        assert "not implemented by the emulator" in error["message"]


def test_every_implemented_option_changes_the_answer(
    api: httpx.Client, accounts: list[str]
) -> None:
    def rows(query: str) -> list[dict[str, object]]:
        answer = api.get(f"accounts?{query}")
        assert answer.status_code == 200, (query, answer.text)
        return list(answer.json()["value"])

    assert [set(r) - {"@odata.etag"} for r in rows("$select=name")] == [{"name", "accountid"}] * 3
    acme = quote("name eq 'Acme'")
    assert [r["name"] for r in rows(f"$filter={acme}")] == ["Acme"]
    assert [r["name"] for r in rows("$orderby=name desc")] == ["Initech", "Globex", "Acme"]
    assert [r["name"] for r in rows("$orderby=name asc")] == ["Acme", "Globex", "Initech"]
    assert len(rows("$top=1")) == 1
    assert api.get("accounts?$count=true").json()["@odata.count"] == 3
    expanded = rows("$expand=primarycontactid($select=fullname)")
    assert all("primarycontactid" in r for r in expanded)
    assert rows("$apply=aggregate($count as n)") == [{"n": 3}]


@pytest.mark.parametrize("option", REFUSED_OPTIONS)
def test_an_option_the_emulator_does_not_act_on_is_refused(
    api: httpx.Client, accounts: list[str], option: str
) -> None:
    _refused(api.get(f"accounts?{option}=1"), option)


@pytest.mark.parametrize("parameter", REFUSED_PARAMETERS)
def test_a_query_parameter_is_never_ignored(
    api: httpx.Client, accounts: list[str], parameter: str
) -> None:
    # sql was answered with every row, unfiltered (issue: silently wrong)
    value = quote("<fetch><entity name='account'><attribute name='name'/></entity></fetch>")
    response = api.get(f"accounts?{parameter}={value}")
    _refused(response, parameter)
    assert response.status_code == 501
    assert parameter in response.json()["error"]["message"]


def test_a_query_parameter_on_a_single_row_and_on_definitions_is_refused(
    api: httpx.Client, accounts: list[str]
) -> None:
    _refused(api.get(f"accounts({accounts[0]})?tag=x"), "row")
    _refused(api.get("EntityDefinitions?LabelLanguages=1033"), "LabelLanguages")


@pytest.mark.parametrize("preference", REFUSED_PREFERENCES)
def test_a_preference_the_emulator_does_not_act_on_is_refused(
    api: httpx.Client, accounts: list[str], preference: str
) -> None:
    _refused(api.get("accounts", headers={"Prefer": preference}), preference)


def test_every_honoured_preference_shows_that_it_was_applied(
    api: httpx.Client, accounts: list[str]
) -> None:
    paged = api.get("accounts", headers={"Prefer": "odata.maxpagesize=1"})
    assert paged.headers["Preference-Applied"] == "odata.maxpagesize=1"
    assert len(paged.json()["value"]) == 1
    created = api.post(
        "accounts", json={"name": "Hooli"}, headers={"Prefer": "return=representation"}
    )
    assert created.status_code == 201
    assert created.headers["Preference-Applied"] == "return=representation"
    minimal = api.post("accounts", json={"name": "Umbrella"}, headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 204
    formatted = api.get(
        "accounts?$select=statecode",
        headers={"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'},
    )
    row = formatted.json()["value"][0]
    assert row["statecode@OData.Community.Display.V1.FormattedValue"] == "Active"
    assert formatted.headers["Preference-Applied"] == (
        'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
    )


def test_return_with_an_unknown_value_is_an_error(api: httpx.Client) -> None:
    _refused(api.post("accounts", json={"name": "X"}, headers={"Prefer": "return=all"}), "return")


@pytest.mark.parametrize(("header", "value"), sorted(REFUSED_HEADERS.items()))
def test_a_dataverse_header_the_emulator_does_not_act_on_is_refused(
    api: httpx.Client, header: str, value: str
) -> None:
    response = api.post("accounts", json={"name": "Refused"}, headers={header: value})
    _refused(response, header)
    assert api.get("accounts?$filter=name eq 'Refused'").json()["value"] == []


@pytest.mark.parametrize(("header", "value"), sorted(HONOURED_HEADERS.items()))
def test_a_header_whose_meaning_the_emulator_already_has_is_taken(
    api: httpx.Client, header: str, value: str
) -> None:
    assert api.post("accounts", json={"name": "Taken"}, headers={header: value}).status_code == 204


def test_a_refused_header_inside_a_batch_fails_that_part(api: httpx.Client) -> None:
    request = batch_request(
        "GET",
        "/api/data/v9.2/accounts",
        headers={"CallerObjectId": "9f3a2b1c-0000-0000-0000-000000000001"},
    )
    content_type, body = batch_body(request, boundary="batch_1")
    response = api.post("$batch", content=body, headers={"Content-Type": content_type})
    # without odata.continue-on-error the first failed part fails the batch (400)
    assert response.status_code == 400
    assert "HTTP/1.1 501 Not Implemented" in response.text
    assert "Impersonation (CallerObjectId) is not implemented by the emulator" in response.text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,15}", fullmatch=True).filter(
        lambda n: (
            n.lower() not in {"return", "odata.include-annotations", "odata.maxpagesize"}
            and n.lower() != "odata.continue-on-error"
        )
    )
)
def test_any_other_preference_is_refused(api: httpx.Client, name: str) -> None:
    _refused(api.get("accounts", headers={"Prefer": name}), name)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True))
def test_any_other_query_parameter_is_refused(api: httpx.Client, name: str) -> None:
    _refused(api.get(f"accounts?{name}=1"), name)


@pytest.mark.parametrize("message", ["GrantAccess", "Merge", "RetrieveTotalRecordCount"])
def test_a_documented_message_the_emulator_lacks_is_501_and_an_unknown_one_404(
    api: httpx.Client, message: str
) -> None:
    response = api.post(message, json={})
    _refused(response, message)
    assert response.status_code == 501
    assert f"The message {message} is not implemented by the emulator" in response.text
    unknown = api.post("NoSuchMessageAnywhere", json={})
    assert unknown.status_code == 404
