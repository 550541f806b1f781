"""Roles the generic field loop writes whole: households, service types, and any other
target of an object no role builder of its own takes.

:func:`simple` is also the frame of the invoice lines and payments
(:mod:`crm_ferry.transform.roles.invoices`): their mapped fields, a few columns of their
own (``extras``), and the primary name when no field filled it.
"""

from __future__ import annotations

from collections.abc import Callable

from crm_ferry.mapping.spec import Target
from crm_ferry.model import Family, Record, ServiceType
from crm_ferry.transform.build import Builder, rows_match
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.row import Row

__all__ = ["Extras", "Name", "household", "others", "service_type", "simple"]

Extras = Callable[[Builder, Target, Row, Record], None]
"""Writes a role's own columns after its mapped fields."""
Name = Callable[[Builder, Record], str]
"""The text of a row's primary name."""


def _own_name(b: Builder, record: Record) -> str:
    """The record's ``name``, else its id."""
    return str(getattr(record, "name", None) or "") or record.id


def simple(
    b: Builder,
    role: str,
    record: Record,
    extras: Extras | None = None,
    name: Name = _own_name,
) -> list[Operation]:
    """One row of ``role``: the mapped fields, ``extras``, then the primary name (when the
    table has one the service takes on create and no field filled it)."""
    target = b.spec.target(role)
    if target is None or not rows_match(target.rows, record):
        return []
    row = Row(b.table(target))
    b.fields(target, row, record)
    if extras is not None:
        extras(b, target, row, record)
    name_col = row.table.primary_name
    if name_col and name_col not in row.payload:
        col = row.table.column(name_col)
        if col is not None and col.is_valid_for_create:
            row.set_text(name_col, name(b, record))
    return [b.op(target, row, b.id(role, record.id), record.key)]


def household(b: Builder, record: Family) -> list[Operation]:
    return simple(b, "household", record)


def service_type(b: Builder, record: ServiceType) -> list[Operation]:
    return simple(b, "service_type", record)


def others(b: Builder, record: Record) -> list[Operation]:
    """A row in each enabled target of the record's object (users, packages, ... when a
    map adds targets for them)."""
    ops: list[Operation] = []
    for t in b.spec.targets_for(record.OBJECT):
        if rows_match(t.rows, record):
            row = Row(b.table(t))
            b.fields(t, row, record)
            ops.append(b.op(t, row, b.id(t.role, record.id), record.key))
    return ops
