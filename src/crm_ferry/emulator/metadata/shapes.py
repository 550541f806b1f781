"""The JSON shapes of the metadata Web API, made from the emulator's schema model.

Shapes follow the Web API's metadata entity types
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitymetadata,
.../attributemetadata, .../optionsetmetadata, .../entitykeymetadata,
.../onetomanyrelationshipmetadata) and the examples of
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api:
Labels are ``{"LocalizedLabels": [...], "UserLocalizedLabel": {...}}``, managed properties
are ``{"Value": ..., "CanBeChanged": ..., "ManagedPropertyLogicalName": ...}``, items of a
collection typed by a base type (``Attributes``, ``RelationshipDefinitions``) carry their
derived ``@odata.type``. Navigation properties (``Attributes``, ``Keys``, relationships,
``OptionSet``, ``GlobalOptionSet``) appear only when expanded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crm_ferry.emulator.metadata.labels import label_json, stored
from crm_ferry.emulator.metadata.properties import ENTITY, attribute_rules, stored_values
from crm_ferry.emulator.records.privileges import PRIVILEGE_ACTIONS, privilege_id, privilege_name
from crm_ferry.emulator.schema import (
    AttributeDef,
    EntityDef,
    KeyDef,
    Labels,
    OptionDef,
    OptionSetDef,
    RelationshipDef,
)

LANGUAGE = 1033
NAMESPACE = "Microsoft.Dynamics.CRM."
"""The namespace of the Web API's types, with its dot: ``Microsoft.Dynamics.CRM.EntityMetadata``."""
NS = "#" + NAMESPACE
"""How an ``@odata.type`` value starts."""

TYPE_NAMES: dict[str, str] = {
    "Uniqueidentifier": "UniqueidentifierType",
    "String": "StringType",
    "Memo": "MemoType",
    "Integer": "IntegerType",
    "BigInt": "BigIntType",
    "Decimal": "DecimalType",
    "Double": "DoubleType",
    "Money": "MoneyType",
    "DateTime": "DateTimeType",
    "Boolean": "BooleanType",
    "Picklist": "PicklistType",
    "MultiSelectPicklist": "MultiSelectPicklistType",
    "State": "StateType",
    "Status": "StatusType",
    "Lookup": "LookupType",
    "Customer": "CustomerType",
    "Owner": "OwnerType",
    "PartyList": "PartyListType",
    "ManagedProperty": "ManagedPropertyType",
    "CalendarRules": "CalendarRulesType",
    "EntityName": "EntityNameType",
    "Virtual": "VirtualType",
    "File": "FileType",
    "Image": "ImageType",
}
"""``AttributeType`` → ``AttributeTypeName.Value``."""

METADATA_TYPES: dict[str, str] = {
    "Uniqueidentifier": "UniqueIdentifierAttributeMetadata",
    "String": "StringAttributeMetadata",
    "Memo": "MemoAttributeMetadata",
    "Integer": "IntegerAttributeMetadata",
    "BigInt": "BigIntAttributeMetadata",
    "Decimal": "DecimalAttributeMetadata",
    "Double": "DoubleAttributeMetadata",
    "Money": "MoneyAttributeMetadata",
    "DateTime": "DateTimeAttributeMetadata",
    "Boolean": "BooleanAttributeMetadata",
    "Picklist": "PicklistAttributeMetadata",
    "MultiSelectPicklist": "MultiSelectPicklistAttributeMetadata",
    "State": "StateAttributeMetadata",
    "Status": "StatusAttributeMetadata",
    "Lookup": "LookupAttributeMetadata",
    "Customer": "LookupAttributeMetadata",
    "Owner": "LookupAttributeMetadata",
    "PartyList": "LookupAttributeMetadata",
    "ManagedProperty": "ManagedPropertyAttributeMetadata",
    "CalendarRules": "AttributeMetadata",
    "EntityName": "EntityNameAttributeMetadata",
    "Virtual": "AttributeMetadata",
    "File": "FileAttributeMetadata",
    "Image": "ImageAttributeMetadata",
}
"""``AttributeType`` → the derived type of ``AttributeMetadata`` the Web API uses."""

VIRTUAL_TYPES = frozenset({"MultiSelectPicklist", "File", "Image"})
"""Column types Dataverse reports as ``AttributeType`` ``Virtual``."""
OPTION_SET_ATTRIBUTES = frozenset({"Picklist", "MultiSelectPicklist", "State", "Status", "Boolean"})


def label(text: str | None) -> dict[str, Any]:
    """A ``Microsoft.Dynamics.CRM.Label`` in language 1033 (empty when ``text`` is empty)."""
    return label_json({LANGUAGE: text} if text else {})


def texts_json(primary: str, others: Labels, prop: str) -> dict[str, Any]:
    """The Label of ``prop`` in every language the definition holds."""
    return label_json(stored(primary, others, prop))


def label_text(value: Any) -> str:
    """The 1033 (else the first) text of a Label object in a request; ``""`` when absent."""
    if not isinstance(value, dict):
        return ""
    labels = value.get("LocalizedLabels") or []
    if not isinstance(labels, list):
        return ""
    chosen = next(
        (x for x in labels if isinstance(x, dict) and x.get("LanguageCode") == LANGUAGE),
        next((x for x in labels if isinstance(x, dict)), None),
    )
    text = chosen.get("Label") if chosen else None
    return text if isinstance(text, str) else ""


def managed(value: Any, name: str, *, can_change: bool = True) -> dict[str, Any]:
    return {"Value": value, "CanBeChanged": can_change, "ManagedPropertyLogicalName": name}


def _number(value: int | float | Decimal | None) -> int | float | None:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# -- entities ---------------------------------------------------------------------------


def entity_json(entity: EntityDef) -> dict[str, Any]:
    """``EntityMetadata`` without its navigation properties: every property of
    :data:`~crm_ferry.emulator.metadata.properties.ENTITY`."""
    out = stored_values(ENTITY, entity.extra)
    out.update(
        {
            "MetadataId": entity.metadata_id,
            "LogicalName": entity.logical_name,
            "SchemaName": entity.schema_name,
            "EntitySetName": entity.entity_set_name,
            "LogicalCollectionName": entity.entity_set_name,
            "CollectionSchemaName": _collection_schema_name(entity),
            "PrimaryIdAttribute": entity.primary_id,
            "PrimaryNameAttribute": entity.primary_name,
            "PrimaryImageAttribute": entity.primary_image,
            "ObjectTypeCode": entity.object_type_code,
            "OwnershipType": entity.ownership,
            "IsCustomEntity": entity.is_custom,
            "IsActivity": entity.is_activity,
            "HasNotes": entity.has_notes,
            "HasActivities": entity.has_activities,
            "ChangeTrackingEnabled": entity.change_tracking,
            "DisplayName": texts_json(entity.display_name, entity.other_labels, "DisplayName"),
            "DisplayCollectionName": texts_json(
                entity.display_collection_name, entity.other_labels, "DisplayCollectionName"
            ),
            "Description": texts_json(entity.description, entity.other_labels, "Description"),
            "Privileges": _privileges(entity),
            "ReportViewName": f"Filtered{entity.schema_name}",
            "CreatedOn": entity.created_on,
            "ModifiedOn": entity.modified_on or entity.created_on,
        }
    )
    return out


def _collection_schema_name(entity: EntityDef) -> str:
    if entity.entity_set_name.lower().startswith(entity.logical_name):
        return entity.schema_name + entity.entity_set_name[len(entity.logical_name) :]
    return entity.entity_set_name


def _privileges(entity: EntityDef) -> list[dict[str, Any]]:
    """``SecurityPrivilegeMetadata`` of the table's record privileges (the ids
    ``RetrieveUserPrivileges`` answers); organization-owned tables have no Assign or Share and
    only the Global depth."""
    user_owned = entity.ownership == "UserOwned"
    actions = [a for a in PRIVILEGE_ACTIONS if user_owned or a not in ("Assign", "Share")]
    out = []
    for action in actions:
        name = privilege_name(action, entity)
        out.append(
            {
                "CanBeBasic": user_owned,
                "CanBeDeep": user_owned,
                "CanBeGlobal": True,
                "CanBeLocal": user_owned,
                "CanBeEntityReference": False,
                "CanBeParentEntityReference": False,
                "Name": name,
                "PrivilegeId": privilege_id(name),
                "PrivilegeType": action,
            }
        )
    return out


# -- attributes -------------------------------------------------------------------------


def attribute_json(entity: EntityDef, attr: AttributeDef) -> dict[str, Any]:
    """One attribute as its derived ``AttributeMetadata`` type (without navigation
    properties): every property :func:`~crm_ferry.emulator.metadata.properties.attribute_rules`
    lists for the type."""
    meta_type = METADATA_TYPES.get(attr.type, "AttributeMetadata")
    out = stored_values(attribute_rules(meta_type), attr.extra)
    can_change = attr.extra.get(REQUIRED_CAN_CHANGE, attr.required != "SystemRequired")
    out.update(
        {
            "@odata.type": NS + meta_type,
            "MetadataId": attr.metadata_id,
            "LogicalName": attr.logical_name,
            "SchemaName": attr.schema_name,
            "EntityLogicalName": entity.logical_name,
            # AttributeTypeCode has no member for multi-select choices, files and images: they
            # are Virtual, named by their type name ("MultiSelectPicklistType"; Microsoft
            # Learn, "Column definitions", Column types; the AttributeTypeCode enum)
            "AttributeType": "Virtual" if attr.type in VIRTUAL_TYPES else attr.type,
            "AttributeTypeName": {"Value": TYPE_NAMES.get(attr.type, "VirtualType")},
            "AttributeOf": attr.attribute_of,
            "ColumnNumber": _column_number(entity, attr),
            "DisplayName": texts_json(attr.display_name, attr.other_labels, "DisplayName"),
            "Description": texts_json(attr.description, attr.other_labels, "Description"),
            "RequiredLevel": managed(
                attr.required, "canmodifyrequirementlevelsettings", can_change=bool(can_change)
            ),
            "IsCustomAttribute": attr.is_custom,
            "IsPrimaryId": attr.is_primary_id,
            "IsPrimaryName": attr.is_primary_name,
            "IsValidForCreate": attr.valid_for_create,
            "IsValidForUpdate": attr.valid_for_update,
            "IsValidForRead": attr.valid_for_read,
            "CreatedOn": attr.created_on,
            "ModifiedOn": attr.modified_on or attr.created_on,
        }
    )
    out.update(_type_specific(attr))
    if attr.type == "Image":
        out["IsPrimaryImage"] = entity.primary_image == attr.logical_name
    return out


REQUIRED_CAN_CHANGE = "RequiredLevel/CanBeChanged"
"""Key in ``AttributeDef.extra``: ``RequiredLevel``'s ``CanBeChanged`` as the request set it."""
MONEY_PRECISION = "Precision"
"""Key in ``AttributeDef.extra``: a Money column's declared ``Precision`` (its values follow
it only when ``PrecisionSource`` is 0)."""
MONEY_PRECISION_SOURCE = "PrecisionSource"


def _column_number(entity: EntityDef, attr: AttributeDef) -> int:
    for number, name in enumerate(entity.attributes, start=1):
        if name == attr.logical_name:
            return number
    return 0


def _type_specific(attr: AttributeDef) -> dict[str, Any]:
    t = attr.type
    if t == "String":
        fmt = attr.format or "Text"
        return {
            "MaxLength": attr.max_length,
            "DatabaseLength": (attr.max_length or 0) * 2,
            "Format": fmt,
            "FormatName": {"Value": fmt},
        }
    if t == "Memo":
        return {"MaxLength": attr.max_length, "Format": attr.format or "TextArea"}
    if t in ("Integer", "BigInt"):
        out: dict[str, Any] = {
            "MinValue": _number(attr.min_value),
            "MaxValue": _number(attr.max_value),
        }
        if t == "Integer":
            out["Format"] = attr.format or "None"
        return out
    if t in ("Decimal", "Double"):
        return {
            "MinValue": _number(attr.min_value),
            "MaxValue": _number(attr.max_value),
            "Precision": attr.precision,
        }
    if t == "Money":
        declared = attr.extra.get(MONEY_PRECISION, 2)
        return {
            "MinValue": _number(attr.min_value),
            "MaxValue": _number(attr.max_value),
            "Precision": declared if attr.precision is None else attr.precision,
            "PrecisionSource": attr.extra.get(
                MONEY_PRECISION_SOURCE, 2 if attr.precision is None else 0
            ),
            "IsBaseCurrency": attr.attribute_of is not None,
        }
    if t == "DateTime":
        behavior = attr.datetime_behavior or "UserLocal"
        return {
            "Format": attr.format or "DateAndTime",
            "DateTimeBehavior": {"Value": behavior},
            "CanChangeDateTimeBehavior": managed(
                behavior == "UserLocal", "canchangedatetimebehavior"
            ),
        }
    if t in ("State", "Status"):
        return {"DefaultFormValue": None}
    if t in ("Lookup", "Customer", "Owner"):
        return {"Targets": list(attr.targets), "Format": None}
    if t == "File":
        return {"MaxSizeInKB": attr.max_size_kb}
    if t == "Image":
        # MaxHeight and MaxWidth are always 144 (image-attributes, "Update image columns")
        return {
            "MaxSizeInKB": attr.max_size_kb,
            "CanStoreFullImage": attr.can_store_full_image,
            "MaxHeight": 144,
            "MaxWidth": 144,
        }
    return {}


# -- option sets ------------------------------------------------------------------------


def option_json(option: OptionDef, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Value": option.value,
        "Label": texts_json(option.label, option.other_labels, "Label"),
        "Description": texts_json(option.description, option.other_labels, "Description"),
        "Color": option.color,
        "IsManaged": False,
        "ExternalValue": None,
        "ParentValues": [],
        "Tag": None,
        "IsHidden": False,
        "MetadataId": None,
        "HasChanged": None,
    }
    if kind == "State":
        out["@odata.type"] = NS + "StateOptionMetadata"
        out["DefaultStatus"] = option.default_status
        out["InvariantName"] = option.label.replace(" ", "")
    elif kind == "Status":
        out["@odata.type"] = NS + "StatusOptionMetadata"
        out["State"] = option.state
    return out


def option_set_json(option_set: OptionSetDef) -> dict[str, Any]:
    """``OptionSetMetadata`` (``BooleanOptionSetMetadata`` for a two-option set)."""
    base: dict[str, Any] = {
        "MetadataId": option_set.metadata_id,
        "Name": option_set.name,
        "IsGlobal": option_set.is_global,
        "IsCustomOptionSet": option_set.is_custom,
        "IsManaged": False,
        # a multi-select choice's options are a Picklist option set
        "OptionSetType": "Picklist"
        if option_set.kind == "MultiSelectPicklist"
        else option_set.kind,
        "DisplayName": texts_json(
            option_set.display_name or option_set.name, option_set.other_labels, "DisplayName"
        ),
        "Description": texts_json(option_set.description, option_set.other_labels, "Description"),
        "ExternalTypeName": None,
        "IntroducedVersion": "1.0",
        "IsCustomizable": managed(True, "iscustomizable"),
        "HasChanged": None,
        **option_set.extra,
    }
    if option_set.kind == "Boolean":
        true = option_set.option(1) or OptionDef(1, "Yes")
        false = option_set.option(0) or OptionDef(0, "No")
        return {
            "@odata.type": NS + "BooleanOptionSetMetadata",
            **base,
            "TrueOption": option_json(true, "Boolean"),
            "FalseOption": option_json(false, "Boolean"),
        }
    return {
        "@odata.type": NS + "OptionSetMetadata",
        **base,
        "Options": [option_json(o, option_set.kind) for o in option_set.options],
    }


# -- keys and relationships -------------------------------------------------------------


def key_json(key: KeyDef) -> dict[str, Any]:
    return {
        "MetadataId": key.metadata_id,
        "LogicalName": key.logical_name,
        "SchemaName": key.schema_name,
        "EntityLogicalName": key.entity,
        "KeyAttributes": list(key.key_attributes),
        "EntityKeyIndexStatus": key.status,
        "DisplayName": label(key.schema_name),
        "AsyncJob": None,
        "IsManaged": False,
        "IsCustomizable": managed(True, "iscustomizable"),
        "IsSecondaryKey": False,
        "IsExportKey": False,
        "IsSynchronous": False,
        "IntroducedVersion": "1.0",
    }


def relationship_json(rel: RelationshipDef, *, typed: bool = False) -> dict[str, Any]:
    """``OneToManyRelationshipMetadata``; ``typed`` adds ``@odata.type`` (in
    ``RelationshipDefinitions``, whose declared type is the base ``RelationshipMetadataBase``)."""
    cascade = {
        "Assign": "NoCascade",
        "Delete": rel.cascade_delete,
        "Merge": "NoCascade",
        "Reparent": "NoCascade",
        "Share": "NoCascade",
        "Unshare": "NoCascade",
        "RollupView": "NoCascade",
        "Archive": "NoCascade",
        **rel.cascade,
    }
    out: dict[str, Any] = {"@odata.type": NS + "OneToManyRelationshipMetadata"} if typed else {}
    return {
        **out,
        "MetadataId": rel.metadata_id,
        "SchemaName": rel.schema_name,
        "RelationshipType": "OneToManyRelationship",
        "ReferencedEntity": rel.referenced_entity,
        "ReferencedAttribute": rel.referenced_attribute,
        "ReferencingEntity": rel.referencing_entity,
        "ReferencingAttribute": rel.referencing_attribute,
        "ReferencedEntityNavigationPropertyName": rel.referenced_nav,
        "ReferencingEntityNavigationPropertyName": rel.referencing_nav,
        "IsCustomRelationship": rel.is_custom,
        "IsManaged": False,
        "IsHierarchical": False,
        "IsValidForAdvancedFind": True,
        "SecurityTypes": "None",
        "IntroducedVersion": "1.0",
        "CascadeConfiguration": cascade,
        "AssociatedMenuConfiguration": {
            "Behavior": "UseCollectionName",
            "Group": "Details",
            "Label": label(""),
            "Order": 10000,
        },
        "IsCustomizable": managed(True, "iscustomizable"),
    }
