"""The target snapshot a load transforms against, read from the tenant.

Transform is pure: it reads a frozen :class:`~crm_ferry.transform.schema.TargetSchema`
and never the tenant. This module is where that snapshot comes from (I/O):

* :func:`read_org_settings`: the organization row, the currencies and the price list;
* :func:`read_target_schema`: the metadata of the tables a map writes, the tables
  transform always needs besides them, and the tables their lookups point to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from crm_ferry.transform.schema import (
    DEFAULT_BLOCKED_EXTENSIONS,
    DEFAULT_MAX_UPLOAD,
    EXTRA_TABLES,
    OrgSettings,
    TableSchema,
    TargetSchema,
    parse_blocked,
)

if TYPE_CHECKING:
    from crm_ferry.dataverse.client import DataverseClient
    from crm_ferry.dataverse.metadata import Metadata

__all__ = ["METADATA_READERS", "PRICE_LIST_NAME", "read_org_settings", "read_target_schema"]

PRICE_LIST_NAME = "The Practice import"
"""The price list provisioning creates for invoices when the user chooses none."""

METADATA_READERS = 4
"""Tables whose metadata is read at once (the service's usual ``x-ms-dop-hint``)."""


def read_org_settings(
    client: DataverseClient,
    *,
    price_list_id: str | None = None,
    price_list_name: str = PRICE_LIST_NAME,
) -> OrgSettings:
    """Read the organization row, the currencies and the price list.

    ``price_list_id`` wins; otherwise the price list named ``price_list_name`` is used,
    and failing that, when the tenant has exactly one price list, that one.
    """
    org: dict[str, Any] = next(iter(client.query("organization", top=1)), {})
    max_upload = org.get("maxuploadfilesize")
    blocked_raw = org.get("blockedattachments")
    blocked = (
        parse_blocked(str(blocked_raw))
        if isinstance(blocked_raw, str)
        else DEFAULT_BLOCKED_EXTENSIONS
    )
    base = org.get("_basecurrencyid_value") or org.get("basecurrencyid")
    currencies: dict[str, str] = {}
    for row in client.query(
        "transactioncurrency", select=("transactioncurrencyid", "isocurrencycode")
    ):
        code = row.get("isocurrencycode")
        if code:
            currencies[str(code).upper()] = str(row["transactioncurrencyid"])
    if price_list_id is None:
        lists = list(client.query("pricelevel", select=("pricelevelid", "name")))
        named = [r for r in lists if r.get("name") == price_list_name]
        chosen = named or (lists if len(lists) == 1 else [])
        if chosen:
            price_list_id = str(chosen[0]["pricelevelid"])
    return OrgSettings(
        max_upload_bytes=int(max_upload) if max_upload else DEFAULT_MAX_UPLOAD,
        blocked_extensions=blocked,
        base_currency_id=str(base) if base else None,
        currencies=MappingProxyType(currencies),
        price_list_id=price_list_id,
    )


def read_target_schema(
    md: Metadata,
    tables: Iterable[str],
    *,
    org: OrgSettings | None = None,
) -> TargetSchema:
    """Read ``tables`` (plus :data:`~crm_ferry.transform.schema.EXTRA_TABLES`) from ``md``.

    Tables that do not exist in the tenant are left out; the transformer reports the
    mapped columns it cannot find.
    """
    wanted = list(dict.fromkeys([*tables, *EXTRA_TABLES]))
    infos: dict[str, TableSchema] = {}

    def read(name: str) -> str | None:
        """Everything about one table, into ``md``'s cache (five requests)."""
        if not md.has_table(name):
            return None
        md.relationships(name)
        md.columns(name)
        return name

    # about five requests per table, independent of each other: a few at a time
    with ThreadPoolExecutor(METADATA_READERS, thread_name_prefix="metadata") as pool:
        present = [n for n in pool.map(read, wanted) if n is not None]
        rels_of = {name: md.relationships(name) for name in present}
        referenced = {r.referenced_entity for rels in rels_of.values() for r in rels}
        names = sorted(referenced | set(rels_of))
        exists = dict(zip(names, pool.map(md.has_table, names), strict=True))
    entity_sets = {name: md.entity_set(name) for name in names if exists[name]}
    for name, rels in rels_of.items():
        info = md.table(name)
        navigation = {
            (r.referencing_attribute, r.referenced_entity): r.navigation_property for r in rels
        }
        infos[name] = TableSchema(
            logical_name=name,
            entity_set=info.entity_set_name,
            primary_id=info.primary_id,
            primary_name=info.primary_name,
            columns=MappingProxyType(dict(md.columns(name))),
            navigation=MappingProxyType(navigation),
        )
    # Collection-valued navigation of a parent: the relationship's schema name, which
    # is the ReferencedEntityNavigationPropertyName of system 1:N relationships
    # (phonecall_activity_parties).
    collections: dict[str, dict[str, str]] = {}
    for child, rels in rels_of.items():
        for r in rels:
            if child == "activityparty" and r.referencing_attribute == "activityid":
                collections.setdefault(r.referenced_entity, {})[child] = r.schema_name
    for parent, children in collections.items():
        if parent in infos:
            infos[parent] = dataclasses.replace(
                infos[parent], collections=MappingProxyType(children)
            )
    return TargetSchema(
        tables=MappingProxyType(infos),
        entity_sets=MappingProxyType(entity_sets),
        org=org or OrgSettings(),
    )
