"""Creating an alternate key (``POST EntityDefinitions(...)/Keys``); it starts Pending and
:func:`crm_ferry.emulator.metadata.api.settle` activates it.

Written from https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity.
"""

from __future__ import annotations

from typing import Any

from crm_ferry.emulator.metadata.errors import DUPLICATE, NOT_FOUND, bad
from crm_ferry.emulator.metadata.write_context import Context
from crm_ferry.emulator.schema import EntityDef, KeyDef

KEY_COLUMN_TYPES = frozenset({"Decimal", "Integer", "String", "DateTime", "Lookup", "Picklist"})
"""Documented: alternate keys may use Decimal, Whole Number, single-line Text, Date Time,
Lookup and Choice columns."""
MAX_KEYS_PER_TABLE = 10
MAX_KEY_COLUMNS = 16
MAX_KEY_BYTES = 900


def create_key(ctx: Context, entity: EntityDef, body: dict[str, Any]) -> KeyDef:
    schema_name = body.get("SchemaName")
    ctx.publisher_for(schema_name, "key")
    logical = str(schema_name).lower()
    if logical in entity.keys:
        raise bad(
            f"A key named '{logical}' already exists on '{entity.logical_name}'.", code=DUPLICATE
        )
    if len(entity.keys) >= MAX_KEYS_PER_TABLE:
        raise bad(
            f"The table '{entity.logical_name}' already has {MAX_KEYS_PER_TABLE} alternate keys, "
            "the most a table can have."
        )
    columns = body.get("KeyAttributes")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise bad("KeyAttributes must list the logical names of the key's columns.")
    if len(columns) > MAX_KEY_COLUMNS:
        raise bad(f"An alternate key can have at most {MAX_KEY_COLUMNS} columns.")
    if len(set(columns)) != len(columns):
        raise bad("A column appears twice in KeyAttributes.")
    size = 0
    for name in columns:
        attr = entity.attribute(name)
        if attr is None:
            raise bad(
                f"The table '{entity.logical_name}' has no column '{name}'.",
                code=NOT_FOUND,
                status=404,
            )
        if attr.type not in KEY_COLUMN_TYPES:
            raise bad(
                f"The column '{name}' of type {attr.type} can't be part of an alternate key: "
                "allowed are Decimal, Integer, String, DateTime, Lookup and Picklist columns."
            )
        size += (attr.max_length or 0) * 2 if attr.type == "String" else 16
    if size > MAX_KEY_BYTES:
        raise bad(
            f"The columns of the key take {size} bytes; an alternate key can take at most "
            f"{MAX_KEY_BYTES}."
        )
    if any(sorted(k.key_attributes) == sorted(columns) for k in entity.keys.values()):
        raise bad("An alternate key with the same columns already exists.", code=DUPLICATE)
    key = KeyDef(
        schema_name=str(schema_name),
        logical_name=logical,
        entity=entity.logical_name,
        key_attributes=tuple(columns),
        status="Pending",
        active_at=ctx.now + ctx.key_delay,
        solution=ctx.solution,
    )
    entity.keys[logical] = key
    return key


__all__ = [
    "KEY_COLUMN_TYPES",
    "MAX_KEYS_PER_TABLE",
    "MAX_KEY_BYTES",
    "MAX_KEY_COLUMNS",
    "create_key",
]
