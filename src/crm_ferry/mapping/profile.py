"""Profiling a source bundle for the map proposer: what each column of each file holds.

:func:`profile_source` reads every object file of an open bundle once, from the raw cells
(not the typed records: a column the reader does not know must be profiled too), and
reports for every header *as written*:

* the canonical field it resolves to, exactly as the reader resolves it (the bundle's column
  map, then canonical names, then the contract's aliases; ``custom:<key>`` for custom
  property columns of clients; ``None`` for a column that would land in ``Record.extra``);
* the inferred type, null ratio, distinct count (exact up to :data:`DISTINCT_CAP`), maximum
  length, the ratio of values matching each pattern of :data:`PATTERNS`, and a few samples.

It also infers the Dataverse column type of every custom property, in both forms
(``custom:<key>`` columns and the long-form ``client_properties`` object), by the object
map's rules, and collects the value sets (with counts) of every enum-like field, which the
proposer turns into value maps.

Value sets hold the values of the rows the reader accepts, the only ones a value map ever
sees: a row the reader rejects is not loaded whatever its values. The tags are the clients'
effective tags: a bundle with client groups adds to the tags the ones each member gains
from its groups (:mod:`crm_ferry.sources.groups`), counted in a pass over the clients. The
values of rejected rows are kept apart (:attr:`SourceProfile.rejected_values`, each with its
rows and the reason they are rejected), so that ``map check`` can say that a value only
they hold needs no entry in a value map.

:meth:`SourceProfile.schema_signature` is the part the map depends on (objects, headers and
their fields, custom keys and types, enum value sets) and nothing that changes with the mere
number of rows: it is what the source fingerprint hashes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

from crm_ferry.errors import SourceError
from crm_ferry.model import DateFormat, Reject
from crm_ferry.sources import schema
from crm_ferry.sources.bundle import Bundle
from crm_ferry.sources.bundle import resolve_header as read_header
from crm_ferry.sources.csvrows import CsvRows, RowProblem
from crm_ferry.sources.infer import PropertyInference, PropertyType
from crm_ferry.sources.values import converter_for, to_tags

DISTINCT_CAP = 1000
"""Distinct values are counted exactly up to this many per column, then reported capped."""
VALUE_SET_CAP = 200
"""At most this many distinct values are kept per enum-like field's value set."""
REJECTED_EXAMPLES = 5
"""Rows kept (file, line, reason) per value that rows the reader rejects hold."""
SAMPLE_LENGTH = 80
MEMO_ABOVE = 4000
"""Text custom properties longer than this become Memo columns."""

PATTERNS: tuple[str, ...] = (
    "email",
    "phone",
    "url",
    "date",
    "datetime",
    "money",
    "integer",
    "boolean",
)
"""Value patterns detected in every column (ratios over its non-empty values)."""

_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[A-Za-z]{2,}")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s]+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io)(?:/\S*)?", re.I
)
_PHONE = re.compile(r"\+?[\d\s().\-/]{7,24}(?:\s*(?:x|ext\.?)\s*\d{1,6})?", re.I)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\d{1,2}/\d{1,2}/\d{4}[ T]+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp][Mm])?"
)
_MONEY = re.compile(r"[$€£]?\s?[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEAN = frozenset({"true", "false", "yes", "no"})

ENUM_FIELDS: dict[str, tuple[str, str]] = {
    "session_status": ("sessions", "status"),
    "session_type": ("sessions", "session_type"),
    "billing_status": ("sessions", "billing_status"),
    "invoice_status": ("invoices", "status"),
    "client_status": ("clients", "status"),
    "on_track_status": ("clients", "on_track_status"),
    "payment_method": ("payments", "method"),
    "vertical": ("clients", "vertical"),
    "gender": ("clients", "gender"),
    "tags": ("clients", "tags"),
}
"""Value-set name (the default value map's name) -> (object, canonical field)."""
VALUE_SET_OBJECTS = frozenset(obj for obj, _ in ENUM_FIELDS.values())
"""The objects whose rows the reader is asked about: which it accepts, which it rejects."""

ColumnType = Literal["DateTime", "Decimal", "Boolean", "Picklist", "String", "Memo"]


def _matches(value: str) -> set[str]:
    """The patterns one non-empty, stripped value matches."""
    found: set[str] = set()
    low = value.lower()
    if low in _BOOLEAN:
        found.add("boolean")
        return found
    if "@" in value and _EMAIL.fullmatch(value):
        found.add("email")
        return found
    if _DATETIME.fullmatch(value):
        found.add("datetime")
        return found
    if _DATE.fullmatch(value):
        found.add("date")
        return found
    if _INTEGER.fullmatch(value):
        found.add("integer")
        found.add("money")
    elif _MONEY.fullmatch(value):
        found.add("money")
    if _PHONE.fullmatch(value):
        digits = sum(ch.isdigit() for ch in value)
        separated = any(ch in value for ch in " ()-+./")
        if 7 <= digits <= 15 and (separated or digits >= 10) and "." not in value[-3:]:
            found.add("phone")
    if not found and _URL.fullmatch(value):
        found.add("url")
    return found


def _raw_text(value: Any) -> str | None:
    """A raw cell or JSON value as stripped text; None when empty."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value) if isinstance(value, float) else str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text or None


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """One column of one object file, by its header as written."""

    object: str
    header: str
    """As written (a repeated header gets ``_2``, ``_3``... as the reader names it)."""
    position: int
    field: str | None
    """Canonical field, ``custom:<key>``, or None when the reader puts it in ``extra``."""
    inferred_type: str
    """empty, boolean, date, datetime, email, url, phone, integer, decimal, text or memo."""
    rows: int
    nulls: int
    distinct: int
    distinct_capped: bool
    max_length: int
    max_decimals: int
    patterns: Mapping[str, float]
    samples: tuple[str, ...]

    @property
    def null_ratio(self) -> float:
        return self.nulls / self.rows if self.rows else 1.0

    @property
    def filled(self) -> int:
        return self.rows - self.nulls

    def ratio(self, pattern: str) -> float:
        return self.patterns.get(pattern, 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "position": self.position,
            "field": self.field,
            "type": self.inferred_type,
            "rows": self.rows,
            "null_ratio": round(self.null_ratio, 4),
            "distinct": self.distinct,
            "distinct_capped": self.distinct_capped,
            "max_length": self.max_length,
            "patterns": {k: round(v, 4) for k, v in self.patterns.items() if v},
            "samples": list(self.samples),
        }


@dataclass(frozen=True, slots=True)
class ObjectProfile:
    object: str
    file: str
    format: str
    rows: int
    columns: tuple[ColumnProfile, ...]

    def column(self, header: str) -> ColumnProfile | None:
        for c in self.columns:
            if c.header == header:
                return c
        return None

    def by_field(self, name: str) -> ColumnProfile | None:
        for c in self.columns:
            if c.field == name:
                return c
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "rows": self.rows,
            "columns": [c.as_dict() for c in self.columns],
        }


@dataclass(frozen=True, slots=True)
class CustomProperty:
    """One custom property key and the Dataverse column its values fit."""

    key: str
    forms: tuple[str, ...]
    """``column`` (a ``custom:<key>`` column of clients) and/or ``long`` (client_properties)."""
    header: str | None
    """The clients header it came from in column form."""
    type: PropertyType
    column_type: ColumnType
    count: int
    """Non-empty values seen."""
    max_length: int
    precision: int | None = None
    """Decimal places of a Decimal column."""
    choices: tuple[str, ...] = ()
    """The distinct values of a choice, sorted."""
    samples: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "forms": list(self.forms),
            "header": self.header,
            "type": self.type,
            "column_type": self.column_type,
            "count": self.count,
            "max_length": self.max_length,
        }
        if self.precision is not None:
            out["precision"] = self.precision
        if self.choices:
            out["choices"] = list(self.choices)
        out["samples"] = list(self.samples)
        return out


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row the reader rejects: where it is and why."""

    file: str
    line: int
    reason: str
    """The reader's reason, with the column and value it names."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RejectedValue:
    """A value of an enum-like field in rows the reader rejects."""

    value: str
    rows: int
    examples: tuple[RejectedRow, ...]
    """The first :data:`REJECTED_EXAMPLES` of those rows."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "examples": [r.as_dict() for r in self.examples],
        }


@dataclass(frozen=True, slots=True)
class SourceProfile:
    """What the proposer knows about the source: see the module docstring."""

    objects: Mapping[str, ObjectProfile]
    custom: Mapping[str, CustomProperty]
    value_sets: Mapping[str, Mapping[str, int]]
    """Enum-like field (see :data:`ENUM_FIELDS`) -> value (as the reader normalises it) ->
    count, over the rows the reader accepts."""
    date_format: str = "iso"
    platform: str | None = None
    truncated_value_sets: tuple[str, ...] = ()
    """Value sets that hit :data:`VALUE_SET_CAP` (only the first values are kept)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    rejected_values: Mapping[str, Mapping[str, RejectedValue]] = field(default_factory=dict)
    """Enum-like field -> value -> the rows the reader rejects that hold it."""

    def only_rejected(self, name: str) -> dict[str, RejectedValue]:
        """The values of value set ``name`` that only rows the reader rejects hold."""
        accepted = self.value_sets.get(name, {})
        return {v: r for v, r in self.rejected_values.get(name, {}).items() if v not in accepted}

    def column(self, obj: str, header: str) -> ColumnProfile | None:
        op = self.objects.get(obj)
        return op.column(header) if op is not None else None

    def schema_signature(self) -> dict[str, Any]:
        """What the map depends on, JSON-able and independent of row counts."""
        return {
            "objects": {
                obj: {
                    "format": op.format,
                    "headers": {c.header: c.field for c in op.columns},
                }
                for obj, op in sorted(self.objects.items())
            },
            "custom": {
                key: {
                    "type": cp.type,
                    "column_type": cp.column_type,
                    "choices": list(cp.choices),
                }
                for key, cp in sorted(self.custom.items())
            },
            "value_sets": {
                name: sorted(values) for name, values in sorted(self.value_sets.items())
            },
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "date_format": self.date_format,
            "platform": self.platform,
            "objects": {obj: op.as_dict() for obj, op in self.objects.items()},
            "custom": {key: cp.as_dict() for key, cp in sorted(self.custom.items())},
            "value_sets": {
                name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
                for name, values in sorted(self.value_sets.items())
            },
            "truncated_value_sets": list(self.truncated_value_sets),
            "rejected_values": {
                name: {v: r.as_dict() for v, r in sorted(values.items())}
                for name, values in sorted(self.rejected_values.items())
            },
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------
# Header resolution, as the reader does it (its rules, in its words)


def resolve_header(obj: str, header: str, cmap: Mapping[str, str]) -> str | None:
    """The canonical field (or ``custom:<key>``) ``header`` resolves to in ``obj``, else None:
    the reader's own rules (:func:`crm_ferry.sources.bundle.resolve_header`)."""
    kind, name = read_header(obj, header, cmap)
    if kind == "field":
        return name
    if kind == "custom":
        return schema.CUSTOM_PREFIX + name
    return None


def resolve_headers(
    obj: str, headers: list[str], cmap: Mapping[str, str]
) -> list[tuple[str, str | None]]:
    """(header as the reader names it, field or None) for every column, in order."""
    out: list[tuple[str, str | None]] = []
    taken: set[str] = set()
    seen: dict[str, int] = {}
    for written in headers:
        norm = schema.normalise_header(written)
        seen[norm] = seen.get(norm, 0) + 1
        if seen[norm] > 1:
            out.append((f"{written}_{seen[norm]}", None))
            continue
        name = resolve_header(obj, written, cmap)
        if name is not None and not name.startswith(schema.CUSTOM_PREFIX):
            if name in taken:
                name = None
            else:
                taken.add(name)
        out.append((written, name))
    return out


# ---------------------------------------------------------------------------
# Accumulators


class _ColumnStats:
    __slots__ = (
        "capped",
        "counts",
        "decimals",
        "distinct",
        "max_length",
        "nulls",
        "rows",
        "samples",
    )

    def __init__(self) -> None:
        self.rows = 0
        self.nulls = 0
        self.distinct: set[str] = set()
        self.capped = False
        self.max_length = 0
        self.decimals = 0
        self.counts: Counter[str] = Counter()
        self.samples: list[str] = []

    def add(self, value: str | None, samples: int) -> None:
        self.rows += 1
        if value is None:
            self.nulls += 1
            return
        if len(value) > self.max_length:
            self.max_length = len(value)
        if not self.capped and value not in self.distinct:
            if len(self.distinct) >= DISTINCT_CAP:
                self.capped = True
            else:
                self.distinct.add(value)
                if len(self.samples) < samples:
                    self.samples.append(value[:SAMPLE_LENGTH])
        found = _matches(value)
        self.counts.update(found)
        if "money" in found and "." in value:
            self.decimals = max(self.decimals, len(value.rsplit(".", 1)[1]))

    def result(self, obj: str, header: str, position: int, fld: str | None) -> ColumnProfile:
        filled = self.rows - self.nulls
        patterns = {p: (self.counts[p] / filled if filled else 0.0) for p in PATTERNS}
        return ColumnProfile(
            object=obj,
            header=header,
            position=position,
            field=fld,
            inferred_type=_infer_type(patterns, filled, self.max_length),
            rows=self.rows,
            nulls=self.nulls,
            distinct=len(self.distinct),
            distinct_capped=self.capped,
            max_length=self.max_length,
            max_decimals=self.decimals,
            patterns=patterns,
            samples=tuple(self.samples),
        )


def _infer_type(patterns: Mapping[str, float], filled: int, max_length: int) -> str:
    if filled == 0:
        return "empty"
    for pattern, name in (
        ("boolean", "boolean"),
        ("date", "date"),
        ("datetime", "datetime"),
        ("email", "email"),
        ("url", "url"),
        ("integer", "integer"),
        ("money", "decimal"),
        ("phone", "phone"),
    ):
        if patterns.get(pattern, 0.0) >= 1.0:
            return name
    if patterns.get("date", 0.0) + patterns.get("datetime", 0.0) >= 1.0:
        return "datetime"
    return "memo" if max_length > MEMO_ABOVE else "text"


class _ValueSets:
    def __init__(self, zone_format: DateFormat) -> None:
        self.sets: dict[str, Counter[str]] = {name: Counter() for name in ENUM_FIELDS}
        self.truncated: set[str] = set()
        self.by_field: dict[tuple[str, str], str] = {v: k for k, v in ENUM_FIELDS.items()}
        self._normal: dict[str, Any] = {}
        for name, (obj, fld) in ENUM_FIELDS.items():
            kind = schema.FIELDS[obj][fld]
            self._normal[name] = converter_for(kind, UTC, zone_format)

    def normal(self, name: str, raw: str) -> tuple[str, ...]:
        """The values of one cell as the reader normalises them (none for an empty one)."""
        if name == "tags":
            try:
                return to_tags(raw)
            except ValueError:
                return ()
        try:
            value = self._normal[name](raw)
        except ValueError:
            value = raw.strip().lower()
        return () if value is None else (str(value),)

    def add(self, name: str, raw: str) -> None:
        counter = self.sets[name]
        for v in self.normal(name, raw):
            if v in counter or len(counter) < VALUE_SET_CAP:
                counter[v] += 1
            else:
                self.truncated.add(name)

    def add_counts(self, name: str, counts: Mapping[str, int]) -> None:
        """Values counted elsewhere (the tags clients gain from their groups)."""
        counter = self.sets[name]
        for v, n in counts.items():
            if v in counter or len(counter) < VALUE_SET_CAP:
                counter[v] += n
            else:
                self.truncated.add(name)


class _RejectedValues:
    """The values of enum-like fields in the rows the reader rejects, with those rows."""

    def __init__(self, sets: _ValueSets) -> None:
        self.sets = sets
        self.rows: dict[str, dict[str, int]] = {}
        self.examples: dict[str, dict[str, list[RejectedRow]]] = {}

    def add(self, name: str, raw: str, row: RejectedRow) -> None:
        counts = self.rows.setdefault(name, {})
        examples = self.examples.setdefault(name, {})
        for v in self.sets.normal(name, raw):
            if v not in counts and len(counts) >= VALUE_SET_CAP:
                continue
            counts[v] = counts.get(v, 0) + 1
            kept = examples.setdefault(v, [])
            if len(kept) < REJECTED_EXAMPLES:
                kept.append(row)

    def result(self) -> dict[str, dict[str, RejectedValue]]:
        return {
            name: {
                v: RejectedValue(v, n, tuple(self.examples[name][v]))
                for v, n in sorted(counts.items())
            }
            for name, counts in sorted(self.rows.items())
        }


class _Customs:
    def __init__(self, date_format: DateFormat) -> None:
        self.inference = PropertyInference(date_format)
        self.forms: dict[str, set[str]] = {}
        self.headers: dict[str, str] = {}
        self.decimals: dict[str, int] = {}
        self.samples: dict[str, list[str]] = {}

    def add(self, key: str, value: str | None, form: str, header: str | None, samples: int) -> None:
        self.inference.add(key, value)
        self.forms.setdefault(key, set()).add(form)
        if header is not None:
            self.headers.setdefault(key, header)
        if value is None:
            return
        value = value.strip()
        if not value:
            return
        if "." in value:
            tail = value.rsplit(".", 1)[1]
            if tail.isdigit():
                self.decimals[key] = max(self.decimals.get(key, 0), len(tail))
        picked = self.samples.setdefault(key, [])
        if len(picked) < samples and value[:SAMPLE_LENGTH] not in picked:
            picked.append(value[:SAMPLE_LENGTH])

    def result(self) -> dict[str, CustomProperty]:
        out: dict[str, CustomProperty] = {}
        for key, prof in sorted(self.inference.profiles.items()):
            ptype = prof.type
            column_type: ColumnType
            precision: int | None = None
            choices: tuple[str, ...] = ()
            if ptype == "date":
                column_type = "DateTime"
            elif ptype == "number":
                column_type = "Decimal"
                precision = min(self.decimals.get(key, 0), 10)
            elif ptype == "boolean":
                column_type = "Boolean"
            elif ptype == "choice":
                column_type = "Picklist"
                choices = tuple(sorted(prof.choices, key=lambda v: (v.lower(), v)))
            else:
                column_type = "Memo" if prof.max_length > MEMO_ABOVE else "String"
            out[key] = CustomProperty(
                key=key,
                forms=tuple(sorted(self.forms.get(key, ()))),
                header=self.headers.get(key),
                type=ptype,
                column_type=column_type,
                count=prof.count,
                max_length=prof.max_length,
                precision=precision,
                choices=choices,
                samples=tuple(self.samples.get(key, ())),
            )
        return out


# ---------------------------------------------------------------------------
# Reading raw rows through the bundle's public API


def _csv_rows(bundle: Bundle, name: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header, and (line, cells) of every row (lines numbered as the reader does)."""
    rows = CsvRows(lambda: bundle.open_attachment(name), name)

    def cells() -> Iterator[tuple[int, list[str]]]:
        for item in rows:
            if isinstance(item, RowProblem):
                continue
            yield item

    return list(rows.header), cells()


def _json_objects(bundle: Bundle, name: str, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, object) of every JSON object: the line of JSON Lines, the 1-based position in
    a JSON array, as the reader numbers them."""
    with bundle.open_attachment(name) as stream:
        if fmt == "jsonl":
            for line, raw in enumerate(stream, start=1):
                text = raw.decode("utf-8-sig", errors="replace").strip()
                if not text:
                    continue
                try:
                    obj = json.loads(text)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    yield line, obj
        else:
            try:
                data = json.loads(stream.read().decode("utf-8-sig", errors="replace"))
            except ValueError:
                return
            if isinstance(data, dict):
                data = [data]
            if isinstance(data, list):
                for position, obj in enumerate(data, start=1):
                    if isinstance(obj, dict):
                        yield position, obj


def _rejected_rows(bundle: Bundle, obj: str) -> dict[int, RejectedRow]:
    """The rows of ``obj`` the reader rejects, by line; SourceError when it cannot read the
    file at all."""
    out: dict[int, RejectedRow] = {}
    for item in bundle.read(obj):
        if isinstance(item, Reject):
            where = f"[{item.column}] " if item.column else ""
            shown = "" if item.value is None else f"{item.value!r}: "
            out[item.line] = RejectedRow(item.file, item.line, f"{where}{shown}{item.reason}")
    return out


# ---------------------------------------------------------------------------
# The profile


def profile_source(bundle: Bundle, *, samples: int = 5) -> SourceProfile:
    """Profile every object file of ``bundle``: see the module docstring."""
    column_maps: Mapping[str, Mapping[str, str]] = getattr(bundle, "_column_map", None) or {}
    date_format: DateFormat = bundle.manifest.date_format
    value_sets = _ValueSets(date_format)
    rejected_values = _RejectedValues(value_sets)
    customs = _Customs(date_format)
    objects: dict[str, ObjectProfile] = {}
    notes: list[str] = []
    for obj, bf in bundle.files.items():
        cmap = column_maps.get(obj, {})
        stats: dict[str, _ColumnStats] = {}
        order: list[tuple[str, str | None]] = []
        rows = 0
        refused: dict[int, RejectedRow] = {}
        if obj in VALUE_SET_OBJECTS:
            try:
                refused = _rejected_rows(bundle, obj)
            except SourceError as exc:
                notes.append(
                    f"{bf.name}: the reader cannot read it ({exc}); value sets of all rows"
                )
        if bf.format in ("csv", "xlsx"):  # a sheet's cells are the text CSV would hold
            headers, cells_iter = (
                bundle.sheet_rows(obj) if bf.format == "xlsx" else _csv_rows(bundle, bf.name)
            )
            resolved = resolve_headers(obj, headers, cmap)
            order = list(resolved)
            for header, _ in resolved:
                stats[header] = _ColumnStats()
            roles = _roles(obj, resolved, value_sets)
            for line, cells in cells_iter:
                rows += 1
                texts = [_raw_text(c) for c in cells]
                for (header, _), value in zip(resolved, texts, strict=False):
                    stats[header].add(value, samples)
                _feed(obj, roles, texts, customs, samples)
                _feed_values(roles, texts, value_sets, rejected_values, refused.get(line))
        else:
            plans: dict[tuple[str, ...], list[tuple[str, str | None]]] = {}
            for line, record in _json_objects(bundle, bf.name, bf.format):
                rows += 1
                keys = tuple(record)
                resolved = plans.get(keys) or plans.setdefault(
                    keys, resolve_headers(obj, list(keys), cmap)
                )
                for header, fld in resolved:
                    if obj == "clients" and header == "custom" and fld is None:
                        fld = "custom:*"
                    if header not in stats:
                        stats[header] = _ColumnStats()
                        stats[header].rows = rows - 1
                        stats[header].nulls = rows - 1
                        order.append((header, fld))
                seen_headers = set()
                values: list[str | None] = []
                for (header, _fld), raw in zip(resolved, record.values(), strict=False):
                    if obj == "clients" and header == "custom" and isinstance(raw, dict):
                        for k, v in raw.items():
                            customs.add(str(k), _raw_text(v), "column", "custom", samples)
                        values.append(None)
                        continue
                    value = _raw_text(raw)
                    values.append(value)
                    stats[header].add(value, samples)
                    seen_headers.add(header)
                for header, st in stats.items():
                    if header not in seen_headers:
                        st.add(None, samples)
                json_roles = _roles(obj, resolved, value_sets)
                _feed(obj, json_roles, values, customs, samples)
                _feed_values(json_roles, values, value_sets, rejected_values, refused.get(line))
        columns = tuple(
            stats[header].result(obj, header, i, fld) for i, (header, fld) in enumerate(order)
        )
        objects[obj] = ObjectProfile(obj, bf.name, bf.format, rows, columns)
    if bundle.groups is not None and "clients" in bundle.files:
        for _ in bundle.read("clients"):  # the reader gives each member its groups' tags
            pass
        value_sets.add_counts("tags", bundle.groups.tally.gained)
    for name in sorted(value_sets.truncated):
        notes.append(f"value set {name} has more than {VALUE_SET_CAP} values; first kept")
    return SourceProfile(
        objects=objects,
        custom=customs.result(),
        value_sets={name: dict(counter) for name, counter in value_sets.sets.items() if counter},
        date_format=date_format,
        platform=bundle.manifest.platform,
        truncated_value_sets=tuple(sorted(value_sets.truncated)),
        notes=tuple(notes),
        rejected_values=rejected_values.result(),
    )


@dataclass(frozen=True, slots=True)
class _Roles:
    enums: tuple[tuple[int, str], ...]
    """(cell index, value-set name)."""
    custom: tuple[tuple[int, str, str], ...]
    """(cell index, key, header) of ``custom:<key>`` columns."""
    key_index: int | None = None
    value_index: int | None = None


def _roles(obj: str, resolved: list[tuple[str, str | None]], sets: _ValueSets) -> _Roles:
    enums: list[tuple[int, str]] = []
    custom: list[tuple[int, str, str]] = []
    key_index = value_index = None
    for i, (header, fld) in enumerate(resolved):
        if fld is None:
            continue
        if fld.startswith(schema.CUSTOM_PREFIX):
            custom.append((i, fld[len(schema.CUSTOM_PREFIX) :], header))
            continue
        name = sets.by_field.get((obj, fld))
        if name is not None:
            enums.append((i, name))
        if obj == "client_properties":
            if fld == "key":
                key_index = i
            elif fld == "value":
                value_index = i
    return _Roles(tuple(enums), tuple(custom), key_index, value_index)


def _feed(
    obj: str, roles: _Roles, values: list[str | None], customs: _Customs, samples: int
) -> None:
    """The custom properties of one row (column form, or a long-form property row)."""
    n = len(values)
    for i, key, header in roles.custom:
        if i < n:
            customs.add(key, values[i], "column", header, samples)
    if obj == "client_properties" and roles.key_index is not None:
        pkey = values[roles.key_index] if roles.key_index < n else None
        if pkey:
            vi = roles.value_index
            prop = values[vi] if vi is not None and vi < n else None
            customs.add(pkey, prop, "long", None, samples)


def _feed_values(
    roles: _Roles,
    values: list[str | None],
    sets: _ValueSets,
    rejected: _RejectedValues,
    refused: RejectedRow | None,
) -> None:
    """The enum-like values of one row: into the value sets when the reader accepts the
    row, apart with the row when it rejects it."""
    n = len(values)
    for i, name in roles.enums:
        if i < n:
            value = values[i]
            if value is None:
                continue
            if refused is None:
                sets.add(name, value)
            else:
                rejected.add(name, value, refused)
