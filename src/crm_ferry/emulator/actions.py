"""Functions and actions: WhoAmI, WinOpportunity, LoseOpportunity, PublishXml, PublishAllXml,
RetrieveUserPrivileges, RetrieveVersion, the option actions InsertOptionValue,
DeleteOptionValue, UpdateOptionValue, OrderOption and InsertStatusValue
(:mod:`.metadata.options`), and BulkDelete (in :mod:`.jobs`); the block-transfer messages of
files, notes and attachments are in :mod:`.blocks`. Their signatures are
:data:`crm_ferry.emulator.csdl.OPERATIONS` (what ``$metadata`` declares), and an action's body
may name only its parameters.

Sources (Microsoft Learn):
WhoAmI https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami,
WinOpportunity https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/winopportunity,
LoseOpportunity https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/loseopportunity,
PublishXml https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/publishxml,
RetrieveUserPrivileges https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveuserprivileges,
the option actions
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets.

Closing an opportunity does what the platform does and FakeXrmEasy does not: it checks the
opportunity is Open and the status belongs to Won/Lost, sets statecode/statuscode,
actualclosedate and actualvalue, and creates the ``opportunityclose`` activity, completed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import httpx

from crm_ferry.emulator import blocks, jobs, metadata, odata, tenant
from crm_ferry.emulator.csdl import OPERATIONS
from crm_ferry.emulator.records import (
    Ctx,
    all_privileges,
    before_update,
    check_pair,
    check_privilege,
    create_record,
    json_response,
    no_content,
    parse_reference,
    privilege_id,
    read_body,
    resolve_key,
    write_platform_update,
)
from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import (
    INVALID_ARGUMENT,
    OPPORTUNITY_CLOSED,
    PAYLOAD_ERROR,
    UNKNOWN_PROPERTY,
    Fault,
    not_found,
    parse_datetime_value,
    to_number,
)


def unknown_segment(name: str) -> Fault:
    """A path segment that names nothing the emulator answers: 501 for a documented message
    it lacks (:data:`NOT_EMULATED`), else Dataverse's 404."""
    if name in NOT_EMULATED:
        return not_implemented(f"The message {name}")
    return Fault(404, UNKNOWN_PROPERTY, f"Resource not found for the segment '{name}'.")


NOT_EMULATED = frozenset(
    {
        "AddMembersTeam",
        "AddToQueue",
        "CalculateRollupField",
        "CalculateTotalTimeIncident",
        "CanBeReferenced",
        "CanBeReferencing",
        "CanManyToMany",
        "CreateEntityKey",
        "CreateException",
        "DeliverIncomingEmail",
        "ExecuteWorkflow",
        "ExportTranslation",
        "FulfillSalesOrder",
        "GetDefaultPriceLevel",
        "GetTimeZoneCodeByLocalizedName",
        "GetValidManyToMany",
        "GetValidReferencedEntities",
        "GetValidReferencingEntities",
        "GrantAccess",
        "IncrementKnowledgeArticleViewCount",
        "InitializeFrom",
        "IsValidStateTransition",
        "Merge",
        "ModifyAccess",
        "RemoveMembersTeam",
        "RetrieveAllChildUsersSystemUser",
        "RetrieveBusinessHierarchyBusinessUnit",
        "RetrieveCurrentOrganization",
        "RetrieveDuplicates",
        "RetrieveLocLabels",
        "RetrieveMetadataChanges",
        "RetrievePrincipalAccess",
        "RetrieveRecordWall",
        "RetrieveTotalRecordCount",
        "RetrieveUnpublishedMultiple",
        "RevokeAccess",
        "ValidateRecurrenceRule",
        "ValidateSavedQuery",
    }
)
"""Actions and functions of the Web API reference (unbound, or bound to a row or a table) that
clients (Microsoft's Python SDK among them) call, or the Web API articles show, and the
emulator does not implement: 501 naming the message, where an
unknown name gets Dataverse's 404."""


def unbound(em: TenantState, ctx: Ctx, seg: odata.OperationSegment, method: str) -> httpx.Response:
    name = seg.name
    if method == "POST" and name in PARAMETERS:
        check_parameters(name, read_body(ctx))
    if name == "WhoAmI" and method == "GET":
        return who_am_i(em, ctx)
    if name == "RetrieveVersion" and method == "GET":
        return json_response(
            200,
            {
                "@odata.context": (
                    f"{ctx.base}$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse"
                ),
                "Version": tenant.SERVICE_VERSION,
            },
        )
    if name in ("WinOpportunity", "LoseOpportunity") and method == "POST":
        return close_opportunity(em, ctx, won=name == "WinOpportunity")
    if name == "PublishXml" and method == "POST":
        return publish_xml(ctx)
    if name == "PublishAllXml" and method == "POST":
        return no_content()
    if name in _OPTION_ACTION_NAMES and method == "POST":
        return option_action(em, ctx, name)
    if name == "BulkDelete" and method == "POST":
        return jobs.bulk_delete(em, ctx)
    if name in blocks.MESSAGES and method == "POST":
        return blocks.handle(em, ctx, name)
    raise unknown_segment(name)


_OPTION_ACTION_NAMES = frozenset(
    {"InsertOptionValue", "DeleteOptionValue", "UpdateOptionValue", "OrderOption"}
    | {"InsertStatusValue"}
)


def bound(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    key: odata.Key,
    seg: odata.OperationSegment,
    method: str,
) -> httpx.Response:
    if entity.logical_name == "systemuser" and seg.name == "RetrieveUserPrivileges":
        if method != "GET":
            raise Fault(405, INVALID_ARGUMENT, "RetrieveUserPrivileges is a function (GET).")
        row_id, _ = resolve_key(em, entity, key)
        if row_id is None or em.store.get("systemuser", row_id) is None:
            raise not_found("systemuser", str(row_id))
        return user_privileges(em, ctx, row_id)
    raise unknown_segment(seg.name)


def who_am_i(em: TenantState, ctx: Ctx) -> httpx.Response:
    user = em.store.get("systemuser", ctx.caller) or {}
    em.count_records(1)
    return json_response(
        200,
        {
            "@odata.context": f"{ctx.base}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": user.get("businessunitid", tenant.ROOT_BUSINESS_UNIT_ID),
            "UserId": ctx.caller,
            "OrganizationId": tenant.ORGANIZATION_ID,
        },
    )


def user_privileges(em: TenantState, ctx: Ctx, user_id: str) -> httpx.Response:
    """Every privilege of the user's role (System Administrator minus what is removed)."""
    removed = em.removed_privileges(user_id)
    names = sorted(all_privileges(em))
    privileges = [
        {
            "Depth": "Global",
            "PrivilegeId": privilege_id(name),
            "BusinessUnitId": tenant.ROOT_BUSINESS_UNIT_ID,
            "PrivilegeName": name,
        }
        for name in names
        if name not in removed
    ]
    return json_response(
        200,
        {
            "@odata.context": (
                f"{ctx.base}$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse"
            ),
            "RolePrivileges": privileges,
        },
    )


def publish_xml(ctx: Ctx) -> httpx.Response:
    """``ParameterXml`` must be a well-formed ``<importexportxml>`` document."""
    xml = read_body(ctx).get("ParameterXml")
    if not isinstance(xml, str) or not xml.strip():
        raise Fault(400, INVALID_ARGUMENT, "The ParameterXml parameter is required.")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise Fault(400, INVALID_ARGUMENT, f"The ParameterXml is not well-formed: {exc}.") from None
    if root.tag != "importexportxml":
        raise Fault(
            400,
            INVALID_ARGUMENT,
            f"The ParameterXml root element must be 'importexportxml', not '{root.tag}'.",
        )
    return no_content()


def option_action(em: TenantState, ctx: Ctx, name: str) -> httpx.Response:
    """InsertOptionValue, DeleteOptionValue, UpdateOptionValue, OrderOption or
    InsertStatusValue (:mod:`crm_ferry.emulator.metadata.options`)."""
    body = read_body(ctx)
    if name in ("InsertOptionValue", "InsertStatusValue"):
        if name == "InsertOptionValue":
            value = metadata.insert_option_value(em, body)
        else:
            value = metadata.insert_status_value(em, body)
        return json_response(
            200,
            {
                "@odata.context": f"{ctx.base}$metadata#Microsoft.Dynamics.CRM.{name}Response",
                "NewOptionValue": value,
            },
        )
    OPTION_ACTIONS[name](em, body)
    return no_content()


OPTION_ACTIONS = {
    "DeleteOptionValue": metadata.delete_option_value,
    "UpdateOptionValue": metadata.update_option_value,
    "OrderOption": metadata.order_option,
}


def check_parameters(name: str, body: dict[str, Any]) -> None:
    """An action's body names only the action's parameters (as ``$metadata`` declares them):
    a parameter the emulator does not know is refused, not ignored."""
    declared = PARAMETERS.get(name)
    if declared is None:
        return
    for key in body:
        if key not in declared and not key.startswith("@"):
            raise Fault(
                400,
                PAYLOAD_ERROR,
                f"The parameter '{key}' in the request payload is not a valid parameter for the "
                f"operation '{name}'.",
            )


UNBOUND_OPERATIONS: frozenset[str] = odata.DEFAULT_UNBOUND_OPERATIONS | {
    op.name for op in OPERATIONS if op.bound_to is None
}
"""First path segments read as unbound functions or actions (not entity sets): every one
``$metadata`` imports, so ``POST .../OrderOption`` reaches the action."""

PARAMETERS: dict[str, frozenset[str]] = {
    op.name: frozenset(p.name for p in op.parameters)
    for op in OPERATIONS
    if op.kind == "Action" and op.bound_to is None
}


def close_opportunity(em: TenantState, ctx: Ctx, *, won: bool) -> httpx.Response:
    body = read_body(ctx)
    status = body.get("Status")
    close = body.get("OpportunityClose")
    opp_entity = em.schema.entity("opportunity")
    close_entity = em.schema.entity("opportunityclose")
    assert opp_entity is not None
    assert close_entity is not None
    if isinstance(status, bool) or not isinstance(status, int):
        raise Fault(400, INVALID_ARGUMENT, "The Status parameter must be an integer.")
    if not isinstance(close, dict):
        raise Fault(400, INVALID_ARGUMENT, "The OpportunityClose parameter is required.")
    bind = close.get("opportunityid@odata.bind")
    if bind is None:
        raise Fault(
            400,
            INVALID_ARGUMENT,
            "OpportunityClose must reference its opportunity (opportunityid@odata.bind).",
        )
    _, opp_id = parse_reference(em, bind)
    opportunity = em.store.get("opportunity", opp_id)
    if opportunity is None:
        raise not_found("opportunity", opp_id)
    state = 1 if won else 2
    check_pair(opp_entity, state, status, opp_id)
    if opportunity.get("statecode", 0) != 0:
        raise Fault(
            400,
            OPPORTUNITY_CLOSED,
            f"The opportunity {opp_id} is already closed; reopen it before closing it again.",
        )
    check_privilege(em, ctx, "Write", opp_entity)
    close_id, close_row = create_record(em, ctx, close_entity, close)
    close_row["statecode"] = 1
    close_row["statuscode"] = 2
    write_platform_update(em, close_entity, close_id, close_row, ctx.caller)
    opportunity["statecode"] = state
    opportunity["statuscode"] = status
    actual_end = close_row.get("actualend")
    opportunity["actualclosedate"] = (
        parse_datetime_value(actual_end).date().isoformat()
        if actual_end
        else em.now().date().isoformat()
    )
    revenue: Any = close_row.get("actualrevenue")
    if won:
        if revenue is None:
            revenue = opportunity.get("estimatedvalue")
        if revenue is not None:
            opportunity["actualvalue"] = to_number(_decimal(revenue), 2)
    before_update(em, ctx, opp_entity, opportunity, {}, opportunity)
    write_platform_update(em, opp_entity, opp_id, opportunity, ctx.caller)
    em.count_records(1)
    return no_content()


def _decimal(value: Any) -> Any:
    return Decimal(str(value))


__all__ = [
    "NOT_EMULATED",
    "PARAMETERS",
    "UNBOUND_OPERATIONS",
    "bound",
    "check_parameters",
    "close_opportunity",
    "option_action",
    "publish_xml",
    "unbound",
    "unknown_segment",
    "user_privileges",
    "who_am_i",
]
