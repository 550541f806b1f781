"""How records are kept, and reading and writing stored rows without validation.

A stored row holds column values by logical name; a lookup holds the target id under its
column name and the target table under ``<column>@lookuplogicalname`` (:data:`TYPE_SUFFIX`).
Every write stamps the system columns (createdon/by, modifiedon/by, versionnumber). Rows of
virtual tables (``sdkmessagefilter``...) are derived from the metadata, not stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crm_ferry.emulator import tenant
from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import format_instant

LOOKUP_TYPES = ("Lookup", "Customer", "Owner")
TYPE_SUFFIX = "@lookuplogicalname"


def fetch_row(em: TenantState, table: str, row_id: str) -> dict[str, Any] | None:
    """A stored row, or a row of a virtual (metadata-derived) table."""
    if table in tenant.VIRTUAL_TABLES:
        entity = em.schema.entity(table)
        pk = entity.primary_id if entity else ""
        return next((r for r in tenant.virtual_rows(em.schema, table) if r[pk] == row_id), None)
    return em.store.get(table, row_id)


def all_rows(em: TenantState, table: str) -> Iterable[dict[str, Any]]:
    if table in tenant.VIRTUAL_TABLES:
        return tenant.virtual_rows(em.schema, table)
    return em.store.rows(table)


def key_columns(entity: EntityDef) -> list[tuple[str, ...]]:
    return [k.key_attributes for k in entity.keys.values()]


def store_row(em: TenantState, entity: EntityDef, row_id: str, row: dict[str, Any]) -> None:
    """Write the row as it is, re-indexing its alternate-key values."""
    em.store.put(entity.logical_name, row_id, row, key_columns(entity))
    if entity.logical_name in ("systemuser", "team"):
        em.forget_principals()


def system_columns(
    em: TenantState, entity: EntityDef, row: dict[str, Any], caller: str, *, creating: bool
) -> None:
    """Stamp who changed the row and when, and its new version (and creation on create)."""
    now = format_instant(em.now())
    if creating:
        row["createdon"] = now
        row["createdby"] = caller
        row["createdby" + TYPE_SUFFIX] = "systemuser"
        if entity.ownership == "UserOwned" and not row.get("ownerid"):
            row["ownerid"] = caller
            row["ownerid" + TYPE_SUFFIX] = "systemuser"
    row["modifiedon"] = now
    row["modifiedby"] = caller
    row["modifiedby" + TYPE_SUFFIX] = "systemuser"
    row["versionnumber"] = em.next_version()


def write_platform_update(
    em: TenantState, entity: EntityDef, row_id: str, row: dict[str, Any], caller: str
) -> None:
    """A change the platform makes itself (rollups, state by actions): no validation."""
    system_columns(em, entity, row, caller, creating=False)
    store_row(em, entity, row_id, row)


__all__ = [
    "LOOKUP_TYPES",
    "TYPE_SUFFIX",
    "all_rows",
    "fetch_row",
    "key_columns",
    "store_row",
    "system_columns",
    "write_platform_update",
]
