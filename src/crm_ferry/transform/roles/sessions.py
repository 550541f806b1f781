"""Sessions → session rows (the map's session table, or appointments), named
``<day> <session type> with <client>`` when no field names them, and added to the
opportunity totals (:mod:`crm_ferry.transform.roles.opportunities`)."""

from __future__ import annotations

from crm_ferry.mapping.spec import Target
from crm_ferry.model import Session
from crm_ferry.transform.build import Builder, rows_match
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.roles.opportunities import Opportunities
from crm_ferry.transform.row import Row

__all__ = ["session"]


def session(b: Builder, opportunities: Opportunities, record: Session) -> list[Operation]:
    target = b.spec.target("session")
    if target is None or not rows_match(target.rows, record):
        return []
    row = Row(b.table(target))
    b.fields(target, row, record)
    name_col = row.table.primary_name
    if name_col and name_col not in row.payload:
        client = b.context.clients.get(record.client_id or "")
        day = record.start_at.date().isoformat() if record.start_at else "undated"
        kind = _session_type_label(b, target, record.session_type) or "Session"
        who = client.name if client else (record.client_id or "unknown client")
        row.set_text(name_col, f"{day} {kind} with {who}")
    ops = [b.op(target, row, b.id("session", record.id), record.key)]
    opportunities.collect(record)
    return ops


def _session_type_label(b: Builder, target: Target, session_type: str | None) -> str | None:
    """The option label the session type maps to, else the type itself in title case."""
    if not session_type:
        return None
    fm = target.fields.get("session_type")
    info = b.schema.table(target.table)
    if fm is not None and fm.column and fm.value_map and info is not None:
        vm = b.spec.value_maps.get(fm.value_map)
        col = info.column(fm.column)
        if vm is not None:
            ok, value = vm.lookup(session_type)
            options: dict[int, str] = dict(fm.create.options) if fm.create else {}
            if col is not None:
                options.update(col.options)
            if ok and isinstance(value, int) and value in options:
                return options[value]
    return session_type.replace("_", " ").strip().title().replace("On One", "on One")
