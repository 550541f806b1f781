"""Images of rows: what a row holds, in the shape crm-ferry writes it.

A *before-image* is journaled for a row crm-ferry did not create before a load first
writes it (a contact matched by e-mail), so that a rollback can give the row back exactly
what it held. It holds every column a write may change, in the form of a write payload:
plain columns by logical name, and each lookup (owner included) as
``<navigation property>@odata.bind`` → ``/<entity set>(<id>)``, or ``None`` when the lookup
was empty — a PATCH with a ``null`` bind clears it ("Associate and disassociate table rows
using the Web API", Microsoft Learn: "To disassociate, set the value to null").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm_ferry.dataverse.metadata import Metadata
from crm_ferry.reconcile.diff import lookup_id

BIND = "@odata.bind"
LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})
LOGICAL_NAME = "@Microsoft.Dynamics.CRM.lookuplogicalname"
NOT_IMAGED = frozenset({"overriddencreatedon", "importsequencenumber"})
"""Columns an image leaves out: the service takes them only on create."""
STATE = ("statecode", "statuscode")


def navigations(metadata: Metadata, table: str) -> dict[str, dict[str, str]]:
    """Lookup column → {target table → navigation property} (polymorphic lookups have one
    navigation property per target: ``parentcustomerid_account``, ``…_contact``)."""
    out: dict[str, dict[str, str]] = {}
    for rel in metadata.relationships(table):
        out.setdefault(rel.referencing_attribute, {})[rel.referenced_entity] = (
            rel.navigation_property
        )
    return out


def nav_columns(metadata: Metadata, table: str) -> dict[str, str]:
    """Navigation property → its lookup column."""
    return {
        nav: column
        for column, targets in navigations(metadata, table).items()
        for nav in targets.values()
    }


def row_image(metadata: Metadata, table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The row (read with annotations) as a write payload of every column a write may
    change: plain columns (state included), lookups as binds, empty lookups as ``None``."""
    columns = metadata.columns(table)
    navs = navigations(metadata, table)
    primary = metadata.table(table).primary_id
    out: dict[str, Any] = {}
    for name, info in columns.items():
        if name == primary or name in NOT_IMAGED or not info.is_valid_for_update:
            continue
        if info.type in LOOKUP_TYPES:
            targets = navs.get(name)
            if not targets:
                continue
            value = row.get(f"_{name}_value")
            target = row.get(f"_{name}_value{LOGICAL_NAME}")
            if value and target and str(target) in targets:
                ref = f"/{metadata.entity_set(str(target))}({lookup_id(value)})"
                out[f"{targets[str(target)]}{BIND}"] = ref
            else:
                out[f"{next(iter(targets.values()))}{BIND}"] = None
            continue
        if name in row:
            out[name] = row[name]
    return out


def bind_column(key: str, navs: Mapping[str, str]) -> str | None:
    """The lookup column behind a ``nav@odata.bind`` key (None for a plain column)."""
    if not key.endswith(BIND):
        return None
    nav = key[: -len(BIND)]
    return navs.get(nav, nav)
