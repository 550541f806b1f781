"""The metadata entity types in ``$metadata``: ``EntityMetadata``, ``AttributeMetadata`` and its
derived types, relationships, keys and option sets, with the complex and enumeration types
their properties use.

Their properties are those the metadata API answers (:mod:`crm_ferry.emulator.metadata.shapes`
applied to a sample definition of each type), typed as the Web API reference types them
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitymetadata,
.../attributemetadata and the derived types); definition entity types derive from the
abstract ``crmmodelbaseentity`` through ``MetadataBase``, whose key is ``MetadataId``
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-entitytypes).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from crm_ferry.emulator.csdl.entities import ALIAS, el
from crm_ferry.emulator.metadata.properties import ATTRIBUTE
from crm_ferry.emulator.metadata.shapes import (
    METADATA_TYPES,
    attribute_json,
    entity_json,
    key_json,
    option_set_json,
    relationship_json,
)
from crm_ferry.emulator.schema import (
    AttributeDef,
    AttributeType,
    EntityDef,
    KeyDef,
    OptionDef,
    OptionSetDef,
    RelationshipDef,
)


def _members(*names: str) -> tuple[tuple[str, int], ...]:
    """Enumeration members numbered 0, 1, 2... in order."""
    return tuple((name, value) for value, name in enumerate(names))


def _strings(*names: str) -> tuple[tuple[str, str], ...]:
    """Complex type members of type ``Edm.String``."""
    return tuple((name, "Edm.String") for name in names)


ENUMS: dict[str, tuple[tuple[str, int], ...]] = {
    "OwnershipTypes": (
        ("None", 0),
        ("UserOwned", 1),
        ("TeamOwned", 2),
        ("BusinessOwned", 4),
        ("OrganizationOwned", 8),
        ("BusinessParented", 16),
    ),
    "AttributeTypeCode": _members(
        "Boolean",
        "Customer",
        "DateTime",
        "Decimal",
        "Double",
        "Integer",
        "Lookup",
        "Memo",
        "Money",
        "Owner",
        "PartyList",
        "Picklist",
        "State",
        "Status",
        "String",
        "Uniqueidentifier",
        "CalendarRules",
        "Virtual",
        "BigInt",
        "ManagedProperty",
        "EntityName",
    ),
    "AttributeRequiredLevel": (
        ("None", 0),
        ("SystemRequired", 1),
        ("ApplicationRequired", 2),
        ("Recommended", 3),
    ),
    "ImeMode": (("Auto", 0), ("Inactive", 1), ("Active", 2), ("Disabled", 3)),
    "StringFormat": _members(
        "Email",
        "Text",
        "TextArea",
        "Url",
        "TickerSymbol",
        "PhoneticGuide",
        "VersionNumber",
        "Phone",
        "Json",
    ),
    "IntegerFormat": (
        ("None", 0),
        ("Duration", 1),
        ("TimeZone", 2),
        ("Language", 3),
        ("Locale", 4),
    ),
    "DateTimeFormat": (("DateOnly", 0), ("DateAndTime", 1)),
    "OptionSetType": (("Picklist", 0), ("State", 1), ("Status", 2), ("Boolean", 3)),
    "EntityKeyIndexStatus": (("Pending", 0), ("InProgress", 1), ("Active", 2), ("Failed", 3)),
    "PrivilegeType": _members(
        "None",
        "Create",
        "Read",
        "Write",
        "Delete",
        "Assign",
        "Share",
        "Append",
        "AppendTo",
    ),
    "RelationshipType": (("OneToManyRelationship", 0), ("ManyToManyRelationship", 1)),
    "SecurityTypes": (
        ("None", 0),
        ("Append", 1),
        ("ParentChild", 2),
        ("Pointer", 4),
        ("Inheritance", 8),
    ),
}
"""Enumeration types of metadata properties (member values as in the SDK for .NET)."""
FLAGS = frozenset({"OwnershipTypes", "SecurityTypes"})

COMPLEX: dict[str, tuple[tuple[str, str], ...]] = {
    "Label": (
        ("LocalizedLabels", f"Collection({ALIAS}.LocalizedLabel)"),
        ("UserLocalizedLabel", f"{ALIAS}.LocalizedLabel"),
    ),
    "LocalizedLabel": (
        ("Label", "Edm.String"),
        ("LanguageCode", "Edm.Int32"),
        ("IsManaged", "Edm.Boolean"),
        ("MetadataId", "Edm.Guid"),
        ("HasChanged", "Edm.Boolean"),
    ),
    "BooleanManagedProperty": (
        ("Value", "Edm.Boolean"),
        ("CanBeChanged", "Edm.Boolean"),
        ("ManagedPropertyLogicalName", "Edm.String"),
    ),
    "AttributeRequiredLevelManagedProperty": (
        ("Value", f"{ALIAS}.AttributeRequiredLevel"),
        ("CanBeChanged", "Edm.Boolean"),
        ("ManagedPropertyLogicalName", "Edm.String"),
    ),
    "AttributeTypeDisplayName": (("Value", "Edm.String"),),
    "StringFormatName": (("Value", "Edm.String"),),
    "DateTimeBehavior": (("Value", "Edm.String"),),
    "SecurityPrivilegeMetadata": (
        ("CanBeBasic", "Edm.Boolean"),
        ("CanBeDeep", "Edm.Boolean"),
        ("CanBeGlobal", "Edm.Boolean"),
        ("CanBeLocal", "Edm.Boolean"),
        ("CanBeEntityReference", "Edm.Boolean"),
        ("CanBeParentEntityReference", "Edm.Boolean"),
        ("Name", "Edm.String"),
        ("PrivilegeId", "Edm.Guid"),
        ("PrivilegeType", f"{ALIAS}.PrivilegeType"),
    ),
    "CascadeConfiguration": _strings(
        "Assign", "Delete", "Merge", "Reparent", "Share", "Unshare", "RollupView", "Archive"
    ),
    "AssociatedMenuConfiguration": (
        ("Behavior", "Edm.String"),
        ("Group", "Edm.String"),
        ("Label", f"{ALIAS}.Label"),
        ("Order", "Edm.Int32"),
    ),
    "OptionMetadata": (
        ("Value", "Edm.Int32"),
        ("Label", f"{ALIAS}.Label"),
        ("Description", f"{ALIAS}.Label"),
        ("Color", "Edm.String"),
        ("IsManaged", "Edm.Boolean"),
        ("ExternalValue", "Edm.String"),
        ("ParentValues", "Collection(Edm.Int32)"),
        ("Tag", "Edm.String"),
        ("IsHidden", "Edm.Boolean"),
        ("MetadataId", "Edm.Guid"),
        ("HasChanged", "Edm.Boolean"),
    ),
    "AttributeSettings": (),
}
"""Complex types of metadata properties (``AttributeSettings`` is open: its members vary)."""
OPEN = frozenset({"AttributeSettings"})

_BY_NAME: dict[str, str] = {
    "OwnershipType": f"{ALIAS}.OwnershipTypes",
    "AttributeType": f"{ALIAS}.AttributeTypeCode",
    "RequiredLevel": f"{ALIAS}.AttributeRequiredLevelManagedProperty",
    "AttributeTypeName": f"{ALIAS}.AttributeTypeDisplayName",
    "FormatName": f"{ALIAS}.StringFormatName",
    "DateTimeBehavior": f"{ALIAS}.DateTimeBehavior",
    "ImeMode": f"{ALIAS}.ImeMode",
    "Privileges": f"Collection({ALIAS}.SecurityPrivilegeMetadata)",
    "Settings": f"Collection({ALIAS}.AttributeSettings)",
    "Targets": "Collection(Edm.String)",
    "KeyAttributes": "Collection(Edm.String)",
    "Options": f"Collection({ALIAS}.OptionMetadata)",
    "TrueOption": f"{ALIAS}.OptionMetadata",
    "FalseOption": f"{ALIAS}.OptionMetadata",
    "OptionSetType": f"{ALIAS}.OptionSetType",
    "EntityKeyIndexStatus": f"{ALIAS}.EntityKeyIndexStatus",
    "RelationshipType": f"{ALIAS}.RelationshipType",
    "SecurityTypes": f"{ALIAS}.SecurityTypes",
    "CascadeConfiguration": f"{ALIAS}.CascadeConfiguration",
    "AssociatedMenuConfiguration": f"{ALIAS}.AssociatedMenuConfiguration",
    "CreatedOn": "Edm.DateTimeOffset",
    "ModifiedOn": "Edm.DateTimeOffset",
    "MinSupportedValue": "Edm.DateTimeOffset",
    "MaxSupportedValue": "Edm.DateTimeOffset",
}
_FORMATS = {"String": "StringFormat", "Memo": "StringFormat", "Integer": "IntegerFormat"}
_FORMATS["DateTime"] = "DateTimeFormat"
_NUMBERS = {"Integer": "Edm.Int32", "BigInt": "Edm.Int64", "Decimal": "Edm.Decimal"}
_NUMBERS.update({"Double": "Edm.Double", "Money": "Edm.Double"})
_SKIPPED = frozenset({"@odata.type", "AsyncJob"})


def _type_of(name: str, value: Any, attr_type: str | None = None) -> str:
    if name in ("MinValue", "MaxValue") and attr_type in _NUMBERS:
        return _NUMBERS[attr_type]
    if name == "Format" and attr_type in _FORMATS:
        return f"{ALIAS}.{_FORMATS[attr_type]}"
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.endswith("Id") and (value is None or isinstance(value, str)):
        return "Edm.Guid"
    if isinstance(value, bool):
        return "Edm.Boolean"
    if isinstance(value, int):
        return "Edm.Int32"
    if isinstance(value, float):
        return "Edm.Double"
    if isinstance(value, dict):
        if "LocalizedLabels" in value:
            return f"{ALIAS}.Label"
        if "ManagedPropertyLogicalName" in value:
            return f"{ALIAS}.BooleanManagedProperty"
    if isinstance(value, list):
        return "Collection(Edm.String)"
    return "Edm.String"


def _properties(
    node: ET.Element, shape: dict[str, Any], omit: set[str], attr_type: str | None = None
) -> None:
    for name, value in shape.items():
        if name in omit or name in _SKIPPED:
            continue
        el(node, "Property", Name=name, Type=_type_of(name, value, attr_type))


def _nav(node: ET.Element, name: str, type_: str) -> None:
    el(node, "NavigationProperty", Name=name, Type=type_)


def definition_types(schema_el: ET.Element) -> None:
    """The enumeration, complex and entity types of the metadata API."""
    for name, members in ENUMS.items():
        enum = el(schema_el, "EnumType", Name=name)
        if name in FLAGS:
            enum.set("IsFlags", "true")
        for member, value in members:
            el(enum, "Member", Name=member, Value=str(value))
    for name, members_ in COMPLEX.items():
        complex_ = el(schema_el, "ComplexType", Name=name)
        if name in OPEN:
            complex_.set("OpenType", "true")
        for member, type_ in members_:
            el(complex_, "Property", Name=member, Type=type_)
    el(schema_el, "EntityType", Name="crmmodelbaseentity", Abstract="true")
    base = el(
        schema_el,
        "EntityType",
        Name="MetadataBase",
        BaseType=f"{ALIAS}.crmmodelbaseentity",
        Abstract="true",
    )
    el(el(base, "Key"), "PropertyRef", Name="MetadataId")
    el(base, "Property", Name="MetadataId", Type="Edm.Guid", Nullable="false")
    el(base, "Property", Name="HasChanged", Type="Edm.Boolean")
    inherited = {"MetadataId", "HasChanged"}
    _entity_metadata(schema_el, inherited)
    _attribute_metadata(schema_el, inherited)
    _other_metadata(schema_el, inherited)


def _metadata_type(schema_el: ET.Element, name: str, base: str = "MetadataBase") -> ET.Element:
    return el(schema_el, "EntityType", Name=name, BaseType=f"{ALIAS}.{base}")


_PROBE = EntityDef("probe", "Probe", "probes", "probeid", "name", 10000)


def _entity_metadata(schema_el: ET.Element, inherited: set[str]) -> None:
    node = _metadata_type(schema_el, "EntityMetadata")
    _properties(node, entity_json(_PROBE), inherited)
    _nav(node, "Attributes", f"Collection({ALIAS}.AttributeMetadata)")
    _nav(node, "Keys", f"Collection({ALIAS}.EntityKeyMetadata)")
    for rels in ("ManyToOneRelationships", "OneToManyRelationships"):
        _nav(node, rels, f"Collection({ALIAS}.OneToManyRelationshipMetadata)")


_ENUM_DERIVED = (
    "PicklistAttributeMetadata",
    "MultiSelectPicklistAttributeMetadata",
    "StateAttributeMetadata",
    "StatusAttributeMetadata",
)


def _attribute_metadata(schema_el: ET.Element, inherited: set[str]) -> None:
    common = [n for n in ATTRIBUTE if n not in inherited]
    sample = attribute_json(_PROBE, AttributeDef("x", "X", "Virtual"))
    node = _metadata_type(schema_el, "AttributeMetadata")
    _properties(node, {n: sample.get(n) for n in common}, set())
    enum = _metadata_type(schema_el, "EnumAttributeMetadata", "AttributeMetadata")
    el(enum, "Property", Name="DefaultFormValue", Type="Edm.Int32")
    _nav(enum, "OptionSet", f"{ALIAS}.OptionSetMetadata")
    _nav(enum, "GlobalOptionSet", f"{ALIAS}.OptionSetMetadata")
    done = {"AttributeMetadata"}
    for attr_type, meta_type in METADATA_TYPES.items():
        if meta_type in done:
            continue
        done.add(meta_type)
        base = "EnumAttributeMetadata" if meta_type in _ENUM_DERIVED else "AttributeMetadata"
        typed: AttributeType = attr_type  # type: ignore[assignment]
        shape = attribute_json(_PROBE, AttributeDef("x", "X", typed))
        node = _metadata_type(schema_el, meta_type, base)
        omit = (
            set(ATTRIBUTE)
            | inherited
            | ({"DefaultFormValue"} if base != "AttributeMetadata" else set())
        )
        _properties(node, shape, omit, attr_type)
        if meta_type == "BooleanAttributeMetadata":
            _nav(node, "OptionSet", f"{ALIAS}.BooleanOptionSetMetadata")
            _nav(node, "GlobalOptionSet", f"{ALIAS}.BooleanOptionSetMetadata")


def _other_metadata(schema_el: ET.Element, inherited: set[str]) -> None:
    rel = relationship_json(RelationshipDef("r", "a", "b", "c", "d", "e", "f"))
    base = _metadata_type(schema_el, "RelationshipMetadataBase")
    base.set("Abstract", "true")
    common = {"SchemaName", "RelationshipType", "IsCustomRelationship", "IsManaged"}
    common |= {"IsValidForAdvancedFind", "SecurityTypes", "IntroducedVersion", "IsCustomizable"}
    _properties(base, {k: v for k, v in rel.items() if k in common}, inherited)
    one = _metadata_type(schema_el, "OneToManyRelationshipMetadata", "RelationshipMetadataBase")
    _properties(one, rel, inherited | common)
    _properties(
        _metadata_type(schema_el, "EntityKeyMetadata"),
        key_json(KeyDef("k", "k", "x", ())),
        inherited,
    )
    option_base = _metadata_type(schema_el, "OptionSetMetadataBase")
    option_base.set("Abstract", "true")
    plain = option_set_json(OptionSetDef("o", options=[OptionDef(1, "a")]))
    shared = {k: v for k, v in plain.items() if k not in ("Options",)}
    _properties(option_base, shared, inherited)
    options = _metadata_type(schema_el, "OptionSetMetadata", "OptionSetMetadataBase")
    el(options, "Property", Name="Options", Type=f"Collection({ALIAS}.OptionMetadata)")
    boolean = _metadata_type(schema_el, "BooleanOptionSetMetadata", "OptionSetMetadataBase")
    el(boolean, "Property", Name="TrueOption", Type=f"{ALIAS}.OptionMetadata")
    el(boolean, "Property", Name="FalseOption", Type=f"{ALIAS}.OptionMetadata")


DEFINITION_SETS: dict[str, str] = {
    "EntityDefinitions": "EntityMetadata",
    "RelationshipDefinitions": "RelationshipMetadataBase",
    "GlobalOptionSetDefinitions": "OptionSetMetadataBase",
}
"""The metadata API's entity sets and their types
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-metadata;
``ManagedPropertyDefinitions``, "For internal use only", is not emulated)."""


__all__ = ["DEFINITION_SETS", "definition_types"]
