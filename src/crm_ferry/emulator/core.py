"""The emulator's data plane: one Dataverse tenant as a function from request to response.

:class:`Emulator` answers everything under ``/api/data/v9.0/``, ``v9.1/`` and ``v9.2/`` (each
version as v9.2) on any host (the base URL of ``OData-EntityId``, ``@odata.nextLink`` and
``@odata.context`` is taken from the request, version included), so
it runs behind ``httpx.MockTransport`` in tests and behind the HTTP server for rehearsals. The
serving layers (sign-in, service protection, faults, latency) wrap it; they pass the caller's
``systemuserid`` in ``request.extensions["crm_ferry.caller"]``. A request without a caller runs
as the seeded default application user (:data:`~crm_ferry.emulator.tenant.DEFAULT_APP_USER_ID`),
which holds the System Administrator role.

The tenant's state (store, schema, clocks, caches) is
:class:`~crm_ferry.emulator.state.TenantState`, which :class:`Emulator` extends with the
router: the service document and ``$metadata`` (:mod:`.csdl`), ``$batch`` (:mod:`.batch`),
bulk messages (:mod:`.bulk`) and the metadata API (:mod:`.metadata`, with ``CreateEntities``)
first, then functions and actions (:mod:`.actions`), FetchXML queries (:mod:`.fetchxml`) and
the record requests (:mod:`.records`). One re-entrant lock serialises requests, and each
request is one transaction: everything it wrote is committed together or not at all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import unquote

import httpx

from crm_ferry.emulator import actions, fetchxml, jobs, odata, records, tenant
from crm_ferry.emulator.batch import handle_batch
from crm_ferry.emulator.bulk import handle_bulk
from crm_ferry.emulator.csdl import SERVICE_PATHS, handle_service
from crm_ferry.emulator.layers import RECORDS, REWRITE, api_path
from crm_ferry.emulator.metadata import (
    CREATE_ENTITIES,
    METADATA_ACTIONS,
    METADATA_SETS,
    handle_create_entities,
    handle_metadata,
    handle_metadata_action,
    settle,
)
from crm_ferry.emulator.schema import BULK_MESSAGES, Schema
from crm_ferry.emulator.served import served_rows, served_schema
from crm_ferry.emulator.state import CoreConfig, TenantState
from crm_ferry.emulator.unsupported import not_implemented, refuse_unimplemented
from crm_ferry.emulator.validation import (
    NOT_SUPPORTED,
    UNEXPECTED,
    UNKNOWN_PROPERTY,
    Fault,
    unknown_property,
)


class Emulator(TenantState):
    """One tenant. See the module docstring; every public method is thread-safe."""

    def __init__(self, config: CoreConfig | None = None, data_dir: Path | None = None) -> None:
        snapshot = config.snapshot if config is not None else None
        made: Callable[[], Schema] | None = None
        if config is not None and snapshot is not None:
            made = partial(served_schema, snapshot, config.bulk_standard_tables)
        super().__init__(config, data_dir, seed=_seed, schema=made)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one Web API request (the whole request is one transaction)."""
        with self._lock:
            self.forget_principals()
            self._run_jobs()
            self._records = 0
            try:
                with self.store.savepoint():
                    self.schema.invalidate()
                    settle(self)
                    response = self._route(request)
            except Fault as fault:
                response = records.error_response(fault)
            except Exception as exc:  # the emulator must answer, like a server would
                response = records.error_response(
                    Fault(500, UNEXPECTED, f"An unexpected error occurred: {exc!r}")
                )
            if response.status_code >= 400:
                response = records.annotate_error(request, response)
            if RECORDS not in response.extensions:
                response.extensions[RECORDS] = self._records
            return response

    def _run_jobs(self) -> None:
        """System jobs whose time has come run before the request, in their own transaction,
        and their work is not charged to it."""
        if not self.jobs_due:
            return
        try:
            jobs.run_due(self)
        finally:
            self.forget_principals()

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        """One non-batch operation, atomic on its own (used for $batch and bulk items)."""
        rewrite = request.extensions.get(REWRITE)
        if callable(rewrite):  # the fault layer's corruption of what a $batch part writes
            request = rewrite(request)
        with self._lock:
            try:
                with self.store.savepoint():
                    response = self._route(request, inner=True)
                    if response.status_code >= 400:
                        raise _Rollback(response)
            except _Rollback as rb:
                return records.annotate_error(request, rb.response)
            except Fault as fault:
                return records.annotate_error(request, records.error_response(fault))
            return response

    # -- users -------------------------------------------------------------------------

    def application_user(self, client_id: str) -> tuple[str, bool] | None:
        """(systemuserid, isdisabled) of the application user of ``client_id``, if any."""
        with self._lock:
            row_id = tenant.seed_id("systemuser", "app", client_id.lower())
            row = self.store.get("systemuser", row_id)
            if row is None:
                return None
            return row_id, bool(row.get("isdisabled"))

    def register_application_user(self, client_id: str, name: str) -> str:
        """Create the application user of ``client_id`` (idempotent); its systemuserid."""
        with self._lock, self.store.savepoint():
            disabled = client_id.lower() in {c.lower() for c in self.config.disabled_client_ids}
            row = tenant.application_user_row(client_id, name, disabled=disabled)
            if self.store.get("systemuser", row["systemuserid"]) is None:
                records.insert_system_row(self, "systemuser", row, tenant.DEFAULT_APP_USER_ID)
            self._client_ids.pop(row["systemuserid"], None)
            return str(row["systemuserid"])

    def add_user(
        self,
        first: str,
        last: str,
        email: str,
        *,
        upn: str | None = None,
        disabled: bool = False,
    ) -> str:
        """A licensed person in the tenant (what an administrator's invitation makes);
        idempotent by e-mail address. Returns the systemuserid."""
        row_id = tenant.seed_id("systemuser", "person", email.lower())
        with self._lock, self.store.savepoint():
            if self.store.get("systemuser", row_id) is None:
                row = {
                    "systemuserid": row_id,
                    "firstname": first,
                    "lastname": last,
                    "fullname": f"{first} {last}".strip(),
                    "internalemailaddress": email,
                    "domainname": upn or email,
                    "azureactivedirectoryobjectid": tenant.seed_id("entra", email.lower()),
                    "isdisabled": disabled,
                    "islicensed": not disabled,
                    "accessmode": 0,
                    "businessunitid": tenant.ROOT_BUSINESS_UNIT_ID,
                }
                records.insert_system_row(self, "systemuser", row, tenant.DEFAULT_APP_USER_ID)
        return row_id

    # -- routing -----------------------------------------------------------------------

    def _route(self, request: httpx.Request, *, inner: bool = False) -> httpx.Response:
        path = request.url.path
        split = api_path(path)
        if split is None:  # not under /api/data/v9.0/, v9.1/ or v9.2/
            raise Fault(404, UNKNOWN_PROPERTY, f"Resource not found for the segment '{path}'.")
        refuse_unimplemented(request)
        rest = split[1]
        if rest in SERVICE_PATHS:
            return handle_service(self.schema, request, rest)
        if rest == CREATE_ENTITIES:
            try:
                return handle_create_entities(self, request)
            finally:
                self.schema.invalidate()
        if rest == "$batch" and inner:
            raise Fault(400, "0x80040203", "Batches can't be nested.")
        if rest == "$batch":
            return handle_batch(self, request)
        if rest.startswith(METADATA_SETS):
            try:
                return handle_metadata(self, request, rest)
            finally:
                self.schema.invalidate()
        if rest in METADATA_ACTIONS:
            try:
                return handle_metadata_action(self, request, rest)
            finally:
                self.schema.invalidate()
        bulk = _bulk_target(rest)
        if bulk is not None and request.method.upper() == "POST":
            set_name, message = bulk
            entity = self.schema.by_entity_set(set_name)
            if entity is not None:
                return handle_bulk(self, request, entity, message)
        return _route_records(self, request, rest)


def _route_records(em: Emulator, request: httpx.Request, rest: str) -> httpx.Response:
    """A request on an entity set or record, or a function or action (``rest``: the path
    after ``/api/data/<version>/``)."""
    ctx = records.make_ctx(request)
    method = request.method.upper()
    try:
        query = request.url.query.decode("utf-8") if request.url.query else ""
        # x-ms-file-name, sessiontoken and size belong to file transfers, not to OData
        query, transfer = records.split_parameters(query) if query else (query, {})
        opts = odata.parse_query_string(query) if query else odata.QueryOptions()
        segments = _simple_path(rest) or odata.parse_resource_path(
            unquote(rest), aliases=opts.aliases, unbound_operations=actions.UNBOUND_OPERATIONS
        )
    except odata.ODataError as exc:
        raise records.odata_fault(exc) from None
    try:
        first = segments[0] if segments else None
        if opts.fetchxml is not None and not _fetch_target(segments, method):
            raise not_implemented(f"Querying with FetchXML (fetchXml) on {method} {rest}")
        tail = segments[1:]
        if not _column_request(first, tail):  # only these read transfer parameters and headers
            records.refuse_parameters(transfer)
            records.refuse_transfer_headers(request)
        if isinstance(first, odata.OperationSegment):
            return actions.unbound(em, ctx, first, method)
        if not isinstance(first, odata.EntitySetSegment):
            raise Fault(404, UNKNOWN_PROPERTY, f"Resource not found for the segment '{rest}'.")
        entity = em.schema.by_entity_set(first.name)
        if entity is None:  # an action called without () is read as a set: the same answer
            raise actions.unknown_segment(first.name)
        if opts.ref_id is not None and (first.key is None or not tail):
            raise Fault(400, UNKNOWN_PROPERTY, "The query parameter $id is not supported")
        if entity.logical_name in tenant.READ_ONLY_TABLES and method != "GET":
            raise records.method_not_allowed(method, rest)
        if entity.logical_name in jobs.JOB_TABLES and method in ("POST", "PATCH", "PUT"):
            raise jobs.refuse_write(entity.logical_name, method, rest)
        if first.key is None:
            if not tail:
                if method == "GET" and opts.fetchxml is not None:
                    return fetchxml.query(em, ctx, entity, opts.fetchxml, count=opts.count)
                if method == "GET":
                    return records.query_collection(em, ctx, entity, opts)
                if method == "POST":
                    return records.post_create(em, ctx, entity, opts)
                raise records.method_not_allowed(method, rest)
            if isinstance(tail[0], odata.SystemSegment) and tail[0].name == "$count":
                return records.count(em, ctx, entity, opts)
            if isinstance(tail[0], odata.OperationSegment) and tail[0].name == "DeleteMultiple":
                raise Fault(400, NOT_SUPPORTED, "DeleteMultiple has not yet been implemented.")
            if isinstance(tail[0], odata.OperationSegment):  # bound to the collection
                raise actions.unknown_segment(tail[0].name)
            raise Fault(404, UNKNOWN_PROPERTY, f"Resource not found for the segment '{rest}'.")
        if not tail:
            if method == "GET":
                return records.get_one(em, ctx, entity, first.key, opts)
            if method == "PATCH":
                return records.patch_upsert(em, ctx, entity, first.key, opts)
            if method == "DELETE":
                return records.delete_one(em, ctx, entity, first.key)
            raise records.method_not_allowed(method, rest)
        if isinstance(tail[0], odata.OperationSegment):
            return actions.bound(em, ctx, entity, first.key, tail[0], method)
        if records.navigates(em, entity, tail):
            return records.navigate(em, ctx, entity, first.key, tail, opts, method)
        if opts.ref_id is not None:
            raise Fault(400, UNKNOWN_PROPERTY, "The query parameter $id is not supported")
        if isinstance(tail[0], odata.PropertySegment) and len(tail) == 1:
            return records.property_request(
                em, ctx, entity, first.key, tail[0].name, method, transfer
            )
        if (
            isinstance(tail[0], odata.PropertySegment)
            and len(tail) == 2
            and isinstance(tail[1], odata.SystemSegment)
            and tail[1].name == "$value"
        ):
            return records.value_request(em, ctx, entity, first.key, tail[0].name, method, transfer)
        if (
            isinstance(tail[0], odata.PropertySegment)
            and len(tail) == 2
            and isinstance(tail[1], odata.SystemSegment)
            and tail[1].name == "$ref"
        ):
            raise unknown_property(entity.logical_name, tail[0].name)
        raise Fault(404, UNKNOWN_PROPERTY, f"Resource not found for the segment '{rest}'.")
    except odata.ODataError as exc:
        raise records.odata_fault(exc) from None


def _column_request(first: odata.Segment | None, tail: list[odata.Segment]) -> bool:
    """``<set>(<key>)/<property>`` or ``.../<property>/$value``: the requests file transfers
    go through."""
    if not isinstance(first, odata.EntitySetSegment) or first.key is None or not tail:
        return False
    if not isinstance(tail[0], odata.PropertySegment):
        return False
    return len(tail) == 1 or (
        len(tail) == 2 and isinstance(tail[1], odata.SystemSegment) and tail[1].name == "$value"
    )


_SIMPLE_PATH = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_]*)(?:\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\))?$"
)


def _fetch_target(segments: list[odata.Segment], method: str) -> bool:
    """Whether a request may carry ``fetchXml``: a GET on an entity set, nothing else."""
    first = segments[0] if len(segments) == 1 else None
    return method == "GET" and isinstance(first, odata.EntitySetSegment) and first.key is None


def _simple_path(rest: str) -> list[odata.Segment] | None:
    """``set`` or ``set(<guid>)`` without the full parser (the bulk write path)."""
    match = _SIMPLE_PATH.match(rest)
    if match is None:
        return None
    name, key = match.groups()
    if key is None:
        return None  # may be an unbound function such as WhoAmI: let the parser decide
    return [odata.EntitySetSegment(name, odata.Key(value=uuid.UUID(key)))]


class _Rollback(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__("rollback")
        self.response = response


def _bulk_target(rest: str) -> tuple[str, str] | None:
    parts = rest.split("/")
    if len(parts) != 2:
        return None
    prefix = "Microsoft.Dynamics.CRM."
    if not parts[1].startswith(prefix):
        return None
    message = parts[1][len(prefix) :]
    if message in BULK_MESSAGES:
        return parts[0], message
    return None


def _seed(em: TenantState) -> None:
    """The first rows of a new tenant: the standard ones, the default application user, and
    the organization's upload settings; a tenant served from a snapshot, the snapshot's
    rows."""
    if em.config.snapshot is not None:
        for table, row in served_rows(em.config.snapshot, em.schema):
            records.insert_system_row(em, table, row, tenant.DEFAULT_APP_USER_ID)
        return
    for table, row in tenant.seed_rows():
        records.insert_system_row(em, table, row, tenant.DEFAULT_APP_USER_ID)
    row = tenant.application_user_row(tenant.DEFAULT_APP_CLIENT_ID, "crm-ferry", disabled=False)
    records.insert_system_row(em, "systemuser", row, tenant.DEFAULT_APP_USER_ID)
    org = em.store.get("organization", tenant.ORGANIZATION_ID)
    if org is not None:
        org["maxuploadfilesize"] = em.config.maxuploadfilesize
        org["blockedattachments"] = ";".join(em.config.blocked_extensions) + ";"
        em.store.put("organization", tenant.ORGANIZATION_ID, org)


__all__ = ["CoreConfig", "Emulator"]
