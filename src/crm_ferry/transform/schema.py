"""What transform needs to know about the target, read once and frozen.

:class:`TargetSchema` is a snapshot of the tenant's metadata (entity set names, primary
columns, column types and limits, option values, navigation properties) and of the
organization's settings (upload limit, blocked extensions, currencies, the price list).
It is built by :meth:`TargetSchema.from_metadata` / :meth:`OrgSettings.read` in the
caller's process: that is where the I/O happens. Transform itself only reads the snapshot,
so it stays a pure function of (record, map, snapshot).

Navigation properties are read from the many-to-one relationships
(``ReferencingEntityNavigationPropertyName``), never derived from column names: they are
case-sensitive and polymorphic lookups have one per target (``parentcustomerid_account``,
``regardingobjectid_contact_phonecall``, ``objectid_new_session``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from crm_ferry.dataverse.metadata import ColumnInfo

if TYPE_CHECKING:
    from crm_ferry.dataverse.client import DataverseClient
    from crm_ferry.dataverse.metadata import Metadata
    from crm_ferry.mapping.spec import MappingSpec

__all__ = [
    "DEFAULT_BLOCKED_EXTENSIONS",
    "DEFAULT_MAX_UPLOAD",
    "ColumnInfo",
    "OrgSettings",
    "TableSchema",
    "TargetSchema",
    "tables_for",
]

DEFAULT_MAX_UPLOAD = 5_242_880
"""Dataverse's default ``maxuploadfilesize`` (5 MB, measured on the Base64 text)."""

_BLOCKED = (
    "ade adp app asa ashx asmx asp bas bat cdx cer chm class cmd com config cpl crt csh dll "
    "exe fxp hlp hta htr htw ida idc idq inf ins isp its jar js jse ksh lnk mad maf mag mam "
    "maq mar mas mat mau mav maw mda mdb mde mdt mdw mdz msc msh msh1 msh1xml msh2 msh2xml "
    "mshxml msi msp mst ops pcd pif prf prg printer pst reg rem scf scr sct shb shs shtm "
    "shtml soap stm tmp url vb vbe vbs vsmacros vss vst vsw ws wsc wsf wsh svg"
)
DEFAULT_BLOCKED_EXTENSIONS: frozenset[str] = frozenset(_BLOCKED.split(" "))
"""The platform's default ``blockedattachments`` list, used when the tenant gives none."""

PRICE_LIST_NAME = "The Practice import"
"""The price list provisioning creates for invoices when the user chooses none."""

_EXTRA_TABLES = ("activityparty", "annotation", "opportunityclose", "systemuser")
METADATA_READERS = 4
"""Tables whose metadata is read at once (the service's usual ``x-ms-dop-hint``)."""
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

    @classmethod
    def read(
        cls,
        client: DataverseClient,
        *,
        price_list_id: str | None = None,
        price_list_name: str = PRICE_LIST_NAME,
    ) -> OrgSettings:
        """Read the organization row, the currencies and the price list (I/O).

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
        return cls(
            max_upload_bytes=int(max_upload) if max_upload else DEFAULT_MAX_UPLOAD,
            blocked_extensions=blocked,
            base_currency_id=str(base) if base else None,
            currencies=MappingProxyType(currencies),
            price_list_id=price_list_id,
        )


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

    # -- building --------------------------------------------------------------------

    @classmethod
    def from_metadata(
        cls,
        md: Metadata,
        tables: Iterable[str],
        *,
        org: OrgSettings | None = None,
    ) -> TargetSchema:
        """Read ``tables`` (plus the ones transform always needs) from ``md`` (I/O).

        Tables that do not exist in the tenant are left out; the transformer reports the
        mapped columns it cannot find.
        """
        wanted = list(dict.fromkeys([*tables, *_EXTRA_TABLES]))
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
                old = infos[parent]
                infos[parent] = TableSchema(
                    logical_name=old.logical_name,
                    entity_set=old.entity_set,
                    primary_id=old.primary_id,
                    primary_name=old.primary_name,
                    columns=old.columns,
                    navigation=old.navigation,
                    collections=MappingProxyType(children),
                )
        return cls(
            tables=MappingProxyType(infos),
            entity_sets=MappingProxyType(entity_sets),
            org=org or OrgSettings(),
        )


def tables_for(spec: MappingSpec) -> list[str]:
    """The tables a map writes (enabled targets), in map order."""
    return list(dict.fromkeys(t.table for t in spec.targets.values() if t.enabled))
