"""One mapped value → the wire value of its column: a converter per column type.

:data:`CONVERTERS` is the table, from the column's type (``AttributeType``, or the map's
``type`` / ``create.kind`` for a column the snapshot does not have) to the function that
writes it. Every converter returns the wire value (None: nothing to write) or raises
:class:`~crm_ferry.transform.values.BadValue` with the reason; the parsing and wire forms
themselves are in :mod:`crm_ferry.transform.values`.

Choice columns go through the map's value maps (:class:`ValueConverter` knows them and the
snapshot): a value map gives the option, and with policy ``keep_text`` the source text is
also written to the map's text column.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crm_ferry.mapping.spec import FieldMap, MappingSpec, ValueMap
from crm_ferry.transform.row import Row
from crm_ferry.transform.schema import TargetSchema
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

if TYPE_CHECKING:
    from crm_ferry.dataverse.metadata import ColumnInfo

__all__ = ["CONVERTERS", "Converter", "Cut", "ValueConverter"]

Cut = tuple[str, str, str, int, int, str]
"""A text cut under ``truncate: true``: (source field, table, column, length before,
length kept, the text as it was)."""

Converter = Callable[["ValueConverter", FieldMap, "ColumnInfo | None", Any, str, Row | None], Any]
"""``converter(values, fm, col, value, table, row)``: the wire value of ``value`` for the
column ``fm.column`` of ``table`` (``col``: its metadata, None when the snapshot does not
have it; ``row``: the row being built, for a choice's text column)."""


class ValueConverter:
    """Converts values for one map and one snapshot (the value maps and option labels).

    :attr:`cuts` lists every text cut to its column's length under ``truncate: true``
    since the transformer last took them (see :meth:`Transformer.take_truncations`)."""

    __slots__ = ("cuts", "schema", "spec")

    def __init__(self, spec: MappingSpec, schema: TargetSchema) -> None:
        self.spec = spec
        self.schema = schema
        self.cuts: list[Cut] = []

    def convert(
        self,
        fm: FieldMap,
        col: ColumnInfo | None,
        value: Any,
        table: str,
        row: Row | None = None,
    ) -> Any:
        """The wire value of ``value`` for column ``fm.column`` of ``table``."""
        if col is not None:
            kind = col.type
        elif fm.create is not None:
            kind = fm.create.kind
        else:
            kind = fm.type or "String"
        converter = CONVERTERS.get(kind)
        if converter is None:
            raise BadValue(f"{table}.{fm.column} is a {kind} column, which transform cannot write")
        return converter(self, fm, col, value, table, row)

    def text_column(self, vm: ValueMap, table: str) -> str | None:
        """The column of ``table`` that keeps a value map's source text, if it has one."""
        if not vm.text_column:
            return None
        owner, _, column = vm.text_column.rpartition(".")
        if owner and owner != table:
            return None
        info = self.schema.table(table)
        if info is None or info.column(column) is None:
            return None
        return column

    def choice(
        self,
        fm: FieldMap,
        col: ColumnInfo | None,
        text: str,
        table: str,
        row: Row | None,
    ) -> int | None:
        """The option of ``text``: through the field's value map, else by option label."""
        vm = self.spec.value_maps.get(fm.value_map or "")
        if vm is not None:
            text_col = self.text_column(vm, table)
            if text_col is not None and row is not None:
                row.set_text(text_col, text)
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


# -- the converters -------------------------------------------------------------------


def _text(
    values: ValueConverter,
    fm: FieldMap,
    col: ColumnInfo | None,
    value: Any,
    table: str,
    row: Row | None,
) -> str:
    text = to_text(value)
    limit = col.max_length if col is not None else None
    if limit is not None and len(text) > limit:
        if not fm.truncate:
            raise BadValue(
                f"{len(text)} characters; {table}.{fm.column} holds at most {limit} in the "
                "tenant (set truncate: true on the field to cut it)"
            )
        values.cuts.append((fm.source, table, fm.column or "", len(text), limit, text))
        text = text[:limit]
    return text


def _whole_number(
    values: ValueConverter,
    fm: FieldMap,
    col: ColumnInfo | None,
    value: Any,
    table: str,
    row: Row | None,
) -> int:
    number = to_int(value)
    check_range(col, Decimal(number), f"{table}.{fm.column}")
    return number


def _number(
    fm: FieldMap, col: ColumnInfo | None, value: Any, table: str, precision: int | None
) -> Decimal:
    """A decimal within the column's range and precision (``precision`` when it has none)."""
    dec = to_decimal(value)
    check_range(col, dec, f"{table}.{fm.column}")
    if col is not None and col.precision is not None:
        precision = col.precision
    exponent = dec.normalize().as_tuple().exponent
    if precision is not None and isinstance(exponent, int) and -exponent > precision:
        raise BadValue(f"{dec} has more than {precision} decimal places ({table}.{fm.column})")
    return wire_decimal(dec)


def _decimal(
    values: ValueConverter,
    fm: FieldMap,
    col: ColumnInfo | None,
    value: Any,
    table: str,
    row: Row | None,
) -> Decimal:
    return _number(fm, col, value, table, None)


def _money(
    values: ValueConverter,
    fm: FieldMap,
    col: ColumnInfo | None,
    value: Any,
    table: str,
    row: Row | None,
) -> Decimal:
    # PrecisionSource: the currency's (2 for the org's pricing)
    return _number(fm, col, value, table, 2)


def _date_time(
    values: ValueConverter,
    fm: FieldMap,
    col: ColumnInfo | None,
    value: Any,
    table: str,
    row: Row | None,
) -> str:
    behavior = col.datetime_behavior if col is not None else None
    if behavior is None and col is None and fm.create is not None:
        behavior = fm.create.behavior
    if behavior == "DateOnly":
        return wire_date(to_date(value))
    return wire_datetime(to_datetime(value))


def _boolean(
    values: ValueConverter,
    fm: FieldMap,
    col: ColumnInfo | None,
    value: Any,
    table: str,
    row: Row | None,
) -> bool:
    return to_bool(value)


def _choice(
    values: ValueConverter,
    fm: FieldMap,
    col: ColumnInfo | None,
    value: Any,
    table: str,
    row: Row | None,
) -> int | None:
    return values.choice(fm, col, to_text(value).strip(), table, row)


def _choices(
    values: ValueConverter,
    fm: FieldMap,
    col: ColumnInfo | None,
    value: Any,
    table: str,
    row: Row | None,
) -> str | None:
    """A multi-select choice: ``"a;b"`` / ``"a,b"`` / a sequence → ``"100000000,100000001"``."""
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
        opt = values.choice(fm, col, to_text(item).strip(), table, None)
        if opt is not None and opt not in chosen:
            chosen.append(opt)
    if not chosen:
        return None
    return ",".join(str(v) for v in chosen)


def _guid(
    values: ValueConverter,
    fm: FieldMap,
    col: ColumnInfo | None,
    value: Any,
    table: str,
    row: Row | None,
) -> str:
    return str(uuid.UUID(str(value)))


CONVERTERS: Mapping[str, Converter] = {
    "String": _text,
    "Memo": _text,
    "Integer": _whole_number,
    "BigInt": _whole_number,
    "Decimal": _decimal,
    "Double": _decimal,
    "Money": _money,
    "DateTime": _date_time,
    "Boolean": _boolean,
    "Picklist": _choice,
    "State": _choice,
    "Status": _choice,
    "MultiSelectPicklist": _choices,
    "Uniqueidentifier": _guid,
}
"""Column type → its converter. A type not here (lookups are bound, not converted; images,
files, virtual columns) rejects the value."""
