"""The table definitions of a snapshot: columns, choices, relationships and keys, as read.

:func:`read_tables` reads each named table through the Web API metadata endpoints (the
client's own :meth:`~crm_ferry.dataverse.client.DataverseClient.request`, nothing else) and
keeps the facts a rehearsal needs, in the API's own property names (``MaxLength``,
``RequiredLevel``, ``ReferencingEntityNavigationPropertyName``…), so that a reader of the
file and a reader of the live ``EntityDefinitions`` speak of the same things. Labels are
kept as their text (the user's language, else the first localized label); the volatile
parts of a definition (``MetadataId`` aside, ``CreatedOn``, ``ModifiedOn``, ``HasChanged``,
``IntroducedVersion``…) are not kept, so two reads of one tenant give the same facts.

Options of choice, state, status and yes/no columns come from the typed casts of the
``Attributes`` collection with ``$expand=OptionSet``
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api#retrieving-attributes);
a choice that uses a global option set is read once more from
``GlobalOptionSetDefinitions(Name='…')``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from crm_ferry.dataverse.errors import NotFound
from crm_ferry.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from crm_ferry.dataverse.client import DataverseClient

__all__ = ["READERS", "TablesReading", "label_text", "read_tables"]

READERS: Final = 4
"""Tables read at once (the service's usual ``x-ms-dop-hint``)."""

TABLE_FACTS: Final = (
    "LogicalName",
    "SchemaName",
    "EntitySetName",
    "LogicalCollectionName",
    "CollectionSchemaName",
    "PrimaryIdAttribute",
    "PrimaryNameAttribute",
    "PrimaryImageAttribute",
    "ObjectTypeCode",
    "OwnershipType",
    "TableType",
    "IsCustomEntity",
    "IsManaged",
    "IsActivity",
    "IsActivityParty",
    "IsIntersect",
    "HasNotes",
    "HasActivities",
    "ChangeTrackingEnabled",
    "DisplayName",
    "DisplayCollectionName",
)

COLUMN_FACTS: Final = (
    "LogicalName",
    "SchemaName",
    "AttributeType",
    "AttributeTypeName",
    "AttributeOf",
    "DisplayName",
    "Format",
    "FormatName",
    "MaxLength",
    "DatabaseLength",
    "MinValue",
    "MaxValue",
    "Precision",
    "PrecisionSource",
    "RequiredLevel",
    "IsValidForCreate",
    "IsValidForUpdate",
    "IsValidForRead",
    "IsPrimaryId",
    "IsPrimaryName",
    "IsCustomAttribute",
    "IsLogical",
    "IsSecured",
    "DateTimeBehavior",
    "DefaultValue",
    "DefaultFormValue",
    "Targets",
    "MaxSizeInKB",
    "AutoNumberFormat",
)

ONE_TO_MANY_FACTS: Final = (
    "SchemaName",
    "ReferencedEntity",
    "ReferencedAttribute",
    "ReferencingEntity",
    "ReferencingAttribute",
    "ReferencedEntityNavigationPropertyName",
    "ReferencingEntityNavigationPropertyName",
    "IsCustomRelationship",
    "IsHierarchical",
    "CascadeConfiguration",
)

MANY_TO_MANY_FACTS: Final = (
    "SchemaName",
    "Entity1LogicalName",
    "Entity2LogicalName",
    "IntersectEntityName",
    "Entity1IntersectAttribute",
    "Entity2IntersectAttribute",
    "Entity1NavigationPropertyName",
    "Entity2NavigationPropertyName",
    "IsCustomRelationship",
)

KEY_FACTS: Final = ("SchemaName", "LogicalName", "KeyAttributes", "EntityKeyIndexStatus")

OPTION_KINDS: Final = (
    "PicklistAttributeMetadata",
    "MultiSelectPicklistAttributeMetadata",
    "StateAttributeMetadata",
    "StatusAttributeMetadata",
    "BooleanAttributeMetadata",
)
"""The casts of ``Attributes`` whose ``OptionSet`` is read."""

LABELLED: Final = frozenset({"DisplayName", "DisplayCollectionName", "Label"})
WRAPPED: Final = frozenset({"AttributeTypeName", "FormatName", "RequiredLevel", "DateTimeBehavior"})
"""Properties Dataverse wraps as ``{"Value": …, "CanBeChanged": …}``: kept as the value."""


@dataclass(frozen=True, slots=True)
class TablesReading:
    """What :func:`read_tables` read."""

    tables: Mapping[str, dict[str, Any]]
    """Logical name → the table's facts, ``Attributes``, relationships and ``Keys``."""
    global_option_sets: Mapping[str, dict[str, Any]]
    """Name → the global option sets the columns of these tables use."""
    missing: tuple[str, ...]
    """Tables asked for that the tenant does not have (sorted)."""


def read_tables(
    client: DataverseClient,
    names: Iterable[str],
    *,
    related: bool = True,
    progress: Progress = NO_PROGRESS,
) -> TablesReading:
    """Read ``names`` and (``related``) every table they relate to, one level out.

    Progress: task ``tables`` (then ``related tables``), one unit per table read; and
    while a table is read, task ``table <name>`` is started, then finished."""
    wanted = sorted(dict.fromkeys(names))
    tables: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    with ThreadPoolExecutor(READERS, thread_name_prefix="snapshot") as pool:
        for name, table in _read_all(client, pool, wanted, "tables", progress):
            if table is None:
                missing.append(name)
            else:
                tables[name] = table
        if related:
            more = sorted(_related(tables.values()) - set(tables) - set(missing))
            for name, table in _read_all(client, pool, more, "related tables", progress):
                if table is not None:
                    tables[name] = table
    used = sorted({n for t in tables.values() for n in _global_names(t)})
    option_sets = {name: _read_global(client, name) for name in used}
    return TablesReading(tables, option_sets, tuple(missing))


def _read_all(
    client: DataverseClient,
    pool: ThreadPoolExecutor,
    names: Sequence[str],
    task: str,
    progress: Progress,
) -> list[tuple[str, dict[str, Any] | None]]:
    progress.start(task, len(names))

    def read(name: str) -> tuple[str, dict[str, Any] | None]:
        progress.start(f"table {name}")
        table = _read_table(client, name)
        progress.finish(f"table {name}")
        progress.advance(task)
        return name, table

    out = list(pool.map(read, names))
    progress.finish(task)
    return out


def _related(tables: Iterable[Mapping[str, Any]]) -> set[str]:
    out: set[str] = set()
    for t in tables:
        for r in [*t["OneToManyRelationships"], *t["ManyToOneRelationships"]]:
            out.update((str(r["ReferencedEntity"]), str(r["ReferencingEntity"])))
        for r in t["ManyToManyRelationships"]:
            out.update((str(r["Entity1LogicalName"]), str(r["Entity2LogicalName"])))
    return out


def _read_table(client: DataverseClient, name: str) -> dict[str, Any] | None:
    """One table's facts (seven to twelve requests), or None when the tenant lacks it."""
    base = f"EntityDefinitions(LogicalName='{name}')"
    try:
        entity = client.request("GET", base, params={"$select": ",".join(TABLE_FACTS)}).json()
    except NotFound:
        return None
    table = _pick(entity, TABLE_FACTS)
    columns = {
        str(c["LogicalName"]): _pick(c, COLUMN_FACTS) for c in _rows(client, f"{base}/Attributes")
    }
    for kind in OPTION_KINDS:
        for row in _cast(client, f"{base}/Attributes/Microsoft.Dynamics.CRM.{kind}"):
            column = columns.get(str(row["LogicalName"]))
            if column is not None and isinstance(row.get("OptionSet"), Mapping):
                column["OptionSet"] = _option_set(row["OptionSet"])
    table["Attributes"] = sorted(columns.values(), key=lambda c: str(c["LogicalName"]))
    for part, facts in (
        ("OneToManyRelationships", ONE_TO_MANY_FACTS),
        ("ManyToOneRelationships", ONE_TO_MANY_FACTS),
        ("ManyToManyRelationships", MANY_TO_MANY_FACTS),
        ("Keys", KEY_FACTS),
    ):
        rows = [_pick(r, facts) for r in _rows(client, f"{base}/{part}")]
        table[part] = sorted(rows, key=lambda r: str(r.get("SchemaName", "")))
    return table


def _rows(client: DataverseClient, path: str) -> list[dict[str, Any]]:
    return list(client.query_path(path, page_size=0))


def _cast(client: DataverseClient, path: str) -> list[dict[str, Any]]:
    """The columns of one type with their option set; none when the tenant knows no such
    cast on this table (the emulator answers 404 for a type no column has)."""
    params = {"$select": "LogicalName", "$expand": "OptionSet"}
    try:
        return list(client.query_path(path, params=params, page_size=0))
    except NotFound:
        return []


def _read_global(client: DataverseClient, name: str) -> dict[str, Any]:
    body = client.request("GET", f"GlobalOptionSetDefinitions(Name='{name}')").json()
    return _option_set(body)


def _global_names(table: Mapping[str, Any]) -> list[str]:
    return [
        str(c["OptionSet"]["Name"])
        for c in table["Attributes"]
        if isinstance(c.get("OptionSet"), Mapping) and c["OptionSet"].get("IsGlobal")
    ]


def _option_set(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(raw, ("Name", "IsGlobal", "OptionSetType", "DisplayName"))
    if raw.get("Options") is not None:
        out["Options"] = sorted(
            (_option(o) for o in raw["Options"] if o.get("Value") is not None),
            key=lambda o: int(o["Value"]),
        )
    for side in ("TrueOption", "FalseOption"):
        if isinstance(raw.get(side), Mapping):
            out[side] = _option(raw[side])
    return out


def _option(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Value and label; a status option's ``State``, a state option's ``DefaultStatus``."""
    return _pick(raw, ("Value", "Label", "State", "DefaultStatus", "ExternalValue"))


def _pick(raw: Mapping[str, Any], facts: Sequence[str]) -> dict[str, Any]:
    """The listed properties of ``raw`` that it has (null ones are left out)."""
    out: dict[str, Any] = {}
    for name in facts:
        value = raw.get(name)
        if name in LABELLED:
            value = label_text(value)
        elif name in WRAPPED and isinstance(value, Mapping):
            value = value.get("Value")
        elif name == "Targets" and isinstance(value, list):
            # in the service's order, not sorted: the order is part of the answer, and an
            # emulator served from the snapshot answers it the same
            value = [str(v) for v in value]
        elif name == "CascadeConfiguration" and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if not k.startswith("@")}
        if value is not None and value != "":
            out[name] = value
    return out


def label_text(value: Any) -> str | None:
    """The text of a ``Label``: the user's, else the first localized one."""
    if not isinstance(value, Mapping):
        return None
    user = value.get("UserLocalizedLabel")
    if isinstance(user, Mapping) and user.get("Label"):
        return str(user["Label"])
    for loc in value.get("LocalizedLabels") or []:
        if isinstance(loc, Mapping) and loc.get("Label"):
            return str(loc["Label"])
    return None
