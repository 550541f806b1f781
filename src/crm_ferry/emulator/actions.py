"""Functions and actions: WhoAmI, WinOpportunity, LoseOpportunity, PublishXml, PublishAllXml,
RetrieveUserPrivileges, InsertOptionValue, DeleteOptionValue, and BulkDelete (in :mod:`.jobs`);
the block-transfer messages of files, notes and attachments are in :mod:`.blocks`.

Sources (Microsoft Learn):
WhoAmI https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami,
WinOpportunity https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/winopportunity,
LoseOpportunity https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/loseopportunity,
PublishXml https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/publishxml,
RetrieveUserPrivileges https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveuserprivileges,
InsertOptionValue / DeleteOptionValue
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

from crm_ferry.emulator import blocks, jobs, odata, tenant
from crm_ferry.emulator.metadata import label_text
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
from crm_ferry.emulator.schema import EntityDef, OptionDef, OptionSetDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import (
    DUPLICATE_RECORD,
    INVALID_ARGUMENT,
    OBJECT_DOES_NOT_EXIST,
    OPPORTUNITY_CLOSED,
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
        "CreateEntities",
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
    if name == "InsertOptionValue" and method == "POST":
        return insert_option_value(em, ctx)
    if name == "DeleteOptionValue" and method == "POST":
        return delete_option_value(em, ctx)
    if name == "BulkDelete" and method == "POST":
        return jobs.bulk_delete(em, ctx)
    if name in blocks.MESSAGES and method == "POST":
        return blocks.handle(em, ctx, name)
    raise unknown_segment(name)


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


def _option_set_of(em: TenantState, body: dict[str, Any]) -> OptionSetDef:
    """The choice an option action addresses: ``OptionSetName`` (global) or
    ``EntityLogicalName`` + ``AttributeLogicalName`` (local)."""
    name = body.get("OptionSetName")
    if name:
        found = em.schema.global_option_sets.get(str(name))
        if found is None:
            raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The global choice '{name}' does not exist.")
        return found
    table, column = body.get("EntityLogicalName"), body.get("AttributeLogicalName")
    if not table or not column:
        raise Fault(
            400,
            INVALID_ARGUMENT,
            "Give OptionSetName, or EntityLogicalName and AttributeLogicalName.",
        )
    entity = em.schema.entity(str(table))
    attr = entity.attribute(str(column)) if entity is not None else None
    if attr is None:
        raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The column '{table}.{column}' does not exist.")
    opt = attr.option_set
    if opt is None or attr.type not in ("Picklist", "MultiSelectPicklist"):
        raise Fault(400, INVALID_ARGUMENT, f"The column '{table}.{column}' is not a choice.")
    if opt.is_global:
        raise Fault(
            400,
            INVALID_ARGUMENT,
            f"The column '{table}.{column}' uses the global choice '{opt.name}': "
            "address it by OptionSetName.",
        )
    return opt


def _option_value_prefix(em: TenantState, solution: Any) -> int:
    """The ``customizationoptionvalueprefix`` of the solution's publisher (else the default)."""
    publisher_id = tenant.DEFAULT_PUBLISHER_ID
    if solution:
        rows = [
            r
            for r in em.store.rows("solution")
            if str(r.get("uniquename")).lower() == str(solution).lower()
        ]
        if not rows:
            raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The solution '{solution}' does not exist.")
        publisher_id = str(rows[0].get("publisherid") or publisher_id)
    row = em.store.get("publisher", publisher_id) or {}
    return int(row.get("customizationoptionvalueprefix") or 10000)


def insert_option_value(em: TenantState, ctx: Ctx) -> httpx.Response:
    """``InsertOptionValue``: add an option to a choice; answers ``{"NewOptionValue": n}``."""
    body = read_body(ctx)
    opt = _option_set_of(em, body)
    text = label_text(body.get("Label"))
    if not text:
        raise Fault(400, INVALID_ARGUMENT, "The Label parameter is required.")
    low = _option_value_prefix(em, body.get("SolutionUniqueName")) * 10000
    value = body.get("Value")
    used = set(opt.values())
    if value is None:
        value = low
        while value in used:
            value += 1
    elif isinstance(value, bool) or not isinstance(value, int):
        raise Fault(400, INVALID_ARGUMENT, "The Value parameter must be an integer.")
    elif value in used:
        raise Fault(400, DUPLICATE_RECORD, f"The option value {value} already exists.")
    opt.options.append(OptionDef(value, text))
    em.save_schema()
    return json_response(
        200,
        {
            "@odata.context": f"{ctx.base}$metadata#Microsoft.Dynamics.CRM."
            "InsertOptionValueResponse",
            "NewOptionValue": value,
        },
    )


def delete_option_value(em: TenantState, ctx: Ctx) -> httpx.Response:
    """``DeleteOptionValue``: remove an option from a choice (values in rows stay as they are)."""
    body = read_body(ctx)
    opt = _option_set_of(em, body)
    value = body.get("Value")
    if isinstance(value, bool) or not isinstance(value, int) or opt.option(value) is None:
        raise Fault(404, OBJECT_DOES_NOT_EXIST, f"The option value {value!r} does not exist.")
    opt.options = [o for o in opt.options if o.value != value]
    em.save_schema()
    return no_content()


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
    "bound",
    "close_opportunity",
    "publish_xml",
    "unbound",
    "unknown_segment",
    "user_privileges",
    "who_am_i",
]
