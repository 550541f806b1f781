"""Metadata reads (cached per client) and schema writes through the Web API metadata endpoints.

Reads answer what the rest of crm-ferry must never guess: the entity set name of a table
(a plural the service generates), its primary id and name columns, column types and
limits, option values, and the *navigation property* a lookup is bound through. Lookup
binding uses ``ReferencingEntityNavigationPropertyName`` of the many-to-one relationship,
which is case-sensitive and for polymorphic lookups differs per target
(``parentcustomerid_account``), so :meth:`Metadata.bind` reads it and never derives it
from a column name.

Writes follow "Create and update table definitions using the Web API" and its siblings on
Microsoft Learn. Metadata is eventually consistent: a new column may not be queryable at
once, and an alternate key is usable only when its index job reports ``Active``
(https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity),
so both are polled on a configurable schedule.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from crm_ferry.dataverse.errors import DataverseError, NotFound, ValidationRejected
from crm_ferry.dataverse.odata import id_from_uri

if TYPE_CHECKING:
    from crm_ferry.dataverse.client import DataverseClient

LANGUAGE = 1033

TABLE_SELECT = (
    "LogicalName,SchemaName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,"
    "IsCustomEntity,MetadataId,ObjectTypeCode"
)


VIRTUAL_KINDS = frozenset({"MultiSelectPicklist", "File", "Image"})
"""What a column Dataverse reports as ``Virtual`` is, by its ``AttributeTypeName``."""


@dataclass(frozen=True, slots=True)
class TableInfo:
    logical_name: str
    entity_set_name: str
    primary_id: str
    primary_name: str | None = None
    schema_name: str | None = None
    is_custom: bool = False
    metadata_id: str | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TableInfo:
        return cls(
            logical_name=str(d["LogicalName"]),
            entity_set_name=str(d["EntitySetName"]),
            primary_id=str(d["PrimaryIdAttribute"]),
            primary_name=d.get("PrimaryNameAttribute"),
            schema_name=d.get("SchemaName"),
            is_custom=bool(d.get("IsCustomEntity", False)),
            metadata_id=d.get("MetadataId"),
        )


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    logical_name: str
    type: str
    """``AttributeType``: String, Memo, Integer, Decimal, Money, DateTime, Boolean, Picklist, ..."""
    schema_name: str | None = None
    required_level: str | None = None
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    precision: int | None = None
    format: str | None = None
    datetime_behavior: str | None = None
    options: Mapping[int, str] = field(default_factory=dict)
    """Choice values -> labels, for Picklist, MultiSelectPicklist and Status columns."""
    states: Mapping[int, int] = field(default_factory=dict)
    """For a Status column: each status value -> the state (statecode) it belongs to."""
    is_valid_for_create: bool = True
    is_valid_for_update: bool = True
    display_name: str = ""
    """The label a person sees (``DisplayName.UserLocalizedLabel.Label``; "" when unlabelled)."""

    @property
    def label(self) -> str:
        """The display name, else the logical name."""
        return self.display_name or self.logical_name

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ColumnInfo:
        behavior = d.get("DateTimeBehavior")
        if isinstance(behavior, Mapping):
            behavior = behavior.get("Value")
        required = d.get("RequiredLevel")
        if isinstance(required, Mapping):
            required = required.get("Value")
        fmt = d.get("Format")
        if fmt is None and isinstance(d.get("FormatName"), Mapping):
            fmt = d["FormatName"].get("Value")
        kind = str(d.get("AttributeType") or "")
        type_name = d.get("AttributeTypeName")
        if kind == "Virtual" and isinstance(type_name, Mapping):
            # multi-select choices, files and images are Virtual columns; their type name says
            # which (MultiSelectPicklistType, FileType, ImageType)
            named = str(type_name.get("Value") or "").removesuffix("Type")
            kind = named if named in VIRTUAL_KINDS else kind
        return cls(
            logical_name=str(d["LogicalName"]),
            type=kind,
            schema_name=d.get("SchemaName"),
            required_level=required,
            max_length=d.get("MaxLength"),
            min_value=d.get("MinValue"),
            max_value=d.get("MaxValue"),
            precision=d.get("Precision"),
            format=fmt,
            datetime_behavior=behavior,
            is_valid_for_create=d.get("IsValidForCreate", True) is not False,
            is_valid_for_update=d.get("IsValidForUpdate", True) is not False,
            display_name=_label_text(d.get("DisplayName")),
        )


@dataclass(frozen=True, slots=True)
class Relationship:
    """A many-to-one relationship: ``referencing_attribute`` (a lookup) -> ``referenced_entity``."""

    schema_name: str
    referencing_attribute: str
    referenced_entity: str
    navigation_property: str
    referenced_attribute: str | None = None


@dataclass(frozen=True, slots=True)
class Referencing:
    """A one-to-many relationship seen from the referenced table: rows of
    ``referencing_entity`` point at it through ``referencing_attribute``; deleting a row of
    the referenced table does ``cascade_delete`` to them (``Cascade``: they are deleted too,
    ``RemoveLink``: their lookup is cleared, ``Restrict``: the delete is refused)."""

    schema_name: str
    referencing_entity: str
    referencing_attribute: str
    cascade_delete: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    schema_name: str
    key_attributes: tuple[str, ...]
    status: str | None
    """``EntityKeyIndexStatus``: Pending, InProgress, Active or Failed."""
    logical_name: str | None = None


ColumnKind = Literal[
    "String",
    "Memo",
    "Integer",
    "Decimal",
    "Money",
    "DateTime",
    "Boolean",
    "Picklist",
    "MultiSelectPicklist",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSpec:
    """A column to create. Only the fields that matter for ``kind`` are sent."""

    kind: ColumnKind
    schema_name: str
    label: str
    description: str | None = None
    required: Literal["None", "ApplicationRequired", "Recommended"] = "None"
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    precision: int | None = None
    format: str | None = None
    """String: Text/Email/Phone/Url; DateTime: DateOnly/DateAndTime."""
    datetime_behavior: Literal["UserLocal", "DateOnly", "TimeZoneIndependent"] | None = None
    options: Sequence[tuple[int | None, str]] = ()
    """Local choice values and labels (value ``None``: the service assigns one)."""
    global_choice: str | None = None
    """Name of a global choice to use instead of local options."""
    default_value: bool | None = None
    true_label: str = "Yes"
    false_label: str = "No"


def label(text: str) -> dict[str, Any]:
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel",
                "Label": text,
                "LanguageCode": LANGUAGE,
            }
        ],
    }


def _required(level: str) -> dict[str, Any]:
    return {
        "Value": level,
        "CanBeChanged": True,
        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
    }


def _options(options: Sequence[tuple[int | None, str]]) -> list[dict[str, Any]]:
    return [{"Value": value, "Label": label(text)} for value, text in options]


def column_payload(spec: ColumnSpec) -> dict[str, Any]:
    """The ``AttributeMetadata`` body for ``spec``."""
    kind = spec.kind
    body: dict[str, Any] = {
        "@odata.type": f"Microsoft.Dynamics.CRM.{kind}AttributeMetadata",
        "AttributeType": "Virtual" if kind == "MultiSelectPicklist" else kind,
        "AttributeTypeName": {"Value": f"{kind}Type"},
        "SchemaName": spec.schema_name,
        "DisplayName": label(spec.label),
        "RequiredLevel": _required(spec.required),
    }
    if spec.description:
        body["Description"] = label(spec.description)
    if kind == "String":
        body["MaxLength"] = spec.max_length or 100
        body["FormatName"] = {"Value": spec.format or "Text"}
    elif kind == "Memo":
        body["MaxLength"] = spec.max_length or 4000
        body["Format"] = "TextArea"
    elif kind == "Integer":
        body["Format"] = "None"
        body["MinValue"] = int(spec.min_value if spec.min_value is not None else -2147483648)
        body["MaxValue"] = int(spec.max_value if spec.max_value is not None else 2147483647)
    elif kind == "Decimal":
        body["Precision"] = spec.precision if spec.precision is not None else 2
        body["MinValue"] = spec.min_value if spec.min_value is not None else -100000000000.0
        body["MaxValue"] = spec.max_value if spec.max_value is not None else 100000000000.0
    elif kind == "Money":
        body["PrecisionSource"] = 2
        body["MinValue"] = spec.min_value if spec.min_value is not None else -922337203685477.0
        body["MaxValue"] = spec.max_value if spec.max_value is not None else 922337203685477.0
    elif kind == "DateTime":
        fmt = spec.format or "DateOnly"
        behavior = spec.datetime_behavior or ("DateOnly" if fmt == "DateOnly" else "UserLocal")
        if behavior == "DateOnly" and fmt != "DateOnly":
            raise ValidationRejected("a DateOnly behavior needs Format DateOnly")
        body["Format"] = fmt
        # Without an explicit behavior the service uses UserLocal even for DateOnly format.
        body["DateTimeBehavior"] = {"Value": behavior}
    elif kind == "Boolean":
        body["DefaultValue"] = bool(spec.default_value)
        body["OptionSet"] = {
            "@odata.type": "Microsoft.Dynamics.CRM.BooleanOptionSetMetadata",
            "TrueOption": {"Value": 1, "Label": label(spec.true_label)},
            "FalseOption": {"Value": 0, "Label": label(spec.false_label)},
            "OptionSetType": "Boolean",
        }
    elif kind in ("Picklist", "MultiSelectPicklist"):
        if spec.global_choice:
            body["GlobalOptionSet@odata.bind"] = (
                f"/GlobalOptionSetDefinitions(Name='{spec.global_choice}')"
            )
        else:
            body["OptionSet"] = {
                "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
                "IsGlobal": False,
                "OptionSetType": "Picklist",
                "Options": _options(spec.options),
            }
    return body


class Metadata:
    """Metadata of one environment, read through one client and cached."""

    def __init__(self, client: DataverseClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._tables: dict[str, TableInfo] = {}
        self._columns: dict[str, dict[str, ColumnInfo]] = {}
        self._relationships: dict[str, list[Relationship]] = {}
        self._referencing: dict[str, list[Referencing]] = {}
        self.bulk_support: dict[tuple[str, str], bool | None] = {}
        """(table, message) -> supported; ``None``: unknown, try and fall back."""

    # -- cache ---------------------------------------------------------------------

    def remember(self, info: TableInfo) -> None:
        """Put a table's basics in the cache (when they are already known)."""
        with self._lock:
            self._tables[info.logical_name] = info

    def forget(self, table: str | None = None) -> None:
        with self._lock:
            if table is None:
                self._tables.clear()
                self._columns.clear()
                self._relationships.clear()
                self._referencing.clear()
            else:
                self._tables.pop(table, None)
                self._columns.pop(table, None)
                self._relationships.pop(table, None)
                self._referencing.pop(table, None)

    # -- reads ---------------------------------------------------------------------

    def table(self, logical_name: str) -> TableInfo:
        cached = self._tables.get(logical_name)
        if cached is not None:
            return cached
        resp = self._client.request(
            "GET", f"{_entity(logical_name)}", params={"$select": TABLE_SELECT}
        )
        info = TableInfo.from_json(resp.json())
        self.remember(info)
        return info

    def has_table(self, logical_name: str) -> bool:
        try:
            self.table(logical_name)
        except NotFound:
            return False
        return True

    def entity_set(self, logical_name: str) -> str:
        return self.table(logical_name).entity_set_name

    def tables(self, *, custom_only: bool = False) -> list[TableInfo]:
        params = {"$select": TABLE_SELECT}
        if custom_only:
            params["$filter"] = "IsCustomEntity eq true"
        rows = self._client.query_path("EntityDefinitions", params=params, page_size=0)
        out = [TableInfo.from_json(r) for r in rows if r.get("EntitySetName")]
        for info in out:
            self.remember(info)
        return out

    def columns(self, table: str) -> dict[str, ColumnInfo]:
        cached = self._columns.get(table)
        if cached is not None:
            return cached
        base = f"{_entity(table)}/Attributes"
        rows = self._client.query_path(base, page_size=0)
        cols = {str(r["LogicalName"]): ColumnInfo.from_json(r) for r in rows}
        for kind in (
            "PicklistAttributeMetadata",
            "MultiSelectPicklistAttributeMetadata",
            "StatusAttributeMetadata",
        ):
            try:
                picks = list(
                    self._client.query_path(
                        f"{base}/Microsoft.Dynamics.CRM.{kind}",
                        params={"$select": "LogicalName", "$expand": "OptionSet"},
                        page_size=0,
                    )
                )
            except NotFound:
                continue
            for p in picks:
                name = str(p["LogicalName"])
                listed = [
                    o
                    for o in (p.get("OptionSet") or {}).get("Options", [])
                    if o.get("Value") is not None
                ]
                if name in cols:
                    c = cols[name]
                    cols[name] = ColumnInfo(
                        **{
                            s: getattr(c, s)
                            for s in ColumnInfo.__slots__
                            if s not in ("options", "states")
                        },
                        options={int(o["Value"]): _label_text(o.get("Label")) for o in listed},
                        states={
                            int(o["Value"]): int(o["State"])
                            for o in listed
                            if o.get("State") is not None
                        },
                    )
        with self._lock:
            self._columns[table] = cols
        return cols

    def relationships(self, table: str) -> list[Relationship]:
        cached = self._relationships.get(table)
        if cached is not None:
            return cached
        rows = self._client.query_path(
            f"{_entity(table)}/ManyToOneRelationships",
            params={
                "$select": "SchemaName,ReferencingAttribute,ReferencedEntity,ReferencedAttribute,"
                "ReferencingEntityNavigationPropertyName"
            },
            page_size=0,
        )
        rels = [
            Relationship(
                schema_name=str(r.get("SchemaName", "")),
                referencing_attribute=str(r["ReferencingAttribute"]),
                referenced_entity=str(r["ReferencedEntity"]),
                navigation_property=str(r["ReferencingEntityNavigationPropertyName"]),
                referenced_attribute=r.get("ReferencedAttribute"),
            )
            for r in rows
        ]
        with self._lock:
            self._relationships[table] = rels
        return rels

    def referencing(self, table: str) -> list[Referencing]:
        """The one-to-many relationships of ``table`` with their delete cascade: what a
        delete of one of its rows takes with it (``CascadeConfiguration.Delete``)."""
        cached = self._referencing.get(table)
        if cached is not None:
            return cached
        rows = self._client.query_path(
            f"{_entity(table)}/OneToManyRelationships",
            params={
                "$select": "SchemaName,ReferencingEntity,ReferencingAttribute,CascadeConfiguration"
            },
            page_size=0,
        )
        out = [
            Referencing(
                schema_name=str(r.get("SchemaName", "")),
                referencing_entity=str(r["ReferencingEntity"]),
                referencing_attribute=str(r["ReferencingAttribute"]),
                cascade_delete=str((r.get("CascadeConfiguration") or {}).get("Delete", "")),
            )
            for r in rows
        ]
        with self._lock:
            self._referencing[table] = out
        return out

    def keys(self, table: str) -> list[KeyInfo]:
        rows = self._client.query_path(
            f"{_entity(table)}/Keys",
            params={"$select": "SchemaName,LogicalName,KeyAttributes,EntityKeyIndexStatus"},
            page_size=0,
        )
        return [
            KeyInfo(
                schema_name=str(r.get("SchemaName", "")),
                key_attributes=tuple(r.get("KeyAttributes") or ()),
                status=r.get("EntityKeyIndexStatus"),
                logical_name=r.get("LogicalName"),
            )
            for r in rows
        ]

    def bind(self, table: str, column: str, target_table: str, target_id: str) -> tuple[str, str]:
        """``("<navigation property>@odata.bind", "/<entity set>(<id>)")`` for a lookup."""
        for rel in self.relationships(table):
            if rel.referencing_attribute == column and rel.referenced_entity == target_table:
                target_set = self.entity_set(target_table)
                return f"{rel.navigation_property}@odata.bind", f"/{target_set}({target_id})"
        raise NotFound(
            f"no relationship from {table}.{column} to {target_table}",
            hint="create the lookup first, or check the column and target table names",
        )

    # -- writes --------------------------------------------------------------------

    def _solution_headers(self) -> dict[str, str]:
        solution = self._client.options.solution
        return {"MSCRM.SolutionUniqueName": solution} if solution else {}

    def _post(self, path: str, body: Mapping[str, Any]) -> str:
        # Metadata creates are not idempotent: a resend after a lost answer meets
        # "already exists"; callers compare with live metadata before creating.
        resp = self._client.request(
            "POST", path, json=dict(body), headers=self._solution_headers(), idempotent=False
        )
        return id_from_uri(resp.headers.get("odata-entityid", ""))

    def create_table(
        self,
        schema_name: str,
        *,
        display_name: str,
        plural_name: str,
        primary_name: str,
        primary_name_label: str = "Name",
        primary_name_max_length: int = 200,
        description: str | None = None,
        ownership: Literal["UserOwned", "OrganizationOwned"] = "UserOwned",
        has_notes: bool = True,
        has_activities: bool = False,
    ) -> TableInfo:
        """Create a custom table with its primary name column; return its basics."""
        body: dict[str, Any] = {
            "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
            "SchemaName": schema_name,
            "DisplayName": label(display_name),
            "DisplayCollectionName": label(plural_name),
            "OwnershipType": ownership,
            "HasNotes": has_notes,
            "HasActivities": has_activities,
            "IsActivity": False,
            "Attributes": [
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                    "AttributeType": "String",
                    "AttributeTypeName": {"Value": "StringType"},
                    "SchemaName": primary_name,
                    "IsPrimaryName": True,
                    "MaxLength": primary_name_max_length,
                    "FormatName": {"Value": "Text"},
                    "RequiredLevel": _required("None"),
                    "DisplayName": label(primary_name_label),
                }
            ],
        }
        if description:
            body["Description"] = label(description)
        self._post("EntityDefinitions", body)
        logical = schema_name.lower()
        self.forget(logical)
        return self.table(logical)

    def create_column(self, table: str, spec: ColumnSpec, *, wait: bool = True) -> str:
        """Create a column; by default wait until it can be queried. Returns its MetadataId."""
        metadata_id = self._post(f"{_entity(table)}/Attributes", column_payload(spec))
        self.forget(table)
        if wait:
            self.wait_column_visible(table, spec.schema_name.lower())
        return metadata_id

    def create_lookup(
        self,
        table: str,
        schema_name: str,
        *,
        target_table: str,
        label_text: str,
        relationship_schema_name: str | None = None,
        required: Literal["None", "ApplicationRequired", "Recommended"] = "None",
        delete_behavior: Literal["RemoveLink", "Restrict", "Cascade"] = "RemoveLink",
    ) -> str:
        """A lookup column on ``table`` to ``target_table`` (a one-to-many relationship)."""
        target = self.table(target_table)
        rel_name = relationship_schema_name or f"{schema_name}_{target_table}"
        body = {
            "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
            "SchemaName": rel_name,
            "ReferencedEntity": target_table,
            "ReferencedAttribute": target.primary_id,
            "ReferencingEntity": table,
            "CascadeConfiguration": {
                "Assign": "NoCascade",
                "Delete": delete_behavior,
                "Merge": "NoCascade",
                "Reparent": "NoCascade",
                "Share": "NoCascade",
                "Unshare": "NoCascade",
            },
            "Lookup": {
                "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
                "AttributeType": "Lookup",
                "AttributeTypeName": {"Value": "LookupType"},
                "SchemaName": schema_name,
                "DisplayName": label(label_text),
                "RequiredLevel": _required(required),
            },
        }
        rel_id = self._post("RelationshipDefinitions", body)
        self.forget(table)
        return rel_id

    def create_global_choice(
        self, name: str, *, label_text: str, options: Sequence[tuple[int | None, str]]
    ) -> str:
        body = {
            "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata",
            "Name": name,
            "DisplayName": label(label_text),
            "OptionSetType": "Picklist",
            "IsGlobal": True,
            "Options": _options(options),
        }
        return self._post("GlobalOptionSetDefinitions", body)

    def create_key(
        self, table: str, schema_name: str, columns: Sequence[str], *, wait: bool = True
    ) -> KeyInfo:
        """Create an alternate key; by default wait until its index is Active."""
        body = {
            "SchemaName": schema_name,
            "DisplayName": label(schema_name),
            "KeyAttributes": list(columns),
        }
        self._post(f"{_entity(table)}/Keys", body)
        if not wait:
            return KeyInfo(schema_name, tuple(columns), "Pending")
        return self.wait_key_active(table, schema_name)

    def wait_key_active(self, table: str, schema_name: str) -> KeyInfo:
        opts = self._client.options
        waited = 0.0
        while True:
            for key in self.keys(table):
                if key.schema_name.lower() == schema_name.lower():
                    if key.status == "Active" or key.status is None:
                        return key
                    if key.status == "Failed":
                        raise DataverseError(
                            f"alternate key {schema_name} on {table}: index creation failed",
                            hint="remove duplicate key values, then reactivate or recreate the key",
                        )
                    break
            else:
                if waited > 0:
                    raise NotFound(f"alternate key {schema_name} on {table} disappeared")
            if waited >= opts.key_poll_timeout:
                raise DataverseError(
                    f"alternate key {schema_name} on {table} not Active after {waited:g} s"
                )
            self._client.sleep(opts.key_poll_interval)
            waited += opts.key_poll_interval

    def wait_column_visible(self, table: str, column: str) -> None:
        """Poll ``GET <set>?$select=<column>&$top=1`` until the new column is queryable."""
        last: DataverseError | None = None
        for delay in self._client.options.visibility_delays:
            if delay:
                self._client.sleep(delay)
            try:
                self._client.request(
                    "GET",
                    self.entity_set(table),
                    params={"$select": column, "$top": "1"},
                )
                return
            except (ValidationRejected, NotFound) as exc:
                last = exc
        raise DataverseError(
            f"column {table}.{column} was created but is still not queryable"
            + (f": {last.detail}" if last else ""),
            hint="metadata can take a while to spread; run the step again",
        )

    def delete_column(self, table: str, column: str) -> None:
        self._client.request("DELETE", f"{_entity(table)}/Attributes(LogicalName='{column}')")
        self.forget(table)

    def delete_table(self, table: str) -> None:
        self._client.request("DELETE", _entity(table))
        self.forget(table)

    def delete_key(self, table: str, key: str) -> None:
        self._client.request("DELETE", f"{_entity(table)}/Keys(LogicalName='{key.lower()}')")

    def delete_global_choice(self, name: str) -> None:
        self._client.request("DELETE", f"GlobalOptionSetDefinitions(Name='{name}')")

    def delete_relationship(self, schema_name: str) -> None:
        self._client.request("DELETE", f"RelationshipDefinitions(SchemaName='{schema_name}')")


def _entity(logical_name: str) -> str:
    return f"EntityDefinitions(LogicalName='{logical_name}')"


def _label_text(value: Any) -> str:
    if isinstance(value, Mapping):
        user = value.get("UserLocalizedLabel")
        if isinstance(user, Mapping) and user.get("Label"):
            return str(user["Label"])
        for loc in value.get("LocalizedLabels") or []:
            if loc.get("Label"):
                return str(loc["Label"])
    return ""
