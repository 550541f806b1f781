"""Compare a map with the live metadata, pass by pass: what to create, what exists already,
what cannot be reconciled.

:class:`Planner` reads the tenant's tables, columns, choices, relationships and keys through
:class:`~crm_ferry.dataverse.metadata.Metadata` and collects, for one map, the
:class:`~crm_ferry.provision.ops.SchemaOp` that make the tenant fit it (each with its
reverse), a :class:`Skip` for what the tenant already has, warnings, and conflicts (a column
of another type, a table the map does not say how to create, a lookup without a target).
Its passes, in :meth:`Planner.run`: tables; the columns, lookups and keys the fields ask for
(merged per column), the ``text_column`` of value maps, and the option values value maps
need; then columns, options, lookups and keys are compared with what is live.

:func:`crm_ferry.provision.plan.plan_schema` runs it and orders the result into a
:class:`~crm_ferry.provision.plan.Plan`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from crm_ferry.dataverse.metadata import ColumnInfo, ColumnKind, Metadata
from crm_ferry.mapping.defaults import SCHEMA_WORDS
from crm_ferry.mapping.names import MAX_SCHEMA_NAME, pascal_case
from crm_ferry.mapping.spec import ColumnCreate, MappingSpec, Target, ValueMap
from crm_ferry.provision.ops import Reverse, SchemaOp

__all__ = [
    "CHOICE_KINDS",
    "COLUMN_KINDS",
    "CURRENCY_COMPANIONS",
    "TEXT_COLUMN_LENGTH",
    "Planner",
    "Skip",
    "display_name",
    "schema_words",
]

COLUMN_KINDS: tuple[str, ...] = get_args(ColumnKind)
"""The column kinds provisioning creates (lookups are relationships)."""
CHOICE_KINDS = ("Picklist", "MultiSelectPicklist")
CURRENCY_COMPANIONS = ("transactioncurrencyid", "exchangerate")
"""Columns the service adds with a table's first Money column (and keeps after it is gone)."""
TEXT_COLUMN_LENGTH = 100
"""Max length of a value map's ``text_column`` created by provisioning."""

_COMPATIBLE: dict[str, frozenset[str]] = {
    "MultiSelectPicklist": frozenset({"MultiSelectPicklist", "Virtual"}),
    "Lookup": frozenset({"Lookup", "Customer", "Owner"}),
    "Money": frozenset({"Money", "Decimal"}),
}


@dataclass(frozen=True, slots=True)
class Skip:
    """Something the map needs that the tenant already has."""

    kind: str
    table: str
    name: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "table": self.table, "name": self.name, "reason": self.reason}


@dataclass(slots=True)
class _Wanted:
    """A column the map needs created (merged over every field that targets it)."""

    table: str
    column: str
    create: ColumnCreate
    where: str
    options: dict[int, str] = field(default_factory=dict)
    source: str = ""
    """The source field of the first mapping that asked for it (labels: :func:`display_name`)."""


class Planner:
    """One map against the live metadata; :meth:`run` fills ``ops``, ``skipped``,
    ``warnings`` and ``conflicts``."""

    def __init__(self, spec: MappingSpec, md: Metadata) -> None:
        self.spec = spec
        self.md = md
        self.prefix = spec.publisher_prefix
        self.targets: list[Target] = [t for t in spec.targets.values() if t.enabled]
        self.ops: list[SchemaOp] = []
        self.skipped: list[Skip] = []
        self.warnings: list[str] = []
        self.conflicts: list[str] = []
        self._exists: dict[str, bool] = {}
        self.new_tables: dict[str, str] = {}
        """Planned table → the logical name of its primary name column."""

    # -- live metadata -------------------------------------------------------------

    def exists(self, table: str) -> bool:
        if table not in self._exists:
            self._exists[table] = self.md.has_table(table)
        return self._exists[table]

    def known(self, table: str) -> bool:
        return self.exists(table) or table in self.new_tables

    def live_column(self, table: str, column: str) -> ColumnInfo | None:
        if not self.exists(table):
            return None
        return self.md.columns(table).get(column)

    # -- the passes ------------------------------------------------------------------

    def run(self) -> None:
        self.plan_tables()
        columns, lookups, keys = self.collect_columns()
        self.collect_text_columns(columns)
        needed = self.collect_options()
        self.plan_columns(columns, needed)
        self.plan_options(columns, needed)
        self.plan_lookups(lookups)
        self.plan_keys(keys, columns)

    def plan_tables(self) -> None:
        for t in self.targets:
            if self.exists(t.table):
                if t.create is not None:
                    self.skip("create_table", t.table, t.table, "table exists")
                continue
            if t.table in self.new_tables:
                continue
            if t.create is None:
                self.conflicts.append(
                    f"targets.{t.role}: table {t.table!r} does not exist in the tenant and the "
                    "map does not say how to create it (targets.<role>.create)"
                )
                continue
            tc = t.create
            logical = tc.schema_name.lower()
            if logical != t.table:
                self.conflicts.append(
                    f"targets.{t.role}.create.schema_name {tc.schema_name!r} does not make the "
                    f"table {t.table!r} (its logical name would be {logical!r})"
                )
                continue
            self.new_tables[t.table] = tc.primary_name.lower()
            self.ops.append(
                SchemaOp(
                    kind="create_table",
                    table=t.table,
                    name=t.table,
                    params={
                        "schema_name": tc.schema_name,
                        "display_name": tc.display_name,
                        "plural_name": tc.plural_name,
                        "primary_name": tc.primary_name,
                    },
                    description=f"create custom table {tc.schema_name} ({tc.display_name}) "
                    f"with primary name column {tc.primary_name}",
                    reverse=Reverse(
                        "delete_table",
                        t.table,
                        t.table,
                        description=f"delete table {t.table} and every row in it",
                    ),
                )
            )

    def collect_columns(
        self,
    ) -> tuple[
        dict[tuple[str, str], _Wanted],
        dict[tuple[str, str], _Wanted],
        dict[tuple[str, str], _Wanted],
    ]:
        """Columns, lookups and keys to create, merged by (table, column)."""
        wanted: dict[tuple[str, str], _Wanted] = {}
        keys: dict[tuple[str, str], _Wanted] = {}
        for t in self.targets:
            if not self.known(t.table):
                continue
            for fm in t.mapped():
                assert fm.column is not None
                where = f"targets.{t.role}.fields.{fm.source}"
                pair = (t.table, fm.column)
                c = fm.create
                if c is None:
                    if self.exists(t.table) and self.live_column(*pair) is None:
                        self.warnings.append(
                            f"{where}: column {t.table}.{fm.column} is not in the tenant and "
                            "the map does not say how to create it"
                        )
                    continue
                if c.schema_name.lower() != fm.column:
                    self.conflicts.append(
                        f"{where}.create.schema_name {c.schema_name!r} does not make the column "
                        f"{fm.column!r}"
                    )
                    continue
                if c.kind != "Lookup" and c.kind not in COLUMN_KINDS:
                    self.conflicts.append(
                        f"{where}.create.kind {c.kind!r}: provisioning creates "
                        f"{', '.join(COLUMN_KINDS)} and Lookup columns"
                    )
                    continue
                seen = wanted.get(pair)
                if seen is None:
                    wanted[pair] = _Wanted(
                        t.table, fm.column, c, where, dict(c.options), source=fm.source
                    )
                else:
                    self.merge(seen, c, where)
                if c.key:
                    keys.setdefault(pair, wanted[pair])
        columns = {k: w for k, w in wanted.items() if w.create.kind != "Lookup"}
        lookups = {k: w for k, w in wanted.items() if w.create.kind == "Lookup"}
        return columns, lookups, keys

    def merge(self, seen: _Wanted, c: ColumnCreate, where: str) -> None:
        if seen.create.kind != c.kind:
            self.conflicts.append(
                f"{where}: column {seen.table}.{seen.column} is created as {c.kind} here but as "
                f"{seen.create.kind} by {seen.where}"
            )
            return
        for value, text in c.options:
            seen.options.setdefault(value, text)
        if c.max_length and (seen.create.max_length or 0) < c.max_length:
            seen.create = _replace_length(seen.create, c.max_length)

    def collect_text_columns(self, columns: dict[tuple[str, str], _Wanted]) -> None:
        for vm in self.spec.value_maps.values():
            if not vm.text_column:
                continue
            where = f"value_maps.{vm.name}.text_column"
            pair = _split(vm.text_column)
            if pair is None:
                self.conflicts.append(f"{where}: {vm.text_column!r} is not 'table.column'")
                continue
            table, column = pair
            if not self.known(table):
                self.conflicts.append(f"{where}: table {table!r} does not exist in the tenant")
                continue
            if pair in columns:
                continue
            schema = self.schema_name(column)
            if schema is None:
                if self.live_column(table, column) is None:
                    self.conflicts.append(
                        f"{where}: column {vm.text_column} does not exist and is not a "
                        f"{self.prefix}_ column provisioning can create"
                    )
                continue
            columns[pair] = _Wanted(
                table,
                column,
                ColumnCreate(
                    kind="String",
                    schema_name=schema,
                    label=f"{vm.name.replace('_', ' ').title()} (source text)",
                    max_length=TEXT_COLUMN_LENGTH,
                ),
                where,
            )

    def collect_options(self) -> dict[tuple[str, str], dict[int, str]]:
        """Per choice column, the option values its value maps need (value → label)."""
        needed: dict[tuple[str, str], dict[int, str]] = {}
        vms = self.spec.value_maps
        for t in self.targets:
            for fm in t.mapped():
                vm = vms.get(fm.value_map or "")
                if vm is not None and fm.column:
                    labels = dict(fm.create.options) if fm.create else {}
                    _merge_options(needed.setdefault((t.table, fm.column), {}), vm, labels)
        for vm in vms.values():
            pair = _split(vm.column or "")
            if pair is not None:
                _merge_options(needed.setdefault(pair, {}), vm, {})
        return {k: v for k, v in needed.items() if v}

    def plan_columns(
        self,
        columns: dict[tuple[str, str], _Wanted],
        needed: dict[tuple[str, str], dict[int, str]],
    ) -> None:
        for (table, column), w in columns.items():
            c = w.create
            live = self.live_column(table, column)
            if live is not None or self.new_tables.get(table) == column:
                if live is not None:
                    self.check_type(w.where, table, column, c.kind, live)
                self.skip("create_column", table, column, "column exists")
                continue
            options = dict(w.options)
            empty = ""
            if c.kind in CHOICE_KINDS:
                for value, text in needed.get((table, column), {}).items():
                    options.setdefault(value, text)
                if not options:
                    # the map writes it (an empty value until the source has some), so it is
                    # made: without it the load stops at a missing column
                    empty = (
                        " with no options yet (the source has no values for it; `crm-ferry map "
                        "propose` then `crm-ferry provision` add them once it has)"
                    )
            if c.kind == "Money" and self.exists(table):
                self.currency_companions(table)
            params = _column_params(c, options, display_name(c, w.source))
            self.ops.append(
                SchemaOp(
                    kind="create_column",
                    table=table,
                    name=column,
                    params=params,
                    description=f"create {c.kind} column {c.schema_name} on {table}{empty}",
                    reverse=Reverse(
                        "delete_column",
                        table,
                        column,
                        {"column": column},
                        f"delete column {table}.{column} and its values",
                    ),
                )
            )

    def plan_options(
        self,
        columns: dict[tuple[str, str], _Wanted],
        needed: dict[tuple[str, str], dict[int, str]],
    ) -> None:
        for (table, column), wanted in needed.items():
            live = self.live_column(table, column)
            if live is None:
                continue  # created by this plan with every option, or reported already
            kind = (
                "MultiSelectPicklist"
                if live.type in ("Virtual", "MultiSelectPicklist")
                else (live.type)
            )
            if kind not in CHOICE_KINDS:
                continue  # state/status pairs and text columns take no options
            for value, text in sorted(wanted.items()):
                name = f"{column}={value}"
                if value in live.options:
                    self.skip("add_option", table, name, f"option exists ({live.options[value]!r})")
                    continue
                self.ops.append(
                    SchemaOp(
                        kind="add_option",
                        table=table,
                        name=name,
                        params={"column": column, "value": value, "label": text, "choice": kind},
                        description=f"add option {value} {text!r} to the choice {table}.{column}",
                        reverse=Reverse(
                            "delete_option",
                            table,
                            name,
                            {"column": column, "value": value, "choice": kind},
                            f"delete option {value} from {table}.{column}",
                        ),
                    )
                )

    def plan_lookups(self, lookups: dict[tuple[str, str], _Wanted]) -> None:
        for (table, column), w in lookups.items():
            target = w.create.target_table
            if not target:
                self.conflicts.append(f"{w.where}.create: a Lookup needs a target_table")
                continue
            if not self.known(target):
                self.conflicts.append(
                    f"{w.where}.create.target_table: table {target!r} does not exist and the "
                    "map does not create it"
                )
                continue
            live = self.live_column(table, column)
            if live is not None:
                rels = self.md.relationships(table)
                if any(
                    r.referencing_attribute == column and r.referenced_entity == target
                    for r in rels
                ):
                    self.skip("create_lookup", table, column, f"lookup to {target} exists")
                else:
                    self.conflicts.append(
                        f"{w.where}: column {table}.{column} exists ({live.type}) but is not a "
                        f"lookup to {target}"
                    )
                continue
            rel = self.relationship_name(target, table, w.create.schema_name)
            self.ops.append(
                SchemaOp(
                    kind="create_lookup",
                    table=table,
                    name=column,
                    params={
                        "schema_name": w.create.schema_name,
                        "target_table": target,
                        "label": display_name(w.create, w.source),
                        "relationship": rel,
                    },
                    description=f"create lookup {w.create.schema_name} on {table} to {target} "
                    f"(relationship {rel})",
                    reverse=Reverse(
                        "delete_relationship",
                        table,
                        rel,
                        {"schema_name": rel, "column": column},
                        f"delete relationship {rel} and its lookup column {table}.{column}",
                    ),
                )
            )

    def plan_keys(
        self, keys: dict[tuple[str, str], _Wanted], columns: dict[tuple[str, str], _Wanted]
    ) -> None:
        for (table, column), w in keys.items():
            if self.exists(table):
                found = [k for k in self.md.keys(table) if sorted(k.key_attributes) == [column]]
                if found:
                    key = found[0]
                    self.skip(
                        "create_key",
                        table,
                        (key.logical_name or key.schema_name).lower(),
                        f"alternate key on {column} exists ({key.status or 'status unknown'})",
                    )
                    if key.status == "Failed":
                        self.warnings.append(
                            f"the alternate key {key.schema_name} on {table}({column}) failed to "
                            "build: remove duplicate values, then reactivate it"
                        )
                    continue
            schema = _fit(f"{w.create.schema_name}Key")
            logical = schema.lower()
            self.ops.append(
                SchemaOp(
                    kind="create_key",
                    table=table,
                    name=logical,
                    params={"schema_name": schema, "columns": [column]},
                    description=f"create alternate key {schema} on {table}({column}) and wait "
                    "until it is Active",
                    reverse=Reverse(
                        "delete_key",
                        table,
                        logical,
                        {"columns": [column]},
                        f"delete alternate key {logical} on {table}",
                    ),
                )
            )

    # -- helpers -----------------------------------------------------------------------

    def skip(self, kind: str, table: str, name: str, reason: str) -> None:
        self.skipped.append(Skip(kind, table, name, reason))

    def currency_companions(self, table: str) -> None:
        """The first currency column of a table also brings the record's currency and rate
        columns; the service keeps them when the currency column is deleted again."""
        cols = self.md.columns(table)
        missing = [c for c in CURRENCY_COMPANIONS if c not in cols]
        note = (
            f"the first currency column on {table} also adds {' and '.join(missing)}; "
            f"Dataverse keeps {'it' if len(missing) == 1 else 'them'} after a rollback"
        )
        if missing and note not in self.warnings:
            self.warnings.append(note)

    def check_type(self, where: str, table: str, column: str, kind: str, live: ColumnInfo) -> None:
        ok = live.type == kind or live.type in _COMPATIBLE.get(kind, frozenset())
        if not ok:
            self.conflicts.append(
                f"{where}: column {table}.{column} exists as {live.type or 'unknown type'}, "
                f"the map creates it as {kind}"
            )

    def schema_name(self, column: str) -> str | None:
        head = f"{self.prefix}_"
        if not column.startswith(head) or len(column) == len(head):
            return None
        rest = column[len(head) :]
        return f"{head}{SCHEMA_WORDS.get(rest, pascal_case(rest))}"

    def relationship_name(self, target: str, table: str, lookup_schema: str) -> str:
        tail = lookup_schema.partition("_")[2] or lookup_schema
        return _fit(f"{self.prefix}_{target}_{table}_{tail}")


_ACRONYMS = {"Id": "ID", "Url": "URL"}
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def schema_words(schema_name: str) -> list[str]:
    """The words of a schema name after its publisher prefix: ``new_PracticeId`` →
    ``["Practice", "ID"]``."""
    rest = schema_name.partition("_")[2] or schema_name
    words = [w[:1].upper() + w[1:] for w in _WORD.findall(rest)]
    return [_ACRONYMS.get(w, w) for w in words]


def _plain(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def display_name(c: ColumnCreate, source: str) -> str:
    """The label of a column provisioning creates: the map's own, unless that only repeats
    the source field's name (every ``new_practiceid`` would read "Id") or the schema name;
    then what the column is, from its schema name: ``new_PracticeId`` → "Practice ID",
    ``new_SessionCount`` → "Session Count", a lookup without its trailing "ID"
    (``new_ClientId`` → "Client")."""
    given = c.label.strip()
    if given and _plain(given) not in {_plain(source), _plain(c.schema_name)}:
        return given
    words = schema_words(c.schema_name)
    if c.kind == "Lookup" and len(words) > 1 and words[-1] == "ID":
        words = words[:-1]
    return " ".join(words) or given or c.schema_name


def _fit(name: str) -> str:
    """``name`` within :data:`MAX_SCHEMA_NAME` characters (a stable hash when shortened)."""
    if len(name) <= MAX_SCHEMA_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: MAX_SCHEMA_NAME - 7]}_{digest}"


def _split(dotted: str) -> tuple[str, str] | None:
    table, sep, column = dotted.partition(".")
    if not sep or not table or not column or "." in column:
        return None
    return table.strip(), column.strip()


def _merge_options(into: dict[int, str], vm: ValueMap, labels: Mapping[int, str]) -> None:
    """Option values ``vm`` maps to (ints, not state/status pairs), labelled from the
    column's own option labels, else from the first source value that maps to it."""
    values: list[tuple[int, str]] = []
    for source, value in vm.values.items():
        if isinstance(value, int) and not isinstance(value, bool):
            values.append((value, source))
    if isinstance(vm.default, int) and not isinstance(vm.default, bool):
        values.append((vm.default, str(vm.default)))
    for value, source in values:
        if value in into:
            continue
        into[value] = labels.get(value) or source.replace("_", " ").strip().title() or str(value)


def _replace_length(c: ColumnCreate, max_length: int) -> ColumnCreate:
    return ColumnCreate(
        kind=c.kind,
        schema_name=c.schema_name,
        label=c.label,
        max_length=max_length,
        precision=c.precision,
        behavior=c.behavior,
        format=c.format,
        options=c.options,
        target_table=c.target_table,
        key=c.key,
    )


def _column_params(c: ColumnCreate, options: Mapping[int, str], label: str) -> dict[str, Any]:
    """The :class:`~crm_ferry.dataverse.metadata.ColumnSpec` fields for ``c`` (JSON-able)."""
    params: dict[str, Any] = {"kind": c.kind, "schema_name": c.schema_name, "label": label}
    if c.kind in ("String", "Memo"):
        params["max_length"] = c.max_length or (100 if c.kind == "String" else 4000)
        if c.kind == "String" and c.format:
            params["format"] = c.format
    elif c.kind == "Decimal":
        params["precision"] = c.precision if c.precision is not None else 2
    elif c.kind == "DateTime":
        behavior = c.behavior or ("DateOnly" if c.format == "DateOnly" else "UserLocal")
        params["datetime_behavior"] = behavior
        params["format"] = c.format or ("DateOnly" if behavior == "DateOnly" else "DateAndTime")
    elif c.kind in CHOICE_KINDS:
        params["options"] = [[value, text] for value, text in sorted(options.items())]
    return params
