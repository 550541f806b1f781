"""The emulator's standard tables, made from the table reference facts
(:mod:`crm_ferry.emulator.reference`).

Every column of a table's facts becomes an :class:`AttributeDef` as the reference describes it;
every one-to-many relationship the facts list between two tables of the set becomes a
:class:`RelationshipDef`, with its navigation properties and cascading. What the reference does
not say and the emulator needs is worked out here, each rule with its reason:

- which column a name shadow belongs to (``createdbyname`` of ``createdby``, ``revenue_base`` of
  ``revenue``): the ``AttributeOf`` the pages do not list;
- a lookup's targets are the reference's, less the tables the emulator does not have (a row can
  only point at a table that exists);
- the single-valued navigation property of a relationship, when the page does not name it;
- the owner relationships: Dataverse points ``ownerid`` at the ``owner`` table, which stands for
  users and teams; the emulator has one relationship per owner table instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, cast

from crm_ferry.emulator.reference import available, facts
from crm_ferry.emulator.schema import (
    AttributeDef,
    AttributeType,
    CascadeType,
    DateTimeBehavior,
    EntityDef,
    ManyToManyRelationshipDef,
    OptionDef,
    OptionSetDef,
    OptionSetKind,
    OwnershipType,
    RelationshipDef,
    RequiredLevel,
)

LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})
NAME_SUFFIXES = ("name", "yominame")
"""The read-only String columns Dataverse adds next to a lookup: its row's primary name, and
the phonetic (Yomi) form of it."""
TYPE_SUFFIX = "type"
"""The EntityName column next to a customer or owner lookup (``owneridtype``,
``parentcustomeridtype``): which table its row is in. (``objecttypecode`` of notes and
attachments, ``regardingobjecttypecode`` of activities are columns of their own.)"""

PLATFORM: dict[str, dict[str, Any]] = {
    "account": {"otc": 1, "has_notes": True, "has_activities": True},
    "contact": {"otc": 2, "has_notes": True, "has_activities": True},
    "opportunity": {"otc": 3, "has_notes": True, "has_activities": True},
    "annotation": {"otc": 5},
    "systemuser": {"otc": 8},
    "team": {"otc": 9},
    "businessunit": {"otc": 10},
    "activityparty": {"otc": 135},
    "organization": {"otc": 1019},
    "activitymimeattachment": {"otc": 1001},
    "pricelevel": {"otc": 1022},
    "product": {"otc": 1024, "has_notes": True},
    "productpricelevel": {"otc": 1026},
    "uom": {"otc": 1055},
    "uomschedule": {"otc": 1056},
    "invoice": {"otc": 1090, "has_notes": True, "has_activities": True},
    "invoicedetail": {"otc": 1091},
    "activitypointer": {"otc": 4200, "is_activity": True},
    "appointment": {"otc": 4201, "is_activity": True, "has_notes": True},
    "email": {"otc": 4202, "is_activity": True, "has_notes": True},
    "opportunityclose": {"otc": 4208, "is_activity": True},
    "phonecall": {"otc": 4210, "is_activity": True, "has_notes": True},
    "task": {"otc": 4212, "is_activity": True, "has_notes": True},
    "bulkdeleteoperation": {"otc": 4424},
    "sdkmessage": {"otc": 4606},
    "sdkmessagefilter": {"otc": 4607},
    "asyncoperation": {"otc": 4700},
    "solution": {"otc": 7100},
    "publisher": {"otc": 7101},
    "transactioncurrency": {"otc": 9105},
    "sharepointsite": {"otc": 9502, "has_notes": True},
    "sharepointdocumentlocation": {"otc": 9508, "has_notes": True},
    "fileattachment": {"otc": 55},
}
"""What the emulator needs of a table that the (older) pages do not give: the object type code
(``ObjectTypeCode``, fixed for system tables: "Entity metadata" in the Dataverse developer
guide), whether the table is an activity, and whether it takes notes and activities."""

OWNING_TARGETS: dict[str, tuple[str, ...]] = {
    "owningbusinessunit": ("businessunit",),
    "owninguser": ("systemuser",),
    "owningteam": ("team",),
}
"""The targets of the owning columns where a page leaves Targets empty (invoicedetail): the
same on every user-owned table."""

OPTION_KINDS: dict[str, OptionSetKind] = {
    "Picklist": "Picklist",
    "MultiSelectPicklist": "MultiSelectPicklist",
    "Boolean": "Boolean",
    "State": "State",
    "Status": "Status",
}


def standard_entities(seed: Any) -> tuple[list[EntityDef], dict[str, OptionSetDef]]:
    """One :class:`EntityDef` per table whose facts are present, and the global choices their
    columns use (one :class:`OptionSetDef` each, shared by every column that names it);
    ``seed(kind, *names)`` gives the deterministic metadata ids."""
    tables = available()
    present = frozenset(tables)
    shared: dict[str, OptionSetDef] = {}
    entities = [_entity(facts(t), present, seed) for t in tables]
    for entity in entities:
        for attr in entity.attributes.values():
            opt = attr.option_set
            if opt is None or not opt.is_global:
                continue
            first = shared.setdefault(opt.name, opt)
            if first is not opt:
                attr.option_set = first
            else:
                opt.metadata_id = seed("optionset", opt.name)
    return entities, shared


def _entity(data: dict[str, Any], present: frozenset[str], seed: Any) -> EntityDef:
    table = data["table"]
    name = table["logical_name"]
    platform = PLATFORM.get(name, {})
    attrs: dict[str, AttributeDef] = {}
    for logical, col in data["columns"].items():
        attr = _attribute(name, logical, col, present)
        attr.metadata_id = seed("attribute", name, logical)
        if attr.option_set is not None:
            attr.option_set.metadata_id = seed("optionset", name, logical)
        attrs[logical] = attr
    primary_id = table["primary_id"]
    attrs[primary_id].is_primary_id = True
    primary_name = table.get("primary_name")
    if primary_name:
        attrs[primary_name].is_primary_name = True
    _link_shadows(attrs)
    return EntityDef(
        logical_name=name,
        schema_name=table["schema_name"],
        entity_set_name=table["entity_set_name"],
        primary_id=primary_id,
        primary_name=primary_name,
        object_type_code=int(table.get("object_type_code") or platform.get("otc") or 0),
        display_name=table.get("display_name", ""),
        display_collection_name=table.get("display_collection_name", ""),
        ownership=cast(OwnershipType, table["ownership"]),
        is_activity=bool(platform.get("is_activity")),
        has_notes=bool(platform.get("has_notes")),
        has_activities=bool(platform.get("has_activities")),
        attributes=attrs,
        metadata_id=seed("entity", name),
        primary_image=table.get("primary_image"),
    )


def _attribute(
    table: str, logical: str, col: dict[str, Any], present: frozenset[str]
) -> AttributeDef:
    type_ = cast(AttributeType, col["type"])
    listed = col.get("targets") or OWNING_TARGETS.get(logical, ())
    targets = tuple(t for t in listed if t in present)
    extra: dict[str, Any] = {}
    if "default" in col:
        extra["DefaultValue" if type_ == "Boolean" else "DefaultFormValue"] = col["default"]
    return AttributeDef(
        logical_name=logical,
        schema_name=col["schema_name"],
        type=type_,
        display_name=col.get("label", ""),
        required=cast(RequiredLevel, col.get("required", "None")),
        max_length=col.get("max_length"),
        min_value=_number(type_, col.get("min")),
        max_value=_number(type_, col.get("max")),
        precision=col.get("precision"),
        format=col.get("format"),
        datetime_behavior=cast("DateTimeBehavior | None", col.get("datetime_behavior")),
        option_set=_option_set(table, logical, type_, col),
        targets=targets,
        valid_for_create=col.get("create", True),
        valid_for_update=col.get("update", True),
        valid_for_read=col.get("read", True),
        max_size_kb=col.get("max_size_kb"),
        can_store_full_image=bool(col.get("can_store_full_image", False)),
        extra=extra,
    )


def _number(type_: str, value: Any) -> int | float | Decimal | None:
    """A range bound as the column type keeps it: exact for Decimal and Money."""
    if value is None:
        return None
    if type_ in ("Decimal", "Money"):
        return Decimal(str(value))
    if type_ == "Double":
        return float(value)
    return int(value)


def _option_set(table: str, logical: str, type_: str, col: dict[str, Any]) -> OptionSetDef | None:
    kind = OPTION_KINDS.get(type_)
    if kind is None:
        return None
    if kind == "State":
        options = [OptionDef(v, label, default_status=d) for v, label, d, _ in col["states"]]
    elif kind == "Status":
        options = [OptionDef(v, label, state=s) for v, label, s in col["statuses"]]
    else:
        options = [OptionDef(v, label) for v, label in col.get("options", ())]
    global_name = col.get("option_set")
    return OptionSetDef(
        global_name or f"{table}_{logical}",
        kind=kind,
        options=options,
        is_global=global_name is not None and kind in ("Picklist", "MultiSelectPicklist"),
    )


def _link_shadows(attrs: dict[str, AttributeDef]) -> None:
    """Set ``attribute_of`` on the columns Dataverse derives from another one."""
    for name, attr in attrs.items():
        owner = None if attr.is_primary_name else _shadowed(name, attr, attrs)
        if owner is not None:
            attr.attribute_of = owner


def _shadowed(name: str, attr: AttributeDef, attrs: dict[str, AttributeDef]) -> str | None:
    if attr.type == "Money" and name.endswith("_base"):
        base = name.removesuffix("_base")
        return base if base in attrs and attrs[base].type == "Money" else None
    if attr.type == "String":
        for suffix in NAME_SUFFIXES:
            owner = attrs.get(name.removesuffix(suffix)) if name.endswith(suffix) else None
            if owner is not None and owner.type in LOOKUP_TYPES and owner is not attr:
                return owner.logical_name
    if attr.type == "EntityName" and name.endswith(TYPE_SUFFIX):
        owner = attrs.get(name.removesuffix(TYPE_SUFFIX))
        if owner is not None and owner.type in LOOKUP_TYPES:
            return owner.logical_name
    return None


# -- relationships ------------------------------------------------------------------------

# Cascade-on-delete per relationship family (Dataverse defaults: parental relationships of
# customer and regarding cascade; price list and currency restrict; plain lookups remove the
# link). https://learn.microsoft.com/power-apps/developer/data-platform/configure-entity-relationship-cascading-behavior
_RESTRICT_TARGETS = frozenset({"pricelevel", "transactioncurrency", "businessunit"})
_CASCADE_ATTRS = frozenset(
    {
        ("contact", "parentcustomerid"),
        ("opportunity", "customerid"),
        ("annotation", "objectid"),
        ("invoicedetail", "invoiceid"),
        ("opportunityclose", "opportunityid"),
        ("activityparty", "activityid"),
        ("invoice", "customerid"),
        ("activitymimeattachment", "objectid"),
    }
)


def default_cascade(entity: str, attr: AttributeDef, target: str) -> CascadeType:
    """What deleting a ``target`` row does to the ``entity`` rows its lookup ``attr`` links,
    where no page says (newer pages leave CascadeConfiguration out; tables made through the
    metadata API)."""
    if attr.logical_name in {
        "createdby",
        "modifiedby",
        "owninguser",
        "owningteam",
        "owningbusinessunit",
    }:
        return "NoCascade"
    if attr.type == "Owner" or target in _RESTRICT_TARGETS:
        return "Restrict"
    if (entity, attr.logical_name) in _CASCADE_ATTRS or attr.logical_name == "regardingobjectid":
        return "Cascade"
    return "RemoveLink"


def standard_relationships(entities: dict[str, EntityDef], seed: Any) -> list[RelationshipDef]:
    """The one-to-many relationships the facts list between tables the emulator has (less
    those whose referencing column is not a lookup in the facts)."""
    out: list[RelationshipDef] = []
    seen: set[str] = set()
    for table in entities:
        for rel in facts(table).get("relationships", {}).get("one_to_many", ()):
            made = _relationship(entities, table, rel)
            if made is None or made.schema_name.lower() in seen:
                continue
            seen.add(made.schema_name.lower())
            made.metadata_id = seed("relationship", made.schema_name)
            out.append(made)
    return out


def _relationship(
    entities: dict[str, EntityDef], referenced: str, rel: dict[str, Any]
) -> RelationshipDef | None:
    referencing = entities.get(rel["referencing_entity"])
    attr = referencing.attributes.get(rel["referencing_attribute"]) if referencing else None
    if referencing is None or attr is None:
        return None
    if attr.type not in LOOKUP_TYPES:
        return None  # invoicedetail_parent_invoicedetail names a Uniqueidentifier column
    cascade = dict(rel.get("cascade", {}))
    delete = cast(CascadeType, cascade.pop("Delete", None)) or default_cascade(
        referencing.logical_name, attr, referenced
    )
    if (referencing.logical_name, attr.logical_name) == ("activityparty", "activityid"):
        # the parties of an activity are part of it: deleting the activity deletes them,
        # whatever the relationship's cascading says (several pages: NoCascade)
        delete = "Cascade"
    return RelationshipDef(
        schema_name=rel["name"],
        referenced_entity=referenced,
        referenced_attribute=entities[referenced].primary_id,
        referencing_entity=referencing.logical_name,
        referencing_attribute=attr.logical_name,
        referencing_nav=rel.get("referencing_nav")
        or single_valued_navigation(referencing.logical_name, attr, referenced),
        referenced_nav=rel["referenced_nav"],
        cascade_delete=delete,
        cascade=cascade,
    )


def single_valued_navigation(entity: str, attr: AttributeDef, target: str) -> str:
    """The navigation property on the referencing table of a relationship whose page does not
    name it: the column's name for a lookup with one target, else ``<column>_<table>``, and
    ``regardingobjectid_<table>_<entity>`` for the regarding column (the names Dataverse
    gives; e.g. ``parentcustomerid_account``, ``regardingobjectid_account_phonecall``)."""
    name = attr.logical_name
    if attr.targets == (target,) or attr.type == "Owner":
        return name
    if name == "regardingobjectid":
        return f"regardingobjectid_{target}_{entity}"
    return f"{name}_{target}"


def standard_many_to_many(
    entities: dict[str, EntityDef], seed: Any
) -> list[ManyToManyRelationshipDef]:
    """The many-to-many relationships the facts list between tables the emulator has, each
    once. Which table is ``Entity1`` the pages do not say: the one the relationship is named
    after (``teammembership_association``: team, ``contactinvoices_association``: contact)."""
    out: dict[str, ManyToManyRelationshipDef] = {}
    for table in entities:
        for rel in facts(table).get("relationships", {}).get("many_to_many", ()):
            other = rel["other_entity"]
            if other not in entities or rel["name"].lower() in out:
                continue
            if rel["name"].lower().startswith(other) and not rel["name"].lower().startswith(table):
                continue  # listed again from the other table's page
            out[rel["name"].lower()] = ManyToManyRelationshipDef(
                schema_name=rel["name"],
                entity1=table,
                entity2=other,
                intersect_entity=rel["intersect_entity"],
                entity1_attribute=rel.get("intersect_attribute") or entities[table].primary_id,
                entity2_attribute=rel.get("other_attribute") or entities[other].primary_id,
                entity1_nav=rel["nav"],
                entity2_nav=rel.get("other_nav") or rel["nav"],
                metadata_id=seed("relationship", rel["name"]),
            )
    return list(out.values())


def lookups_without_relationship(
    entities: dict[str, EntityDef], relationships: Iterable[RelationshipDef]
) -> Iterator[tuple[str, str, str]]:
    """(table, column, target) of every lookup target no relationship covers."""
    covered = {
        (r.referencing_entity, r.referencing_attribute, r.referenced_entity) for r in relationships
    }
    for entity in entities.values():
        for attr in entity.attributes.values():
            if attr.type in LOOKUP_TYPES:
                for target in attr.targets:
                    if (entity.logical_name, attr.logical_name, target) not in covered:
                        yield entity.logical_name, attr.logical_name, target


__all__ = [
    "LOOKUP_TYPES",
    "OWNING_TARGETS",
    "default_cascade",
    "lookups_without_relationship",
    "single_valued_navigation",
    "standard_entities",
    "standard_many_to_many",
    "standard_relationships",
]
