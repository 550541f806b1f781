"""The emulator's data plane: one Dataverse tenant as a function from request to response.

:class:`Emulator` answers everything under ``/api/data/v9.2/`` on any host (the base URL of
``OData-EntityId``, ``@odata.nextLink`` and ``@odata.context`` is taken from the request), so
it runs behind ``httpx.MockTransport`` in tests and behind the HTTP server for rehearsals. The
serving layers (sign-in, service protection, faults, latency) wrap it; they pass the caller's
``systemuserid`` in ``request.extensions["crm_ferry.caller"]``. A request without a caller runs
as the seeded default application user (:data:`~crm_ferry.emulator.tenant.DEFAULT_APP_USER_ID`),
which holds the System Administrator role.

State lives in SQLite (:mod:`.store`); one re-entrant lock serialises requests, and each
request is one transaction: everything it wrote is committed together or not at all.
``$batch``, bulk messages and the metadata API are separate modules plugged into the router.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from crm_ferry.emulator import tenant
from crm_ferry.emulator.layers import REWRITE
from crm_ferry.emulator.schema import BULK_MESSAGES, EntityDef, Schema
from crm_ferry.emulator.store import Store
from crm_ferry.emulator.validation import Fault

API_PREFIX = "/api/data/v9.2/"
CALLER = "crm_ferry.caller"
RECORDS = "crm_ferry.records"
ODATA_JSON = "application/json; odata.metadata=minimal"

_BLOCKED = (
    "ade adp app asa ashx asmx asp bas bat cdx cer chm class cmd com config cpl crt csh dll "
    "exe fxp hlp hta htr htw ida idc idq inf ins isp its jar js jse ksh lnk mad maf mag mam "
    "maq mar mas mat mau mav maw mda mdb mde mdt mdw mdz msc msh msh1 msh1xml msh2 msh2xml "
    "mshxml msi msp mst ops pcd pif prf prg printer pst reg rem scf scr sct shb shs shtm "
    "shtml soap stm tmp url vb vbe vbs vsmacros vss vst vsw ws wsc wsf wsh svg"
)
BLOCKED_EXTENSIONS: tuple[str, ...] = tuple(_BLOCKED.split(" "))
"""The organization's default ``blockedattachments`` list (reference §7.4)."""

DEFAULT_BULK_STANDARD_TABLES: frozenset[str] = frozenset(
    {"contact", "account", "opportunity", "annotation", "invoice", "invoicedetail"}
)
"""Standard tables answering CreateMultiple/UpdateMultiple/UpsertMultiple by default.

The bulk-operations page says the messages work on all custom tables and "many common
standard tables, but not all"; an Aug-2023 page said account and contact did not support them
(https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations). Which ones do
today is not documented in a list (clients are told to probe ``sdkmessagefilters``), so it is
configurable; set ``bulk_standard_tables=frozenset()`` to rehearse against the 2023 behaviour.
"""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreConfig:
    """What shapes the emulated tenant's data plane."""

    custom_table_limit: int | None = 15
    """Custom tables the licence allows (Dynamics 365 Sales Professional: 15)."""
    key_activation_delay: float = 0.0
    """Seconds before a new alternate key's index is Active (or Failed)."""
    column_visibility_delay: float = 0.0
    """Seconds before a new column can be written and queried (eventual consistency)."""
    bulk_standard_tables: frozenset[str] = DEFAULT_BULK_STANDARD_TABLES
    maxuploadfilesize: int = tenant.MAX_UPLOAD_FILE_SIZE
    blocked_extensions: tuple[str, ...] = BLOCKED_EXTENSIONS
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], datetime] = _utc_now
    """createdon/modifiedon come from here (aware UTC)."""
    privileges_removed: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Privileges (``prvCreateContact``...) missing from the role of an application user,
    by its client id: how tests rehearse a load with an under-privileged user."""
    disabled_client_ids: frozenset[str] = frozenset()
    """Application users registered disabled (``isdisabled``)."""
    enforce_application_required: bool = False
    """Only SystemRequired is enforced by the platform; ApplicationRequired ("business
    required") is a form-level rule (reference §7.3, UNCERTAIN, hence configurable)."""
    state_on_create: str = "reject"
    """A non-default ``statecode`` on create: ``"reject"`` (400; the safe two-step path, create
    then PATCH the state, works everywhere) or ``"allow"`` (reference §7.7, UNCERTAIN)."""
    readonly_on_update: str = "reject"
    """A create-only column (``overriddencreatedon``...) in an update: ``"reject"`` or
    ``"ignore"`` (platform behaviour UNCERTAIN; reference §7.6)."""
    overriddencreatedon_swap: bool = False
    """If True, ``overriddencreatedon`` reads back as the real creation time after createdon
    takes the supplied value (commonly reported, UNCERTAIN); if False both hold the value."""
    closed_activities_read_only: bool = True
    """Completed/Canceled activities accept only reopening (UNCERTAIN, reference §7.7)."""
    max_page_size: int = 5000
    max_schema_name_length: int = 50


class Emulator:
    """One tenant. See the module docstring; every public method is thread-safe."""

    def __init__(self, config: CoreConfig | None = None, data_dir: Path | None = None) -> None:
        self.config = config or CoreConfig()
        self._lock = threading.RLock()
        self.store = Store(data_dir)
        self._records = 0
        self._client_ids: dict[str, str | None] = {}
        self._principals: dict[tuple[str, str], dict[str, Any] | None] = {}
        raw = self.store.get_meta("schema")
        if raw is not None:
            self.schema = Schema.from_json(json.loads(raw))
            self._version = self.store.max_version()
        else:
            self.schema = tenant.build_schema(self.config.bulk_standard_tables)
            self._version = 0
            with self.store.savepoint():
                self._seed()
                self.save_schema()

    # -- seam used by the other emulator modules ---------------------------------------

    def clock(self) -> float:
        return self.config.clock()

    def now(self) -> datetime:
        return self.config.wall_clock()

    def next_version(self) -> int:
        self._version += 1
        return self._version

    def principal(self, table: str, row_id: str) -> dict[str, Any] | None:
        """A systemuser or team row, cached for the current request (owner checks)."""
        key = (table, row_id)
        if key not in self._principals:
            self._principals[key] = self.store.get(table, row_id)
        return self._principals[key]

    def forget_principals(self) -> None:
        self._principals.clear()
        self._client_ids.clear()

    def count_records(self, n: int) -> None:
        """Add to the records read or written by the current request (cost model)."""
        self._records += n

    def save_schema(self) -> None:
        """Persist the metadata (after a metadata change); custom tables get bulk messages."""
        with self._lock:
            for entity in self.schema.entities.values():
                if entity.is_custom and not entity.bulk_messages:
                    entity.bulk_messages = BULK_MESSAGES
            self.store.set_meta("schema", json.dumps(self.schema.to_json(), sort_keys=True))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside is atomic (nestable); an exception rolls back and re-raises."""
        with self._lock:
            try:
                with self.store.savepoint():
                    yield
            except BaseException:
                self.forget_principals()
                raise

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one Web API request (the whole request is one transaction)."""
        from crm_ferry.emulator import records

        with self._lock:
            self._records = 0
            self.forget_principals()
            try:
                with self.store.savepoint():
                    self.schema.invalidate()
                    self._settle()
                    response = self._route(request)
            except Fault as fault:
                response = records.error_response(fault)
            except Exception as exc:  # the emulator must answer, like a server would
                response = records.error_response(
                    Fault(500, "0x80040216", f"An unexpected error occurred: {exc!r}")
                )
            if RECORDS not in response.extensions:
                response.extensions[RECORDS] = self._records
            return response

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        """One non-batch operation, atomic on its own (used for $batch and bulk items)."""
        from crm_ferry.emulator import records

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
                return rb.response
            except Fault as fault:
                return records.error_response(fault)
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
        from crm_ferry.emulator import records

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
        from crm_ferry.emulator import records

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

    def client_id_of(self, user_id: str) -> str | None:
        if user_id not in self._client_ids:
            row = self.store.get("systemuser", user_id)
            self._client_ids[user_id] = None if row is None else row.get("applicationid")
        return self._client_ids[user_id]

    def removed_privileges(self, user_id: str) -> frozenset[str]:
        client_id = self.client_id_of(user_id)
        if client_id is None:
            return frozenset()
        for cid, removed in self.config.privileges_removed.items():
            if cid.lower() == client_id.lower():
                return removed
        return frozenset()

    # -- inspection --------------------------------------------------------------------

    def dump(self, table: str | None = None) -> dict[str, Any]:
        """Every stored row (sorted by primary id) and the metadata, deterministically."""
        with self._lock:
            tables = [table] if table is not None else self.store.entities()
            return {
                "records": {t: list(self.store.rows(t)) for t in tables},
                "metadata": self.schema.to_json(),
            }

    def close(self) -> None:
        with self._lock:
            self.store.close()

    # -- internals ---------------------------------------------------------------------

    def _seed(self) -> None:
        from crm_ferry.emulator import records

        for table, row in tenant.seed_rows():
            records.insert_system_row(self, table, row, tenant.DEFAULT_APP_USER_ID)
        row = tenant.application_user_row(tenant.DEFAULT_APP_CLIENT_ID, "crm-ferry", disabled=False)
        records.insert_system_row(self, "systemuser", row, tenant.DEFAULT_APP_USER_ID)
        org = self.store.get("organization", tenant.ORGANIZATION_ID)
        if org is not None:
            org["maxuploadfilesize"] = self.config.maxuploadfilesize
            org["blockedattachments"] = ";".join(self.config.blocked_extensions) + ";"
            self.store.put("organization", tenant.ORGANIZATION_ID, org)

    def _settle(self) -> None:
        try:
            from crm_ferry.emulator import metadata_api
        except ImportError:
            return
        settle = getattr(metadata_api, "settle", None)
        if callable(settle):
            settle(self)

    def _route(self, request: httpx.Request, *, inner: bool = False) -> httpx.Response:
        from crm_ferry.emulator import records

        path = request.url.path
        if not path.startswith(API_PREFIX):
            raise Fault(404, "0x80060888", f"Resource not found for the segment '{path}'.")
        rest = path[len(API_PREFIX) :]
        if rest == "$batch" and inner:
            raise Fault(400, "0x80040203", "Batches can't be nested.")
        if rest == "$batch":
            try:
                from crm_ferry.emulator.batch import handle_batch
            except ImportError:
                return _not_implemented("$batch")
            return handle_batch(self, request)
        if rest.startswith(
            ("EntityDefinitions", "RelationshipDefinitions", "GlobalOptionSetDefinitions")
        ):
            try:
                from crm_ferry.emulator.metadata_api import handle_metadata
            except ImportError:
                return _not_implemented("The metadata API")
            try:
                return handle_metadata(self, request, rest)
            finally:
                self.schema.invalidate()
        bulk = _bulk_target(rest)
        if bulk is not None and request.method.upper() == "POST":
            set_name, message = bulk
            entity = self.schema.by_entity_set(set_name)
            if entity is not None:
                try:
                    from crm_ferry.emulator.bulk import handle_bulk
                except ImportError:
                    return _not_implemented(message)
                return handle_bulk(self, request, entity, message)
        return records.dispatch(self, request)


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


def _not_implemented(what: str) -> httpx.Response:
    from crm_ferry.emulator import records

    return records.error_response(Fault(501, "0x80040216", f"{what} is not implemented."))


__all__ = ["API_PREFIX", "BLOCKED_EXTENSIONS", "CoreConfig", "Emulator", "EntityDef"]
