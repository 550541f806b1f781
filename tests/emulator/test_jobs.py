"""System jobs (crm_ferry.emulator.jobs): BulkDelete's parameters and QueryExpressions, when the
job runs, what it deletes and counts, and what it refuses.

https://learn.microsoft.com/power-apps/developer/data-platform/delete-data-bulk and the
BulkDelete action reference
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/bulkdelete).
The documented examples themselves are in tests/emulator/docs/test_delete_data_bulk.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_ferry.emulator import tenant
from crm_ferry.emulator.core import CoreConfig, Emulator
from helpers.definitions import create_table
from helpers.webapi import created_id

BASE = "https://contoso.crm.dynamics.com/api/data/v9.2/"
NOW = "2026-01-02T03:04:05Z"


class Clock:
    """The emulator's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _wall() -> datetime:
    return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


MakeApi = Callable[..., httpx.Client]


@pytest.fixture
def make_api() -> Iterator[MakeApi]:
    """Raw HTTP on a fresh tenant configured as asked (``CoreConfig`` fields)."""
    made: list[tuple[Emulator, httpx.Client]] = []

    def make(data_dir: Path | None = None, **config: Any) -> httpx.Client:
        emulator = Emulator(CoreConfig(wall_clock=_wall, **config), data_dir)
        http = httpx.Client(transport=httpx.MockTransport(emulator.handle), base_url=BASE)
        made.append((emulator, http))
        return http

    yield make
    for emulator, http in made:
        http.close()
        emulator.close()


def _request(*queries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "QuerySet": list(queries),
        "JobName": "test job",
        "SendEmailNotification": False,
        "ToRecipients": [],
        "CCRecipients": [],
        "RecurrencePattern": "",
        "StartDateTime": NOW,
        **extra,
    }


def _query(entity: str, *conditions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    query: dict[str, Any] = {"EntityName": entity, "ColumnSet": {"AllColumns": False}, **extra}
    if conditions:
        query["Criteria"] = {"FilterOperator": "And", "Conditions": list(conditions)}
    return query


def _condition(attribute: str, operator: str, *values: Any, kind: str = "") -> dict[str, Any]:
    items = [{"Value": v, "Type": kind} if kind else v for v in values]
    return {"AttributeName": attribute, "Operator": operator, "Values": items}


def _submit(api: httpx.Client, body: dict[str, Any]) -> str:
    response = api.post("BulkDelete", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["JobId"])


def _job(api: httpx.Client, job_id: str) -> dict[str, Any]:
    return dict(api.get(f"asyncoperations({job_id})").json())


def _counts(api: httpx.Client, job_id: str) -> tuple[int, int]:
    response = api.get(
        "bulkdeleteoperations", params={"$filter": f"_asyncoperationid_value eq {job_id}"}
    )
    [operation] = response.json()["value"]
    return operation["successcount"], operation["failurecount"]


def _accounts(api: httpx.Client, *names: str) -> dict[str, str]:
    return {n: created_id(api.post("accounts", json={"name": n})) for n in names}


def _left(api: httpx.Client) -> list[str]:
    return sorted(
        r["name"] for r in api.get("accounts", params={"$select": "name"}).json()["value"]
    )


# -- running -------------------------------------------------------------------------------


def test_the_job_runs_after_its_delay_on_a_later_request(make_api: MakeApi) -> None:
    clock = Clock()
    api = make_api(clock=clock, bulk_delete_delay=30.0)
    _accounts(api, "a", "b")
    job_id = _submit(api, _request(_query("account")))
    job = _job(api, job_id)
    assert (job["statecode"], job["statuscode"]) == (0, 0)  # Ready, Waiting For Resources
    assert job["startedon"] is None
    assert _left(api) == ["a", "b"]
    clock.now += 30.0
    job = _job(api, job_id)
    assert (job["statecode"], job["statuscode"]) == (3, 30)
    assert job["startedon"] == NOW
    assert job["completedon"] == NOW
    assert _left(api) == []


def test_conditions_select_the_rows(make_api: MakeApi) -> None:
    api = make_api()
    ids = _accounts(api, "alpha", "beta", "gamma", "delta", "omega")
    api.patch(f"accounts({ids['delta']})", json={"telephone1": "1"})
    api.patch(f"accounts({ids['omega']})", json={"telephone1": "2"})
    either = {
        "FilterOperator": "Or",
        "Conditions": [
            _condition("accountid", "In", ids["alpha"], ids["beta"], kind="System.Guid"),
            _condition("name", "BeginsWith", "ga", kind="System.String"),
        ],
        "Filters": [
            {
                "FilterOperator": "And",
                "Conditions": [
                    _condition("telephone1", "NotNull"),
                    _condition("name", "NotEqual", "omega"),
                ],
            }
        ],
    }
    job_id = _submit(api, _request({"EntityName": "account", "Criteria": either}))
    assert _job(api, job_id)["statecode"] == 3
    assert _left(api) == ["omega"]
    assert _counts(api, job_id) == (4, 0)


def test_several_queries_in_one_job(make_api: MakeApi) -> None:
    api = make_api()
    _accounts(api, "x", "y")
    created_id(api.post("contacts", json={"lastname": "z"}))
    job_id = _submit(
        api,
        _request(
            _query("account", _condition("name", "Equal", "x", kind="System.String")),
            _query("contact"),
        ),
    )
    assert _counts(api, job_id) == (2, 0)
    assert _left(api) == ["y"]
    assert api.get("contacts").json()["value"] == []


def test_a_row_that_cannot_be_deleted_is_counted_and_the_others_stay_deleted(
    make_api: MakeApi,
) -> None:
    api = make_api()
    euro = tenant.seed_id("transactioncurrency", "EUR")
    pound = tenant.seed_id("transactioncurrency", "GBP")
    binding = {"transactioncurrencyid@odata.bind": f"/transactioncurrencies({euro})"}
    created_id(api.post("accounts", json={"name": "in euro", **binding}))
    query = _query(
        "transactioncurrency",
        _condition("transactioncurrencyid", "In", euro, pound, kind="System.Guid"),
    )
    job_id = _submit(api, _request(query))
    job = _job(api, job_id)
    assert (job["statecode"], job["statuscode"]) == (3, 30)
    assert _counts(api, job_id) == (1, 1)  # the euro is used by an account (Restrict)
    assert api.get(f"transactioncurrencies({pound})").status_code == 404
    assert api.get(f"transactioncurrencies({euro})").status_code == 200


def test_a_job_whose_table_is_gone_fails(make_api: MakeApi) -> None:
    clock = Clock()
    api = make_api(clock=clock, bulk_delete_delay=5.0)
    create_table(api, "new_Temp", display="Temp")
    job_id = _submit(api, _request(_query("new_temp")))
    assert api.delete("EntityDefinitions(LogicalName='new_temp')").status_code == 204
    clock.now += 5.0
    job = _job(api, job_id)
    assert (job["statecode"], job["statuscode"]) == (3, 31)  # Completed, Failed
    assert "new_temp" in job["message"]
    assert job["errorcode"] == int("80041102", 16) - (1 << 32)


def test_a_pending_job_survives_a_restart(make_api: MakeApi, tmp_path: Path) -> None:
    api = make_api(tmp_path, bulk_delete_delay=3600.0)
    _accounts(api, "a")
    job_id = _submit(api, _request(_query("account")))
    api.close()
    again = make_api(tmp_path, bulk_delete_delay=3600.0)
    assert _job(again, job_id)["statecode"] == 3
    assert _left(again) == []


def test_the_job_does_not_count_against_the_request_that_runs_it(make_api: MakeApi) -> None:
    api = make_api()
    _accounts(api, *[f"a{i}" for i in range(5)])
    job_id = _submit(api, _request(_query("account")))
    response = api.get(f"asyncoperations({job_id})")
    assert response.extensions["crm_ferry.records"] == 1


# -- refused -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "code", "words"),
    [
        ({"SendEmailNotification": True}, 501, "0x80040219", "SendEmailNotification"),
        ({"ToRecipients": [{"partyid": "x"}]}, 501, "0x80040219", "ToRecipients"),
        ({"RecurrencePattern": "FREQ=DAILY;"}, 501, "0x80040219", "RecurrencePattern"),
        ({"SourceImportId": tenant.seed_id("import")}, 501, "0x80040219", "SourceImportId"),
        ({"RunNow": True}, 501, "0x80040219", "RunNow"),
        ({"Nonsense": 1}, 400, "0x80048d19", "'Nonsense'"),
        ({"JobName": None}, 400, "0x80040203", "JobName"),
        ({"QuerySet": []}, 400, "0x80048d19", "QuerySet"),
        ({"StartDateTime": "soon"}, 400, "0x80048d19", "soon"),
        ({"Options": {"Faster": True}}, 400, "0x80048d19", "Faster"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_parameters_the_emulator_refuses(
    make_api: MakeApi, change: dict[str, Any], status: int, code: str, words: str
) -> None:
    api = make_api()
    response = api.post("BulkDelete", json=_request(_query("account")) | change)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    assert api.get("asyncoperations").json()["value"] == []


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        (_query("nosuchtable"), 400, "0x80041102"),
        (_query("account", _condition("nosuchcolumn", "Equal", 1)), 400, "0x80041103"),
        (_query("account", _condition("name", "Like", "a%")), 501, "0x80040219"),
        (_query("account", _condition("name", "Equal", "a", "b")), 400, "0x80048d19"),
        (_query("account", LinkEntities=[{"LinkToEntityName": "contact"}]), 501, "0x80040219"),
        (_query("account", TopCount=5), 501, "0x80040219"),
        (_query("account", Bogus=True), 400, "0x80048d19"),
        (
            _query("account", **{"@odata.type": "Microsoft.Dynamics.CRM.FetchExpression"}),
            400,
            "0x80048d19",
        ),
    ],
    ids=["table", "column", "operator", "values", "links", "top", "member", "type"],
)
def test_query_expressions_the_emulator_refuses(
    make_api: MakeApi, query: dict[str, Any], status: int, code: str
) -> None:
    api = make_api()
    response = api.post("BulkDelete", json=_request(query))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("privilege", ["prvBulkDelete", "prvDeleteAccount"])
def test_the_caller_needs_bulk_delete_and_delete(make_api: MakeApi, privilege: str) -> None:
    removed = {tenant.DEFAULT_APP_CLIENT_ID: frozenset({privilege})}
    api = make_api(privileges_removed=removed)
    response = api.post("BulkDelete", json=_request(_query("account")))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "0x80040220"
    assert privilege in response.json()["error"]["message"]


def test_system_jobs_are_written_by_the_platform_only(make_api: MakeApi) -> None:
    api = make_api()
    job_id = _submit(api, _request(_query("account")))
    created = api.post("asyncoperations", json={"name": "mine"})
    assert created.status_code == 501
    assert created.json()["error"]["code"] == "0x80040219"
    cancelled = api.patch(f"asyncoperations({job_id})", json={"statecode": 3, "statuscode": 32})
    assert cancelled.status_code == 501
    operation = api.get("bulkdeleteoperations").json()["value"][0]["bulkdeleteoperationid"]
    changed = api.patch(f"bulkdeleteoperations({operation})", json={"name": "x"})
    assert changed.status_code == 405
    assert api.delete(f"asyncoperations({job_id})").status_code == 204
