"""System jobs: the ``BulkDelete`` action and the bulk deletion job it submits.

Written from "Delete data in bulk"
(https://learn.microsoft.com/power-apps/developer/data-platform/delete-data-bulk), the action's
reference (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/bulkdelete)
and the table references of System Job (``asyncoperation``) and ``BulkDeleteOperation``.

* ``POST BulkDelete`` takes ``QuerySet`` (QueryExpressions, :mod:`.query_expression`),
  ``JobName``, ``SendEmailNotification``, ``ToRecipients``, ``CCRecipients``,
  ``RecurrencePattern`` and ``StartDateTime`` (all required), and optionally
  ``SourceImportId``, ``RunNow`` and ``Options`` (``BulkDeleteOptions``). The caller needs
  ``prvBulkDelete`` and Delete (and Read) on every table queried. It writes a system job
  (``asyncoperation``, ``operationtype`` 13 Bulk Delete, ``messagename`` BulkDelete: Ready /
  Waiting For Resources, or Suspended / Waiting with ``postponeuntil`` when ``StartDateTime`` is
  still to come) and its ``bulkdeleteoperation`` (``asyncoperationid`` → the job), and answers
  ``200 {"JobId": <asyncoperationid>}``.
* The job "runs asynchronously without blocking other activities": at the start of a later
  request (:func:`run_due`, never in the request that submitted it), once ``StartDateTime`` has
  come and ``CoreConfig.bulk_delete_delay`` seconds have passed. It "only deletes records that
  were created before the job starts to run", each on its own and by the cascading rules of
  the table's relationships; one that can't be deleted is counted in ``failurecount`` and
  nothing is rolled back. Then both rows are Completed / Succeeded, with ``successcount``,
  ``failurecount``, ``startedon`` and ``completedon``; a job that can't run at all (its table
  was deleted since) is Completed / Failed with the reason in ``message`` and ``errorcode``.
  Poll ``asyncoperations(<JobId>)`` until ``statecode`` is 3 (Completed).
* Refused with 501, the emulator having none of it: e-mail notification
  (``SendEmailNotification: true``, recipients), recurring jobs (``RecurrencePattern``),
  deleting what a data import made (``SourceImportId``), ``RunNow`` (internal), and recovering
  deleted records (``Options.CanRecoverDeletedRecords: true``: there is no recycle bin).
  ``Options.RunJobForSandbox: true`` bypasses plug-ins and workflows, which the emulator does
  not run anyway. Failures are not written to ``bulkdeletefailure`` (not modelled).

System job rows are written by the platform only: creating or updating them through the Web
API is refused (:func:`refuse_write`); reading and deleting them work as for any table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from crm_ferry.emulator import odata, tenant
from crm_ferry.emulator.query_expression import Query, bad_payload, read_query
from crm_ferry.emulator.records import (
    Ctx,
    delete_record,
    insert_system_row,
    json_response,
    read_body,
    write_platform_update,
)
from crm_ferry.emulator.records.context import method_not_allowed
from crm_ferry.emulator.records.privileges import check_global_privilege, check_privilege
from crm_ferry.emulator.records.reads import matching
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import (
    INVALID_ARGUMENT,
    Fault,
    format_instant,
    parse_datetime_value,
)

JOB_TABLES = frozenset({"asyncoperation", "bulkdeleteoperation"})
BULK_DELETE = 13
"""``operationtype`` of a bulk deletion job."""
READY, SUSPENDED, COMPLETED = 0, 1, 3
WAITING_FOR_RESOURCES, WAITING, SUCCEEDED, FAILED = 0, 10, 30, 31

_REQUIRED = (
    "QuerySet",
    "JobName",
    "SendEmailNotification",
    "ToRecipients",
    "CCRecipients",
    "RecurrencePattern",
    "StartDateTime",
)
_OPTIONAL = ("SourceImportId", "RunNow", "Options")
_OPTIONS = ("CanRecoverDeletedRecords", "RunJobForSandbox")


@dataclass(frozen=True, slots=True)
class _Request:
    name: str
    queries: list[Query]
    query_set: list[Any]
    start: datetime


def bulk_delete(em: TenantState, ctx: Ctx) -> httpx.Response:
    """``POST BulkDelete``: submit the job; its id is the answer's ``JobId``."""
    req = _read_request(em, read_body(ctx))
    check_global_privilege(em, ctx, "prvBulkDelete")
    for query in req.queries:
        check_privilege(em, ctx, "Read", query.entity)
        check_privilege(em, ctx, "Delete", query.entity)
    job_id = str(uuid.uuid4())
    later = req.start > em.now()
    state, status = (SUSPENDED, WAITING) if later else (READY, WAITING_FOR_RESOURCES)
    owner = _owner_columns(em, ctx.caller)
    job = {
        "asyncoperationid": job_id,
        "name": req.name,
        "operationtype": BULK_DELETE,
        "messagename": "BulkDelete",
        "statecode": state,
        "statuscode": status,
        "postponeuntil": format_instant(req.start),
        "recurrencepattern": "",
        "depth": 1,
        "retrycount": 0,
        "correlationid": str(uuid.uuid4()),
        "data": json.dumps({"QuerySet": req.query_set}, sort_keys=True),
        **owner,
    }
    insert_system_row(em, "asyncoperation", job, ctx.caller)
    operation = {
        "bulkdeleteoperationid": str(uuid.uuid4()),
        "name": req.name,
        "asyncoperationid": job_id,
        "asyncoperationid@lookuplogicalname": "asyncoperation",
        "statecode": state,
        "statuscode": status,
        "successcount": 0,
        "failurecount": 0,
        "processingqeindex": 0,
        "isrecurring": False,
        "orderedquerysetxml": "".join(q.fetch_xml for q in req.queries),
        **owner,
    }
    insert_system_row(em, "bulkdeleteoperation", operation, ctx.caller)
    em.jobs_due[job_id] = em.clock() + em.config.bulk_delete_delay
    em.count_records(1)
    return json_response(
        200,
        {
            "@odata.context": f"{ctx.base}$metadata#Microsoft.Dynamics.CRM.BulkDeleteResponse",
            "JobId": job_id,
        },
    )


def _read_request(em: TenantState, body: Mapping[str, Any]) -> _Request:
    for name in body:
        if name not in _REQUIRED and name not in _OPTIONAL:
            raise bad_payload(
                f"The parameter '{name}' in the request payload is not a valid parameter for "
                "the operation 'BulkDelete'."
            )
    for name in _REQUIRED:
        if body.get(name) is None:
            raise Fault(400, INVALID_ARGUMENT, f"The parameter '{name}' of BulkDelete is required.")
    _refuse_unsupported(body)
    query_set = body["QuerySet"]
    if not isinstance(query_set, list) or not query_set:
        raise bad_payload("QuerySet must be a collection of at least one QueryExpression.")
    name = body["JobName"]
    if not isinstance(name, str):
        raise bad_payload("JobName must be a string.")
    start = body["StartDateTime"]
    try:
        moment = parse_datetime_value(str(start))
    except ValueError:
        raise bad_payload(f"'{start}' is not a valid Edm.DateTimeOffset value.") from None
    if moment.tzinfo is None:
        raise bad_payload(f"'{start}' is not a valid Edm.DateTimeOffset value.")
    queries = [read_query(em.schema, q) for q in query_set]
    return _Request(name, queries, query_set, moment)


def _refuse_unsupported(body: Mapping[str, Any]) -> None:
    for flag in ("SendEmailNotification",):
        if not isinstance(body[flag], bool):
            raise bad_payload(f"{flag} must be true or false.")
    if body["SendEmailNotification"]:
        raise not_implemented("E-mail notification of a bulk deletion job (SendEmailNotification)")
    for name in ("ToRecipients", "CCRecipients"):
        if not isinstance(body[name], list):
            raise bad_payload(f"{name} must be a collection.")
        if body[name]:
            raise not_implemented(f"Recipients of a bulk deletion job's notification ({name})")
    if not isinstance(body["RecurrencePattern"], str):
        raise bad_payload("RecurrencePattern must be a string.")
    if body["RecurrencePattern"]:
        raise not_implemented("Recurring bulk deletion jobs (RecurrencePattern)")
    if body.get("SourceImportId") is not None:
        raise not_implemented("Deleting the records of a data import (SourceImportId)")
    if body.get("RunNow"):
        raise not_implemented("RunNow (for internal use only) of BulkDelete")
    options = body.get("Options")
    if options is None:
        return
    if not isinstance(options, Mapping):
        raise bad_payload("Options must be a BulkDeleteOptions object.")
    for name in options:
        if name not in _OPTIONS and name != "@odata.type":
            raise bad_payload(
                f"The property '{name}' does not exist on type "
                "'Microsoft.Dynamics.CRM.BulkDeleteOptions'."
            )
    if options.get("CanRecoverDeletedRecords"):
        raise not_implemented(
            "Recovering bulk-deleted records (Options.CanRecoverDeletedRecords: true; the "
            "emulator has no recycle bin)"
        )


def _owner_columns(em: TenantState, caller: str) -> dict[str, Any]:
    user = em.store.get("systemuser", caller) or {}
    unit = user.get("businessunitid") or tenant.ROOT_BUSINESS_UNIT_ID
    return {
        "ownerid": caller,
        "ownerid@lookuplogicalname": "systemuser",
        "owninguser": caller,
        "owninguser@lookuplogicalname": "systemuser",
        "owningbusinessunit": unit,
        "owningbusinessunit@lookuplogicalname": "businessunit",
    }


def refuse_write(table: str, method: str, rest: str) -> Fault:
    """The answer to a POST or PATCH on a system job table."""
    if table == "asyncoperation":
        return not_implemented(f"Creating or updating system jobs through the Web API ({method})")
    return method_not_allowed(method, rest)


# -- running ---------------------------------------------------------------------------


def run_due(em: TenantState) -> None:
    """Run the jobs whose time has come (each in its own transaction)."""
    if not em.jobs_due:
        return
    now = em.clock()
    for job_id, due in sorted(em.jobs_due.items(), key=lambda item: item[1]):
        if due > now:
            continue
        job = em.store.get("asyncoperation", job_id)
        if job is None or job.get("statecode") == COMPLETED:
            del em.jobs_due[job_id]
            continue
        postponed = job.get("postponeuntil")
        if postponed and parse_datetime_value(str(postponed)) > em.now():
            continue
        del em.jobs_due[job_id]
        with em.store.savepoint():
            _run(em, job_id, job)


def _run(em: TenantState, job_id: str, job: dict[str, Any]) -> None:
    started = em.now()
    begun = em.clock()
    owner = str(job.get("ownerid") or tenant.DEFAULT_APP_USER_ID)
    ctx = _job_ctx(owner)
    succeeded = failed = 0
    failure: Fault | None = None
    try:
        query_set = json.loads(str(job.get("data") or "{}")).get("QuerySet") or []
        queries = [read_query(em.schema, q) for q in query_set]
        for query in queries:
            done, missed = _delete_matching(em, ctx, query, format_instant(started))
            succeeded, failed = succeeded + done, failed + missed
    except Fault as exc:
        failure = exc
    job.update(
        {
            "statecode": COMPLETED,
            "statuscode": FAILED if failure else SUCCEEDED,
            "startedon": format_instant(started),
            "completedon": format_instant(em.now()),
            "executiontimespan": round(em.clock() - begun, 2),
        }
    )
    if failure is not None:
        job["message"] = failure.message
        job["friendlymessage"] = failure.message
        job["errorcode"] = int(failure.code, 16) - (1 << 32)
    entity = em.schema.entity("asyncoperation")
    assert entity is not None
    write_platform_update(em, entity, job_id, job, owner)
    _finish_operation(em, job_id, job, succeeded, failed, owner)


def _delete_matching(em: TenantState, ctx: Ctx, query: Query, started: str) -> tuple[int, int]:
    """(deleted, failed) for one query: rows created up to ``started``, one at a time."""
    entity = query.entity
    rows = matching(em, ctx, entity, odata.QueryOptions(filter=query.filter))
    ids = [str(r[entity.primary_id]) for r in rows if str(r.get("createdon") or "") <= started]
    done = missed = 0
    for row_id in ids:
        existing = em.store.get(entity.logical_name, row_id)
        if existing is None:  # taken by the cascade of an earlier deletion
            continue
        try:
            with em.store.savepoint():
                delete_record(em, ctx, entity, row_id, existing=existing)
        except Fault:
            missed += 1
            continue
        done += 1
    return done, missed


def _finish_operation(
    em: TenantState, job_id: str, job: Mapping[str, Any], succeeded: int, failed: int, user: str
) -> None:
    entity = em.schema.entity("bulkdeleteoperation")
    assert entity is not None
    for row_id, row in em.store.referencing("bulkdeleteoperation", "asyncoperationid", job_id):
        row.update(
            {
                "statecode": job["statecode"],
                "statuscode": job["statuscode"],
                "successcount": succeeded,
                "failurecount": failed,
            }
        )
        write_platform_update(em, entity, row_id, row, user)


def _job_ctx(owner: str) -> Ctx:
    """The context a job runs in: as the user who submitted it."""
    base = "https://localhost" + "/api/data/v9.2/"
    request = httpx.Request("POST", base + "BulkDelete")
    return Ctx(request, base, owner, {}, False, False)


__all__ = ["BULK_DELETE", "JOB_TABLES", "bulk_delete", "refuse_write", "run_due"]
