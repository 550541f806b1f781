"""What a reconciliation found that differs: each difference classified, with a stable id,
and whether a person accepted it.

Three classes, in the order a reader should look at them:

``source defect``
    The export disagrees with itself: an invoice total that is not its lines plus its tax,
    payments over the invoice total, a reference to a record the export does not hold, a
    duplicate id, a row the reader could not read. Reported, not corrected.
``rejected by the map``
    A record or value the load did not write because the confirmed map (or the tenant's
    rules it follows) rejects it: a linked file, a file over the upload limit, a value no
    value map takes. Journaled as a reject of the load run.
``migration difference``
    The tenant differs from what the map says it should hold: a value changed or missing,
    a row missing, a lookup to nothing, two rows for one record, a count that does not add
    up, a check that could not run; and a record that was not loaded because of another
    record's problem (its parent was rejected, or the row its id was first seen on).

A difference's id is 10 characters of Crockford's base 32 (digits and lower-case letters
without i, l, o and u) of the sha256 of its class, table, record and column: the same
difference has the same id in every verification, it can be read out and typed, and
:func:`normal_id` reads it back whatever the case (and ``i``/``l`` as 1, ``o`` as 0).

Everything here is pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, get_args

from crm_ferry.model import Reject
from crm_ferry.reconcile.diff import ROW_FIELD, DiffRow, plain

__all__ = [
    "CLASSES",
    "MIGRATION",
    "REJECTED",
    "SOURCE_DEFECT",
    "Acceptance",
    "CheckRow",
    "Classification",
    "Difference",
    "apply_acceptances",
    "caused_by",
    "class_counts",
    "difference_id",
    "is_duplicate",
    "listed",
    "normal_id",
    "reject_checks",
    "reject_class",
    "reject_reason",
]

Classification = Literal["source defect", "rejected by the map", "migration difference"]
CLASSES: Final[tuple[Classification, ...]] = get_args(Classification)
SOURCE_DEFECT: Final[Classification] = "source defect"
REJECTED: Final[Classification] = "rejected by the map"
MIGRATION: Final[Classification] = "migration difference"

ID_LENGTH: Final = 10
_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
_TYPED: Final = str.maketrans({"i": "1", "l": "1", "o": "0"})

NOT_LOADED: Final = "record not loaded"
"""The check name of a reject: a record (or a value of it) the load did not write."""

SOURCE_DEFECT_MARKS: Final = (
    "(dangling reference)",
    "duplicate id",
    "duplicate client_id and key",
    "does not match its sha256",
)
"""Reasons of the load's rejects that say the export disagrees with itself."""

DUPLICATE_MARKS: Final = ("duplicate id", "duplicate client_id and key")
"""Reasons of the reader's rejects of a row whose id an earlier row of the file holds."""

LISTED_MARKS: Final = ("listed, not migrated", "listed for manual")
"""Reasons of the load's rejects that the map lists for manual handling (a linked file, a
file over the upload limit or of a blocked type): decided by the map, not lost."""

PARENT_REJECTED: Final = "was rejected, so this row cannot point to it"
"""The reason of a record rejected because the record it points to was rejected."""

REFERENCE_FIELDS: Final[Mapping[str, str]] = {
    "client_id": "clients",
    "family_id": "families",
    "service_type_id": "service_types",
    "package_id": "packages",
    "session_id": "sessions",
    "invoice_id": "invoices",
    "coach_id": "users",
    "author_id": "users",
}
"""A reference field of a record -> the source object of the record it points to."""


def difference_id(classification: str, table: str, record: str, column: str) -> str:
    """The stable id of a difference (see the module docstring)."""
    text = "\x1f".join((classification, table, record.lower(), column))
    number = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    return "".join(_ALPHABET[(number >> (5 * i)) & 31] for i in range(ID_LENGTH))


def normal_id(text: str) -> str:
    """An id as a person typed it, in the form :func:`difference_id` writes it."""
    return text.strip().lower().replace("-", "").translate(_TYPED)


@dataclass(frozen=True, slots=True)
class CheckRow:
    """A cross-record check: "lookup points to an existing row", "invoice total = source
    total" ... A failed one is a difference of ``classification``, named by table, record
    and column."""

    name: str
    table: str
    record: str
    passed: bool
    detail: str = ""
    column: str = ROW_FIELD
    classification: Classification = MIGRATION

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "table": self.table,
            "record": self.record,
            "column": self.column,
            "passed": self.passed,
            "classification": self.classification,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Acceptance:
    """Who accepted a difference, when and why."""

    by: str
    at: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"by": self.by, "at": self.at, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Difference:
    """One thing a reconciliation found that differs, classified."""

    id: str
    classification: Classification
    table: str
    """A target table, or for a record not loaded, the source object."""
    record: str
    """A row id, a source id (a record not loaded), or ``*`` (the whole table)."""
    column: str
    """A target column, a source column, or a name in parentheses (``(rows)``)."""
    what: str
    """What differs: a verdict of the field-level diff or the name of a check."""
    detail: str = ""
    source_key: str = ""
    source_value: Any = None
    expected: Any = None
    actual: Any = None
    accepted: Acceptance | None = None

    @classmethod
    def make(
        cls,
        classification: Classification,
        table: str,
        record: str,
        column: str,
        what: str,
        detail: str = "",
        **values: Any,
    ) -> Difference:
        ident = difference_id(classification, table, record, column)
        return cls(ident, classification, table, record, column, what, detail, **values)

    @classmethod
    def of_row(cls, row: DiffRow) -> Difference:
        """A field of the field-level diff that does not match: a migration difference."""
        what = {
            "mismatch": "value differs",
            "missing": "row missing" if row.field == ROW_FIELD else "value missing",
            "extra": "value not written",
        }.get(row.verdict, row.verdict)
        return cls.make(
            MIGRATION,
            row.table,
            row.record_id,
            row.field,
            what,
            source_key=row.source_key,
            source_value=row.source_value,
            expected=row.expected,
            actual=row.actual,
        )

    @classmethod
    def of_check(cls, check: CheckRow) -> Difference:
        return cls.make(
            check.classification, check.table, check.record, check.column, check.name, check.detail
        )

    @property
    def status(self) -> str:
        return "accepted" if self.accepted is not None else "new"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "classification": self.classification,
            "status": self.status,
            "table": self.table,
            "record": self.record,
            "column": self.column,
            "what": self.what,
            "detail": self.detail,
            "source_key": self.source_key,
            "source_value": plain(self.source_value),
            "expected": plain(self.expected),
            "actual": plain(self.actual),
            "accepted": None if self.accepted is None else self.accepted.as_dict(),
        }


def apply_acceptances(
    differences: Iterable[Difference], accepted: Mapping[str, Acceptance]
) -> list[Difference]:
    """The differences, each marked with its acceptance (by id), if there is one."""
    return [replace(d, accepted=accepted.get(d.id)) for d in differences]


def class_counts(differences: Iterable[Difference]) -> dict[str, dict[str, int]]:
    """Per class (every class, zeros included): differences in total, new and accepted."""
    out: dict[str, dict[str, int]] = {c: {"total": 0, "new": 0, "accepted": 0} for c in CLASSES}
    for d in differences:
        per = out[d.classification]
        per["total"] += 1
        per[d.status] += 1
    return out


# ---------------------------------------------------------------------------
# Rejects: records the load did not write


def is_duplicate(reject: Reject) -> bool:
    """Whether the reader rejected this row because an earlier row holds its id."""
    return reject.reason.startswith(DUPLICATE_MARKS)


def listed(reason: str) -> bool:
    """Whether a reject's reason says the map lists the record for manual handling."""
    return any(mark in reason for mark in LISTED_MARKS)


def caused_by(
    reject: Reject,
    *,
    from_reader: bool,
    accepted: Mapping[str, AbstractSet[str]] | None = None,
    rejected: Mapping[str, AbstractSet[str]] | None = None,
    loaded: Mapping[str, AbstractSet[str]] | None = None,
) -> tuple[str, str] | None:
    """The other record (object, source id) whose problem kept ``reject``'s record from
    being loaded, or None when its own data is the reason.

    * A row the reader rejected as a duplicate whose id no row of the file was accepted
      under (``accepted``: the ids the reader accepted, per object): the row its id was
      first seen on was rejected, and this one went with it.
    * A record the load rejected for pointing to a record that was rejected (by the reader
      or the load: ``rejected``, per object) and is not loaded (``loaded``), whether the
      reason says it was rejected or (rejected by the reader) that it is not in the export.
    """
    if from_reader:
        known = (accepted or {}).get(reject.object)
        sid = reject.source_id
        if is_duplicate(reject) and sid and known is not None and sid not in known:
            return reject.object, sid
        return None
    parent = REFERENCE_FIELDS.get(reject.column or "")
    value = reject.value
    if PARENT_REJECTED in reject.reason:
        return parent or "", value or ""
    if (
        parent is not None
        and value
        and value in (rejected or {}).get(parent, ())
        and value not in (loaded or {}).get(parent, ())
    ):
        return parent, value
    return None


def reject_class(
    reject: Reject, *, from_reader: bool = False, cause: tuple[str, str] | None = None
) -> Classification:
    """A record lost because of another record's problem (``cause``, see :func:`caused_by`)
    is a migration difference; a row the reader rejected, or a reject whose reason says that
    the export disagrees with itself, is a source defect; any other reject of the load, the
    map's."""
    if cause is not None:
        return MIGRATION
    if from_reader or any(mark in reject.reason for mark in SOURCE_DEFECT_MARKS):
        return SOURCE_DEFECT
    return REJECTED


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_LINE = re.compile(r"\bline \d+")


def reject_reason(reason: str) -> str:
    """A reject's reason without the values it quotes, to count reasons alike."""
    return _LINE.sub("line …", _QUOTED.sub("…", reason))


def reject_checks(
    rejects: Iterable[Reject],
    reader: Iterable[Reject] = (),
    *,
    accepted: Mapping[str, AbstractSet[str]] | None = None,
    loaded: Mapping[str, AbstractSet[str]] | None = None,
) -> list[CheckRow]:
    """Every record (or value) a run did not load, as a failed check, classified.

    ``reader``: the rows the reader itself rejected (source defects, unless another row's
    problem rejected them); ``accepted``: the ids the reader accepted, and ``loaded``: the
    ids with a row in the tenant, per object (with them, records lost because of another
    record are told from those whose own data is wrong: :func:`caused_by`)."""
    rejects = list(rejects)
    by_reader = {(r.object, r.file, r.line) for r in reader}
    rejected: dict[str, set[str]] = {}
    why: dict[tuple[str, str], str] = {}
    for r in rejects:
        if r.source_id:
            rejected.setdefault(r.object, set()).add(r.source_id)
            why.setdefault((r.object, r.source_id), r.reason)
    out: list[CheckRow] = []
    for r in rejects:
        shown = "" if r.value is None else f" {r.value!r}:"
        from_reader = (r.object, r.file, r.line) in by_reader
        cause = caused_by(
            r, from_reader=from_reader, accepted=accepted, rejected=rejected, loaded=loaded
        )
        detail = f"{r.file}:{r.line}{' ' + r.column if r.column else ''}:{shown} {r.reason}"
        if cause is not None:
            detail += f" ({_cause_text(cause, why.get(cause), duplicate=from_reader)})"
        out.append(
            CheckRow(
                NOT_LOADED,
                r.object,
                r.source_id or f"{r.file}:{r.line}",
                False,
                detail,
                column=r.column or ROW_FIELD,
                classification=reject_class(r, from_reader=from_reader, cause=cause),
            )
        )
    return out


def _cause_text(cause: tuple[str, str], first: str | None, *, duplicate: bool) -> str:
    obj, sid = cause
    because = f": {first}" if first else ""
    if duplicate:
        other = f"the row this id was first seen on was rejected{because}"
    elif obj and sid:
        other = f"{_NOUNS.get(obj, obj)} {sid!r}, which it points to, was rejected{because}"
    else:
        other = "the record it points to was rejected"
    return f"not loaded because of another record: {other}; its own data is not the reason"


_NOUNS: Final[Mapping[str, str]] = {
    "clients": "client",
    "families": "family",
    "service_types": "service type",
    "packages": "package",
    "sessions": "session",
    "invoices": "invoice",
    "users": "user",
}
