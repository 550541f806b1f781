"""One emulated tenant's state: its configuration, store, schema, clocks and request caches.

:class:`TenantState` is what the record, rule and action modules work on (they take it as
``em``); :class:`~crm_ferry.emulator.core.Emulator` adds the routing of requests and the
seeding of a new tenant on top of it, so those modules never depend on the router.

State lives in SQLite (:mod:`.store`); one re-entrant lock serialises requests
(:meth:`TenantState.transaction`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_ferry.emulator import tenant
from crm_ferry.emulator.schema import BULK_MESSAGES, Schema
from crm_ferry.emulator.store import Store
from crm_ferry.errors import ConfigError

SCHEMA_PART = "schema/"
"""Meta rows of a data folder holding one part of the schema (:meth:`Schema.parts`) each."""
SCHEMA_DIGEST = "schema-digest/"
"""Meta rows holding the digest of each part as last written."""

if TYPE_CHECKING:
    from crm_ferry.emulator.served.document import TenantSnapshot

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
    bulk_delete_delay: float = 0.0
    """Seconds before a submitted BulkDelete job may run (it runs at the start of the first
    request after that, never in the request that submitted it)."""
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
    count_limit: int = 5000
    """``@odata.count`` and ``/$count`` count at most this many rows (5,000, Count rows)."""
    aggregate_record_limit: int = 50_000
    """``$apply`` over more matching rows fails with AggregateQueryRecordLimit (50,000,
    Aggregate data)."""
    file_block_size: int = 4 * 1024 * 1024
    """File and image transfers: the chunk size recommended (``x-ms-chunk-size``) and the
    largest block ``UploadBlock`` takes and ``DownloadBlock`` gives (4 MB, Use file column
    data)."""
    file_upload_limit: int = 128 * 1024 * 1024
    """The largest file one ``PATCH <set>(id)/<column>`` request uploads (128 MB); larger files
    go in chunks or blocks."""
    file_download_limit: int = 16 * 1024 * 1024
    """The largest file one ``GET .../<column>/$value`` without ``Range`` downloads (16 MB)
    and the largest range one request asks for."""
    snapshot: TenantSnapshot | None = None
    """Serve the tenant of this snapshot (:mod:`crm_ferry.emulator.served`) instead of the
    built-in one: its tables in place of the built-in ones, its users, currencies and
    settings as the first rows."""


class TenantState:
    """A tenant's store, schema, clocks and per-request caches; every public method is
    thread-safe.

    A store that holds no tenant yet gets the standard schema (or the one ``schema`` makes),
    and ``seed`` (when given) writes the tenant's first rows in the same transaction. A store
    made from a snapshot is opened again only with that snapshot.
    """

    def __init__(
        self,
        config: CoreConfig | None = None,
        data_dir: Path | None = None,
        *,
        seed: Callable[[TenantState], None] | None = None,
        schema: Callable[[], Schema] | None = None,
    ) -> None:
        self.config = config or CoreConfig()
        self._lock = threading.RLock()
        self.store = Store(data_dir)
        self._records = 0
        self._client_ids: dict[str, str | None] = {}
        self._principals: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.jobs_due: dict[str, float] = {}
        """System jobs not yet run (asyncoperationid → clock time they may run from)."""
        raw = self.store.get_meta("schema")
        if raw is not None:
            self._check_snapshot(data_dir)
            self.schema = self._load_schema(json.loads(raw))
            self._version = self.store.max_version()
            self.jobs_due = {
                str(row["asyncoperationid"]): 0.0
                for row in self.store.rows("asyncoperation")
                if row.get("statecode") != 3
            }
        else:
            if schema is not None:
                self.schema = schema()
            else:
                self.schema = tenant.build_schema(self.config.bulk_standard_tables)
            self._version = 0
            with self.store.savepoint():
                if seed is not None:
                    seed(self)
                if self.config.snapshot is not None:
                    self.store.set_meta("snapshot", self.config.snapshot.digest)
                self.save_schema()

    def _check_snapshot(self, data_dir: Path | None) -> None:
        """A stored tenant made from a snapshot is served again only from that snapshot."""
        snapshot = self.config.snapshot
        if snapshot is None or self.store.get_meta("snapshot") == snapshot.digest:
            return
        self.store.close()
        raise ConfigError(
            f"the emulator data in {data_dir} is not the tenant of the snapshot {snapshot.path}",
            hint="serve the snapshot with a new data folder (or none), or this folder without "
            "--snapshot",
        )

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

    def save_schema(self, tables: Iterable[str] | None = None) -> None:
        """Persist the metadata (after a metadata change); custom tables get bulk messages.

        A store in memory keeps no copy (nothing reopens it). A data folder keeps each part
        of the schema (:meth:`Schema.parts`) as JSON with a digest of its contents, and a
        change rewrites only the parts whose digest changed. ``tables``: the tables the
        change may have altered (:func:`~crm_ferry.emulator.metadata.paths.tables_named`,
        the same promise :meth:`Schema.snapshot` relies on to undo a change): only their
        parts, the relationships and global choices, and tables not stored yet are
        compared, instead of every table (digesting every part took half of a provision).
        """
        with self._lock:
            for entity in self.schema.entities.values():
                if entity.is_custom and not entity.bulk_messages:
                    entity.bulk_messages = BULK_MESSAGES
            if not self.store.persistent:
                return
            parts = self.schema.parts()
            stored = {n.removeprefix(SCHEMA_PART) for n in self.store.meta_names(SCHEMA_PART)}
            if tables is not None:
                named = {f"entity/{t}" for t in tables}
                parts = {
                    name: part
                    for name, part in parts.items()
                    if not name.startswith("entity/") or name in named or name not in stored
                }
            for name, part in parts.items():
                digest = hashlib.blake2b(
                    pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL), digest_size=16
                ).hexdigest()
                if self.store.get_meta(f"{SCHEMA_DIGEST}{name}") == digest:
                    continue
                text = json.dumps(Schema.part_json(part), sort_keys=True)
                self.store.set_meta(f"{SCHEMA_PART}{name}", text)
                self.store.set_meta(f"{SCHEMA_DIGEST}{name}", digest)
            current = {f"entity/{name}" for name in self.schema.entities}
            for name in stored:
                if name.startswith("entity/") and name not in current:
                    self.store.delete_meta(f"{SCHEMA_PART}{name}")
                    self.store.delete_meta(f"{SCHEMA_DIGEST}{name}")
            head = {"format": "parts", "entities": list(self.schema.entities)}
            self.store.set_meta("schema", json.dumps(head))

    def _load_schema(self, head: dict[str, Any]) -> Schema:
        """The schema a data folder holds (in parts; or whole, as earlier versions kept it)."""
        if head.get("format") != "parts":
            return Schema.from_json(head)
        parts = {
            name.removeprefix(SCHEMA_PART): json.loads(self.store.get_meta(name) or "null")
            for name in self.store.meta_names(SCHEMA_PART)
        }
        return Schema.from_parts(parts, head.get("entities", []))

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


__all__ = ["BLOCKED_EXTENSIONS", "DEFAULT_BULK_STANDARD_TABLES", "CoreConfig", "TenantState"]
