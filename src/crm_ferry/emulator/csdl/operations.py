"""The functions and actions the emulator answers, as ``$metadata`` declares them.

One :class:`Operation` per message :mod:`crm_ferry.emulator.actions`, :mod:`.bulk` and the
metadata API answer (``NOT_EMULATED`` messages are left out: the service does not offer them),
with the parameters and return types of the Web API reference
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami,
.../winopportunity, .../publishxml, .../insertoptionvalue, .../createmultiple ...), and the
complex and enumeration types they use. ``Nullable="false"`` marks required parameters
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-actions).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    kind: str
    """``Function`` (GET) or ``Action`` (POST)."""
    parameters: tuple[Parameter, ...] = ()
    returns: str | None = None
    bound_to: str | None = None
    """The binding parameter's type (``mscrm.systemuser``, ``Collection(mscrm.crmbaseentity)``);
    None for an unbound operation, which the container imports."""


def _p(name: str, type_: str, required: bool = False) -> Parameter:
    return Parameter(name, type_, required)


_OPTION_TARGET = (
    _p("OptionSetName", "Edm.String"),
    _p("EntityLogicalName", "Edm.String"),
    _p("AttributeLogicalName", "Edm.String"),
)
_CLOSE = (_p("Status", "Edm.Int32", True),)

OPERATIONS: tuple[Operation, ...] = (
    Operation("WhoAmI", "Function", returns="mscrm.WhoAmIResponse"),
    Operation(
        "RetrieveUserPrivileges",
        "Function",
        returns="mscrm.RetrieveUserPrivilegesResponse",
        bound_to="mscrm.systemuser",
    ),
    Operation(
        "WinOpportunity",
        "Action",
        (_p("OpportunityClose", "mscrm.opportunityclose", True), *_CLOSE),
    ),
    Operation(
        "LoseOpportunity",
        "Action",
        (_p("OpportunityClose", "mscrm.opportunityclose", True), *_CLOSE),
    ),
    Operation("PublishXml", "Action", (_p("ParameterXml", "Edm.String", True),)),
    Operation("PublishAllXml", "Action"),
    Operation(
        "InsertOptionValue",
        "Action",
        (
            *_OPTION_TARGET,
            _p("Value", "Edm.Int32"),
            _p("Label", "mscrm.Label", True),
            _p("Description", "mscrm.Label"),
            _p("SolutionUniqueName", "Edm.String"),
        ),
        returns="mscrm.InsertOptionValueResponse",
    ),
    Operation(
        "DeleteOptionValue",
        "Action",
        (*_OPTION_TARGET, _p("Value", "Edm.Int32", True), _p("SolutionUniqueName", "Edm.String")),
    ),
    Operation(
        "UpdateOptionValue",
        "Action",
        (
            *_OPTION_TARGET,
            _p("Value", "Edm.Int32", True),
            _p("Label", "mscrm.Label"),
            _p("Description", "mscrm.Label"),
            _p("MergeLabels", "Edm.Boolean", True),
            _p("SolutionUniqueName", "Edm.String"),
        ),
    ),
    Operation(
        "OrderOption",
        "Action",
        (
            *_OPTION_TARGET,
            _p("Values", "Collection(Edm.Int32)", True),
            _p("SolutionUniqueName", "Edm.String"),
        ),
    ),
    Operation(
        "InsertStatusValue",
        "Action",
        (
            *_OPTION_TARGET,
            _p("Value", "Edm.Int32"),
            _p("Label", "mscrm.Label", True),
            _p("Description", "mscrm.Label"),
            _p("StateCode", "Edm.Int32", True),
            _p("SolutionUniqueName", "Edm.String"),
        ),
        returns="mscrm.InsertStatusValueResponse",
    ),
    Operation(
        "CreateEntities",
        "Action",
        (
            _p("Entities", "Collection(mscrm.ComplexEntityMetadata)", True),
            _p("SolutionUniqueName", "Edm.String"),
        ),
        returns="mscrm.CreateEntitiesResponse",
    ),
    Operation(
        "CreateMultiple",
        "Action",
        (_p("Targets", "Collection(mscrm.crmbaseentity)", True),),
        returns="mscrm.CreateMultipleResponse",
        bound_to="Collection(mscrm.crmbaseentity)",
    ),
    Operation(
        "UpdateMultiple",
        "Action",
        (_p("Targets", "Collection(mscrm.crmbaseentity)", True),),
        bound_to="Collection(mscrm.crmbaseentity)",
    ),
    Operation(
        "UpsertMultiple",
        "Action",
        (_p("Targets", "Collection(mscrm.crmbaseentity)", True),),
        bound_to="Collection(mscrm.crmbaseentity)",
    ),
)

COMPLEX_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    "WhoAmIResponse": (
        ("BusinessUnitId", "Edm.Guid"),
        ("UserId", "Edm.Guid"),
        ("OrganizationId", "Edm.Guid"),
    ),
    "RetrieveUserPrivilegesResponse": (("RolePrivileges", "Collection(mscrm.RolePrivilege)"),),
    "RolePrivilege": (
        ("Depth", "mscrm.PrivilegeDepth"),
        ("PrivilegeId", "Edm.Guid"),
        ("BusinessUnitId", "Edm.Guid"),
        ("PrivilegeName", "Edm.String"),
    ),
    "InsertOptionValueResponse": (("NewOptionValue", "Edm.Int32"),),
    "InsertStatusValueResponse": (("NewOptionValue", "Edm.Int32"),),
    "CreateMultipleResponse": (("Ids", "Collection(Edm.Guid)"),),
    "CreateEntitiesResponse": (("EntityIds", "Collection(Edm.Guid)"),),
    "ComplexEntityMetadata": (
        ("SchemaName", "Edm.String"),
        ("DisplayName", "mscrm.Label"),
        ("DisplayCollectionName", "mscrm.Label"),
        ("Description", "mscrm.Label"),
        ("OwnershipType", "mscrm.OwnershipTypes"),
        ("HasActivities", "Edm.Boolean"),
        ("HasNotes", "Edm.Boolean"),
        ("IsActivity", "Edm.Boolean"),
        ("Attributes", "Collection(mscrm.ComplexAttributeMetadata)"),
    ),
    "ComplexAttributeMetadata": (
        ("SchemaName", "Edm.String"),
        ("DisplayName", "mscrm.Label"),
        ("Description", "mscrm.Label"),
    ),
}
"""The complex types of the operations' parameters and answers (``Label`` and the metadata
complex types are declared with the metadata entity types)."""

ENUM_TYPES: dict[str, tuple[tuple[str, int], ...]] = {
    "PrivilegeDepth": (("Basic", 0), ("Local", 1), ("Deep", 2), ("Global", 3)),
}


__all__ = ["COMPLEX_TYPES", "ENUM_TYPES", "OPERATIONS", "Operation", "Parameter"]
