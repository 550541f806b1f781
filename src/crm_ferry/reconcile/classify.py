"""What a reconciliation found that differs: each difference classified, with a stable id,
and whether a person accepted it.

Three classes, in the order a reader should look at them:

``source defect``
    The export disagrees with itself: an invoice total that is not the sum of its lines,
    payments over the invoice total, a reference to a record the export does not hold, a
    duplicate id, a row the reader could not read. Reported, not corrected.
``rejected by the map``
    A record or value the load did not write because the confirmed map (or the tenant's
    rules it follows) rejects it: a linked file, a file over the upload limit, a value no
    value map takes. Journaled as a reject of the load run.
``migration difference``
    The tenant differs from what the map says it should hold: a value changed or missing,
    a row missing, a lookup to nothing, two rows for one record, a count that does not add
    up, a check that could not run.

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
    "class_counts",
    "difference_id",
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


def reject_class(reject: Reject, *, from_reader: bool = False) -> Classification:
    """A row the reader rejected, or a reject whose reason says that the export disagrees
    with itself, is a source defect; any other reject of the load, the map's."""
    if from_reader or any(mark in reject.reason for mark in SOURCE_DEFECT_MARKS):
        return SOURCE_DEFECT
    return REJECTED


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_LINE = re.compile(r"\bline \d+")


def reject_reason(reason: str) -> str:
    """A reject's reason without the values it quotes, to count reasons alike."""
    return _LINE.sub("line …", _QUOTED.sub("…", reason))


def reject_checks(rejects: Iterable[Reject], reader: Iterable[Reject] = ()) -> list[CheckRow]:
    """Every record (or value) a run did not load, as a failed check, classified.

    ``reader``: the rows the reader itself rejected (source defects)."""
    by_reader = {(r.object, r.file, r.line) for r in reader}
    out: list[CheckRow] = []
    for r in rejects:
        shown = "" if r.value is None else f" {r.value!r}:"
        out.append(
            CheckRow(
                NOT_LOADED,
                r.object,
                r.source_id or f"{r.file}:{r.line}",
                False,
                f"{r.file}:{r.line}{' ' + r.column if r.column else ''}:{shown} {r.reason}",
                column=r.column or ROW_FIELD,
                classification=reject_class(r, from_reader=(r.object, r.file, r.line) in by_reader),
            )
        )
    return out
