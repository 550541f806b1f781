"""The transformer: one canonical record + the map + the target snapshot → operations.

>>> t = Transformer(spec, schema, namespace, context)           # doctest: +SKIP
>>> for record in records:                                      # doctest: +SKIP
...     out = t.transform(record)    # list[Operation], or list[Reject] (never both)
>>> aggregates = list(t.finish())          # opportunities and their WinOpportunity actions

Pure: no network, no files. Attachment bytes come through ``context.read_attachment``.
Every row gets a deterministic primary key (:func:`~crm_ferry.transform.ops.target_id`),
lookups are ``<navigation property>@odata.bind`` references read from the snapshot, and
any value the target cannot take rejects the record with the field, the value and why.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from crm_ferry.errors import MapError
from crm_ferry.mapping.spec import FieldMap, MappingSpec, Target, ValueMap
from crm_ferry.model import (
    Activity,
    Client,
    Family,
    FileRecord,
    Invoice,
    InvoiceItem,
    Payment,
    Record,
    RecordKey,
    Reject,
    ServiceType,
    Session,
    SessionNote,
)
from crm_ferry.sources.values import split_full_name
from crm_ferry.transform.context import ClientRef, TransformContext
from crm_ferry.transform.html import html_to_text
from crm_ferry.transform.ops import (
    PHASE_LINKS,
    PHASE_ROWS,
    PHASE_STATE,
    Operation,
    target_id,
)
from crm_ferry.transform.schema import ColumnInfo, TableSchema, TargetSchema
from crm_ferry.transform.values import (
    BadValue,
    check_range,
    option_by_label,
    to_bool,
    to_date,
    to_datetime,
    to_decimal,
    to_int,
    to_text,
    wire_date,
    wire_datetime,
    wire_decimal,
)

__all__ = ["ACTIVITY_STATUS", "PARTICIPATION", "Transformer"]

LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})
PARTICIPATION: Mapping[str, int] = {
    "Sender": 1,
    "To Recipient": 2,
    "Required attendee": 5,
    "Organizer": 7,
}
"""Standard ``activityparty.participationtypemask`` values, used when the tenant's metadata
does not list the option labels."""
ACTIVITY_STATUS: Mapping[tuple[str, str], int] = {
    ("phonecall", "outbound"): 2,  # Completed / Made
    ("phonecall", "inbound"): 4,  # Completed / Received
    ("email", "outbound"): 3,  # Completed / Sent
    ("email", "inbound"): 4,  # Completed / Received
    ("appointment", "outbound"): 3,  # Completed / Completed
    ("appointment", "inbound"): 3,
}
"""statuscode of a completed activity (statecode 1), by table and direction."""
ACTIVITY_KINDS: Mapping[str, str] = {
    "call": "phonecall",
    "email": "email",
    "meeting": "appointment",
}
_NOT_GENERIC: Mapping[str, frozenset[str]] = {
    "invoice": frozenset({"status", "number"}),
    "note": frozenset({"title", "body_html", "session_id"}),
    "attachment": frozenset(
        {"client_id", "session_id", "path", "filename", "content_type", "url", "size_bytes"}
    ),
    "contact": frozenset({"family_id", "full_name"}),
}
"""Fields a role writes itself, not through the generic field loop."""


class _Rejected(Exception):
    def __init__(self, field: str | None, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.value = value
        self.reason = reason


@dataclass(slots=True)
class _Row:
    """A payload being built for one target row."""

    table: TableSchema
    payload: dict[str, Any] = field(default_factory=dict)
    depends: list[tuple[str, str]] = field(default_factory=list)
    create_only: list[str] = field(default_factory=list)

    def bind(self, schema: TargetSchema, column: str, target: str, row_id: str) -> None:
        try:
            key, ref = schema.bind(self.table.logical_name, column, target, row_id)
        except KeyError as exc:
            raise BadValue(str(exc.args[0])) from None
        self.payload[key] = ref
        self.depends.append((target, row_id))

    def set(self, column: str, value: Any) -> None:
        self.payload[column] = value
        info = self.table.column(column)
        create_only = info is not None and info.is_valid_for_create and not info.is_valid_for_update
        if create_only and column not in self.create_only:
            self.create_only.append(column)


@dataclass(slots=True)
class _Aggregate:
    client_id: str
    service_type_id: str
    currency: str | None
    total: Decimal = Decimal(0)
    count: int = 0
    first_created: datetime | None = None
    last_start: datetime | None = None
    owner: str | None = None


class Transformer:
    """Turns canonical records into :class:`Operation` lists for one map and one tenant.

    ``strict`` (default) raises :class:`MapError` at construction when the map names
    tables or columns the snapshot does not have (provisioning has not run), or when
    invoices are mapped and no price list is known; with ``strict=False`` those problems
    are listed in :attr:`problems` and the affected records are rejected one by one.
    """

    def __init__(
        self,
        spec: MappingSpec,
        schema: TargetSchema,
        namespace: uuid.UUID,
        context: TransformContext | None = None,
        *,
        strict: bool = True,
    ) -> None:
        self.spec = spec
        self.schema = schema
        self.namespace = namespace
        self.context = context or TransformContext()
        self._aggregates: dict[tuple[str, str, str], _Aggregate] = {}
        self._failed: set[RecordKey] = set()
        self._mapped_cache: dict[
            tuple[int, frozenset[str]], tuple[Target, tuple[FieldMap, ...]]
        ] = {}
        self.problems: list[str] = self._check()
        if strict and self.problems:
            raise MapError(
                f"the map does not fit the target ({len(self.problems)} problem(s)):\n"
                + "\n".join(f"  {p}" for p in self.problems),
                hint="run `crm-ferry provision` so the tenant has every mapped table and column",
            )

    # ------------------------------------------------------------------------------------
    # Checks of the map against the snapshot

    def _check(self) -> list[str]:
        problems: list[str] = []
        for t in self.spec.targets.values():
            if not t.enabled:
                continue
            info = self.schema.table(t.table)
            if info is None:
                problems.append(f"targets.{t.role}: table {t.table!r} is not in the tenant")
                continue
            for fm in t.mapped():
                assert fm.column is not None
                col = info.column(fm.column)
                where = f"targets.{t.role}.fields.{fm.source}"
                if col is None:
                    problems.append(f"{where}: column {t.table}.{fm.column} is not in the tenant")
                    continue
                if col.type in LOOKUP_TYPES and not info.targets_of(fm.column):
                    problems.append(f"{where}: lookup {t.table}.{fm.column} has no relationship")
                vm = self.spec.value_maps.get(fm.value_map or "")
                keep = vm is not None and vm.policy == "keep_text"
                if keep and vm is not None and self._text_column(vm, t.table) is None:
                    problems.append(
                        f"value_maps.{vm.name}.text_column: {vm.text_column!r} is not a "
                        f"column of {t.table} (policy keep_text needs it)"
                    )
        invoice = self.spec.target("invoice")
        if (
            invoice is not None
            and invoice.table == "invoice"
            and self.schema.table(invoice.table) is not None
            and not self.schema.org.price_list_id
        ):
            problems.append(
                "targets.invoice: no price list (pricelevelid) is known; provisioning "
                "creates 'The Practice import', or pass OrgSettings(price_list_id=...)"
            )
        return problems

    # ------------------------------------------------------------------------------------
    # Entry points

    def transform(self, record: Record) -> list[Operation] | list[Reject]:
        """The operations for one record, or the reasons it cannot be loaded.

        A record no enabled target takes (users, packages, ...) gives ``[]``.
        """
        try:
            return self._dispatch(record)
        except _Rejected as exc:
            self._failed.add(record.key)
            return [self._reject(record, exc.field, exc.value, exc.reason)]

    def mark_rejected(self, key: RecordKey) -> None:
        """Tell the transformer a record was rejected elsewhere (by the reader, or by an
        earlier run), so records that point to it are rejected instead of written with a
        lookup to a row that will not exist. Records it rejects itself are marked already
        (parents must be transformed before their children: the load order)."""
        self._failed.add(key)

    def _check_parent(self, obj: str, source_id: str, what: str) -> None:
        if RecordKey(obj, source_id) in self._failed:
            raise BadValue(f"{what} {source_id!r} was rejected, so this row cannot point to it")

    def finish(self) -> Iterator[Operation]:
        """Aggregates over every record seen: one opportunity per client, service type and
        currency of completed, paid sessions, and its WinOpportunity action. Yielded one
        aggregate at a time: a large practice has thousands, with their payloads."""
        target = self.spec.target("opportunity")
        if target is None:
            return
        info = self.schema.table(target.table)
        if info is None:
            return
        for key in sorted(self._aggregates):
            yield from self._opportunity(target, info, self._aggregates[key])

    # ------------------------------------------------------------------------------------
    # Dispatch

    def _dispatch(self, record: Record) -> list[Operation]:
        if isinstance(record, Client):
            return self._client(record)
        if isinstance(record, Session):
            return self._session(record)
        if isinstance(record, SessionNote):
            return self._note(record)
        if isinstance(record, Invoice):
            return self._invoice(record)
        if isinstance(record, InvoiceItem):
            return self._simple("invoice_line", record, self._line_extras)
        if isinstance(record, Payment):
            return self._simple("payment", record, self._payment_extras)
        if isinstance(record, Activity):
            return self._activity(record)
        if isinstance(record, FileRecord):
            return self._attachment(record)
        if isinstance(record, Family):
            return self._simple("household", record, None)
        if isinstance(record, ServiceType):
            return self._simple("service_type", record, None)
        ops: list[Operation] = []
        for t in self.spec.targets_for(record.OBJECT):
            if _rows_match(t.rows, record):
                ops.extend(self._generic(t, record))
        return ops

    # ------------------------------------------------------------------------------------
    # Building blocks

    def _id(self, role: str, source_id: str) -> str:
        return target_id(self.namespace, role, source_id)

    def _reject(self, record: Record, field_: str | None, value: Any, reason: str) -> Reject:
        shown = None if value is None else to_text(value)
        return Reject(
            object=record.OBJECT,
            file=record.provenance.file,
            line=record.provenance.line,
            column=field_,
            value=shown,
            reason=reason,
            source_id=record.id,
        )

    def _table(self, target: Target) -> TableSchema:
        info = self.schema.table(target.table)
        if info is None:
            raise _Rejected(None, None, f"table {target.table!r} is not in the tenant")
        return info

    def _op(
        self,
        target: Target,
        row: _Row,
        row_id: str,
        record: Record,
        *,
        kind: str = "upsert",
        phase: int = PHASE_ROWS,
    ) -> Operation:
        return Operation(
            role=target.role,
            table=target.table,
            id=row_id,
            payload=row.payload,
            source=record.key,
            kind=kind,  # type: ignore[arg-type]
            phase=phase,
            depends=tuple(dict.fromkeys(row.depends)),
            create_only=tuple(row.create_only),
        )

    @staticmethod
    def _source_value(record: Record, name: str) -> Any:
        if name.startswith("custom:"):
            custom = getattr(record, "custom", None) or {}
            return custom.get(name[len("custom:") :])
        if name.startswith("extra:"):
            return record.extra.get(name[len("extra:") :])
        return getattr(record, name, None)

    def _mapped(self, target: Target, skip: frozenset[str]) -> tuple[FieldMap, ...]:
        """The mapped fields of ``target`` outside ``skip`` and the role's own (memoised)."""
        key = (id(target), skip)
        hit = self._mapped_cache.get(key)
        if hit is not None and hit[0] is target:
            return hit[1]
        full = skip | _NOT_GENERIC.get(target.role, frozenset())
        fms = tuple(fm for fm in target.mapped() if fm.source not in full)
        self._mapped_cache[key] = (target, fms)
        return fms

    def _fields(
        self, target: Target, row: _Row, record: Record, *, skip: frozenset[str] = frozenset()
    ) -> None:
        """Every mapped field of ``target`` that the role does not write itself."""
        for fm in self._mapped(target, skip):
            assert fm.column is not None
            value = self._source_value(record, fm.source)
            if fm.column == "ownerid":
                self._owner(row, value, fm.source)
                continue
            if value is None or value == "" or value == ():
                continue
            col = row.table.column(fm.column)
            kind = col.type if col is not None else (fm.type or "String")
            try:
                if kind in LOOKUP_TYPES:
                    ref = self._resolve(fm.source, value, row.table, fm.column)
                    if ref is not None:
                        row.bind(self.schema, fm.column, ref[0], ref[1])
                    continue
                wire = self._convert(fm, col, value, row.table.logical_name, row)
            except BadValue as exc:
                raise _Rejected(fm.source, value, str(exc)) from None
            if wire is not None:
                row.set(fm.column, wire)

    def _owner(self, row: _Row, coach_id: Any, field_: str = "coach_id") -> None:
        owner = self.spec.owners.owner_of(coach_id or None)
        if owner is None:
            who = f"coach {coach_id!r}" if coach_id else "a record without a coach"
            raise _Rejected(
                field_,
                coach_id,
                f"{who} has no system user to own the row (owners.coaches) and the map has "
                "no fallback owner (owners.fallback)",
            )
        try:
            row.bind(self.schema, "ownerid", "systemuser", owner)
        except BadValue as exc:
            raise _Rejected(field_, coach_id, str(exc)) from None

    def _optional_owner(self, row: _Row, coach_id: str | None) -> None:
        """Owner when it can be resolved; otherwise the service's default (the caller)."""
        owner = self.spec.owners.owner_of(coach_id)
        if owner is not None and row.table.nav("ownerid", "systemuser"):
            row.bind(self.schema, "ownerid", "systemuser", owner)

    def _client_ref(self, client_id: Any) -> ClientRef:
        client = self.context.clients.get(str(client_id))
        if client is None:
            raise BadValue(f"client {client_id!r} is not in the export (dangling reference)")
        self._check_parent("clients", client.id, "client")
        return client

    def _client_target(self, client: ClientRef, table: TableSchema, column: str) -> tuple[str, str]:
        """The contact or account a reference to ``client`` binds to through ``column``:
        an organization's account when the lookup can point to accounts (customer,
        regarding), else its primary contact; an individual's contact."""
        targets = table.targets_of(column)
        account = self.spec.target("account")
        if client.is_organization and account is not None and "account" in targets:
            return "account", self._id("account", client.id)
        if "contact" in targets:
            return "contact", self._id("contact", client.id)
        raise BadValue(f"{table.logical_name}.{column} cannot point to a contact")

    def _resolve(
        self, source: str, value: Any, table: TableSchema, column: str
    ) -> tuple[str, str] | None:
        """``(target table, target id)`` of a reference field."""
        ctx = self.context
        if source == "client_id":
            return self._client_target(self._client_ref(value), table, column)
        if source == "family_id":
            household = self.spec.target("household")
            if household is None:
                return None
            if str(value) not in ctx.families:
                raise BadValue(f"family {value!r} is not in the export (dangling reference)")
            self._check_parent("families", str(value), "family")
            return household.table, self._id("household", str(value))
        if source == "service_type_id":
            t = self.spec.target("service_type")
            if t is None:
                return None
            if str(value) not in ctx.service_types:
                raise BadValue(f"service type {value!r} is not in the export (dangling reference)")
            self._check_parent("service_types", str(value), "service type")
            return t.table, self._id("service_type", str(value))
        if source == "session_id":
            t = self.spec.target("session")
            if t is None:
                return None
            if str(value) not in ctx.sessions:
                raise BadValue(f"session {value!r} is not in the export (dangling reference)")
            self._check_parent("sessions", str(value), "session")
            return t.table, self._id("session", str(value))
        if source == "invoice_id":
            t = self.spec.target("invoice")
            if t is None:
                return None
            if str(value) not in ctx.invoices:
                raise BadValue(f"invoice {value!r} is not in the export (dangling reference)")
            self._check_parent("invoices", str(value), "invoice")
            return t.table, self._id("invoice", str(value))
        if source == "currency":
            return "transactioncurrency", self._currency(value)
        raise BadValue(f"{source} cannot be written to the lookup {table.logical_name}.{column}")

    def _currency(self, iso: Any) -> str:
        code = str(iso or self.context.default_currency or "").strip()
        found = self.schema.org.currency_id(code or None)
        if found is None:
            raise BadValue(
                f"currency {code!r} has no currency row (transactioncurrency) in the tenant"
                if code
                else "no currency given and the tenant's base currency is unknown"
            )
        return found

    # -- values ------------------------------------------------------------------------

    def _text_column(self, vm: ValueMap, table: str) -> str | None:
        if not vm.text_column:
            return None
        owner, _, column = vm.text_column.rpartition(".")
        if owner and owner != table:
            return None
        info = self.schema.table(table)
        if info is None or info.column(column) is None:
            return None
        return column

    def _choice(
        self,
        fm: FieldMap,
        col: ColumnInfo | None,
        text: str,
        table: str,
        row: _Row | None,
    ) -> int | None:
        vm = self.spec.value_maps.get(fm.value_map or "")
        if vm is not None:
            text_col = self._text_column(vm, table)
            if text_col is not None and row is not None:
                limit = (row.table.column(text_col) or ColumnInfo(text_col, "String")).max_length
                row.set(text_col, text[:limit] if limit else text)
            ok, found = vm.lookup(text)
            if ok:
                if isinstance(found, bool) or not isinstance(found, int):
                    raise BadValue(f"value map {vm.name!r} gives {found!r}, not an option value")
                if col is not None and col.options and found not in col.options:
                    raise BadValue(
                        f"value map {vm.name!r} gives {found}, which is not an option of "
                        f"{table}.{fm.column}"
                    )
                return int(found)
            if vm.policy == "keep_text" and text_col is not None:
                return None
            raise BadValue(str(found))
        create_opts = dict(fm.create.options) if fm.create is not None else {}
        found_opt = option_by_label(col, create_opts, text)
        if found_opt is None:
            raise BadValue(f"{text!r} is not an option of {table}.{fm.column}")
        return found_opt

    def _convert(
        self,
        fm: FieldMap,
        col: ColumnInfo | None,
        value: Any,
        table: str,
        row: _Row | None = None,
    ) -> Any:
        kind = col.type if col is not None else (fm.type or "String")
        if col is None and fm.create is not None:
            kind = fm.create.kind
        where = f"{table}.{fm.column}"
        if kind in ("String", "Memo"):
            text = to_text(value)
            limit = col.max_length if col is not None else None
            if limit is not None and len(text) > limit:
                if not fm.truncate:
                    raise BadValue(
                        f"{len(text)} characters; {where} holds at most {limit} "
                        "(set truncate: true on the field to cut it)"
                    )
                text = text[:limit]
            return text
        if kind in ("Integer", "BigInt"):
            number = to_int(value)
            check_range(col, Decimal(number))
            return number
        if kind in ("Decimal", "Money", "Double"):
            dec = to_decimal(value)
            check_range(col, dec)
            precision = col.precision if col is not None else None
            if precision is None and kind == "Money":
                precision = 2  # PrecisionSource: the currency's (2 for the org's pricing)
            exponent = dec.normalize().as_tuple().exponent
            if precision is not None and isinstance(exponent, int) and -exponent > precision:
                raise BadValue(f"{dec} has more than {precision} decimal places ({where})")
            return wire_decimal(dec)
        if kind == "DateTime":
            behavior = col.datetime_behavior if col is not None else None
            if behavior is None and col is None and fm.create is not None:
                behavior = fm.create.behavior
            if behavior == "DateOnly":
                return wire_date(to_date(value))
            return wire_datetime(to_datetime(value))
        if kind == "Boolean":
            return to_bool(value)
        if kind in ("Picklist", "State", "Status"):
            return self._choice(fm, col, to_text(value).strip(), table, row)
        if kind == "MultiSelectPicklist":
            items: Sequence[Any]
            if isinstance(value, str):
                sep = ";" if ";" in value else ","
                items = [p for p in (s.strip() for s in value.split(sep)) if p]
            elif isinstance(value, Sequence):
                items = list(value)
            else:
                items = [value]
            chosen: list[int] = []
            for item in items:
                opt = self._choice(fm, col, to_text(item).strip(), table, None)
                if opt is not None and opt not in chosen:
                    chosen.append(opt)
            if not chosen:
                return None
            return ",".join(str(v) for v in chosen)
        if kind == "Uniqueidentifier":
            return str(uuid.UUID(str(value)))
        raise BadValue(f"{where} is a {kind} column, which transform cannot write")

    # ------------------------------------------------------------------------------------
    # Roles

    def _generic(self, target: Target, record: Record) -> list[Operation]:
        row = _Row(self._table(target))
        self._fields(target, row, record)
        return [self._op(target, row, self._id(target.role, record.id), record)]

    def _simple(self, role: str, record: Record, extras: Any) -> list[Operation]:
        target = self.spec.target(role)
        if target is None or not _rows_match(target.rows, record):
            return []
        row = _Row(self._table(target))
        self._fields(target, row, record)
        if extras is not None:
            extras(target, row, record)
        self._primary_name(row, record, role)
        return [self._op(target, row, self._id(role, record.id), record)]

    def _primary_name(self, row: _Row, record: Record, role: str) -> None:
        name_col = row.table.primary_name
        if not name_col or name_col in row.payload:
            return
        col = row.table.column(name_col)
        if col is None or not col.is_valid_for_create:
            return
        text = ""
        if role == "payment" and isinstance(record, Payment):
            inv = self.context.invoices.get(record.invoice_id or "")
            parts = [
                "Payment",
                inv.number if inv and inv.number else (record.invoice_id or ""),
                record.paid_at.date().isoformat() if record.paid_at else "",
            ]
            text = " ".join(p for p in parts if p)
        else:
            text = str(getattr(record, "name", None) or "") or record.id
        self._set_name(row, name_col, text)

    @staticmethod
    def _set_name(row: _Row, column: str, text: str) -> None:
        col = row.table.column(column)
        limit = col.max_length if col is not None else None
        row.set(column, text[:limit] if limit else text)

    # -- clients -------------------------------------------------------------------------

    def _client(self, record: Client) -> list[Operation]:
        ops: list[Operation] = []
        account_t = self.spec.target("account")
        contact_t = self.spec.target("contact")
        account_id: str | None = None
        if account_t is not None and _rows_match(account_t.rows, record):
            row = _Row(self._table(account_t))
            self._fields(account_t, row, record)
            name_col = row.table.primary_name or "name"
            if name_col not in row.payload:
                self._set_name(row, name_col, record.organization or _person_name(record))
            account_id = self._id("account", record.id)
            ops.append(self._op(account_t, row, account_id, record))
        if contact_t is not None and _rows_match(contact_t.rows, record):
            row = _Row(self._table(contact_t))
            self._fields(contact_t, row, record)
            self._contact_names(contact_t, row, record)
            parent = contact_t.column_of("family_id") or "parentcustomerid"
            try:
                if account_id is not None and row.table.nav(parent, "account"):
                    row.bind(self.schema, parent, "account", account_id)
                elif record.family_id and contact_t.column_of("family_id"):
                    ref = self._resolve("family_id", record.family_id, row.table, parent)
                    if ref is not None:
                        row.bind(self.schema, parent, ref[0], ref[1])
            except BadValue as exc:
                raise _Rejected("family_id", record.family_id, str(exc)) from None
            contact_id = self._id("contact", record.id)
            ops.append(self._op(contact_t, row, contact_id, record))
            if account_id is not None and account_t is not None:
                link = _Row(self._table(account_t))
                try:
                    link.bind(self.schema, "primarycontactid", "contact", contact_id)
                except BadValue as exc:
                    raise _Rejected(None, None, str(exc)) from None
                ops.append(self._op(account_t, link, account_id, record, phase=PHASE_LINKS))
        return ops

    def _contact_names(self, target: Target, row: _Row, record: Client) -> None:
        last_col = target.column_of("last_name") or "lastname"
        first_col = target.column_of("first_name") or "firstname"
        if row.payload.get(last_col):
            return
        first, last = (None, None)
        if record.full_name:
            first, last = split_full_name(record.full_name)
        if not last and record.type == "organization":
            last = record.organization
        if not last:
            raise _Rejected(
                "last_name",
                None,
                "a contact needs a last name, and first_name, last_name and full_name are empty",
            )
        fm_last = target.fields.get("last_name") or FieldMap("last_name", last_col)
        try:
            row.set(last_col, self._convert(fm_last, row.table.column(last_col), last, "contact"))
            if first and not row.payload.get(first_col) and row.table.column(first_col):
                fm_first = target.fields.get("first_name") or FieldMap("first_name", first_col)
                row.set(
                    first_col,
                    self._convert(fm_first, row.table.column(first_col), first, "contact"),
                )
        except BadValue as exc:
            raise _Rejected("full_name", record.full_name, str(exc)) from None

    # -- sessions and opportunities --------------------------------------------------------

    def _session(self, record: Session) -> list[Operation]:
        target = self.spec.target("session")
        if target is None or not _rows_match(target.rows, record):
            return []
        row = _Row(self._table(target))
        self._fields(target, row, record)
        name_col = row.table.primary_name
        if name_col and name_col not in row.payload:
            client = self.context.clients.get(record.client_id or "")
            day = record.start_at.date().isoformat() if record.start_at else "undated"
            kind = self._session_type_label(target, record.session_type) or "Session"
            who = client.name if client else (record.client_id or "unknown client")
            self._set_name(row, name_col, f"{day} {kind} with {who}")
        ops = [self._op(target, row, self._id("session", record.id), record)]
        self._collect(record, row)
        return ops

    def _session_type_label(self, target: Target, session_type: str | None) -> str | None:
        if not session_type:
            return None
        fm = target.fields.get("session_type")
        info = self.schema.table(target.table)
        if fm is not None and fm.column and fm.value_map and info is not None:
            vm = self.spec.value_maps.get(fm.value_map)
            col = info.column(fm.column)
            if vm is not None:
                ok, value = vm.lookup(session_type)
                options: dict[int, str] = dict(fm.create.options) if fm.create else {}
                if col is not None:
                    options.update(col.options)
                if ok and isinstance(value, int) and value in options:
                    return options[value]
        return session_type.replace("_", " ").strip().title().replace("On One", "on One")

    def _collect(self, record: Session, row: _Row) -> None:
        target = self.spec.target("opportunity")
        if target is None or not _rows_match(target.rows, record):
            return
        if not record.client_id or not record.service_type_id:
            return
        if record.client_id not in self.context.clients:
            return
        currency = (record.currency or self.context.default_currency or "").upper()
        key = (record.client_id, record.service_type_id, currency)
        agg = self._aggregates.get(key)
        if agg is None:
            agg = self._aggregates[key] = _Aggregate(
                record.client_id, record.service_type_id, currency or None
            )
        agg.total += record.price or Decimal(0)
        agg.count += 1
        if record.created_at and (
            agg.first_created is None or record.created_at < agg.first_created
        ):
            agg.first_created = record.created_at
        if record.start_at and (agg.last_start is None or record.start_at > agg.last_start):
            agg.last_start = record.start_at
            agg.owner = self.spec.owners.owner_of(record.coach_id)
        elif agg.owner is None:
            agg.owner = self.spec.owners.owner_of(record.coach_id)

    def _opportunity(self, target: Target, info: TableSchema, agg: _Aggregate) -> list[Operation]:
        client = self.context.clients[agg.client_id]
        service = self.context.service_types.get(agg.service_type_id, agg.service_type_id)
        source_id = f"{agg.client_id}/{agg.service_type_id}/{agg.currency or ''}"
        opp_id = self._id("opportunity", source_id)
        source = RecordKey("sessions", source_id)
        row = _Row(info)
        name_col = info.primary_name or "name"
        self._set_name(row, name_col, f"{service} with {client.name}")
        value_cols = [target.column_of("price") or "actualvalue"]
        if info.column("estimatedvalue") is not None:
            value_cols.append("estimatedvalue")
        for col in dict.fromkeys(value_cols):
            if info.column(col) is not None:
                row.set(col, wire_decimal(agg.total))
        count_col = target.column_of("id")
        if count_col and info.column(count_col) is not None:
            row.set(count_col, agg.count)
        kind, ref_id = self._client_target(client, info, "customerid")
        row.bind(self.schema, "customerid", kind, ref_id)
        if agg.currency and info.nav("transactioncurrencyid", "transactioncurrency"):
            currency = self.schema.org.currency_id(agg.currency)
            if currency:
                row.bind(self.schema, "transactioncurrencyid", "transactioncurrency", currency)
        if agg.owner and info.nav("ownerid", "systemuser"):
            row.bind(self.schema, "ownerid", "systemuser", agg.owner)
        if agg.last_start and info.column("estimatedclosedate") is not None:
            row.set("estimatedclosedate", wire_date(agg.last_start.date()))
        if agg.first_created and info.column("overriddencreatedon") is not None:
            row.set("overriddencreatedon", wire_datetime(agg.first_created))
        upsert = Operation(
            role=target.role,
            table=target.table,
            id=opp_id,
            payload=row.payload,
            source=source,
            depends=tuple(dict.fromkeys(row.depends)),
            create_only=tuple(row.create_only),
        )
        close: dict[str, Any] = {
            "subject": f"Won: {row.payload[name_col]}"[:200],
            "actualrevenue": wire_decimal(agg.total),
        }
        if agg.last_start:
            close["actualend"] = wire_datetime(agg.last_start)
        try:
            key, ref = self.schema.bind("opportunityclose", "opportunityid", target.table, opp_id)
        except KeyError:
            key, ref = "opportunityid@odata.bind", self.schema.ref(target.table, opp_id)
        close[key] = ref
        win = Operation(
            role=target.role,
            table=target.table,
            id=opp_id,
            payload={"Status": 3, "OpportunityClose": close},
            source=source,
            kind="action",
            phase=PHASE_STATE,
            depends=((target.table, opp_id),),
            action="WinOpportunity",
        )
        return [upsert, win]

    # -- notes -----------------------------------------------------------------------------

    def _note(self, record: SessionNote) -> list[Operation]:
        target = self.spec.target("note")
        session_t = self.spec.target("session")
        if target is None or not _rows_match(target.rows, record):
            return []
        if session_t is None:
            raise _Rejected("session_id", record.session_id, "sessions are not migrated")
        session = self.context.sessions.get(record.session_id or "")
        if session is None:
            raise _Rejected(
                "session_id",
                record.session_id,
                f"session {record.session_id!r} is not in the export (dangling reference)",
            )
        try:
            self._check_parent("sessions", session.id, "session")
        except BadValue as exc:
            raise _Rejected("session_id", record.session_id, str(exc)) from None
        info = self._table(target)
        session_id = self._id("session", session.id)
        object_col = target.column_of("session_id") or "objectid"
        row = _Row(info)
        self._fields(target, row, record)
        try:
            row.bind(self.schema, object_col, session_t.table, session_id)
        except BadValue as exc:
            raise _Rejected("session_id", record.session_id, str(exc)) from None
        self._optional_owner(row, session.coach_id)
        day = session.day or (record.created_at.date() if record.created_at else None)
        title = (record.title or "").strip()
        subject = title or f"{day.isoformat() if day else 'Undated'} Session Note"
        subject_col = target.column_of("title") or "subject"
        fm_subject = target.fields.get("title") or FieldMap("title", subject_col)
        body = html_to_text(record.body_html)
        if body.problems:
            raise _Rejected("body_html", None, "; ".join(body.problems))
        try:
            row.set(
                subject_col,
                self._convert(fm_subject, info.column(subject_col), subject, info.logical_name),
            )
            text_col = target.column_of("body_html")
            if text_col and body.text:
                fm_text = target.fields.get("body_html") or FieldMap("body_html", text_col)
                row.set(
                    text_col,
                    self._convert(fm_text, info.column(text_col), body.text, info.logical_name),
                )
        except BadValue as exc:
            raise _Rejected("title" if not body.text else "body_html", None, str(exc)) from None
        ops = [self._op(target, row, self._id("note", record.id), record)]
        for image in body.images:
            img = _Row(info)
            img.bind(self.schema, object_col, session_t.table, session_id)
            self._optional_owner(img, session.coach_id)
            try:
                self._document(img, image.filename, image.mimetype, image.data)
            except BadValue as exc:
                raise _Rejected("body_html", f"inline image {image.index}", str(exc)) from None
            self._set_name(img, subject_col, f"{subject} (image {image.index})")
            if "overriddencreatedon" in row.payload:
                img.set("overriddencreatedon", row.payload["overriddencreatedon"])
            image_id = self._id("note", f"{record.id}/image-{image.index}")
            ops.append(self._op(target, img, image_id, record))
        return ops

    def _document(self, row: _Row, filename: str, mimetype: str | None, data: bytes) -> None:
        """isdocument, filename, mimetype and the Base64 body, checked against the tenant's
        upload limit (on the Base64 length) and blocked extensions."""
        org = self.schema.org
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if ext and ext in org.blocked_extensions:
            raise BadValue(
                f"the file type .{ext} is blocked by the tenant (blockedattachments); "
                "listed for manual handling, not migrated"
            )
        encoded = base64.b64encode(data).decode("ascii")
        if len(encoded) > org.max_upload_bytes:
            raise BadValue(
                f"{len(encoded)} bytes as Base64 ({len(data)} bytes raw) is over the tenant's "
                f"upload limit of {org.max_upload_bytes} (maxuploadfilesize); listed for "
                "manual upload or a SharePoint document location, not migrated"
            )
        fm_name = FieldMap("filename", "filename")
        row.set(
            "filename", self._convert(fm_name, row.table.column("filename"), filename, "annotation")
        )
        mime = mimetype or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        row.set("mimetype", mime)
        row.set("isdocument", True)
        row.set("documentbody", encoded)

    # -- invoices --------------------------------------------------------------------------

    def _invoice(self, record: Invoice) -> list[Operation]:
        target = self.spec.target("invoice")
        if target is None or not _rows_match(target.rows, record):
            return []
        info = self._table(target)
        row = _Row(info)
        self._fields(target, row, record)
        number = (record.number or "").strip() or record.id
        number_col = target.column_of("number")
        try:
            if number_col:
                fm = target.fields["number"]
                row.set(
                    number_col,
                    self._convert(fm, info.column(number_col), number, info.logical_name),
                )
            name_col = info.primary_name
            if name_col and name_col not in row.payload:
                fm_name = FieldMap("number", name_col)
                row.set(
                    name_col,
                    self._convert(fm_name, info.column(name_col), number, info.logical_name),
                )
        except BadValue as exc:
            raise _Rejected("number", record.number, str(exc)) from None
        try:
            if info.nav("transactioncurrencyid", "transactioncurrency") and not any(
                k.startswith("transactioncurrencyid") for k in row.payload
            ):
                currency = self._currency(record.currency)
                row.bind(self.schema, "transactioncurrencyid", "transactioncurrency", currency)
        except BadValue as exc:
            raise _Rejected("currency", record.currency, str(exc)) from None
        price_list = self.schema.org.price_list_id
        if info.nav("pricelevelid", "pricelevel"):
            if not price_list:
                raise _Rejected(None, None, "no price list (pricelevelid) is known")
            row.bind(self.schema, "pricelevelid", "pricelevel", price_list)
        invoice_id = self._id("invoice", record.id)
        ops = [self._op(target, row, invoice_id, record)]
        state = self._invoice_state(target, record, row)
        if state is not None:
            ops.append(
                Operation(
                    role=target.role,
                    table=target.table,
                    id=invoice_id,
                    payload={"statecode": state[0], "statuscode": state[1]},
                    source=record.key,
                    kind="state",
                    phase=PHASE_STATE,
                    depends=((target.table, invoice_id),),
                )
            )
        return ops

    def _invoice_state(self, target: Target, record: Invoice, row: _Row) -> tuple[int, int] | None:
        fm = target.fields.get("status")
        if fm is None or not fm.column or not record.status:
            return None
        vm = self.spec.value_maps.get(fm.value_map or "")
        if vm is None:
            raise _Rejected("status", record.status, f"no value map for {target.table} status")
        text_col = self._text_column(vm, target.table)
        if text_col is not None:
            self._set_name(row, text_col, record.status)
        ok, found = vm.lookup(record.status)
        if not ok:
            raise _Rejected("status", record.status, str(found))
        if isinstance(found, list | tuple) and len(found) == 2:
            state, status = int(found[0]), int(found[1])
        elif isinstance(found, int) and not isinstance(found, bool):
            state, status = 0, int(found)
        else:
            raise _Rejected("status", record.status, f"value map {vm.name!r} gives {found!r}")
        if state == 0 and status == 1:
            return None  # Active / New: what every invoice is created as
        return state, status

    def _line_extras(self, target: Target, row: _Row, record: Record) -> None:
        assert isinstance(record, InvoiceItem)
        if row.table.column("isproductoverridden") is not None:
            row.set("isproductoverridden", True)
        desc_col = target.column_of("description") or "productdescription"
        if not row.payload.get(desc_col) and row.table.column(desc_col) is not None:
            service = self.context.service_types.get(record.service_type_id or "")
            row.set(desc_col, service or "Invoice line")
        qty_col = target.column_of("quantity") or "quantity"
        if qty_col not in row.payload and row.table.column(qty_col) is not None:
            row.set(qty_col, Decimal(1))

    def _payment_extras(self, target: Target, row: _Row, record: Record) -> None:
        assert isinstance(record, Payment)
        inv = self.context.invoices.get(record.invoice_id or "")
        if record.invoice_id and inv is None:
            raise _Rejected(
                "invoice_id",
                record.invoice_id,
                f"invoice {record.invoice_id!r} is not in the export (dangling reference)",
            )
        if row.table.nav("transactioncurrencyid", "transactioncurrency") and not any(
            k.startswith("transactioncurrencyid") for k in row.payload
        ):
            try:
                currency = self._currency(inv.currency if inv else None)
            except BadValue as exc:
                raise _Rejected("invoice_id", record.invoice_id, str(exc)) from None
            row.bind(self.schema, "transactioncurrencyid", "transactioncurrency", currency)

    # -- activities ------------------------------------------------------------------------

    def _activity(self, record: Activity) -> list[Operation]:
        ops: list[Operation] = []
        for target in self.spec.targets_for("activities"):
            if target.role == "opportunity" or not _rows_match(target.rows, record):
                continue
            ops.extend(self._one_activity(target, record))
        return ops

    def _one_activity(self, target: Target, record: Activity) -> list[Operation]:
        info = self._table(target)
        table = info.logical_name
        row = _Row(info)
        skip = frozenset({"direction", "occurred_at", "duration_minutes"})
        self._fields(target, row, record, skip=skip)
        direction = record.direction or "outbound"
        dir_col = target.column_of("direction")
        if dir_col and info.column(dir_col) is not None and record.direction:
            row.set(dir_col, record.direction == "outbound")
        start = record.occurred_at or record.created_at
        minutes = record.duration_minutes
        if minutes is not None:
            dur_col = target.column_of("duration_minutes") or "actualdurationminutes"
            if info.column(dur_col) is not None:
                try:
                    row.set(
                        dur_col,
                        self._convert(
                            FieldMap("duration_minutes", dur_col),
                            info.column(dur_col),
                            minutes,
                            table,
                        ),
                    )
                except BadValue as exc:
                    raise _Rejected("duration_minutes", minutes, str(exc)) from None
        if start is not None:
            end = start + timedelta(minutes=minutes or 0)
            try:
                start_text, end_text = wire_datetime(start), wire_datetime(end)
            except BadValue as exc:
                raise _Rejected("occurred_at", start, str(exc)) from None
            start_col = target.column_of("occurred_at") or "actualstart"
            for col, text in ((start_col, start_text), ("actualend", end_text)):
                if info.column(col) is not None:
                    row.set(col, text)
            if table == "appointment":
                row.set("scheduledstart", start_text)
                row.set("scheduledend", end_text)
        elif table == "appointment":
            raise _Rejected("occurred_at", None, "a meeting needs its time (scheduledstart)")
        subject_col = target.column_of("subject") or "subject"
        if not row.payload.get(subject_col) and info.column(subject_col) is not None:
            row.set(
                subject_col, {"call": "Call", "email": "Email", "meeting": "Meeting"}[record.kind]
            )
        self._parties(row, record, direction)
        activity_id = self._id(target.role, record.id)
        ops = [self._op(target, row, activity_id, record)]
        status = ACTIVITY_STATUS.get((table, direction))
        if status is not None:
            ops.append(
                Operation(
                    role=target.role,
                    table=target.table,
                    id=activity_id,
                    payload={"statecode": 1, "statuscode": status},
                    source=record.key,
                    kind="close",
                    phase=PHASE_STATE,
                    depends=((target.table, activity_id),),
                )
            )
        return ops

    def _participation(self, label: str) -> int:
        party = self.schema.table("activityparty")
        col = party.column("participationtypemask") if party is not None else None
        if col is not None:
            found = option_by_label(col, {}, label)
            if found is not None:
                return found
        return PARTICIPATION[label]

    def _parties(self, row: _Row, record: Activity, direction: str) -> None:
        table = row.table.logical_name
        collection = row.table.collections.get("activityparty")
        party = self.schema.table("activityparty")
        if collection is None or party is None:
            return
        parties: list[dict[str, Any]] = []
        coach = self.spec.owners.owner_of(record.coach_id)
        client = self.context.clients.get(record.client_id or "")
        if table == "appointment":
            coach_role, client_role = "Organizer", "Required attendee"
        elif direction == "outbound":
            coach_role, client_role = "Sender", "To Recipient"
        else:
            coach_role, client_role = "To Recipient", "Sender"
        for kind, party_id, role in (
            ("systemuser", coach, coach_role),
            ("contact", self._id("contact", client.id) if client else None, client_role),
        ):
            if party_id is None:
                continue
            nav = party.nav("partyid", kind)
            target_set = self.schema.entity_set(kind)
            if nav is None or target_set is None:
                continue
            parties.append(
                {
                    f"{nav}@odata.bind": f"/{target_set}({party_id})",
                    "participationtypemask": self._participation(role),
                }
            )
            if kind == "contact":
                row.depends.append(("contact", party_id))
        if parties:
            row.payload[collection] = parties
            row.create_only.append(collection)

    # -- files -----------------------------------------------------------------------------

    def _attachment(self, record: FileRecord) -> list[Operation]:
        target = self.spec.target("attachment")
        if target is None or not _rows_match(target.rows, record):
            return []
        info = self._table(target)
        filename = (record.filename or "").strip()
        if not record.path:
            if record.url:
                raise _Rejected(
                    "url",
                    record.url,
                    "a linked file (a URL, not in the bundle): listed, not migrated",
                )
            raise _Rejected("path", None, "the file has neither a path in the bundle nor a URL")
        if not filename:
            filename = record.path.rsplit("/", 1)[-1]
        row = _Row(info)
        self._fields(target, row, record)
        object_col = target.column_of("client_id") or "objectid"
        session_t = self.spec.target("session")
        try:
            if record.session_id and session_t is not None:
                session = self.context.sessions.get(record.session_id)
                if session is None:
                    raise _Rejected(
                        "session_id",
                        record.session_id,
                        f"session {record.session_id!r} is not in the export (dangling reference)",
                    )
                self._check_parent("sessions", session.id, "session")
                row.bind(self.schema, object_col, session_t.table, self._id("session", session.id))
                self._optional_owner(row, session.coach_id)
            elif record.client_id:
                client = self._client_ref(record.client_id)
                kind, ref_id = self._client_target(client, info, object_col)
                row.bind(self.schema, object_col, kind, ref_id)
                self._optional_owner(row, client.coach_id)
            else:
                raise _Rejected("client_id", None, "the file belongs to no client or session")
        except BadValue as exc:
            field_ = "session_id" if record.session_id else "client_id"
            raise _Rejected(field_, getattr(record, field_), str(exc)) from None
        read = self.context.read_attachment
        if read is None:
            raise _Rejected("path", record.path, "no attachment reader was given to transform")
        try:
            data = read(record.path)
        except (OSError, KeyError) as exc:
            raise _Rejected(
                "path", record.path, f"the file is not in the bundle ({type(exc).__name__})"
            ) from None
        if record.sha256 and hashlib.sha256(data).hexdigest() != record.sha256.strip().lower():
            raise _Rejected("sha256", record.sha256, "the file's content does not match its sha256")
        try:
            self._document(row, filename, record.content_type, data)
        except BadValue as exc:
            raise _Rejected(
                "filename" if "blocked" in str(exc) else "size_bytes", filename, str(exc)
            ) from None
        subject_col = info.primary_name or "subject"
        if subject_col not in row.payload and info.column(subject_col) is not None:
            self._set_name(row, subject_col, filename)
        return [self._op(target, row, self._id("attachment", record.id), record)]


def _person_name(record: Client) -> str:
    return (
        record.full_name
        or " ".join(p for p in (record.first_name, record.last_name) if p)
        or record.id
    )


def _rows_match(rows: str, record: Record) -> bool:
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
