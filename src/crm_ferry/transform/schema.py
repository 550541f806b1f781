"""What transform needs to know about the target, as frozen values.

:class:`TargetSchema` is a snapshot of the tenant's metadata (entity set names, primary
columns, column types and limits, option values, navigation properties) and of the
organization's settings (:class:`OrgSettings`: upload limit, blocked extensions, currencies,
the price list). The load reads it from the tenant (:mod:`crm_ferry.load.snapshot`, where
the I/O happens); transform only reads the snapshot, so it stays a pure function of
(record, map, snapshot).

Navigation properties are read from the many-to-one relationships
(``ReferencingEntityNavigationPropertyName``), never derived from column names: they are
case-sensitive and polymorphic lookups have one per target (``parentcustomerid_account``,
``regardingobjectid_contact_phonecall``, ``objectid_new_session``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crm_ferry.limits import DEFAULT_BLOCKED_EXTENSIONS, DEFAULT_MAX_UPLOAD

if TYPE_CHECKING:
    from crm_ferry.dataverse.metadata import ColumnInfo
    from crm_ferry.mapping.spec import MappingSpec

__all__ = [
    "DEFAULT_BLOCKED_EXTENSIONS",
    "DEFAULT_MAX_UPLOAD",
    "EXTRA_TABLES",
    "OrgSettings",
    "TableSchema",
    "TargetSchema",
    "parse_blocked",
    "tables_for",
]

EXTRA_TABLES = ("activityparty", "annotation", "opportunityclose", "systemuser")
"""Tables transform always needs besides the map's own: parties, notes, closes, owners."""


@dataclass(frozen=True, slots=True)
class TableSchema:
    """One table: names, columns and the navigation property of each lookup target."""

    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str | None
    columns: Mapping[str, ColumnInfo] = field(default_factory=dict)
    navigation: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """``(lookup column, target table)`` → single-valued navigation property."""
    collections: Mapping[str, str] = field(default_factory=dict)
    """Child table → collection-valued navigation property of this table (when known;
    ``phonecall`` → ``{"activityparty": "phonecall_activity_parties"}``)."""

    def column(self, name: str) -> ColumnInfo | None:
        return self.columns.get(name)

    def nav(self, column: str, target: str) -> str | None:
        return self.navigation.get((column, target))

    def targets_of(self, column: str) -> tuple[str, ...]:
        """The tables a lookup column can point to, in metadata order."""
        return tuple(t for (c, t) in self.navigation if c == column)


@dataclass(frozen=True, slots=True)
class OrgSettings:
    """Organization-wide settings transform depends on."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    """``organization.maxuploadfilesize``, compared with the Base64 length of a document."""
    blocked_extensions: frozenset[str] = DEFAULT_BLOCKED_EXTENSIONS
    """``organization.blockedattachments`` (lower case, no dots)."""
    base_currency_id: str | None = None
    currencies: Mapping[str, str] = field(default_factory=dict)
    """ISO currency code (upper case) → ``transactioncurrencyid``."""
    price_list_id: str | None = None
    """The ``pricelevelid`` every invoice is bound to."""

    def currency_id(self, iso: str | None) -> str | None:
        """The currency row of an ISO code; the base currency when ``iso`` is empty."""
        if not iso:
            return self.base_currency_id
        return self.currencies.get(iso.strip().upper())


def parse_blocked(text: str) -> frozenset[str]:
    """``"exe;bat;.js;"`` → ``{"exe", "bat", "js"}``."""
    return frozenset(
        part.strip().lstrip(".").lower()
        for part in text.replace(",", ";").split(";")
        if part.strip()
    )


@dataclass(frozen=True, slots=True)
class TargetSchema:
    """Tables transform writes, the tables they point to, and the organization's settings."""

    tables: Mapping[str, TableSchema]
    entity_sets: Mapping[str, str] = field(default_factory=dict)
    """Logical name → entity set name, for every table a lookup may point to."""
    org: OrgSettings = field(default_factory=OrgSettings)

    def table(self, name: str) -> TableSchema | None:
        return self.tables.get(name)

    def entity_set(self, name: str) -> str | None:
        info = self.tables.get(name)
        if info is not None:
            return info.entity_set
        return self.entity_sets.get(name)

    def bind(self, table: str, column: str, target: str, target_id: str) -> tuple[str, str]:
        """``("<nav>@odata.bind", "/<entity set>(<id>)")``; KeyError if there is no such
        relationship in the snapshot."""
        info = self.tables.get(table)
        nav = info.nav(column, target) if info is not None else None
        target_set = self.entity_set(target)
        if nav is None or target_set is None:
            raise KeyError(f"no relationship from {table}.{column} to {target}")
        return f"{nav}@odata.bind", f"/{target_set}({target_id})"

    def ref(self, target: str, target_id: str) -> str:
        """``/<entity set>(<id>)``; KeyError for an unknown table."""
        target_set = self.entity_set(target)
        if target_set is None:
            raise KeyError(f"no entity set known for table {target}")
        return f"/{target_set}({target_id})"


SHAREPOINT_TABLES = ("sharepointsite", "sharepointdocumentlocation")
"""Where a map that sends documents to SharePoint writes their locations."""


def tables_for(spec: MappingSpec) -> list[str]:
    """The tables a map writes (enabled targets, and the SharePoint locations when it sends
    documents there), in map order."""
    tables = [t.table for t in spec.targets.values() if t.enabled]
    if spec.documents.uses_sharepoint:
        tables.extend(SHAREPOINT_TABLES)
    return list(dict.fromkeys(tables))
