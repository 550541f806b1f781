"""Every property of EntityMetadata and AttributeMetadata (and the derived attribute types the
emulator creates), with what the emulator does when a request sends it.

Properties are those of the Web API reference (EntityMetadata, AttributeMetadata,
StringAttributeMetadata ... MultiSelectPicklistAttributeMetadata;
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitymetadata and
.../attributemetadata) and those the articles' examples read back (``CreatedOn``,
``ModifiedOn``, ``IsValidODataAttribute``, ``Settings``;
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api).
Defaults are the values the articles show for a new custom table and column.

A property is one of (:class:`Rule`):

- ``applied``: the create and update code reads it and the model holds it (``SchemaName``,
  ``DisplayName``, ``MaxLength``...);
- ``stored``: a setting with no effect on the data plane (how apps show the table, mobile and
  search flags...), kept as sent and read back (``EntityColor``, ``IsQuickCreateEnabled``);
- ``computed``: read-only, set by the platform (``ObjectTypeCode``, ``IsCustomEntity``...): a
  request may send the value the platform has (a definition read and sent back), any other
  value is refused;
- ``unsupported``: a feature the emulator does not implement (business process flows,
  virtual tables, field security, calculated columns...): its default value is accepted,
  anything else is answered 501 naming the property.

No property is dropped: :func:`crm_ferry.emulator.metadata.verify.verify` compares what a
request sent with what the definition reads back afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Policy = Literal["applied", "stored", "computed", "unsupported"]
ValueType = Literal["bool", "str", "int", "guid", "bmp", "label", "any"]


@dataclass(frozen=True, slots=True)
class Rule:
    policy: Policy
    type: ValueType = "any"
    default: Any = None
    """What the property reads as when the definition holds nothing else (``stored``,
    ``unsupported`` and constant ``computed`` properties)."""
    feature: str = ""
    """For ``unsupported``: what the 501 says is not implemented."""


def bmp(value: bool, logical: str, *, can_change: bool = True) -> dict[str, Any]:
    """A BooleanManagedProperty value."""
    return {"Value": value, "CanBeChanged": can_change, "ManagedPropertyLogicalName": logical}


def _applied(type_: ValueType = "any") -> Rule:
    return Rule("applied", type_)


def _stored(type_: ValueType, default: Any) -> Rule:
    return Rule("stored", type_, default)


BY_SHAPE: Any = object()
"""The default of a ``computed`` property whose value the definition's shape works out."""


def _computed(default: Any = BY_SHAPE) -> Rule:
    return Rule("computed", "any", default)


def _unsupported(type_: ValueType, default: Any, feature: str) -> Rule:
    return Rule("unsupported", type_, default, feature)


METADATA_BASE: dict[str, Rule] = {
    "MetadataId": _applied("guid"),
    "HasChanged": _computed(None),
}

ENTITY: dict[str, Rule] = {
    **METADATA_BASE,
    "ActivityTypeMask": _unsupported("int", 0, "Activity tables (ActivityTypeMask)"),
    "AutoCreateAccessTeams": _unsupported("bool", False, "Access teams (AutoCreateAccessTeams)"),
    "AutoReplicateClusterRecords": _unsupported(
        "bool", False, "Elastic table clusters (AutoReplicateClusterRecords)"
    ),
    "AutoRouteToOwnerQueue": _unsupported("bool", False, "Queues (AutoRouteToOwnerQueue)"),
    "CanBeInCustomEntityAssociation": _stored("bmp", bmp(True, "canbeincustomentityassociation")),
    "CanBeInManyToMany": _stored("bmp", bmp(True, "canbeinmanytomany")),
    "CanBePrimaryEntityInRelationship": _stored(
        "bmp", bmp(True, "canbeprimaryentityinrelationship")
    ),
    "CanBeRelatedEntityInRelationship": _stored(
        "bmp", bmp(True, "canberelatedentityinrelationship")
    ),
    "CanChangeClusterMode": _unsupported(
        "bool", False, "Elastic table clusters (CanChangeClusterMode)"
    ),
    "CanChangeHierarchicalRelationship": _stored(
        "bmp", bmp(True, "canchangehierarchicalrelationship")
    ),
    "CanChangeTrackingBeEnabled": _stored("bmp", bmp(True, "canchangetrackingbeenabled")),
    "CanCreateAttributes": _computed(bmp(True, "cancreateattributes", can_change=False)),
    "CanCreateCharts": _stored("bmp", bmp(True, "cancreatecharts")),
    "CanCreateForms": _stored("bmp", bmp(True, "cancreateforms")),
    "CanCreateViews": _stored("bmp", bmp(True, "cancreateviews")),
    "CanEnableSyncToExternalSearchIndex": _stored(
        "bmp", bmp(True, "canenablesynctoexternalsearchindex")
    ),
    "CanModifyAdditionalSettings": _stored("bmp", bmp(True, "canmodifyadditionalsettings")),
    "CanTriggerWorkflow": _computed(True),
    "ChangeTrackingEnabled": _applied("bool"),
    "CollectionSchemaName": _computed(),
    "CreatedOn": _computed(),
    "DataProviderId": _unsupported("guid", None, "Virtual tables (DataProviderId)"),
    "DataSourceId": _unsupported("guid", None, "Virtual tables (DataSourceId)"),
    "DaysSinceRecordLastModified": _stored("int", 0),
    "Description": _applied("label"),
    "DisplayCollectionName": _applied("label"),
    "DisplayName": _applied("label"),
    "EnforceStateTransitions": _computed(False),
    "EntityColor": _stored("str", None),
    "EntityHelpUrl": _stored("str", None),
    "EntityHelpUrlEnabled": _stored("bool", False),
    "EntitySetName": _applied("str"),
    "ExternalCollectionName": _unsupported("str", None, "Virtual tables (ExternalCollectionName)"),
    "ExternalName": _unsupported("str", None, "Virtual tables (ExternalName)"),
    "HasActivities": _applied("bool"),
    "HasFeedback": _unsupported("bool", False, "Feedback on tables (HasFeedback)"),
    "HasNotes": _applied("bool"),
    "IconLargeName": _stored("str", None),
    "IconMediumName": _stored("str", None),
    "IconSmallName": _stored("str", None),
    "IconVectorName": _stored("str", None),
    "IntroducedVersion": _computed("1.0"),
    "IsActivity": _unsupported("bool", False, "Activity tables (IsActivity)"),
    "IsActivityParty": _unsupported("bool", False, "Activity parties (IsActivityParty)"),
    "IsAIRUpdated": _computed(False),
    "IsAuditEnabled": _stored("bmp", bmp(False, "canmodifyauditsettings")),
    "IsAvailableOffline": _stored("bool", False),
    "IsBPFEntity": _unsupported("bool", False, "Business process flow tables (IsBPFEntity)"),
    "IsBusinessProcessEnabled": _unsupported(
        "bool", False, "Business process flows (IsBusinessProcessEnabled)"
    ),
    "IsChildEntity": _computed(False),
    "IsConnectionsEnabled": _unsupported(
        "bmp", bmp(False, "canmodifyconnectionsettings"), "Connections (IsConnectionsEnabled)"
    ),
    "IsCustomEntity": _computed(),
    "IsCustomizable": _stored("bmp", bmp(True, "iscustomizable")),
    "IsDocumentManagementEnabled": _stored("bool", False),
    "IsDocumentRecommendationsEnabled": _stored("bool", False),
    "IsDuplicateDetectionEnabled": _stored(
        "bmp", bmp(False, "canmodifyduplicatedetectionsettings")
    ),
    "IsEnabledForCharts": _computed(True),
    "IsEnabledForExternalChannels": _stored("bool", False),
    "IsEnabledForTrace": _stored("bool", False),
    "IsImportable": _computed(True),
    "IsInteractionCentricEnabled": _stored("bool", False),
    "IsIntersect": _computed(False),
    "IsKnowledgeManagementEnabled": _unsupported(
        "bool", False, "Knowledge management (IsKnowledgeManagementEnabled)"
    ),
    "IsLogicalEntity": _computed(False),
    "IsMailMergeEnabled": _stored("bmp", bmp(True, "canmodifymailmergesettings")),
    "IsManaged": _computed(False),
    "IsMappable": _stored("bmp", bmp(True, "ismappable", can_change=False)),
    "IsMSTeamsIntegrationEnabled": _stored("bool", False),
    "IsOfflineInMobileClient": _stored("bmp", bmp(False, "canmodifymobileclientoffline")),
    "IsOneNoteIntegrationEnabled": _stored("bool", False),
    "IsOptimisticConcurrencyEnabled": _computed(True),
    "IsPrivate": _computed(False),
    "IsQuickCreateEnabled": _stored("bool", False),
    "IsReadingPaneEnabled": _stored("bool", True),
    "IsReadOnlyInMobileClient": _stored("bmp", bmp(False, "canmodifymobileclientreadonly")),
    "IsRenameable": _stored("bmp", bmp(True, "isrenameable")),
    "IsSLAEnabled": _unsupported("bool", False, "Service level agreements (IsSLAEnabled)"),
    "IsSolutionAware": _computed(False),
    "IsStateModelAware": _computed(True),
    "IsValidForAdvancedFind": _computed(True),
    "IsValidForQueue": _unsupported(
        "bmp", bmp(False, "canmodifyqueuesettings"), "Queues (IsValidForQueue)"
    ),
    "IsVisibleInMobile": _stored("bmp", bmp(False, "canmodifymobilevisibility")),
    "IsVisibleInMobileClient": _stored("bmp", bmp(False, "canmodifymobileclientvisibility")),
    "LogicalCollectionName": _computed(),
    "LogicalName": _computed(),
    "MobileOfflineFilters": _stored("str", ""),
    "ModifiedOn": _computed(),
    "ObjectTypeCode": _computed(),
    "OwnershipType": _applied("str"),
    "PrimaryIdAttribute": _computed(),
    "PrimaryImageAttribute": _computed(None),
    "PrimaryNameAttribute": _computed(),
    "Privileges": _computed(),
    "RecurrenceBaseEntityLogicalName": _computed(None),
    "ReportViewName": _computed(),
    "SchemaName": _applied("str"),
    "SyncToExternalSearchIndex": _stored("bool", False),
    "TableType": _unsupported("str", "Standard", "Elastic and virtual tables (TableType)"),
    "UsesBusinessDataLabelTable": _computed(False),
}
"""EntityMetadata's properties (its navigation properties excepted: ``Attributes`` is read
on create, ``Keys`` and the relationships have their own paths)."""

ENTITY_NAVIGATION = frozenset(
    {"Attributes", "Keys", "ManyToManyRelationships", "ManyToOneRelationships"}
    | {"OneToManyRelationships"}
)

ATTRIBUTE: dict[str, Rule] = {
    **METADATA_BASE,
    "AttributeOf": _computed(None),
    "AttributeType": _applied("str"),
    "AttributeTypeName": _applied("any"),
    "AutoNumberFormat": _unsupported("str", None, "Autonumber columns (AutoNumberFormat)"),
    "CanBeSecuredForCreate": _computed(True),
    "CanBeSecuredForRead": _computed(True),
    "CanBeSecuredForUpdate": _computed(True),
    "CanModifyAdditionalSettings": _stored("bmp", bmp(True, "canmodifyadditionalsettings")),
    "ColumnNumber": _computed(),
    "CreatedOn": _computed(),
    "DeprecatedVersion": _computed(None),
    "Description": _applied("label"),
    "DisplayName": _applied("label"),
    "EntityLogicalName": _computed(),
    "ExternalName": _unsupported("str", None, "Virtual table columns (ExternalName)"),
    "InheritsFrom": _computed(None),
    "IntroducedVersion": _computed("1.0"),
    "IsAuditEnabled": _stored("bmp", bmp(True, "canmodifyauditsettings")),
    "IsCustomAttribute": _computed(),
    "IsCustomizable": _stored("bmp", bmp(True, "iscustomizable")),
    "IsDataSourceSecret": _unsupported("bool", False, "Data source secrets (IsDataSourceSecret)"),
    "IsFilterable": _stored("bool", False),
    "IsGlobalFilterEnabled": _stored("bmp", bmp(False, "canmodifyglobalfiltersettings")),
    "IsLogical": _computed(False),
    "IsManaged": _computed(False),
    "IsPrimaryId": _computed(False),
    "IsPrimaryName": _applied("bool"),
    "IsRenameable": _stored("bmp", bmp(True, "isrenameable")),
    "IsRequiredForForm": _stored("bool", False),
    "IsRetrievable": _stored("bool", False),
    "IsSearchable": _stored("bool", False),
    "IsSecured": _unsupported("bool", False, "Column-level security (IsSecured)"),
    "IsSortableEnabled": _stored("bmp", bmp(False, "canmodifyissortablesettings")),
    "IsValidForAdvancedFind": _stored("bmp", bmp(True, "canmodifysearchsettings")),
    "IsValidForCreate": _computed(True),
    "IsValidForForm": _stored("bool", True),
    "IsValidForGrid": _stored("bool", True),
    "IsValidForRead": _computed(True),
    "IsValidForUpdate": _computed(True),
    "IsValidODataAttribute": _computed(True),
    "LinkedAttributeId": _unsupported("guid", None, "Linked columns (LinkedAttributeId)"),
    "LogicalName": _computed(),
    "ModifiedOn": _computed(),
    "RequiredLevel": _applied("any"),
    "SchemaName": _applied("str"),
    "Settings": _computed([]),
    "SourceType": _unsupported("int", 0, "Calculated and rollup columns (SourceType)"),
}
"""AttributeMetadata's properties (every attribute type has them)."""

_FORMULA = _unsupported("str", None, "Calculated and rollup columns (FormulaDefinition)")
_SOURCE_MASK = _computed(0)
_IME = _stored("str", "Auto")

BY_TYPE: dict[str, dict[str, Rule]] = {
    "StringAttributeMetadata": {
        "DatabaseLength": _computed(),
        "Format": _applied("str"),
        "FormatName": _applied("any"),
        "FormulaDefinition": _FORMULA,
        "ImeMode": _IME,
        "IsLocalizable": _unsupported("bool", False, "Localizable column values (IsLocalizable)"),
        "MaxLength": _applied("int"),
        "SourceTypeMask": _SOURCE_MASK,
        "YomiOf": _unsupported("str", None, "Phonetic (Yomi) columns (YomiOf)"),
    },
    "MemoAttributeMetadata": {
        "Format": _applied("str"),
        "FormatName": _stored("any", {"Value": "Text"}),
        "ImeMode": _IME,
        "IsLocalizable": _unsupported("bool", False, "Localizable column values (IsLocalizable)"),
        "MaxLength": _applied("int"),
    },
    "IntegerAttributeMetadata": {
        "Format": _applied("str"),
        "FormulaDefinition": _FORMULA,
        "MaxValue": _applied("int"),
        "MinValue": _applied("int"),
        "SourceTypeMask": _SOURCE_MASK,
    },
    "BigIntAttributeMetadata": {
        "MaxValue": _applied("int"),
        "MinValue": _applied("int"),
    },
    "DecimalAttributeMetadata": {
        "FormulaDefinition": _FORMULA,
        "ImeMode": _IME,
        "MaxValue": _applied("any"),
        "MinValue": _applied("any"),
        "Precision": _applied("int"),
        "SourceTypeMask": _SOURCE_MASK,
    },
    "DoubleAttributeMetadata": {
        "ImeMode": _IME,
        "MaxValue": _applied("any"),
        "MinValue": _applied("any"),
        "Precision": _applied("int"),
    },
    # File and image columns (FileAttributeMetadata, ImageAttributeMetadata; "Use file column
    # data", "Use image column data")
    "FileAttributeMetadata": {"MaxSizeInKB": _applied("int")},
    "ImageAttributeMetadata": {
        "CanStoreFullImage": _applied("bool"),
        "IsPrimaryImage": _applied("bool"),
        "MaxHeight": _computed(144),
        "MaxSizeInKB": _applied("int"),
        "MaxWidth": _computed(144),
    },
    "MoneyAttributeMetadata": {
        "CalculationOf": _computed(None),
        "FormulaDefinition": _FORMULA,
        "ImeMode": _IME,
        "IsBaseCurrency": _computed(),
        "MaxValue": _applied("any"),
        "MinValue": _applied("any"),
        "Precision": _applied("int"),
        "PrecisionSource": _applied("int"),
        "SourceTypeMask": _SOURCE_MASK,
    },
    "DateTimeAttributeMetadata": {
        "CanChangeDateTimeBehavior": _computed(),
        "DateTimeBehavior": _applied("any"),
        "Format": _applied("str"),
        "FormulaDefinition": _FORMULA,
        "ImeMode": _IME,
        "MaxSupportedValue": _computed("9999-12-30T23:59:59Z"),
        "MinSupportedValue": _computed("1753-01-01T00:00:00Z"),
        "SourceTypeMask": _SOURCE_MASK,
    },
    "BooleanAttributeMetadata": {
        "DefaultValue": _stored("bool", False),
        "FormulaDefinition": _FORMULA,
        "OptionSet": _applied("any"),
        "SourceTypeMask": _SOURCE_MASK,
    },
    "PicklistAttributeMetadata": {
        "DefaultFormValue": _stored("int", -1),
        "FormulaDefinition": _FORMULA,
        "OptionSet": _applied("any"),
        "SourceTypeMask": _SOURCE_MASK,
    },
    "MultiSelectPicklistAttributeMetadata": {
        "DefaultFormValue": _stored("int", -1),
        "FormulaDefinition": _FORMULA,
        "OptionSet": _applied("any"),
        "SourceTypeMask": _SOURCE_MASK,
    },
}
"""The properties each derived type adds to :data:`ATTRIBUTE`."""

OPTION_SET: dict[str, Rule] = {
    **METADATA_BASE,
    "Description": _applied("label"),
    "DisplayName": _applied("label"),
    "ExternalTypeName": _unsupported("str", None, "External choices (ExternalTypeName)"),
    "IntroducedVersion": _computed("1.0"),
    "IsCustomOptionSet": _computed(),
    "IsCustomizable": _stored("bmp", bmp(True, "iscustomizable")),
    "IsGlobal": _computed(),
    "IsManaged": _computed(False),
    "Name": _applied("str"),
    "OptionSetType": _applied("str"),
    "Options": _applied("any"),
    "ParentOptionSetName": _unsupported("str", None, "Dependent choices (ParentOptionSetName)"),
}
"""OptionSetMetadata's properties (a global choice's; ``TrueOption``/``FalseOption`` for a
BooleanOptionSetMetadata)."""

ATTRIBUTE_BINDINGS = frozenset({"GlobalOptionSet@odata.bind"})
"""Navigation bindings an attribute body may carry (read by the choice rules)."""


def attribute_rules(meta_type: str) -> dict[str, Rule]:
    """Every property of an attribute of the derived type ``meta_type``."""
    return {**ATTRIBUTE, **BY_TYPE.get(meta_type, {})}


def stored_values(rules: dict[str, Rule], extra: dict[str, Any]) -> dict[str, Any]:
    """The read value of every ``stored`` and ``unsupported`` property (and constant
    ``computed`` one): what ``extra`` holds, else the default."""
    out: dict[str, Any] = {}
    for name, rule in rules.items():
        if rule.policy in ("stored", "unsupported"):
            out[name] = extra.get(name, rule.default)
        elif rule.policy == "computed" and rule.default is not BY_SHAPE:
            out[name] = rule.default
    return out


__all__ = [
    "ATTRIBUTE",
    "ATTRIBUTE_BINDINGS",
    "BY_SHAPE",
    "BY_TYPE",
    "ENTITY",
    "ENTITY_NAVIGATION",
    "OPTION_SET",
    "Rule",
    "attribute_rules",
    "bmp",
    "stored_values",
]
