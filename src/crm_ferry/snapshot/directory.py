"""The people, money and packaging of a snapshot: users, teams, business units,
currencies, price lists and their products, the organization's settings, publishers and
solutions.

Each is read with an explicit ``$select`` of the columns listed here, and nothing else is
kept: no customer record, no audit columns (``createdon``, ``modifiedon``, ``versionnumber``
change with every write and would make two snapshots of one tenant differ). The
organization settings are those crm-ferry consults, read as every load reads them
(:func:`crm_ferry.load.snapshot.read_org_settings`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from crm_ferry.dataverse.errors import NotFound
from crm_ferry.load.snapshot import read_org_settings
from crm_ferry.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from crm_ferry.dataverse.client import DataverseClient

__all__ = ["COLUMNS", "read_directory"]

COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "systemuser": (
        "systemuserid",
        "fullname",
        "firstname",
        "lastname",
        "internalemailaddress",
        "domainname",
        "isdisabled",
        "accessmode",
        "_businessunitid_value",
    ),
    "team": ("teamid", "name", "teamtype", "isdefault", "_businessunitid_value"),
    "businessunit": ("businessunitid", "name", "isdisabled", "_parentbusinessunitid_value"),
    "transactioncurrency": (
        "transactioncurrencyid",
        "isocurrencycode",
        "currencyname",
        "currencysymbol",
        "currencyprecision",
        "exchangerate",
        "statecode",
    ),
    "pricelevel": (
        "pricelevelid",
        "name",
        "_transactioncurrencyid_value",
        "begindate",
        "enddate",
        "statecode",
        "statuscode",
    ),
    "productpricelevel": (
        "productpricelevelid",
        "_pricelevelid_value",
        "_productid_value",
        "_uomid_value",
        "_uomscheduleid_value",
        "amount",
        "pricingmethodcode",
    ),
    "product": (
        "productid",
        "name",
        "productnumber",
        "_defaultuomid_value",
        "_defaultuomscheduleid_value",
        "statecode",
    ),
    "uom": ("uomid", "name", "quantity", "_uomscheduleid_value", "_baseuom_value"),
    "publisher": (
        "publisherid",
        "uniquename",
        "friendlyname",
        "customizationprefix",
        "customizationoptionvalueprefix",
    ),
    "solution": (
        "solutionid",
        "uniquename",
        "friendlyname",
        "version",
        "ismanaged",
        "_publisherid_value",
    ),
}
"""Per table, the columns a snapshot keeps (the first is the row's id)."""

SECTIONS: Final = (
    ("users", "systemuser"),
    ("teams", "team"),
    ("business_units", "businessunit"),
    ("currencies", "transactioncurrency"),
    ("publishers", "publisher"),
    ("solutions", "solution"),
)
"""Sections read whole: every row of the table."""


def read_directory(client: DataverseClient, *, progress: Progress = NO_PROGRESS) -> dict[str, Any]:
    """Every section of the snapshot besides the table definitions.

    ``absent`` lists the standard tables the tenant does not have (the product catalogue
    of an environment without Dynamics 365 Sales): their sections are empty."""
    steps = [name for name, _ in SECTIONS] + ["price lists", "organization"]
    progress.start("users and settings", len(steps))
    out: dict[str, Any] = {}
    absent: list[str] = []
    for section, table in SECTIONS:
        out[section] = _rows(client, table, absent)
        progress.advance("users and settings")
    out["price_lists"], out["products"], out["units"] = _price_lists(client, absent)
    progress.advance("users and settings")
    out["organization"] = _organization(client, out["currencies"])
    progress.advance("users and settings")
    progress.finish("users and settings")
    out["absent"] = sorted(set(absent))
    return out


def _rows(client: DataverseClient, table: str, absent: list[str]) -> list[dict[str, Any]]:
    """The kept columns of ``table``'s rows, sorted by id; none (and ``table`` noted in
    ``absent``) when the tenant has no such table."""
    columns = COLUMNS[table]
    if not client.metadata.has_table(table):
        absent.append(table)
        return []
    rows = [{c: row.get(c) for c in columns} for row in client.query(table, select=columns)]
    return sorted(rows, key=lambda r: str(r[columns[0]]))


def _price_lists(
    client: DataverseClient, absent: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The price lists with their items; the products and units the items name."""
    lists = _rows(client, "pricelevel", absent)
    items = _rows(client, "productpricelevel", absent)
    by_list: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_list.setdefault(str(item["_pricelevelid_value"]), []).append(item)
    for row in lists:
        row["items"] = by_list.get(str(row["pricelevelid"]), [])
    product_ids = sorted({str(i["_productid_value"]) for i in items if i["_productid_value"]})
    products = _by_ids(client, "product", product_ids, absent)
    unit_ids = sorted(
        {str(i["_uomid_value"]) for i in items if i["_uomid_value"]}
        | {str(p["_defaultuomid_value"]) for p in products if p["_defaultuomid_value"]}
    )
    return lists, products, _by_ids(client, "uom", unit_ids, absent)


def _by_ids(
    client: DataverseClient, table: str, ids: Sequence[str], absent: list[str]
) -> list[dict[str, Any]]:
    if not ids:
        return []
    columns = COLUMNS[table]
    try:
        found = client.retrieve_many(table, list(ids), select=columns)
    except NotFound:
        absent.append(table)
        return []
    return [{c: found[i].get(c) for c in columns} for i in ids if i in found]


def _organization(client: DataverseClient, currencies: list[dict[str, Any]]) -> dict[str, Any]:
    """The settings crm-ferry consults, as a load reads them, and the base currency."""
    org = read_org_settings(client)
    codes = {str(c["transactioncurrencyid"]): c["isocurrencycode"] for c in currencies}
    base = org.base_currency_id
    return {
        "basecurrencyid": base,
        "basecurrency_isocode": codes.get(base) if base else None,
        "maxuploadfilesize": org.max_upload_bytes,
        "blockedattachments": sorted(org.blocked_extensions),
        "price_list_used": org.price_list_id,
    }
