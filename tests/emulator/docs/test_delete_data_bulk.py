"""The Web API examples of "Delete data in bulk", replayed against a fresh emulated tenant.

https://learn.microsoft.com/power-apps/developer/data-platform/delete-data-bulk (an article of
the data platform, not of ``webapi/``; the action it sends is
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/bulkdelete),
read at commit 057b26ada599f06b7554cc9d8cc1e97209dce251 of MicrosoftDocs/powerapps-docs.

Each example posts ``BulkDelete`` and shows ``200 OK`` with ``OData-Version: 4.0`` and
``{"@odata.context": ".../$metadata#Microsoft.Dynamics.CRM.BulkDeleteResponse", "JobId":
"<guid>"}``. Adapted: the tenant's accounts are made first; the examples' ``StartDateTime``
(2026-03-13) is after the fresh tenant's clock (2026-01-02), so one test keeps it and shows
the job waiting, the others start at the tenant's "now". The job runs before the next
request; the tests poll ``asyncoperations(<JobId>)``. Refused by the emulator: recovering
deleted records (``CanRecoverDeletedRecords: true``, there is no recycle bin) and retained
data (``DataSource: retained``).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from helpers.webapi import created_id

NOW = "2026-01-02T03:04:05Z"
"""The fresh tenant's wall clock (tests/emulator/conftest.py)."""
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _all_accounts(job: str, start: str, options: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "QuerySet": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.QueryExpression",
                "EntityName": "account",
                "ColumnSet": {"AllColumns": True},
                "Distinct": False,
            }
        ],
        "JobName": job,
        "SendEmailNotification": False,
        "ToRecipients": [],
        "CCRecipients": [],
        "RecurrencePattern": "",
        "StartDateTime": start,
    }
    if options is not None:
        body["Options"] = options
    return body


def _accounts(api: httpx.Client, count: int) -> list[str]:
    return [created_id(api.post("accounts", json={"name": f"a{i}"})) for i in range(count)]


def _submitted(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert set(body) == {"@odata.context", "JobId"}
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.BulkDeleteResponse")
    assert GUID.match(body["JobId"])
    return str(body["JobId"])


def _job(api: httpx.Client, job_id: str) -> dict[str, Any]:
    response = api.get(f"asyncoperations({job_id})")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _operation(api: httpx.Client, job_id: str) -> dict[str, Any]:
    response = api.get(
        "bulkdeleteoperations", params={"$filter": f"_asyncoperationid_value eq {job_id}"}
    )
    [operation] = response.json()["value"]
    return dict(operation)


def test_options_recover_deleted_records_is_refused(api: httpx.Client) -> None:
    # "Example: Options parameter": CanRecoverDeletedRecords true, RunJobForSandbox false
    body = _all_accounts(
        "Delete all accounts", NOW, {"CanRecoverDeletedRecords": True, "RunJobForSandbox": False}
    )
    response = api.post("BulkDelete", json=body)
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == "0x80040219"
    assert "CanRecoverDeletedRecords" in error["message"]


def test_skip_recycle_bin_deletes_every_account(api: httpx.Client) -> None:
    # "Example: Disable the recycle bin for faster deletion"
    ids = _accounts(api, 2)
    body = _all_accounts(
        "Delete accounts - skip recycle bin", NOW, {"CanRecoverDeletedRecords": False}
    )
    job_id = _submitted(api.post("BulkDelete", json=body))
    job = _job(api, job_id)
    assert (job["statecode"], job["statuscode"], job["operationtype"]) == (3, 30, 13)
    assert job["name"] == "Delete accounts - skip recycle bin"
    assert job["messagename"] == "BulkDelete"
    operation = _operation(api, job_id)
    assert (operation["successcount"], operation["failurecount"]) == (2, 0)
    assert operation["orderedquerysetxml"] == '<fetch><entity name="account"></entity></fetch>'
    assert all(api.get(f"accounts({i})").status_code == 404 for i in ids)


def test_sandbox_fast_delete(api: httpx.Client) -> None:
    # "Example: Sandbox fast delete" (the emulator runs no plug-ins to bypass)
    ids = _accounts(api, 3)
    options = {"CanRecoverDeletedRecords": False, "RunJobForSandbox": True}
    body = _all_accounts("Delete accounts - sandbox fast delete", NOW, options)
    job_id = _submitted(api.post("BulkDelete", json=body))
    assert _job(api, job_id)["statecode"] == 3
    assert _operation(api, job_id)["successcount"] == 3
    assert all(api.get(f"accounts({i})").status_code == 404 for i in ids)


def test_a_job_starting_later_waits(api: httpx.Client) -> None:
    # The examples' own StartDateTime, after the tenant's clock: Suspended / Waiting
    ids = _accounts(api, 1)
    body = _all_accounts("Delete all accounts", "2026-03-13T06:30:00Z", {"RunJobForSandbox": False})
    job_id = _submitted(api.post("BulkDelete", json=body))
    job = _job(api, job_id)
    assert (job["statecode"], job["statuscode"]) == (1, 10)
    assert job["postponeuntil"] == "2026-03-13T06:30:00Z"
    assert job["completedon"] is None
    assert api.get(f"accounts({ids[0]})").status_code == 200


RETAINED = {
    "QuerySet": [
        {
            "EntityName": "contact",
            "DataSource": "retained",
            "Criteria": {
                "FilterOperator": "And",
                "Conditions": [
                    {
                        "AttributeName": "firstname",
                        "Operator": "Equal",
                        "Values": [{"Value": "Bob", "Type": "System.String"}],
                    }
                ],
            },
        }
    ],
    "JobName": "Bulk Delete Retained Contacts",
    "SendEmailNotification": False,
    "RecurrencePattern": "",
    "StartDateTime": "2023-03-07T05:00:00Z",
    "ToRecipients": [],
    "CCRecipients": [],
}
"""The "Long-term retained data" example (Web API tab): DataSource "retained" on contacts
named Bob."""


def test_retained_data_is_refused(api: httpx.Client) -> None:
    response = api.post("BulkDelete", json=RETAINED)
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "0x80040219"
    assert "retained" in response.json()["error"]["message"]


def test_the_retained_example_on_live_data_deletes_only_the_bobs(api: httpx.Client) -> None:
    # The same criteria without DataSource: an Equal condition on firstname
    bob = created_id(api.post("contacts", json={"firstname": "Bob", "lastname": "B"}))
    ann = created_id(api.post("contacts", json={"firstname": "Ann", "lastname": "A"}))
    [retained] = RETAINED["QuerySet"]
    query = {key: value for key, value in retained.items() if key != "DataSource"}
    body = _all_accounts("Bulk Delete Contacts", NOW, None) | {"QuerySet": [query]}
    job_id = _submitted(api.post("BulkDelete", json=body))
    assert _job(api, job_id)["statecode"] == 3
    assert api.get(f"contacts({bob})").status_code == 404
    assert api.get(f"contacts({ann})").status_code == 200
    assert 'operator="eq" value="Bob"' in _operation(api, job_id)["orderedquerysetxml"]
