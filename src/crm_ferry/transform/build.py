"""The steps every role builder takes, on one map, one snapshot and one context.

A role builder (:mod:`crm_ferry.transform.roles`) turns one record into the operations of
its target rows. :class:`Builder` holds what they all work with and the steps they share:
the deterministic id of a row, the operation that writes it, the map's fields written
through the generic loop (values converted by :mod:`crm_ferry.transform.convert`, lookups
bound), the owner, and the rows a reference field points to (a reference to a record that
is not in the export, or that was rejected, rejects the record that holds it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from crm_ferry.mapping.spec import FieldMap, MappingSpec, Target
from crm_ferry.model import Record, RecordKey
from crm_ferry.transform.context import ClientRef, TransformContext
from crm_ferry.transform.convert import ValueConverter
from crm_ferry.transform.ops import PHASE_ROWS, PHASE_STATE, Operation, OpKind, target_id
from crm_ferry.transform.row import Rejected, Row
from crm_ferry.transform.schema import TableSchema, TargetSchema
from crm_ferry.transform.values import BadValue, to_text

__all__ = [
    "LOOKUP_TYPES",
    "Builder",
    "currency_unbound",
    "dangling",
    "rows_match",
    "source_value",
]

LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})
"""Column types written as an ``@odata.bind`` reference, not a value."""

_NOT_GENERIC: Mapping[str, frozenset[str]] = {
    "invoice": frozenset({"status", "number"}),
    "note": frozenset({"title", "body_html", "session_id"}),
    "attachment": frozenset(
        {"client_id", "session_id", "path", "filename", "content_type", "url", "size_bytes"}
    ),
    "contact": frozenset({"family_id", "full_name"}),
}
"""Fields a role writes itself, not through the generic field loop."""

_REFERENCES: Mapping[str, tuple[str, str, str]] = {
    "family_id": ("household", "families", "family"),
    "service_type_id": ("service_type", "service_types", "service type"),
    "session_id": ("session", "sessions", "session"),
    "invoice_id": ("invoice", "invoices", "invoice"),
}
"""Reference field → (role of the row it points to, the context's index of the object and
the record's export name, what to call it)."""


def dangling(what: str, source_id: Any) -> str:
    """The reason a record is rejected for pointing to one that is not in the export."""
    return f"{what} {source_id!r} is not in the export (dangling reference)"


def source_value(record: Record, name: str) -> Any:
    """The value of a map field: a canonical field, ``custom:<key>`` or ``extra:<header>``."""
    if name.startswith("custom:"):
        custom = getattr(record, "custom", None) or {}
        return custom.get(name[len("custom:") :])
    if name.startswith("extra:"):
        return record.extra.get(name[len("extra:") :])
    return getattr(record, name, None)


def currency_unbound(row: Row) -> bool:
    """Whether ``row`` takes a currency that no mapped field has bound already."""
    if not row.table.nav("transactioncurrencyid", "transactioncurrency"):
        return False
    return not any(k.startswith("transactioncurrencyid") for k in row.payload)


def rows_match(rows: str, record: Record) -> bool:
    """The ``rows`` filter of a target: all, individual, organization, completed_paid, or
    ``<field>=<value>`` (several joined with ``&``)."""
    rows = (rows or "all").strip()
    if rows == "all":
        return True
    if rows in ("individual", "organization"):
        return getattr(record, "type", None) == rows
    if rows == "completed_paid":
        return (
            getattr(record, "status", None) == "completed"
            and getattr(record, "billing_status", None) == "paid"
        )
    for part in rows.split("&"):
        name, sep, wanted = part.partition("=")
        if not sep:
            return False
        value = getattr(record, name.strip(), None)
        if (to_text(value) if value is not None else "") != wanted.strip():
            return False
    return True


_MappedKey = tuple[int, frozenset[str]]


class Builder:
    """The map, the snapshot, the context and the namespace of one transform, and the
    steps every role builder shares."""

    __slots__ = (
        "_mapped_cache",
        "context",
        "convert",
        "failed",
        "namespace",
        "schema",
        "spec",
        "values",
    )

    def __init__(
        self,
        spec: MappingSpec,
        schema: TargetSchema,
        namespace: uuid.UUID,
        context: TransformContext,
    ) -> None:
        self.spec = spec
        self.schema = schema
        self.namespace = namespace
        self.context = context
        self.values = ValueConverter(spec, schema)
        self.convert = self.values.convert
        """``values.convert``: a mapped value → its wire value."""
        self.failed: set[RecordKey] = set()
        """Records rejected so far (here or elsewhere): rows may not point to theirs."""
        self._mapped_cache: dict[_MappedKey, tuple[Target, tuple[FieldMap, ...]]] = {}

    # -- rows and operations ------------------------------------------------------------

    def id(self, role: str, source_id: str) -> str:
        return target_id(self.namespace, role, source_id)

    def table(self, target: Target) -> TableSchema:
        info = self.schema.table(target.table)
        if info is None:
            raise Rejected(None, None, f"table {target.table!r} is not in the tenant")
        return info

    def op(
        self, target: Target, row: Row, row_id: str, source: RecordKey, *, phase: int = PHASE_ROWS
    ) -> Operation:
        """The upsert of ``row`` (in load order, or in the pass ``phase`` says)."""
        return Operation(
            role=target.role,
            table=target.table,
            id=row_id,
            payload=row.payload,
            source=source,
            phase=phase,
            depends=tuple(dict.fromkeys(row.depends)),
            create_only=tuple(row.create_only),
        )

    def after_rows(
        self,
        target: Target,
        row_id: str,
        source: RecordKey,
        kind: OpKind,
        payload: Mapping[str, Any],
        *,
        action: str | None = None,
    ) -> Operation:
        """A state change, close or action on a row once every row is written."""
        return Operation(
            role=target.role,
            table=target.table,
            id=row_id,
            payload=payload,
            source=source,
            kind=kind,
            phase=PHASE_STATE,
            depends=((target.table, row_id),),
            action=action,
        )

    # -- the generic field loop ---------------------------------------------------------

    def mapped(self, target: Target, skip: frozenset[str]) -> tuple[FieldMap, ...]:
        """The mapped fields of ``target`` outside ``skip`` and the role's own (memoised)."""
        key = (id(target), skip)
        hit = self._mapped_cache.get(key)
        if hit is not None and hit[0] is target:
            return hit[1]
        full = skip | _NOT_GENERIC.get(target.role, frozenset())
        fms = tuple(fm for fm in target.mapped() if fm.source not in full)
        self._mapped_cache[key] = (target, fms)
        return fms

    def fields(
        self, target: Target, row: Row, record: Record, *, skip: frozenset[str] = frozenset()
    ) -> None:
        """Every mapped field of ``target`` that the role does not write itself."""
        table = row.table
        for fm in self.mapped(target, skip):
            assert fm.column is not None
            value = source_value(record, fm.source)
            if fm.column == "ownerid":
                self.owner(row, value, fm.source)
                continue
            if value is None or value == "" or value == ():
                continue
            col = table.column(fm.column)
            kind = col.type if col is not None else (fm.type or "String")
            try:
                if kind in LOOKUP_TYPES:
                    ref = self.resolve(fm.source, value, table, fm.column)
                    if ref is not None:
                        row.bind(self.schema, fm.column, ref[0], ref[1])
                    continue
                wire = self.convert(fm, col, value, table.logical_name, row)
            except BadValue as exc:
                raise Rejected(fm.source, value, str(exc)) from None
            if wire is not None:
                row.set(fm.column, wire)

    # -- owners -------------------------------------------------------------------------

    def owner(self, row: Row, coach_id: Any, field_: str = "coach_id") -> None:
        """The system user of the record's coach owns the row (else the map's fallback)."""
        owner = self.spec.owners.owner_of(coach_id or None)
        if owner is None:
            who = f"coach {coach_id!r}" if coach_id else "a record without a coach"
            raise Rejected(
                field_,
                coach_id,
                f"{who} has no system user to own the row (owners.coaches) and the map has "
                "no fallback owner (owners.fallback)",
            )
        try:
            row.bind(self.schema, "ownerid", "systemuser", owner)
        except BadValue as exc:
            raise Rejected(field_, coach_id, str(exc)) from None

    def optional_owner(self, row: Row, coach_id: str | None) -> None:
        """Owner when it can be resolved; otherwise the service's default (the caller)."""
        owner = self.spec.owners.owner_of(coach_id)
        if owner is not None and row.table.nav("ownerid", "systemuser"):
            row.bind(self.schema, "ownerid", "systemuser", owner)

    # -- references ---------------------------------------------------------------------

    def check_parent(self, obj: str, source_id: str, what: str) -> None:
        if RecordKey(obj, source_id) in self.failed:
            raise BadValue(f"{what} {source_id!r} was rejected, so this row cannot point to it")

    def client_ref(self, client_id: Any) -> ClientRef:
        client = self.context.clients.get(str(client_id))
        if client is None:
            raise BadValue(dangling("client", client_id))
        self.check_parent("clients", client.id, "client")
        return client

    def client_target(self, client: ClientRef, table: TableSchema, column: str) -> tuple[str, str]:
        """The contact or account a reference to ``client`` binds to through ``column``:
        an organization's account when the lookup can point to accounts (customer,
        regarding), else its primary contact; an individual's contact."""
        targets = table.targets_of(column)
        account = self.spec.target("account")
        if client.is_organization and account is not None and "account" in targets:
            return "account", self.id("account", client.id)
        if "contact" in targets:
            return "contact", self.id("contact", client.id)
        raise BadValue(f"{table.logical_name}.{column} cannot point to a contact")

    def resolve(
        self, source: str, value: Any, table: TableSchema, column: str
    ) -> tuple[str, str] | None:
        """``(target table, target id)`` of a reference field (None: its role is not
        migrated)."""
        if source == "client_id":
            return self.client_target(self.client_ref(value), table, column)
        reference = _REFERENCES.get(source)
        if reference is not None:
            role, obj, what = reference
            t = self.spec.target(role)
            if t is None:
                return None
            source_id = str(value)
            if source_id not in getattr(self.context, obj):
                raise BadValue(dangling(what, value))
            self.check_parent(obj, source_id, what)
            return t.table, self.id(role, source_id)
        if source == "currency":
            return "transactioncurrency", self.currency(value)
        raise BadValue(f"{source} cannot be written to the lookup {table.logical_name}.{column}")

    def currency(self, iso: Any) -> str:
        """The ``transactioncurrencyid`` of an ISO code (the export's currency when empty)."""
        code = str(iso or self.context.default_currency or "").strip()
        found = self.schema.org.currency_id(code or None)
        if found is None:
            raise BadValue(
                f"currency {code!r} has no currency row (transactioncurrency) in the tenant"
                if code
                else "no currency given and the tenant's base currency is unknown"
            )
        return found
