"""The rows of a served tenant: a snapshot's users, teams, business units, currencies, price
lists and their items, products and units, publishers and solutions, and its organization.

Lookups the snapshot keeps as ``_<column>_value`` are stored as the column. The served
tenant has, besides, what the emulator itself needs: its organization row (the snapshot's
base currency, upload limit and blocked attachments on it) and its default application user
(:data:`~crm_ferry.emulator.tenant.DEFAULT_APP_USER_ID`, the caller of requests that name
none), the snapshot's row of that user, if it has one, over the emulator's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from crm_ferry.emulator import tenant
from crm_ferry.emulator.schema import Schema
from crm_ferry.emulator.served.definitions import Problems

__all__ = ["rows_from"]

SECTIONS: Final = (
    ("business_units", "businessunit"),
    ("users", "systemuser"),
    ("teams", "team"),
    ("currencies", "transactioncurrency"),
    ("publishers", "publisher"),
    ("solutions", "solution"),
    ("units", "uom"),
    ("products", "product"),
    ("price_lists", "pricelevel"),
)
"""Sections in the order their rows are written (a row after the rows it points at)."""


def rows_from(
    document: Mapping[str, Any], schema: Schema, problems: Problems
) -> list[tuple[str, dict[str, Any]]]:
    """(table, row) pairs, in the order they are written."""
    out: list[tuple[str, dict[str, Any]]] = []
    for section, table in SECTIONS:
        rows = [_row(r) for r in document[section]]
        if rows and schema.entity(table) is None:
            problems.add(f"{section}", f"the served tenant has no table {table}")
            continue
        items: list[dict[str, Any]] = []
        for row in rows:
            items.extend(_row(i) for i in row.pop("items", ()) or ())
            out.append((table, row))
        if items and schema.entity("productpricelevel") is None:
            problems.add(
                "price_lists",
                "price list items, and the served tenant has no table productpricelevel",
            )
        out.extend(("productpricelevel", i) for i in items)
    _application_user(out)
    out.append(("organization", _organization(document["organization"], problems)))
    return out


def _row(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A row as stored: ``_x_value`` as ``x``, null columns left out."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None:
            continue
        if name.startswith("_") and name.endswith("_value"):
            name = name[1 : -len("_value")]
        out[name] = value
    return out


def _application_user(rows: list[tuple[str, dict[str, Any]]]) -> None:
    own = tenant.application_user_row(tenant.DEFAULT_APP_CLIENT_ID, "crm-ferry", disabled=False)
    for i, (table, row) in enumerate(rows):
        if table == "systemuser" and row["systemuserid"] == own["systemuserid"]:
            rows[i] = (table, {**own, **row})
            return
    root = next(
        (r for t, r in rows if t == "businessunit" and "parentbusinessunitid" not in r), None
    )
    if root is not None:
        own["businessunitid"] = root["businessunitid"]
    rows.append(("systemuser", own))


def _organization(settings: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    base = settings.get("basecurrencyid")
    if not base:
        problems.add("organization", "no basecurrencyid: a tenant has a base currency")
    blocked = settings.get("blockedattachments") or []
    return {
        "organizationid": tenant.ORGANIZATION_ID,
        "name": tenant.ORGANIZATION_NAME,
        "basecurrencyid": base,
        "maxuploadfilesize": settings.get("maxuploadfilesize", tenant.MAX_UPLOAD_FILE_SIZE),
        "blockedattachments": "".join(f"{x};" for x in blocked),
        "pricingdecimalprecision": 2,
    }
