"""The steps every role builder takes, on one map, one snapshot and one context.

A role builder (:mod:`crm_ferry.transform.roles`) turns one record into the operations of
its target rows. :class:`Builder` holds what they all work with and the steps they share:
the deterministic id of a row, the operation that writes it, the map's fields written
through the generic loop (values converted by :mod:`crm_ferry.transform.convert`, lookups
bound), the owner, and the rows a reference field points to (a reference to a record that
is not in the export, or that was rejected, rejects the record that holds it).

The owner of a row is the system user of its coach (:meth:`Builder.coach_of`): the
record's own coach (``coach_id``, else ``coach_email``), else its parent's (a session's or
an activity's client, a note's session, a file's session or client), else the map's
fallback. A row that should have an owner and gets none is rejected with the coach it names;
``map check`` finds those rows, and tables that cannot take an owner, before any load.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from crm_ferry.mapping.spec import NO_COACH, CoachRef, FieldMap, MappingSpec, Target, first_named
from crm_ferry.model import Activity, Client, FileRecord, Record, RecordKey, Session, SessionNote
from crm_ferry.transform.context import ClientRef, SessionRef, TransformContext
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

COMPOSED = "(composed by the transform)"
"""The source field of a cut text the transform composed itself (a name, a subject)."""

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
        "emitted",
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
        self.emitted: set[str] = set()
        """Rows written once per transform whoever asks first (a SharePoint folder)."""

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
        for column, length, kept, text in row.cuts:
            self.values.cuts.append((COMPOSED, target.table, column, length, kept, text))
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

    def check_status(self, target: Target, state: int, status: int, field: str | None) -> None:
        """Rejected when the tenant's ``statuscode`` has no ``status`` of ``state`` (the
        tenant's status reasons, with their states, in the reason)."""
        info = self.table(target)
        col = info.column("statuscode")
        if col is None or not col.states:
            return
        if col.states.get(status) == state:
            return
        known = ", ".join(
            f"{v} {col.options.get(v, '')}".rstrip() for v, s in col.states.items() if s == state
        )
        raise Rejected(
            field,
            status,
            f"status {status} is not a status of state {state} of {target.table} in the tenant "
            f"(its status reasons of that state: {known or 'none'}); map the value to one of them",
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
                self.owner(row, self.coach_of(record), fm.source)
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

    def coach_of(self, record: Record) -> CoachRef:
        """The coach whose system user owns ``record``'s rows: its own (id, else e-mail),
        else its parent's (a session's or an activity's client, a note's session, a file's
        session, else its client)."""
        if isinstance(record, Client):
            return CoachRef.of(record.coach_id, record.coach_email)
        if isinstance(record, Session):
            own = CoachRef.of(record.coach_id, record.coach_email)
            return first_named(own, self.client_coach(record.client_id))
        if isinstance(record, Activity):
            return first_named(CoachRef.of(record.coach_id), self.client_coach(record.client_id))
        if isinstance(record, SessionNote):
            return self.session_coach(self.context.sessions.get(record.session_id or ""))
        if isinstance(record, FileRecord):
            if record.session_id and record.session_id in self.context.sessions:
                return self.session_coach(self.context.sessions[record.session_id])
            return self.client_coach(record.client_id)
        own = CoachRef.of(getattr(record, "coach_id", None), getattr(record, "coach_email", None))
        return first_named(own, self.client_coach(getattr(record, "client_id", None)))

    def client_coach(self, client_id: Any) -> CoachRef:
        client = self.context.clients.get(str(client_id)) if client_id else None
        if client is None:
            return NO_COACH
        return CoachRef.of(client.coach_id, client.coach_email)

    def session_coach(self, session: SessionRef | None) -> CoachRef:
        if session is None:
            return NO_COACH
        own = CoachRef.of(session.coach_id, session.coach_email)
        return first_named(own, self.client_coach(session.client_id))

    def owner_id(self, coach: CoachRef) -> str | None:
        """The systemuserid of ``coach``'s user, else the map's fallback (None: neither)."""
        return self.spec.owners.owner_for(coach)

    def owner(
        self,
        row: Row,
        coach: CoachRef,
        field_: str = "coach_id",
        value: Any = None,
        *,
        why: str = "",
    ) -> None:
        """The system user of ``coach`` owns the row (else the map's fallback); no owner, or
        a table that cannot take one, rejects the record at ``field_`` holding ``value``
        (default: the coach the row names). ``why`` says whose coach it is when it is not
        the record's own (a note: its session's)."""
        shown = coach.value if value is None else value
        owner = self.owner_id(coach)
        if owner is None:
            who = str(coach) if coach.named else "a record without a coach"
            listed = self.spec.owners.named_by(coach) if coach.named else None
            if coach.named and listed is None:
                place = "is not listed under owners.coaches"
            else:
                place = "has no system user to own the row (owners.coaches)"
            raise Rejected(
                field_,
                shown,
                f"{why}{who} {place} and the map has no fallback owner (owners.fallback)",
            )
        try:
            row.bind(self.schema, "ownerid", "systemuser", owner)
        except BadValue as exc:
            raise Rejected(
                field_,
                shown,
                f"{exc}: {row.table.logical_name} cannot take an owner in the tenant "
                "(`crm-ferry map check` reports it)",
            ) from None

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
