"""Custom properties → new columns on the contact and account targets.

Each custom property (a column of the clients file or a long-form ``client_properties``
row, both keyed ``custom:<key>``) becomes a new column, typed by the profile, named with
the publisher prefix so it clashes with no column of the tenant; a choice property gets its
options and a value map.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm_ferry.mapping.defaults import FIRST_OPTION_VALUE
from crm_ferry.mapping.matcher.draft import Decision, Draft, round_up
from crm_ferry.mapping.matcher.scoring import tokens
from crm_ferry.mapping.names import logical_name, schema_name
from crm_ferry.mapping.profile import CustomProperty

__all__ = ["propose_customs"]


def propose_customs(d: Draft) -> None:
    for role in ("contact", "account"):
        if role not in d.targets:
            continue
        target = d.targets[role]
        table = target["table"]
        existing = d.tenant.columns(table)
        taken = {
            str(fd.get("column"))
            for fd in target["fields"].values()
            if isinstance(fd, Mapping) and fd.get("column")
        }
        for key, cp in sorted(d.profile.custom.items()):
            kind = cp.column_type
            clashes = {
                name for name, info in existing.items() if info.type != kind or name in taken
            }
            sname = schema_name(d.p, key, taken | clashes)
            column = logical_name(sname)
            taken.add(column)
            create = _custom_create(cp, sname)
            entry: dict[str, Any] = {"column": column, "type": kind}
            conf = 0.9 if cp.count else 0.5
            detail = f"{cp.count} values, up to {cp.max_length} chars" if cp.count else "no values"
            reason = f"custom property, inferred {cp.type} ({detail}) → new {kind} column"
            if column in existing:
                reason = f"custom property → existing column {column} ({kind})"
            if cp.header and "column" in cp.forms and cp.header != f"custom:{key}":
                entry["header"] = cp.header
            entry["confidence"] = conf
            entry["reason"] = reason
            if kind == "Picklist":
                entry["value_map"] = f"custom:{key}"
            entry["create"] = create
            target["fields"][f"custom:{key}"] = entry
            if kind == "Picklist" and role == "contact":
                values = {c.lower(): v for v, c in create["options"].items()}
                d.value_maps[f"custom:{key}"] = {
                    "column": f"{table}.{column}",
                    "policy": "fail",
                    "values": values,
                }
            headers: list[tuple[str, str | None]] = []
            if "column" in cp.forms:
                headers.append(("clients", cp.header or f"custom:{key}"))
            if "long" in cp.forms:
                headers.append(("client_properties", key))
            for obj, header in headers:
                d.decisions.append(
                    Decision(obj, header, f"custom:{key}", role, table, column, conf, reason)
                )


def _custom_create(cp: CustomProperty, schema: str) -> dict[str, Any]:
    label = " ".join(w.capitalize() for w in tokens(cp.key)) or cp.key
    create: dict[str, Any] = {"kind": cp.column_type, "schema_name": schema, "label": label}
    if cp.column_type == "DateTime":
        create["behavior"] = "DateOnly"
        create["format"] = "DateOnly"
    elif cp.column_type == "Decimal":
        create["precision"] = cp.precision or 0
    elif cp.column_type == "Picklist":
        create["options"] = {FIRST_OPTION_VALUE + i: c for i, c in enumerate(cp.choices)}
    elif cp.column_type == "String":
        create["max_length"] = min(4000, max(100, round_up(cp.max_length)))
    elif cp.column_type == "Memo":
        create["max_length"] = max(4000, round_up(cp.max_length, 1000))
    return create
