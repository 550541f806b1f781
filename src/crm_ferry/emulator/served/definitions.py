"""A snapshot's table definitions made into the emulator's schema model.

Facts are in the Web API's property names, as ``crm-ferry snapshot`` keeps them: labels as
their text, managed and wrapped properties (``RequiredLevel``, ``FormatName``…) as their
value. Each becomes the :mod:`~crm_ferry.emulator.schema` field that the metadata API reads
back as that property (:mod:`~crm_ferry.emulator.metadata.shapes`); a property the model keeps
as a setting (``stored``) goes in ``extra``; a property of a feature the emulator does not
implement is accepted at its default only. Whether every fact reads back as the snapshot
has it is then checked by :mod:`.readback`.

A table of the snapshot replaces the built-in table of that name (a custom one is added);
relationships come from the snapshot's tables, those whose other end the served tenant has
no table for excepted (a relationship cannot point at a table that does not exist). Every
problem is collected in :class:`Problems`, so one start-up names them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from crm_ferry.emulator import tenant
from crm_ferry.emulator.metadata.properties import attribute_rules
from crm_ferry.emulator.metadata.shapes import (
    METADATA_TYPES,
    MONEY_PRECISION,
    MONEY_PRECISION_SOURCE,
    TYPE_NAMES,
)
from crm_ferry.emulator.schema import (
    BULK_MESSAGES,
    MEDIA_TYPES,
    AttributeDef,
    AttributeType,
    CascadeType,
    DateTimeBehavior,
    EntityDef,
    KeyDef,
    ManyToManyRelationshipDef,
    OptionDef,
    OptionSetDef,
    OptionSetKind,
    OwnershipType,
    RelationshipDef,
    RequiredLevel,
    Schema,
)

__all__ = ["WRAPPED", "Problems", "schema_from"]

_TYPES: dict[str, AttributeType] = {name: t for t, name in TYPE_NAMES.items()}  # type: ignore[misc]
"""``AttributeTypeName`` → the model's type (``Virtual`` columns are told apart by it)."""
_REQUIRED: dict[str, RequiredLevel] = {
    v: v for v in ("None", "SystemRequired", "ApplicationRequired", "Recommended")
}
_OWNERSHIP: dict[str, OwnershipType] = {
    v: v for v in ("UserOwned", "OrganizationOwned", "BusinessOwned", "None")
}
_CASCADES: dict[str, CascadeType] = {
    v: v for v in ("Cascade", "RemoveLink", "Restrict", "NoCascade")
}
_BEHAVIORS: dict[str, DateTimeBehavior] = {
    v: v for v in ("UserLocal", "DateOnly", "TimeZoneIndependent")
}
_KINDS: dict[str, OptionSetKind] = {
    "Picklist": "Picklist",
    "MultiSelectPicklist": "MultiSelectPicklist",
    "State": "State",
    "Status": "Status",
    "Boolean": "Boolean",
}
WRAPPED = frozenset({"FormatName", "RequiredLevel", "DateTimeBehavior", "AttributeTypeName"})
"""Properties a definition wraps (``{"Value": ...}``) and a snapshot keeps as the value."""

_COLUMN_APPLIED = frozenset(
    {
        "LogicalName",
        "SchemaName",
        "AttributeType",
        "AttributeTypeName",
        "AttributeOf",
        "DisplayName",
        "Format",
        "MaxLength",
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
        "DateTimeBehavior",
        "Targets",
        "MaxSizeInKB",
        "OptionSet",
    }
)
"""Column facts the model holds in fields of its own (the others are ``extra`` settings,
unsupported features at their default, or computed: read back and compared)."""


@dataclass(slots=True)
class Problems:
    """What the emulator cannot serve, each naming the table, column or property."""

    items: list[str] = field(default_factory=list)

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")


def schema_from(
    tables: Mapping[str, Any],
    option_sets: Mapping[str, Any],
    bulk_tables: Iterable[str],
    problems: Problems,
) -> Schema:
    """The built-in tenant's schema with ``tables`` (logical name → facts) in place of its
    own, and ``option_sets`` (the global choices the snapshot's columns use)."""
    bulk = frozenset(bulk_tables)
    schema = tenant.build_schema(bulk)
    builtin_m2m = dict(schema.many_to_many)
    for name, facts in sorted(option_sets.items()):
        kind = _KINDS.get(str(facts.get("OptionSetType", "Picklist")))
        if kind is None:
            problems.add(
                f"global option set {name}", f"OptionSetType {facts.get('OptionSetType')!r}"
            )
            continue
        made = _option_set(f"global option set {name}", facts, kind, problems)
        made.is_global, made.metadata_id = True, tenant.seed_id("globaloptionset", name)
        schema.global_option_sets[name] = made
    for name, facts in sorted(tables.items()):
        entity = _entity(schema, name, facts, bulk, problems)
        if entity is not None:
            schema.remove_entity(name)
            schema.add_entity(entity)
    for facts in tables.values():
        _relationships(schema, facts, problems)
        for m2m in facts.get("ManyToManyRelationships", ()):
            _many_to_many(schema, m2m, builtin_m2m, problems)
    schema.invalidate()
    return schema


def _entity(
    schema: Schema, name: str, facts: Mapping[str, Any], bulk: frozenset[str], problems: Problems
) -> EntityDef | None:
    where = f"table {name}"
    try:
        ownership = _OWNERSHIP.get(str(facts.get("OwnershipType", "UserOwned")))
        if ownership is None:
            problems.add(
                where,
                f"OwnershipType {facts['OwnershipType']!r} (the emulator has "
                "UserOwned, OrganizationOwned and None tables)",
            )
            return None
        attrs: dict[str, AttributeDef] = {}
        for column in facts["Attributes"]:
            attr = _attribute(schema, name, column, problems)
            if attr is not None:
                attrs[attr.logical_name] = attr
        custom = bool(facts.get("IsCustomEntity", False))
        entity = EntityDef(
            logical_name=name,
            schema_name=str(facts["SchemaName"]),
            entity_set_name=str(facts["EntitySetName"]),
            primary_id=str(facts["PrimaryIdAttribute"]),
            primary_name=facts.get("PrimaryNameAttribute"),
            object_type_code=int(facts["ObjectTypeCode"]),
            display_name=str(facts.get("DisplayName", "")),
            display_collection_name=str(facts.get("DisplayCollectionName", "")),
            ownership=ownership,
            is_custom=custom,
            is_activity=bool(facts.get("IsActivity", False)),
            has_notes=bool(facts.get("HasNotes", False)),
            has_activities=bool(facts.get("HasActivities", False)),
            change_tracking=bool(facts.get("ChangeTrackingEnabled", False)),
            bulk_messages=BULK_MESSAGES if custom or name in bulk else frozenset(),
            attributes=attrs,
            metadata_id=tenant.seed_id("entity", name),
            media=tuple(n for n, a in attrs.items() if a.type in MEDIA_TYPES),
            primary_image=facts.get("PrimaryImageAttribute"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        problems.add(where, f"its definition is incomplete or malformed ({exc!r})")
        return None
    for key in facts.get("Keys", ()):
        made = _key(name, key, problems)
        if made is not None:
            entity.keys[made.logical_name] = made
    return entity


def _attribute(
    schema: Schema, table: str, facts: Mapping[str, Any], problems: Problems
) -> AttributeDef | None:
    name = str(facts["LogicalName"])
    where = f"column {table}.{name}"
    declared = str(facts.get("AttributeType", ""))
    type_ = _TYPES.get(str(facts.get("AttributeTypeName", ""))) if declared == "Virtual" else None
    type_ = type_ or _TYPES.get(f"{declared}Type")
    if type_ is None:
        problems.add(
            where,
            f"AttributeType {declared!r} ({facts.get('AttributeTypeName')!r}) "
            "is not a column type the emulator has",
        )
        return None
    required = _REQUIRED.get(str(facts.get("RequiredLevel", "None")))
    if required is None:
        problems.add(where, f"RequiredLevel {facts.get('RequiredLevel')!r}")
        return None
    attr = AttributeDef(
        logical_name=name,
        schema_name=str(facts["SchemaName"]),
        type=type_,
        display_name=str(facts.get("DisplayName", "")),
        required=required,
        attribute_of=facts.get("AttributeOf"),
        is_primary_id=bool(facts.get("IsPrimaryId", False)),
        is_primary_name=bool(facts.get("IsPrimaryName", False)),
        is_custom=bool(facts.get("IsCustomAttribute", False)),
        valid_for_create=bool(facts.get("IsValidForCreate", True)),
        valid_for_update=bool(facts.get("IsValidForUpdate", True)),
        valid_for_read=bool(facts.get("IsValidForRead", True)),
        metadata_id=tenant.seed_id("attribute", table, name),
    )
    _type_facts(schema, attr, facts, where, problems)
    _settings(attr, facts, where, problems)
    return attr


def _type_facts(
    schema: Schema, attr: AttributeDef, facts: Mapping[str, Any], where: str, problems: Problems
) -> None:
    """The facts of the column's type: length, range, precision, format, targets, options.
    Numbers are kept as the snapshot has them (a whole number stays whole)."""
    t = attr.type
    attr.max_length = facts.get("MaxLength") if t in ("String", "Memo") else None
    if t in ("Integer", "BigInt", "Decimal", "Double", "Money"):
        attr.min_value, attr.max_value = facts.get("MinValue"), facts.get("MaxValue")
    if t in ("String", "Memo", "Integer", "DateTime"):
        attr.format = facts.get("Format")
    if t in ("Decimal", "Double"):
        attr.precision = facts.get("Precision")
    if t == "Money":
        source = facts.get("PrecisionSource", 0)
        attr.precision = facts.get("Precision") if source == 0 else None
        attr.extra[MONEY_PRECISION] = facts.get("Precision", 2)
        attr.extra[MONEY_PRECISION_SOURCE] = source
    if t == "DateTime":
        behavior = _BEHAVIORS.get(str(facts.get("DateTimeBehavior", "UserLocal")))
        if behavior is None:
            problems.add(where, f"DateTimeBehavior {facts.get('DateTimeBehavior')!r}")
        attr.datetime_behavior = behavior
    if t in ("Lookup", "Customer", "Owner"):
        attr.targets = tuple(str(x) for x in facts.get("Targets", ()))
    if t in MEDIA_TYPES:
        attr.max_size_kb = facts.get("MaxSizeInKB")
    kind = _KINDS.get(t)
    if kind is None:
        return
    spec = facts.get("OptionSet")
    if not isinstance(spec, Mapping):
        problems.add(where, "a choice column without its OptionSet")
    elif spec.get("IsGlobal"):
        found = schema.global_option_sets.get(str(spec.get("Name")))
        if found is None:
            problems.add(
                where, f"the global option set {spec.get('Name')!r} is not in the snapshot"
            )
        attr.option_set = found
    else:
        attr.option_set = _option_set(where, spec, kind, problems)
        attr.option_set.is_custom = attr.is_custom
        attr.option_set.metadata_id = tenant.seed_id("optionset", where)


def _settings(attr: AttributeDef, facts: Mapping[str, Any], where: str, problems: Problems) -> None:
    """The facts the model keeps as settings (``extra``); those of features the emulator
    does not implement only at their default value."""
    rules = attribute_rules(METADATA_TYPES[attr.type])
    for prop, value in facts.items():
        rule = rules.get(prop)
        if prop in _COLUMN_APPLIED or rule is None or rule.policy in ("applied", "computed"):
            continue  # held in a field, or computed: the read-back compares it
        sent = {"Value": value} if prop in WRAPPED else value
        if rule.policy == "stored":
            if sent != rule.default:
                attr.extra[prop] = sent
        elif not _same(sent, rule.default):
            problems.add(
                where, f"{prop} {value!r}: {rule.feature} is not implemented by the emulator"
            )


def _same(value: Any, default: Any) -> bool:
    if isinstance(default, Mapping) and "Value" in default and not isinstance(value, Mapping):
        return bool(value == default["Value"])
    return bool(value == default)


def _option_set(
    where: str, facts: Mapping[str, Any], kind: OptionSetKind, problems: Problems
) -> OptionSetDef:
    name = str(facts.get("Name", ""))
    display = str(facts.get("DisplayName", ""))
    made = OptionSetDef(name=name, kind=kind, display_name="" if display == name else display)
    if kind == "Boolean":
        for side, value in (("FalseOption", 0), ("TrueOption", 1)):
            option = facts.get(side)
            if not isinstance(option, Mapping) or option.get("Value", value) != value:
                problems.add(where, f"{side} of a yes/no column must have the value {value}")
                continue
            made.options.append(_option(where, option, problems))
        return made
    for option in facts.get("Options", ()):
        made.options.append(_option(where, option, problems))
    return made


def _option(where: str, facts: Mapping[str, Any], problems: Problems) -> OptionDef:
    if facts.get("ExternalValue") is not None:
        problems.add(
            where,
            f"option {facts.get('Value')}: ExternalValue "
            f"{facts['ExternalValue']!r} (virtual tables' external values are not "
            "implemented by the emulator)",
        )
    return OptionDef(
        value=int(facts["Value"]),
        label=str(facts.get("Label", "")),
        state=facts.get("State"),
        default_status=facts.get("DefaultStatus"),
    )


def _key(table: str, facts: Mapping[str, Any], problems: Problems) -> KeyDef | None:
    name = str(facts.get("LogicalName", ""))
    status = facts.get("EntityKeyIndexStatus")
    if status != "Active":
        problems.add(
            f"key {table}.{name}",
            f"EntityKeyIndexStatus {status!r}: a served tenant's "
            "alternate keys are Active (take the snapshot once its keys are built)",
        )
        return None
    return KeyDef(
        schema_name=str(facts["SchemaName"]),
        logical_name=name,
        entity=table,
        key_attributes=tuple(str(a) for a in facts["KeyAttributes"]),
        status="Active",
        metadata_id=tenant.seed_id("key", table, name),
    )


def _relationships(schema: Schema, table: Mapping[str, Any], problems: Problems) -> None:
    for facts in (
        *table.get("OneToManyRelationships", ()),
        *table.get("ManyToOneRelationships", ()),
    ):
        name = str(facts["SchemaName"])
        if name in schema.relationships:
            continue
        referenced = schema.entity(str(facts["ReferencedEntity"]))
        referencing = schema.entity(str(facts["ReferencingEntity"]))
        if referenced is None or referencing is None:
            continue  # its other end is no table of the served tenant (see the docstring)
        where = f"relationship {name}"
        column = str(facts["ReferencingAttribute"])
        if referencing.attribute(column) is None:
            problems.add(where, f"{referencing.logical_name} has no column {column}")
            continue
        cascade = dict(facts.get("CascadeConfiguration") or {})
        delete = _CASCADES.get(str(cascade.pop("Delete", "RemoveLink")))
        if delete is None:
            problems.add(
                where,
                "CascadeConfiguration/Delete is not Cascade, RemoveLink, Restrict or NoCascade",
            )
            continue
        schema.add_relationship(
            RelationshipDef(
                schema_name=name,
                referenced_entity=referenced.logical_name,
                referenced_attribute=str(facts["ReferencedAttribute"]),
                referencing_entity=referencing.logical_name,
                referencing_attribute=column,
                referencing_nav=str(facts["ReferencingEntityNavigationPropertyName"]),
                referenced_nav=str(facts["ReferencedEntityNavigationPropertyName"]),
                cascade_delete=delete,
                is_custom=bool(facts.get("IsCustomRelationship", False)),
                metadata_id=tenant.seed_id("relationship", name),
                cascade={k: str(v) for k, v in cascade.items() if v != "NoCascade"},
            )
        )


def _many_to_many(
    schema: Schema,
    facts: Mapping[str, Any],
    builtin: Mapping[str, ManyToManyRelationshipDef],
    problems: Problems,
) -> None:
    name = str(facts["SchemaName"])
    one, two = str(facts["Entity1LogicalName"]), str(facts["Entity2LogicalName"])
    if name in schema.many_to_many or schema.entity(one) is None or schema.entity(two) is None:
        return
    made = ManyToManyRelationshipDef(
        schema_name=name,
        entity1=one,
        entity2=two,
        intersect_entity=str(facts["IntersectEntityName"]),
        entity1_attribute=str(facts["Entity1IntersectAttribute"]),
        entity2_attribute=str(facts["Entity2IntersectAttribute"]),
        entity1_nav=str(facts["Entity1NavigationPropertyName"]),
        entity2_nav=str(facts["Entity2NavigationPropertyName"]),
        is_custom=bool(facts.get("IsCustomRelationship", False)),
        metadata_id=tenant.seed_id("relationship", name),
    )
    known = builtin.get(name)
    if known is not None:  # the snapshot keeps no menus: a standard one keeps the built-in's
        made = replace(made, entity1_menu=known.entity1_menu, entity2_menu=known.entity2_menu)
    schema.add_many_to_many(made)
