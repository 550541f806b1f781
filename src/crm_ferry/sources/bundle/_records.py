"""Records and rejects: one file's rows, as typed values, checked and built.

:class:`RecordBuilder` does, for each row: the id (present, unique in the file, ignoring
case as Dataverse compares alternate keys: a dict of hashes of case-folded ids to the line
first seen on), the first bad value (a reject naming its column as
written and the other bad columns), the fields a record cannot be without, and the record
itself (or its reject), counting both in :class:`ObjectCounts`.

Two paths give the same results. The generic one converts a row into a dict of values
(:func:`~crm_ferry.sources.bundle._convert.compile_row_converter`) and :meth:`finish`
builds the record from it. The fast one, for most objects, is one generated function per
file (:meth:`RecordBuilder.row_builder`) holding the values in locals and setting every
slot of the record directly; tests compare the two.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from types import MappingProxyType
from typing import Any

from crm_ferry.errors import SourceError
from crm_ferry.model import RECORD_TYPES, Manifest, Provenance, Record, Reject
from crm_ferry.sources import schema
from crm_ferry.sources.bundle._columns import Plan, plan_for_headers, plan_for_keys
from crm_ferry.sources.bundle._convert import (
    RowConverter,
    compile_row_converter,
    field_lines,
    json_text,
    shown,
)
from crm_ferry.sources.bundle._storage import BundleFile
from crm_ferry.sources.fastinit import compiled, positional_maker, record_maker
from crm_ferry.sources.idtable import MASK64
from crm_ferry.sources.values import Converter, TimeParsers, converter_for, split_full_name

EMPTY: Mapping[str, str] = MappingProxyType({})
"""The :attr:`Record.extra` of a row without extra values (one shared, read-only mapping)."""
JSON_PLANS = 256
"""At most this many key sets (one compiled converter each) are cached per JSON file."""


@dataclass(slots=True)
class ObjectCounts:
    """Rows of one file: every row read is either accepted or rejected."""

    read: int = 0
    accepted: int = 0
    rejected: int = 0


RowFunction = Callable[[int, list[Any]], Record | Reject]
"""A generated row function: (line, cells) -> the row's record or reject."""

_JsonPlan = tuple[RowConverter, list[tuple[int, str]], list[tuple[int, str]], RowFunction | None]
"""(converter, custom keys, extra keys, generated row function or None) of one key set."""


def _no_converter(cells: list[Any]) -> tuple[dict[str, Any], None]:
    raise AssertionError("a generated row function converts these cells")


class RecordBuilder:
    """Turns one file's rows (cells or JSON objects) into records or rejects."""

    def __init__(
        self,
        bf: BundleFile,
        zone: tzinfo,
        manifest: Manifest,
        counts: ObjectCounts,
        accepted: set[int] | None = None,
        parsers: TimeParsers | None = None,
        memos: dict[Converter, dict[str, Any]] | None = None,
    ) -> None:
        self.obj = bf.object
        self.file = bf.where
        self.converters = {
            name: converter_for(kind, zone, manifest.date_format, parsers=parsers)
            for name, kind in schema.FIELDS[bf.object].items()
        }
        self.memos: dict[Converter, dict[str, Any]] = {} if memos is None else memos
        self.counts = counts
        self.ids: dict[int, int] = {}
        """Hash of the case-folded id -> the line first seen on, with the low 32 bits of
        the id's own hash above it (:func:`_seen`; negative when that row was rejected),
        for duplicate ids: ``ACME-1`` and ``acme-1`` are one id to Dataverse (its alternate
        keys ignore case), so the later of them is a duplicate.

        A plain dict (about 100 bytes per id, freed when the file ends): looking an id up
        and storing it is two C calls per row."""
        self._provenance = positional_maker(Provenance)
        self._plain = self.obj not in SPECIAL_BUILD
        """Whether records of this object are built from their values as they are."""
        self.accepted = accepted
        self._json_plans: dict[tuple[str, ...], _JsonPlan] = {}
        self.split = False
        """Whether the last client built got first/last name by splitting full_name."""
        self._written: dict[str, str] = {}
        """Canonical field -> the header it was read from, for rejects."""

    # -- header resolution (see _columns) -------------------------------------

    def plan_for_headers(self, headers: list[str], cmap: Mapping[str, str]) -> Plan:
        """The plan of this CSV file; raises :class:`SourceError` without its id column."""
        plan = plan_for_headers(self.obj, headers, cmap, self.converters)
        for _, name, _, header in plan.fields:
            self._written[name] = header
        self._check_ids({name for _, name, _, _ in plan.fields}, headers)
        return plan

    def _check_ids(self, taken: set[str], headers: list[str]) -> None:
        needed = schema.REQUIRED_FIELDS.get(self.obj, ("id",))
        missing = [f for f in needed if f not in taken]
        if missing and headers:
            raise SourceError(
                f"{self.file}: no {' / '.join(missing)} column (headers: {', '.join(headers)})",
                hint=f"map the right header in ferry.toml under [source.columns.{self.obj}]",
            )

    # -- rows ------------------------------------------------------------------

    def reject(
        self,
        line: int,
        column: str | None,
        value: str | None,
        reason: str,
        source_id: str | None = None,
    ) -> Reject:
        self.counts.rejected += 1
        return Reject(self.obj, self.file, line, column, value, reason, source_id)

    def from_json(self, line: int, obj: Any, cmap: Mapping[str, str]) -> Record | Reject:
        if not isinstance(obj, dict):
            return self.reject(line, None, None, f"not a JSON object (a {type(obj).__name__})")
        signature = tuple(obj)
        plan = self._json_plans.get(signature)
        if plan is None:
            if len(self._json_plans) > JSON_PLANS:
                self._json_plans.clear()
            plan = self._json_plans[signature] = self._json_plan(signature, cmap)
        convert, custom_keys, extra_keys, row = plan
        cells = list(obj.values())
        if row is not None:
            return row(line, cells)
        values, errors = convert(cells)
        custom: dict[str, str] | None = None
        if custom_keys:
            custom = {}
            for idx, key in custom_keys:
                raw = cells[idx]
                if isinstance(raw, dict) and key == "":  # a nested "custom" object
                    custom.update({str(k): json_text(v) for k, v in raw.items() if v is not None})
                elif raw is not None and raw != "":
                    custom[key] = json_text(raw)
        extra: dict[str, str] | None = None
        if extra_keys:
            extra = {
                key: json_text(cells[idx]) for idx, key in extra_keys if cells[idx] is not None
            }
        return self.finish(line, values, errors, custom, extra or EMPTY)

    def _json_plan(self, keys: tuple[str, ...], cmap: Mapping[str, str]) -> _JsonPlan:
        plan = plan_for_keys(self.obj, keys, cmap, self.converters)
        for _, name, _, key in plan.fields:
            self._written.setdefault(name, key)
        row = self.row_builder(plan, json=True)
        if row is not None:  # the converter is never called
            return _no_converter, plan.custom, plan.extra, row
        convert = compile_row_converter(plan.fields, json=True, memos=self.memos)
        return convert, plan.custom, plan.extra, row

    def finish(
        self,
        line: int,
        values: dict[str, Any],
        errors: list[tuple[str, str, str]] | None,
        custom: dict[str, str] | None,
        extra: Mapping[str, str],
    ) -> Record | Reject:
        """Check the id (present, unique), report the first bad value, build the record."""
        parts = schema.COMPOSITE_IDS.get(self.obj)
        if parts is not None:
            missing = next((p for p in parts if not values.get(p)), None)
            if missing is not None:
                return self.reject(line, self._col(missing), None, f"{missing} is required")
            rid = "/".join(str(values[p]) for p in parts)
        else:
            rid = values.pop("id", None)
            if not rid:
                return self._missing_id(line)
        h = (hash(rid) & MASK64) or 1  # id_hash, inlined
        k = (hash(rid.casefold()) & MASK64) or 1
        ids = self.ids
        first = ids.get(k)
        if first is not None:
            return self._duplicate(line, rid, first, h)
        seen = (h & _LOW) << 32 | line
        if errors:
            ids[k] = -seen
            return self._bad_value(line, rid, errors)
        ids[k] = seen
        try:
            record = self._build(rid, line, values, custom, extra)
        except _MissingField as exc:
            ids[k] = -seen
            return self._missing_field(line, rid, exc.field)
        accepted = self.accepted
        if accepted is not None:
            accepted.add(h)
        self.counts.accepted += 1
        return record

    def _col(self, name: str) -> str:
        return self._written.get(name, name)

    def column(self, name: str) -> str:
        """The header (or JSON key) field ``name`` was read from, for a reject."""
        return self._col(name)

    @functools.cached_property
    def make(self) -> Callable[[Mapping[str, Any]], Record]:
        """Builds this object's record from a dict of its values (when no generated row
        function does it: see :meth:`row_builder`)."""
        return record_maker(RECORD_TYPES[self.obj])

    # -- one generated function per file -----------------------------------

    def row_builder(self, plan: Plan, *, json: bool = False) -> RowFunction | None:
        """For an object whose records are built from their values as they are: one
        generated function turning a row's cells straight into its record or reject.

        It does what :func:`compile_row_converter` + :meth:`finish` do, with the values in
        local variables instead of a dict and every slot of the record set directly. None
        for the objects :meth:`_build` handles (or without an id column)."""
        if not (self._plain or self.obj == "activities" or (self.obj == "clients" and not json)):
            return None
        if not any(name == "id" for _, name, _, _ in plan.fields):
            return None
        cls = RECORD_TYPES[self.obj]
        local = {name: f"v{n}" for n, (_, name, _, _) in enumerate(plan.fields)}
        namespace: dict[str, Any] = {
            "shown": shown,
            "M": MASK64,
            "L": _LOW,
            "new": object.__new__,
            "cls": cls,
            "prov": self._provenance,
            "file": self.file,
            "ids": self.ids,
            "ids_get": self.ids.get,
            "counts": self.counts,
            "accepted_add": self.accepted.add if self.accepted is not None else None,
            "missing_id": self._missing_id,
            "duplicate": self._duplicate,
            "bad_value": self._bad_value,
            "missing_field": self._missing_field,
            "EMPTY": EMPTY,
            "MISSING": dataclasses.MISSING,
            "text": json_text,
        }
        lines = ["def row(line, cells):", "    errors = None"]
        fields = dataclasses.fields(cls)
        defaults = {f.name: f for f in fields}
        for n, (_, name, _, _) in enumerate(plan.fields):
            f = defaults[name]
            if f.default is not dataclasses.MISSING:
                namespace[f"init{n}"] = f.default
                lines.append(f"    v{n} = init{n}")
            else:
                lines.append(f"    v{n} = MISSING")
        lines += field_lines(
            plan.fields,
            namespace,
            json=json,
            memos=self.memos,
            target=lambda n, name: local[name],
        )
        rid = local["id"]
        lines += [
            f"    rid = {rid}",
            "    if rid is MISSING or not rid:",
            "        return missing_id(line)",
            "    h = (hash(rid) & M) or 1",
            "    k = (hash(rid.casefold()) & M) or 1",
            "    first = ids_get(k)",
            "    if first is not None:",
            "        return duplicate(line, rid, first, h)",
            "    seen = (h & L) << 32 | line",
            "    if errors:",
            "        ids[k] = -seen",
            "        return bad_value(line, rid, errors)",
        ]
        filled = {"id", "provenance", "type"} if self.obj == "clients" else {"id", "provenance"}
        for f in fields:  # a required field (activities.kind) left blank
            if f.name in filled or f.name not in local:
                continue
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                lines += [
                    f"    if {local[f.name]} is MISSING:",
                    "        ids[k] = -seen",
                    f"        return missing_field(line, rid, {f.name!r})",
                ]
        lines.append("    ids[k] = seen")
        if plan.extra:
            # JSON values as text, and no value at all is no extra; a CSV cell as it is.
            test, value = ("raw is not None", "text(raw)") if json else ("raw", "raw")
            lines.append("    extra = {}")
            for idx, header in plan.extra:
                namespace[f"xkey{idx}"] = header
                lines += [
                    f"    raw = cells[{idx}]",
                    f"    if {test}:",
                    f"        extra[xkey{idx}] = {value}",
                ]
            if json:
                lines.append("    extra = extra or EMPTY")
        else:
            lines.append("    extra = EMPTY")
        special: dict[str, str] = {}
        if self.obj == "clients":  # what _build does for a client
            namespace["builder"] = self
            namespace["split_name"] = split_full_name
            namespace["custom_factory"] = defaults["custom"].default_factory
            lines += [
                f"    full = {local.get('full_name', 'None')}",
                f"    first_name = {local.get('first_name', 'None')}",
                f"    last_name = {local.get('last_name', 'None')}",
                "    split = builder.split = bool(full) and not first_name and not last_name",
                "    if split:",
                "        first_name, last_name = split_name(str(full))",
                f"    kind = {local.get('type', 'MISSING')}",
                "    if kind is MISSING:",
                f"        organization = {local.get('organization', 'None')}",
                "        kind = 'organization' if organization else 'individual'",
                "    custom = {}",
            ]
            for idx, key in plan.custom:
                namespace[f"ckey{idx}"] = key
                lines += [
                    f"    raw = cells[{idx}]",
                    "    if raw.strip():",
                    f"        custom[ckey{idx}] = raw",
                ]
            lines += ["    if not custom:", "        custom = custom_factory()"]
            special = {
                "first_name": "first_name",
                "last_name": "last_name",
                "type": "kind",
                "custom": "custom",
            }
        lines.append("    o = new(cls)")
        for n, f in enumerate(fields):
            descriptor = next(k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__)
            namespace[f"set{n}"] = descriptor.__set__
            if f.name == "id":
                value = "rid"
            elif f.name == "provenance":
                value = "prov(file, line)"
            elif f.name == "extra":
                value = "extra"
            elif f.name in special:
                value = special[f.name]
            elif f.name in local:
                value = local[f.name]  # a required one was checked above
                if (
                    f.default is dataclasses.MISSING
                    and f.default_factory is not dataclasses.MISSING
                ):
                    namespace[f"factory{n}"] = f.default_factory
                    value = f"(factory{n}() if {value} is MISSING else {value})"
            elif f.default is not dataclasses.MISSING:
                namespace[f"default{n}"] = f.default
                value = f"default{n}"
            elif f.default_factory is not dataclasses.MISSING:
                namespace[f"factory{n}"] = f.default_factory
                value = f"factory{n}()"
            else:
                return None  # a required field without a column: the generic path says so
            lines.append(f"    set{n}(o, {value})")
        if self.accepted is not None:
            lines.append("    accepted_add(h)")
        lines += ["    counts.accepted += 1", "    return o"]
        exec(compiled("\n".join(lines)), namespace)
        row: RowFunction = namespace["row"]
        return row

    def _missing_field(self, line: int, rid: str, name: str) -> Reject:
        return self.reject(line, self._col(name), None, f"{name} is required", rid)

    def _missing_id(self, line: int) -> Reject:
        return self.reject(line, self._col("id"), None, "id is required")

    def _duplicate(self, line: int, rid: str, first: int, h: int) -> Reject:
        parts = schema.COMPOSITE_IDS.get(self.obj)
        if parts is not None:
            what, column = f"duplicate {' and '.join(parts)}", self._col(parts[-1])
        else:
            what, column = "duplicate id", self._col("id")
        seen = abs(first)
        where = f"first seen on line {seen & _LOW}"
        if seen >> 32 != h & _LOW:  # the same id only once case is ignored
            where += " with other upper and lower case; Dataverse ignores case in ids"
        return self.reject(line, column, rid, f"{what} ({where})", rid)

    def _bad_value(self, line: int, rid: str, errors: list[tuple[str, str, str]]) -> Reject:
        header, raw, reason = errors[0]
        if len(errors) > 1:
            others = ", ".join(e[0] for e in errors[1:])
            reason += f" (also bad: {others})"
        return self.reject(line, header, shown(raw), reason, rid)

    def _build(
        self,
        rid: str,
        line: int,
        values: dict[str, Any],
        custom: dict[str, str] | None,
        extra: Mapping[str, str],
    ) -> Record:
        """The record of a row whose id and values are good (:class:`_MissingField` when
        a field it cannot be without is missing); most objects need nothing special."""
        obj = self.obj
        if obj == "clients":
            if "type" not in values:
                values["type"] = "organization" if values.get("organization") else "individual"
            full = values.get("full_name")
            self.split = bool(full) and not values.get("first_name") and not values.get("last_name")
            if self.split:
                first, last = split_full_name(str(full))
                values["first_name"], values["last_name"] = first, last
            if custom:
                values["custom"] = custom
        elif obj == "client_properties":
            values["key_name"] = values.pop("key")
        elif obj == "activities":
            if "kind" not in values:
                raise _MissingField("kind")
        elif obj in ("automations", "reports"):
            seq = "steps" if obj == "automations" else "metrics"
            if seq in values:
                raw = values[seq]
                values[seq] = tuple(raw) if isinstance(raw, list) else (raw,)
        values["id"] = rid
        values["provenance"] = self._provenance(self.file, line)
        values["extra"] = extra
        return self.make(values)


def generic_row(builder: RecordBuilder, plan: Plan) -> RowFunction:
    """The row function of a CSV file (or a sheet) without a generated one: its cells converted to a
    dict of values, and the record built from that (:meth:`RecordBuilder.finish`)."""
    convert = compile_row_converter(plan.fields, memos=builder.memos)
    custom = plan.custom
    extra = plan.extra
    finish = builder.finish

    def row(line: int, cells: list[str]) -> Record | Reject:
        values, errors = convert(cells)
        custom_values: dict[str, str] | None = None
        if custom:
            custom_values = {key: cells[i] for i, key in custom if cells[i].strip()}
        extra_values: Mapping[str, str] = EMPTY
        if extra:
            extra_values = {h: cells[i] for i, h in extra if cells[i]}
        return finish(line, values, errors, custom_values, extra_values)

    return row


_LOW = 0xFFFFFFFF
"""The low 32 bits of an id's hash, kept with the line it was first seen on (RecordBuilder.ids)."""

SPECIAL_BUILD = frozenset({"clients", "client_properties", "activities", "automations", "reports"})
"""Objects whose records need more than their values (see :meth:`RecordBuilder._build`)."""


class _MissingField(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field
