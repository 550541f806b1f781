"""Field-level comparison of what crm-ferry meant to write with what Dataverse holds.

``sample`` and ``verify`` read rows back and call :func:`compare_row` with the payload that
was sent (the *expected* side, in the form it goes on the wire) and the row as the Web API
returns it (the *actual* side). Both sides are normalised per column type before they are
compared, because the service answers in a different shape than it is written in:

=====================  ======================================  ==================================
column                 expected (sent)                         actual (read back)
=====================  ======================================  ==================================
lookup                 ``nav@odata.bind: "/contacts(<id>)"``    ``_<lookup>_value: "<id>"``
DateOnly               ``"2024-05-01"``                         ``"2024-05-01T00:00:00Z"`` (or a
                                                                date)
date-time              any ISO 8601 instant                     ``"2024-05-01T08:30:00Z"``
money / decimal        ``"12.5"``, ``Decimal``, float           ``12.5`` (a JSON number)
choice                 ``100000001``                            ``100000001`` (or ``"100000001"``)
multi-select choice    ``"100000000,100000002"`` or a list     ``"100000002,100000000"``
string                 compared exactly (an empty string is stored as null)
=====================  ======================================  ==================================

Date-times are compared as instants at the second (the service stores no fractions; a
naive value is UTC); ``TimeZoneIndependent`` columns are compared as wall-clock times.
Money and decimals are compared as :class:`~decimal.Decimal` at the column's precision.

Everything here is a pure function: no I/O, no client, no mapping.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Final, Literal

from crm_ferry.dataverse.metadata import ColumnInfo

Verdict = Literal["match", "mismatch", "missing", "extra"]
VERDICTS: Final[tuple[Verdict, ...]] = ("match", "mismatch", "missing", "extra")

ROW_FIELD: Final = "*"
"""The ``field`` of the single ``missing`` row written when a whole row was not found."""

BIND_SUFFIX: Final = "@odata.bind"

LOOKUP_TYPES: Final = frozenset({"Lookup", "Customer", "Owner"})
CHOICE_TYPES: Final = frozenset({"Picklist", "State", "Status"})
INTEGER_TYPES: Final = frozenset({"Integer", "BigInt"})
DECIMAL_TYPES: Final = frozenset({"Money", "Decimal", "Double"})
MONEY_DEFAULT_PRECISION: Final = 2

IGNORED_EXTRA: Final = frozenset(
    {
        "createdon",
        "modifiedon",
        "overriddencreatedon",
        "versionnumber",
        "importsequencenumber",
        "timezoneruleversionnumber",
        "utcconversiontimezonecode",
        "exchangerate",
        "statecode",
        "statuscode",
        "_createdby_value",
        "_modifiedby_value",
        "_createdonbehalfby_value",
        "_modifiedonbehalfby_value",
        "_ownerid_value",
        "_owninguser_value",
        "_owningteam_value",
        "_owningbusinessunit_value",
        "_transactioncurrencyid_value",
    }
)
"""Columns the service fills by itself; never reported as ``extra``."""


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One compared field of one row (or one missing row, ``field == "*"``)."""

    table: str
    record_id: str
    source_key: str
    """The source record, ``<object>/<id>`` (see :class:`crm_ferry.model.RecordKey`)."""
    field: str
    """The target column (logical name; for a lookup, the lookup column)."""
    source_value: Any
    expected: Any
    """As sent (wire form)."""
    actual: Any
    """As read back (wire form)."""
    verdict: Verdict

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "record_id": self.record_id,
            "source_key": self.source_key,
            "field": self.field,
            "source_value": plain(self.source_value),
            "expected": plain(self.expected),
            "actual": plain(self.actual),
            "verdict": self.verdict,
        }


def plain(value: Any) -> Any:
    """``value`` as JSON-friendly data (Decimals and dates as text, sets as sorted lists)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


# ---------------------------------------------------------------------------
# Normalisation


class _Unreadable:
    """A value that could not be normalised; equal to nothing, so it is a mismatch."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<unreadable {self.raw!r}>"


_GUID_IN_REF = re.compile(r"\(([^()]*)\)\s*$")


def lookup_id(value: Any) -> str | None:
    """The referenced id of a lookup value, lower case: ``/contacts(<id>)``, a GUID or None.

    An alternate-key reference (``/contacts(new_practiceid='c1')``) is kept as its text.
    """
    if value is None or value == "":
        return None
    text = str(value).strip()
    m = _GUID_IN_REF.search(text)
    if m:
        text = m.group(1)
    text = text.strip("{}")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text.lower()


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    return date.fromisoformat(text[:10])


def _as_instant(value: Any, *, wall_clock: bool) -> datetime:
    dt = _parse_datetime(value)
    if wall_clock:
        dt = dt.replace(tzinfo=None)
    elif dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    else:
        dt = dt.astimezone(UTC)
    return dt.replace(microsecond=0)


def _as_decimal(value: Any, precision: int | None) -> Decimal:
    if isinstance(value, bool):
        raise InvalidOperation("a boolean is not a number")
    number = Decimal(str(value).replace(",", "")) if not isinstance(value, Decimal) else value
    if not number.is_finite():
        raise InvalidOperation("not a finite number")
    if precision is None:
        return number.normalize() if number else Decimal(0)
    return number.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_EVEN)


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not an option value")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return int(str(value).strip())


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _as_choice_set(value: Any) -> frozenset[int] | None:
    if isinstance(value, str):
        parts: Iterable[Any] = [p for p in value.split(",") if p.strip()]
    elif isinstance(value, Iterable):
        parts = value
    else:
        parts = [value]
    out = frozenset(_as_int(p) for p in parts)
    return out or None


def is_date_only(info: ColumnInfo | None) -> bool:
    if info is None:
        return False
    return info.datetime_behavior == "DateOnly" or (
        info.datetime_behavior is None and info.format == "DateOnly"
    )


def normalise(value: Any, info: ColumnInfo | None) -> Any:
    """``value`` in a comparable form for a column described by ``info``.

    ``None`` (and an empty string or an empty multi-select) stays ``None``. A value that does
    not fit the column type becomes an object equal to nothing, so it is always a mismatch.
    """
    if value is None or value == "":
        return None
    kind = info.type if info is not None else None
    try:
        if kind in LOOKUP_TYPES or kind == "Uniqueidentifier":
            return lookup_id(value)
        if kind == "DateTime":
            if is_date_only(info):
                return _as_date(value)
            wall = info is not None and info.datetime_behavior == "TimeZoneIndependent"
            return _as_instant(value, wall_clock=wall)
        if kind in DECIMAL_TYPES:
            assert info is not None
            precision = info.precision
            if precision is None and kind == "Money":
                precision = MONEY_DEFAULT_PRECISION
            return _as_decimal(value, precision)
        if kind in CHOICE_TYPES or kind in INTEGER_TYPES:
            return _as_int(value)
        if kind == "MultiSelectPicklist":
            return _as_choice_set(value)
        if kind == "Boolean":
            return _as_bool(value)
        if kind in ("String", "Memo", "EntityName") or kind is None:
            return value if kind is None or isinstance(value, str) else str(value)
    except (ValueError, TypeError, InvalidOperation, ArithmeticError):
        return _Unreadable(value)
    return value


# ---------------------------------------------------------------------------
# Comparison


def lookup_value_key(column: str) -> str:
    """The key a lookup column is read back under: ``_<column>_value``."""
    return f"_{column}_value"


def _lookup_column(
    nav: str, navigation: Mapping[str, str], columns: Mapping[str, ColumnInfo]
) -> str:
    """The lookup column a navigation property binds (``parentcustomerid_account`` ->
    ``parentcustomerid``): from ``navigation`` when given, else guessed from ``columns``."""
    if nav in navigation:
        return navigation[nav]
    lowered = nav.lower()
    info = columns.get(lowered)
    if info is not None and info.type in LOOKUP_TYPES:
        return lowered
    head, sep, _ = lowered.rpartition("_")
    while sep:
        info = columns.get(head)
        if info is not None and info.type in LOOKUP_TYPES:
            return head
        head, sep, _ = head.rpartition("_")
    return lowered


def _lookup_info(column: str, columns: Mapping[str, ColumnInfo]) -> ColumnInfo:
    info = columns.get(column)
    if info is not None and info.type in LOOKUP_TYPES:
        return info
    return ColumnInfo(logical_name=column, type="Lookup")


def _actual(actual_row: Mapping[str, Any], keys: Iterable[str]) -> tuple[bool, Any]:
    for key in keys:
        if key in actual_row:
            return True, actual_row[key]
    return False, None


def compare_row(
    table: str,
    expected_payload: Mapping[str, Any],
    actual_row: Mapping[str, Any] | None,
    *,
    columns: Mapping[str, ColumnInfo],
    source_values: Mapping[str, Any],
    navigation: Mapping[str, str] | None = None,
    record_id: str = "",
    source_key: str = "",
    include_extra: bool = False,
    ignore: Collection[str] = (),
    implied: Mapping[str, Any] | None = None,
) -> list[DiffRow]:
    """Compare one row field by field; one :class:`DiffRow` per expected field.

    ``columns``: the table's columns by logical name (types, precision, date behaviour).
    ``source_values``: the source value behind each target column, keyed by the column
    (for a lookup, the lookup column or the navigation property), shown in the report.
    ``navigation``: navigation property -> lookup column, as read from the relationship
    metadata (``parentcustomerid_account`` -> ``parentcustomerid``); without an entry the
    lookup column is guessed from ``columns``.
    ``actual_row``: the row as read back, or ``None`` when it was not found: then a single
    ``missing`` row (field ``"*"``) is returned.
    ``include_extra``: also report columns that hold a value in the actual row but were not
    written (``extra``), except annotations, ``ignore`` and columns the service fills itself.
    ``implied``: the wire value the source value implies, by column, where a rule gives it
    without the transform (:func:`crm_ferry.reconcile.source_values.implied_values`): the
    actual value must equal it too, so a transform that wrote another value than its source
    says is a ``mismatch`` even though what was sent is what is there.
    """
    navigation = navigation or {}
    implied = implied or {}
    if actual_row is None:
        return [
            DiffRow(
                table,
                record_id,
                source_key,
                ROW_FIELD,
                None,
                f"{len(expected_payload)} fields",
                None,
                "missing",
            )
        ]
    rows: list[DiffRow] = []
    seen: set[str] = set()
    for key, expected in expected_payload.items():
        if key.endswith(BIND_SUFFIX):
            nav = key[: -len(BIND_SUFFIX)]
            column = _lookup_column(nav, navigation, columns)
            info: ColumnInfo | None = _lookup_info(column, columns)
            read_keys: tuple[str, ...] = (lookup_value_key(column), column)
            source = source_values.get(column, source_values.get(nav))
        elif "@" in key:
            continue  # other annotations are instructions to the service, not data
        else:
            column = key
            info = columns.get(column)
            read_keys = (column,)
            if info is not None and info.type in LOOKUP_TYPES:
                read_keys = (lookup_value_key(column), column)
            source = source_values.get(column)
        seen.update(read_keys)
        found, actual = _actual(actual_row, read_keys)
        want = normalise(expected, info)
        if not found:
            verdict: Verdict = "match" if want is None else "missing"
        else:
            verdict = "match" if want == normalise(actual, info) else "mismatch"
        if (
            verdict == "match"
            and column in implied
            and normalise(implied[column], info) != normalise(actual if found else None, info)
        ):
            verdict = "mismatch"  # sent as read back, but not what the source says
        rows.append(
            DiffRow(table, record_id, source_key, column, source, expected, actual, verdict)
        )
    if include_extra:
        skip = IGNORED_EXTRA | set(ignore)
        for key, actual in actual_row.items():
            if key in seen or key in skip or "@" in key or actual is None or actual == "":
                continue
            rows.append(DiffRow(table, record_id, source_key, key, None, None, actual, "extra"))
    return rows


def count_verdicts(rows: Iterable[DiffRow]) -> dict[str, dict[str, int]]:
    """Per table, the number of rows of each verdict (every verdict present, zeros included)."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        per = out.setdefault(row.table, dict.fromkeys(VERDICTS, 0))
        per[row.verdict] += 1
    return out
