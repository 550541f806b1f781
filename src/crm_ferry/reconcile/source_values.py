"""The source side of a field-level diff: the values the transform read, and what they imply.

A diff row shows three values: the source value, the value sent (expected) and the value
read back (actual). Expected and actual agree whenever the write went through, so a
transform that writes the wrong value would hide behind a match. The source side closes
that gap:

- **The source value is the one the transform read**: a client's long-form custom
  properties (``client_properties``) merged into the client as the load merges them
  (:func:`with_properties`, which the load engine calls too), read through the transform's
  own field reader (:func:`crm_ferry.transform.build.source_value`); a value map's text
  column (``contact.new_gender`` beside ``gendercode``) shows the text it keeps.
- **What the source implies** (:func:`implied_values`): the wire value that follows from
  the source value by a rule simple enough to state here, derived without the transform,
  for the values every role writes as they are: a custom property (``custom:<key>``, wide
  or long form) or an extra column (``extra:<header>``) into a text column (with the
  field's truncation), a whole number, a decimal or money, a yes/no or a choice through its
  value map; any field through its value map into a choice (the option) and into the value
  map's text column (the text, cut to the column's length).
  :func:`~crm_ferry.reconcile.diff.compare_row` requires the actual value to equal it as
  well: a transform that wrote something else is a mismatch. The other columns (a role
  composes some of them: a note's title, an activity's subject; dates and times, lookups,
  multi-select choices) are compared as sent and read back.

Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any, Final

from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.mapping.spec import FieldMap, MappingSpec, ValueMap
from crm_ferry.model import Client, ClientProperty, Record
from crm_ferry.reconcile.diff import CHOICE_TYPES, DECIMAL_TYPES, INTEGER_TYPES
from crm_ferry.transform.build import source_value
from crm_ferry.transform.values import BadValue, to_bool, to_decimal, to_int, to_text

__all__ = ["add_property", "implied_values", "shown_values", "with_properties"]

TEXT_TYPES: Final = frozenset({"String", "Memo"})


def add_property(props: dict[str, dict[str, str]], item: ClientProperty) -> None:
    """Add one long-form custom property (a ``client_properties`` record) to ``props``, the
    properties by client id and key (a property without a value adds nothing)."""
    if item.value is not None:
        props.setdefault(item.client_id, {})[item.key_name] = item.value


def with_properties(record: Record, props: Mapping[str, Mapping[str, str]]) -> Record:
    """``record`` with its long-form custom properties, if it is a client that has some (a
    wide-form value in the client's own row wins over a long-form one of the same key)."""
    if isinstance(record, Client):
        extra = props.get(record.id)
        if extra:
            return replace(record, custom={**extra, **record.custom})
    return record


def _text_column(vm: ValueMap | None, table: str) -> str | None:
    """The column of ``table`` where value map ``vm`` keeps the source text, if any."""
    if vm is None or not vm.text_column:
        return None
    owner, _, column = vm.text_column.rpartition(".")
    return column if column and owner in ("", table) else None


def _shown(value: Any) -> Any:
    return value if isinstance(value, str | int | float) else str(value)


def _read_fields(
    spec: MappingSpec, role: str, record: Record | None
) -> Iterator[tuple[str, str, str, FieldMap, Any]]:
    """``(table, field, column, its map line, source value)`` of every mapped field of
    ``role`` that the record has a value for."""
    target = spec.targets.get(role)
    if record is None or target is None:
        return
    for name, fm in target.fields.items():
        if fm.column:
            value = source_value(record, name)
            if value is not None:
                yield target.table, name, fm.column, fm, value


def shown_values(spec: MappingSpec, role: str, record: Record | None) -> dict[str, Any]:
    """The source value behind each column of ``role``'s row, as the transform read it,
    keyed by column (a value map's text column under its own name)."""
    out: dict[str, Any] = {}
    for table, _field, column, fm, value in _read_fields(spec, role, record):
        out[column] = _shown(value)
        text_col = _text_column(spec.value_maps.get(fm.value_map or ""), table)
        if text_col is not None and value != "":
            out.setdefault(text_col, to_text(value).strip())
    return out


def _implied(spec: MappingSpec, fm: FieldMap, info: ColumnInfo, value: Any) -> tuple[bool, Any]:
    """``(True, wire value)`` the source ``value`` implies for column ``info``, or
    ``(False, None)`` when no simple rule gives it (or the value does not convert: then the
    load rejected the record, and there is no row to compare)."""
    kind = info.type
    try:
        if kind in TEXT_TYPES:
            text = to_text(value)
            if fm.truncate and info.max_length:
                text = text[: info.max_length]
            return True, text
        if kind in INTEGER_TYPES:
            return True, to_int(value)
        if kind in DECIMAL_TYPES:
            return True, to_decimal(value)
        if kind == "Boolean":
            return True, to_bool(value)
    except BadValue:
        return False, None
    if kind in CHOICE_TYPES and fm.value_map:
        vm = spec.value_maps.get(fm.value_map)
        if vm is None:
            return False, None
        ok, found = vm.lookup(to_text(value).strip())
        if ok and isinstance(found, int) and not isinstance(found, bool):
            return True, found
    return False, None


def implied_values(
    spec: MappingSpec, role: str, record: Record | None, columns: Mapping[str, ColumnInfo]
) -> dict[str, Any]:
    """The wire value the source implies for each column of ``role``'s row where a simple
    rule gives it (see the module docstring), keyed by column."""
    out: dict[str, Any] = {}
    for table, name, column, fm, value in _read_fields(spec, role, record):
        if value == "" or value == ():
            continue
        info = columns.get(column)
        as_read = name.startswith(("custom:", "extra:"))
        if info is not None and (as_read or (fm.value_map and info.type in CHOICE_TYPES)):
            ok, wire = _implied(spec, fm, info, value)
            if ok:
                out[column] = wire
        text_col = _text_column(spec.value_maps.get(fm.value_map or ""), table)
        text_info = columns.get(text_col) if text_col is not None else None
        if text_col is not None and text_info is not None and text_info.type in TEXT_TYPES:
            text = to_text(value).strip()
            limit = text_info.max_length
            out.setdefault(text_col, text[:limit] if limit else text)
    return out
