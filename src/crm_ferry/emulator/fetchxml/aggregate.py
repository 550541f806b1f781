"""Aggregate FetchXML queries: the selected rows grouped by the ``groupby`` columns (or one
group), each aggregate worked out per group, the groups sorted by their aliases.

Aggregate data using FetchXml
(https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/aggregate-data):

* "Null values aren't considered when calculating aggregate values": ``count`` counts rows,
  ``countcolumn`` the rows with a value (``distinct``: the different values), ``sum``,
  ``avg``, ``min`` and ``max`` the values there are. The article's example shows a group whose
  only value is null with a ``sum`` of 0, so an empty ``sum`` is 0; an empty ``avg``, ``min``
  or ``max`` is null (left out, as every null is). ``avg`` of a whole-number column is a whole
  number, as SQL Server's (3,911 for 35,200 over 9 rows).
* ``dategrouping`` takes the day of the month, the week of the year (weeks starting on
  Sunday, SQL Server's ``DATEPART(week, ...)``: the article's 2023-08-27 is week 35), the
  month, the quarter or the year, in the caller's time zone (UTC for the emulated users).
* More than 50,000 selected rows (or the query's ``aggregatelimit``) is the
  ``AggregateQueryRecordLimit exceeded`` error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from crm_ferry.emulator.conditions import Context, as_instant, is_number
from crm_ferry.emulator.fetchxml import errors
from crm_ferry.emulator.fetchxml.engine import Tuple, join_key, sort_value
from crm_ferry.emulator.fetchxml.plan import AGGREGATE_LIMIT, Column, Plan
from crm_ferry.emulator.state import TenantState

Group = dict[str, Any]
"""One row of an aggregate answer: output key to value (nulls left out)."""

_WHOLE = ("Integer", "BigInt")


def aggregate(em: TenantState, plan: Plan, tuples: list[Tuple], context: Context) -> list[Group]:
    """The groups of an aggregate query, sorted."""
    limit = plan.fetch.aggregate_limit or AGGREGATE_LIMIT
    if len(tuples) > limit:
        raise errors.invalid(
            errors.AGGREGATE_LIMIT,
            "AggregateQueryRecordLimit exceeded. Cannot perform this operation.",
        )
    keys = [c for c in plan.columns if c.groupby]
    groups: dict[tuple[Any, ...], list[Tuple]] = {}
    firsts: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for t in tuples:
        values = tuple(_group_value(c, t, context) for c in keys)
        found = tuple(join_key(v) for v in values)
        groups.setdefault(found, []).append(t)
        firsts.setdefault(found, values)
    if not keys and not groups:
        groups[()] = []  # aggregates over no rows: one group (a count of 0)
        firsts[()] = ()
    result = []
    for found, members in groups.items():
        row: Group = {}
        grouped = dict(zip((c.key for c in keys), firsts[found], strict=True))
        for column in plan.columns:
            value = grouped[column.key] if column.groupby else _aggregate(column, members)
            if value is not None:
                row[column.key] = value
        result.append(row)
    return _sorted(em, plan, result)


def _cell(column: Column, t: Tuple) -> Any:
    row = t.get(column.node.alias)
    return row.get(column.attr.logical_name) if row is not None else None


def _group_value(column: Column, t: Tuple, context: Context) -> Any:
    value = _cell(column, t)
    if value is None or column.dategrouping is None:
        return value
    instant = as_instant(value)
    if instant is None:
        return None
    day = instant.astimezone(context.zone).date()
    if column.dategrouping == "year":
        return day.year
    if column.dategrouping == "quarter":
        return (day.month - 1) // 3 + 1
    if column.dategrouping == "month":
        return day.month
    if column.dategrouping == "week":
        return _week(day)
    return day.day


def _week(day: date) -> int:
    """SQL Server's ``DATEPART(week, day)`` with Sunday the first day: week 1 holds 1 January."""
    first = date(day.year, 1, 1)
    offset = (first.weekday() + 1) % 7  # days of week 1 before 1 January (0 when a Sunday)
    return (day.timetuple().tm_yday - 1 + offset) // 7 + 1


def _aggregate(column: Column, members: Sequence[Tuple]) -> Any:
    function = column.aggregate
    if function == "count":
        return len(members)
    values = [v for v in (_cell(column, t) for t in members) if v is not None]
    if function == "countcolumn":
        return len({join_key(v) for v in values}) if column.distinct else len(values)
    whole = column.attr.type in _WHOLE
    if function == "sum":
        total = sum((Decimal(str(v)) for v in values), Decimal(0))
        return int(total) if whole else float(total)
    if not values:
        return None
    if function == "avg":
        mean = sum((Decimal(str(v)) for v in values), Decimal(0)) / len(values)
        return math.trunc(mean) if whole else float(mean)
    if all(is_number(v) for v in values):
        return min(values) if function == "min" else max(values)
    instants = sorted(values, key=lambda v: as_instant(v) or v)
    return instants[0] if function == "min" else instants[-1]


def _sorted(em: TenantState, plan: Plan, groups: list[Group]) -> list[Group]:
    by_key = {c.key: c for c in plan.columns}
    order = [(k.key, k.descending) for k in plan.sort if k.key is not None]
    if not order:
        order = [(c.key, False) for c in plan.columns if c.groupby]
    names: dict[tuple[Any, Any], str | None] = {}
    result = list(groups)
    for key, descending in reversed(order):
        column = by_key[key]
        grouped_by_date = column.dategrouping is not None or column.aggregate is not None

        def by(
            g: Group, key: str = key, column: Column = column, plain: bool = grouped_by_date
        ) -> Any:
            value = g.get(key)
            if plain:
                return (0, 0) if value is None else (1, value)
            return sort_value(em, column.attr, value, None, names, raw=plan.fetch.raw_order)

        result.sort(key=by, reverse=descending)
    return result


__all__ = ["Group", "aggregate"]
