"""The emulator's metadata model: tables, columns, choices, relationships and alternate keys.

This is the single source of truth for what the emulated tenant knows. The default Sales
tenant (``tenant.py``) is built from it, the metadata API (``metadata/``) reads and
extends it, and validation of record writes consults it. It is plain data: the JSON shapes of
the Web API's ``EntityDefinitions`` are produced elsewhere.

Names follow Dataverse: ``logical_name`` is lower case, ``schema_name`` is the PascalCase
form, ``entity_set_name`` is the collection name in URLs. A one-to-many relationship names the
single-valued navigation property on the *referencing* (many) side, which is what
``<nav>@odata.bind`` uses, case-sensitively (e.g. ``parentcustomerid_account``). A
many-to-many relationship names one collection-valued navigation property on each of its two
tables and keeps its pairs in an intersect table (:class:`ManyToManyRelationshipDef`).

Timestamps (``visible_at``, ``active_at``) are seconds on the emulator's clock
(``time.monotonic`` unless a test injects another): they model eventual consistency of new
columns and the asynchronous index build of alternate keys.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal
from typing import Any, Literal

AttributeType = Literal[
    "Uniqueidentifier",
    "String",
    "Memo",
    "Integer",
    "BigInt",
    "Decimal",
    "Double",
    "Money",
    "DateTime",
    "Boolean",
    "Picklist",
    "MultiSelectPicklist",
    "State",
    "Status",
    "Lookup",
    "Customer",
    "Owner",
    "PartyList",
    "EntityName",
    "Virtual",
    "File",
    "Image",
    "ManagedProperty",
    "CalendarRules",
]
RequiredLevel = Literal["None", "SystemRequired", "ApplicationRequired", "Recommended"]
DateTimeBehavior = Literal["UserLocal", "DateOnly", "TimeZoneIndependent"]
OptionSetKind = Literal["Picklist", "State", "Status", "Boolean", "MultiSelectPicklist"]
OwnershipType = Literal["UserOwned", "OrganizationOwned", "BusinessOwned", "None"]
KeyStatus = Literal["Pending", "InProgress", "Active", "Failed"]
CascadeType = Literal["Cascade", "RemoveLink", "Restrict", "NoCascade"]

BULK_MESSAGES = frozenset({"CreateMultiple", "UpdateMultiple", "UpsertMultiple"})

MEDIA_TYPES = frozenset({"File", "Image"})
"""Column types whose data is kept outside the row (:mod:`crm_ferry.emulator.records.files`)."""


_MISSING = object()


@dataclass(frozen=True, slots=True)
class SchemaSnapshot:
    """What :meth:`Schema.snapshot` took: the tables in their order, and the pickled
    definitions a change may alter."""

    order: tuple[str, ...]
    saved: bytes


NO_PROPERTY_TYPES = frozenset({"PartyList", "Virtual", "ManagedProperty", "CalendarRules"})
"""Column types the Web API has no property for: party lists are written and read through the
activity parties (``<activity>_activity_parties``), the others are metadata only."""


def has_property(attr: AttributeDef) -> bool:
    """Whether rows of the Web API carry the column: a readable column of a type with a
    property, and not the name or table shadow of a lookup (``createdbyname``,
    ``owneridtype``: what ``_createdby_value``'s annotations carry). Other derived columns
    (a Money column's ``_base``, a file column's ``_name``) are properties of their own."""
    if not attr.valid_for_read or attr.type in NO_PROPERTY_TYPES:
        return False
    of = attr.attribute_of
    return of is None or attr.logical_name not in (f"{of}name", f"{of}yominame", f"{of}type")


def new_metadata_id() -> str:
    return str(uuid.uuid4())


Labels = dict[str, dict[str, str]]
"""Labels in languages other than 1033, by property (``"DisplayName"``, ``"Label"``...) and
language code (as text): ``{"DisplayName": {"1036": "Compte"}}``. The 1033 text has a field of
its own (``display_name``, ``label``...)."""

Extra = dict[str, Any]
"""Definition properties the emulator keeps as given and reads back, by Web API name: settings
with no effect on the data plane (``EntityColor``, ``IsQuickCreateEnabled``...; see
:mod:`crm_ferry.emulator.metadata.properties`)."""


@dataclass(slots=True)
class OptionDef:
    value: int
    label: str
    state: int | None = None
    """For a ``statuscode`` option: the ``statecode`` it belongs to."""
    default_status: int | None = None
    """For a ``statecode`` option: its default ``statuscode``."""
    description: str = ""
    color: str | None = None
    other_labels: Labels = field(default_factory=dict)


@dataclass(slots=True)
class OptionSetDef:
    name: str
    kind: OptionSetKind = "Picklist"
    options: list[OptionDef] = field(default_factory=list)
    is_global: bool = False
    is_custom: bool = False
    metadata_id: str = field(default_factory=new_metadata_id)
    solution: str | None = None
    display_name: str = ""
    """The 1033 display name (a global choice's; empty reads as its name)."""
    description: str = ""
    other_labels: Labels = field(default_factory=dict)
    extra: Extra = field(default_factory=dict)

    def values(self) -> list[int]:
        return [o.value for o in self.options]

    def option(self, value: int) -> OptionDef | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(slots=True)
class AttributeDef:
    logical_name: str
    schema_name: str
    type: AttributeType
    display_name: str = ""
    required: RequiredLevel = "None"
    max_length: int | None = None
    min_value: int | float | Decimal | None = None
    max_value: int | float | Decimal | None = None
    precision: int | None = None
    format: str | None = None
    """String format (Text, Email, Phone, Url, TextArea) or DateTime format (DateOnly,
    DateAndTime)."""
    datetime_behavior: DateTimeBehavior | None = None
    option_set: OptionSetDef | None = None
    targets: tuple[str, ...] = ()
    """Lookup, Customer and Owner columns: the tables they may point to."""
    is_primary_id: bool = False
    is_primary_name: bool = False
    is_custom: bool = False
    valid_for_create: bool = True
    valid_for_update: bool = True
    valid_for_read: bool = True
    attribute_of: str | None = None
    """Set for derived columns (e.g. ``<money>_base``, ``fullname`` parts)."""
    description: str = ""
    metadata_id: str = field(default_factory=new_metadata_id)
    solution: str | None = None
    visible_at: float = 0.0
    """When a new column becomes usable in queries and writes (eventual consistency)."""
    max_size_kb: int | None = None
    """File and Image columns: ``MaxSizeInKB``, the largest file the column accepts."""
    can_store_full_image: bool = False
    """Image columns: ``CanStoreFullImage`` (the full image is kept besides the thumbnail)."""
    other_labels: Labels = field(default_factory=dict)
    extra: Extra = field(default_factory=dict)
    created_on: str | None = None
    """``CreatedOn`` of a column made through the metadata API (UTC, ``...Z``)."""
    modified_on: str | None = None


@dataclass(slots=True)
class RelationshipDef:
    """A one-to-many relationship: one ``referenced`` row, many ``referencing`` rows."""

    schema_name: str
    referenced_entity: str
    referenced_attribute: str
    referencing_entity: str
    referencing_attribute: str
    referencing_nav: str
    """Single-valued navigation property on the referencing table (used with @odata.bind)."""
    referenced_nav: str
    """Collection-valued navigation property on the referenced table."""
    cascade_delete: CascadeType = "RemoveLink"
    is_custom: bool = False
    metadata_id: str = field(default_factory=new_metadata_id)
    solution: str | None = None
    cascade: dict[str, str] = field(default_factory=dict)
    """The other actions of ``CascadeConfiguration`` (Assign, Share, Unshare, Reparent,
    Merge, Archive, RollupView) as the creator gave them; absent ones are NoCascade."""


@dataclass(slots=True)
class ManyToManyRelationshipDef:
    """A many-to-many relationship: pairs of ``entity1`` and ``entity2`` rows, kept as rows
    of the intersect table ``intersect_entity`` (its columns: ``<intersect>id``,
    ``entity1_attribute`` and ``entity2_attribute``, the two tables' primary keys).

    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-navigation-properties
    """

    schema_name: str
    entity1: str
    entity2: str
    intersect_entity: str
    entity1_attribute: str
    entity2_attribute: str
    entity1_nav: str
    """Collection-valued navigation property on ``entity1`` (to its ``entity2`` rows)."""
    entity2_nav: str
    """Collection-valued navigation property on ``entity2`` (to its ``entity1`` rows)."""
    entity1_menu: dict[str, Any] | None = None
    """``Entity1AssociatedMenuConfiguration`` as the creator gave it."""
    entity2_menu: dict[str, Any] | None = None
    is_custom: bool = False
    metadata_id: str = field(default_factory=new_metadata_id)
    solution: str | None = None

    @property
    def intersect_id(self) -> str:
        """The primary key column of the intersect table."""
        return f"{self.intersect_entity}id"


@dataclass(slots=True)
class KeyDef:
    schema_name: str
    logical_name: str
    entity: str
    key_attributes: tuple[str, ...]
    status: KeyStatus = "Pending"
    active_at: float = 0.0
    """When a Pending key's index build finishes (then Active, or Failed on duplicates)."""
    metadata_id: str = field(default_factory=new_metadata_id)
    solution: str | None = None


@dataclass(slots=True)
class EntityDef:
    logical_name: str
    schema_name: str
    entity_set_name: str
    primary_id: str
    primary_name: str | None
    object_type_code: int
    display_name: str = ""
    display_collection_name: str = ""
    description: str = ""
    ownership: OwnershipType = "UserOwned"
    is_custom: bool = False
    is_activity: bool = False
    has_notes: bool = False
    has_activities: bool = False
    change_tracking: bool = False
    bulk_messages: frozenset[str] = frozenset()
    """Which of CreateMultiple/UpdateMultiple/UpsertMultiple the table supports."""
    attributes: dict[str, AttributeDef] = field(default_factory=dict)
    keys: dict[str, KeyDef] = field(default_factory=dict)
    metadata_id: str = field(default_factory=new_metadata_id)
    solution: str | None = None
    media: tuple[str, ...] = ()
    """The table's File and Image columns (kept by the metadata API): a write touches stored
    files only when this is not empty."""
    primary_image: str | None = None
    """``PrimaryImageAttribute``: the Image column that may be set on create."""
    other_labels: Labels = field(default_factory=dict)
    extra: Extra = field(default_factory=dict)
    created_on: str | None = None
    """``CreatedOn`` of a table made through the metadata API (UTC, ``...Z``)."""
    modified_on: str | None = None

    def attribute(self, logical_name: str) -> AttributeDef | None:
        return self.attributes.get(logical_name)


@dataclass(slots=True)
class Schema:
    """Everything the tenant knows about its tables. Mutated only under the store's lock."""

    entities: dict[str, EntityDef] = field(default_factory=dict)
    relationships: dict[str, RelationshipDef] = field(default_factory=dict)
    many_to_many: dict[str, ManyToManyRelationshipDef] = field(default_factory=dict)
    global_option_sets: dict[str, OptionSetDef] = field(default_factory=dict)
    _by_set: dict[str, str] = field(default_factory=dict, repr=False)
    _rel_key: int = field(default=-1, repr=False)
    _rel_index: dict[str, Any] = field(default_factory=dict, repr=False)
    _derived: dict[Any, Any] = field(default_factory=dict, repr=False)
    """Facts worked out from the definitions on the write path (e.g. which columns a write must
    fill), by key; forgotten by :meth:`invalidate`."""

    # -- lookups -----------------------------------------------------------

    def entity(self, logical_name: str) -> EntityDef | None:
        return self.entities.get(logical_name)

    def by_entity_set(self, entity_set_name: str) -> EntityDef | None:
        name = self._by_set.get(entity_set_name)
        return self.entities.get(name) if name else None

    def _relationship_index(self) -> dict[str, Any]:
        """Relationships indexed by table and navigation property.

        Rebuilt when the number of relationships changes or after :meth:`invalidate`
        (the core calls it after every metadata request, which may edit ``relationships``
        directly), so lookups on the write path do not scan every relationship.
        """
        key = len(self.relationships)
        if key != self._rel_key:
            m2o: dict[str, list[RelationshipDef]] = {}
            o2m: dict[str, list[RelationshipDef]] = {}
            nav: dict[tuple[str, str], RelationshipDef] = {}
            for r in self.relationships.values():
                m2o.setdefault(r.referencing_entity, []).append(r)
                o2m.setdefault(r.referenced_entity, []).append(r)
                nav.setdefault((r.referencing_entity, r.referencing_nav), r)
            self._rel_index = {"m2o": m2o, "o2m": o2m, "nav": nav}
            self._rel_key = key
        return self._rel_index

    def invalidate(self) -> None:
        """Forget cached indexes (after definitions were changed in place)."""
        self._rel_key = -1
        self._derived.clear()

    def derived(self, key: Any, make: Any) -> Any:
        """``make()``, worked out once until the next :meth:`invalidate`."""
        found = self._derived.get(key, _MISSING)
        if found is _MISSING:
            found = self._derived[key] = make()
        return found

    def many_to_one(self, entity: str) -> list[RelationshipDef]:
        """Relationships where ``entity`` holds the lookup column."""
        return list(self._relationship_index()["m2o"].get(entity, ()))

    def one_to_many(self, entity: str) -> list[RelationshipDef]:
        """Relationships where rows of other tables point at ``entity``."""
        return list(self._relationship_index()["o2m"].get(entity, ()))

    def navigation(self, entity: str, nav: str) -> RelationshipDef | None:
        """The single-valued navigation property ``nav`` of ``entity`` (case-sensitive)."""
        found: RelationshipDef | None = self._relationship_index()["nav"].get((entity, nav))
        if found is not None and (
            found.referencing_entity != entity or found.referencing_nav != nav
        ):
            self._rel_key = -1  # a relationship was edited in place
            found = self._relationship_index()["nav"].get((entity, nav))
        return found

    def collection_navigation(self, entity: str, nav: str) -> RelationshipDef | None:
        """The collection-valued navigation property ``nav`` of ``entity`` (case-sensitive)."""
        for rel in self.one_to_many(entity):
            if rel.referenced_nav == nav:
                return rel
        return None

    def many_to_many_of(self, entity: str) -> list[ManyToManyRelationshipDef]:
        """The many-to-many relationships ``entity`` takes part in."""
        return [r for r in self.many_to_many.values() if entity in (r.entity1, r.entity2)]

    def many_to_many_navigation(
        self, entity: str, nav: str
    ) -> tuple[ManyToManyRelationshipDef, str] | None:
        """The many-to-many relationship whose navigation property on ``entity`` is ``nav``
        (case-sensitive), and the table at its other end."""
        if not self.many_to_many:
            return None
        for rel in self.many_to_many.values():
            if rel.entity1 == entity and rel.entity1_nav == nav:
                return rel, rel.entity2
            if rel.entity2 == entity and rel.entity2_nav == nav:
                return rel, rel.entity1
        return None

    # -- changes -----------------------------------------------------------

    def add_entity(self, entity: EntityDef) -> None:
        self.entities[entity.logical_name] = entity
        self._by_set[entity.entity_set_name] = entity.logical_name

    def remove_entity(self, logical_name: str) -> EntityDef | None:
        entity = self.entities.pop(logical_name, None)
        if entity is not None:
            self._by_set.pop(entity.entity_set_name, None)
            for name, rel in list(self.relationships.items()):
                if logical_name in (rel.referenced_entity, rel.referencing_entity):
                    del self.relationships[name]
            for name, m2m in list(self.many_to_many.items()):
                if logical_name in (m2m.entity1, m2m.entity2):
                    del self.many_to_many[name]
        return entity

    def rename_entity_set(self, entity: EntityDef, entity_set_name: str) -> None:
        """Give a table another entity set name (``PUT`` of its ``EntitySetName``)."""
        self._by_set.pop(entity.entity_set_name, None)
        entity.entity_set_name = entity_set_name
        self._by_set[entity_set_name] = entity.logical_name

    def add_relationship(self, rel: RelationshipDef) -> None:
        self.relationships[rel.schema_name] = rel

    def add_many_to_many(self, rel: ManyToManyRelationshipDef) -> None:
        self.many_to_many[rel.schema_name] = rel

    def relationship_names(self) -> set[str]:
        """Every relationship's schema name, one-to-many and many-to-many, lower-cased
        (relationship names are unique across both kinds, ignoring case)."""
        return {n.lower() for n in (*self.relationships, *self.many_to_many)}

    # -- persistence -------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "entities": [_json_of(e) for e in self.entities.values()],
            "relationships": [_json_of(r) for r in self.relationships.values()],
            "many_to_many": [_json_of(r) for r in self.many_to_many.values()],
            "global_option_sets": [_json_of(o) for o in self.global_option_sets.values()],
        }

    def parts(self) -> dict[str, Any]:
        """The schema in parts that are persisted (and compared) on their own: one per table,
        and the relationships, many-to-many relationships and global choices."""
        out: dict[str, Any] = {f"entity/{name}": e for name, e in self.entities.items()}
        out["relationships"] = self.relationships
        out["many_to_many"] = self.many_to_many
        out["global_option_sets"] = self.global_option_sets
        return out

    @staticmethod
    def part_json(part: Any) -> Any:
        """One of :meth:`parts` as JSON (a table as one object, the others as lists)."""
        if isinstance(part, dict):
            return [_json_of(v) for v in part.values()]
        return _json_of(part)

    @classmethod
    def from_parts(cls, parts: dict[str, Any], order: list[str]) -> Schema:
        """The schema from the JSON of its :meth:`parts`, by part name (``order``: the
        tables' logical names in the order the schema had them)."""
        rank = {name: i for i, name in enumerate(order)}
        tables = sorted(
            (k for k in parts if k.startswith("entity/")),
            key=lambda k: (rank.get(k.removeprefix("entity/"), len(rank)), k),
        )
        return cls.from_json(
            {
                "entities": [parts[k] for k in tables],
                "relationships": parts.get("relationships", []),
                "many_to_many": parts.get("many_to_many", []),
                "global_option_sets": parts.get("global_option_sets", []),
            }
        )

    def snapshot(self, tables: Iterable[str] | None = None) -> SchemaSnapshot:
        """What a change may alter, to :meth:`restore` after a half-made change: the tables
        named (all when None; a change alters only the tables its request names, see
        :func:`crm_ferry.emulator.metadata.paths.tables_named`), every relationship and
        global choice, and which tables there are."""
        names = self.entities if tables is None else [t for t in tables if t in self.entities]
        held = {name: self.entities[name] for name in names}
        state = (held, self.relationships, self.many_to_many, self.global_option_sets)
        return SchemaSnapshot(tuple(self.entities), pickle.dumps(state, pickle.HIGHEST_PROTOCOL))

    def restore(self, snapshot: SchemaSnapshot) -> None:
        """Put back what :meth:`snapshot` took (in place: holders of the schema see it)."""
        held, relationships, many_to_many, option_sets = pickle.loads(snapshot.saved)
        entities = {name: held.get(name) or self.entities[name] for name in snapshot.order}
        self.entities = {}
        self._by_set = {}
        for entity in entities.values():
            self.add_entity(entity)
            for attr in entity.attributes.values():  # columns share their global choice
                opt = attr.option_set
                if opt is not None and opt.is_global and opt.name in option_sets:
                    attr.option_set = option_sets[opt.name]
        self.relationships = relationships
        self.many_to_many = many_to_many
        self.global_option_sets = option_sets
        self.invalidate()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schema:
        schema = cls()
        for e in data.get("entities", []):
            attrs = {a["logical_name"]: _attribute(a) for a in e.pop("attributes", [])}
            keys = {k["logical_name"]: _key(k) for k in e.pop("keys", [])}
            e["bulk_messages"] = frozenset(e.get("bulk_messages", ()))
            e["media"] = tuple(e.get("media", ()))
            schema.add_entity(EntityDef(**e, attributes=attrs, keys=keys))
        for r in data.get("relationships", []):
            schema.add_relationship(RelationshipDef(**r))
        for r in data.get("many_to_many", []):
            schema.add_many_to_many(ManyToManyRelationshipDef(**r))
        for o in data.get("global_option_sets", []):
            opt = _option_set(o)
            schema.global_option_sets[opt.name] = opt
        return schema


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _json_of(value: Any) -> Any:
    """``_plain(asdict(value))`` in one pass, without asdict's deep copies (several times
    faster; the whole schema is serialised on every metadata write)."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if cls is dict:  # definition settings and labels: JSON already, keyed by text
            return {k: _json_of(v) for k, v in value.items()} if value else {}
        if cls is list or cls is tuple:
            return [_json_of(v) for v in value]
        if cls is Decimal:
            return {"$decimal": str(value)}
        if is_dataclass(value) and not isinstance(value, type):
            names = _FIELD_NAMES[cls] = tuple(
                f.name for f in fields(value) if not f.name.startswith("_")
            )
        elif isinstance(value, dict):
            return _plain({k: _json_of(v) for k, v in value.items()})
        elif isinstance(value, list | tuple):
            return [_json_of(v) for v in value]
        elif isinstance(value, set | frozenset):
            return [_json_of(v) for v in sorted(value)]
        else:
            return value
    out: dict[str, Any] = {}
    for name in names:
        item = getattr(value, name)
        if name in ("attributes", "keys") and isinstance(item, dict):
            out[name] = [_json_of(v) for v in item.values()]
        else:
            out[name] = _json_of(item)
    return out


def _plain(value: Any) -> Any:
    """asdict() output made JSON-safe (Decimal as string, sets and tuples as lists)."""
    if isinstance(value, dict):
        if "attributes" in value and isinstance(value["attributes"], dict):
            value = {**value, "attributes": list(value["attributes"].values())}
        if "keys" in value and isinstance(value["keys"], dict):
            value = {**value, "keys": list(value["keys"].values())}
        return {k: _plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, (list, tuple, frozenset, set)):
        items = sorted(value) if isinstance(value, (frozenset, set)) else value
        return [_plain(v) for v in items]
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    return value


def _number(value: Any) -> Any:
    if isinstance(value, dict) and "$decimal" in value:
        return Decimal(value["$decimal"])
    return value


def _option_set(data: dict[str, Any]) -> OptionSetDef:
    opts = [OptionDef(**o) for o in data.get("options", [])]
    return OptionSetDef(**{**data, "options": opts})


def _attribute(data: dict[str, Any]) -> AttributeDef:
    data = dict(data)
    if data.get("option_set") is not None:
        data["option_set"] = _option_set(data["option_set"])
    data["targets"] = tuple(data.get("targets", ()))
    for k in ("min_value", "max_value"):
        data[k] = _number(data.get(k))
    return AttributeDef(**data)


def _key(data: dict[str, Any]) -> KeyDef:
    return KeyDef(**{**data, "key_attributes": tuple(data["key_attributes"])})
