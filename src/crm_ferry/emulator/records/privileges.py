"""Privileges: which one an action on a table's rows needs, and the 403 when the caller's role
lacks it.

The caller's role is System Administrator minus what ``CoreConfig.privileges_removed`` takes
away from its application user.
"""

from __future__ import annotations

from crm_ferry.emulator import tenant
from crm_ferry.emulator.records.context import Ctx
from crm_ferry.emulator.schema import EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import PRIVILEGE_DENIED, Fault

PRIVILEGE_ACTIONS = ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share")


def privilege_id(name: str) -> str:
    return tenant.seed_id("privilege", name)


SCHEMA_PRIVILEGES = (
    "prvCreateEntity",
    "prvCreateAttribute",
    "prvCreateRelationship",
    "prvBypassCustomBusinessLogic",
    "prvBulkDelete",
)
"""Non-record privileges a System Administrator holds (customisation, bypassing plug-ins,
submitting bulk deletion jobs)."""

# Tables whose records are governed by another table's privileges: notes use "Note",
# activities (and their attachments) share "Activity", invoice lines use the invoice's.
# https://learn.microsoft.com/power-platform/admin/security-roles-privileges
_PRIVILEGE_ENTITY = {
    "annotation": "Note",
    "invoicedetail": "Invoice",
    "activitymimeattachment": "Activity",
}


def privilege_name(action: str, entity: EntityDef) -> str:
    """Dataverse's name of the privilege for ``action`` on rows of ``entity``."""
    if entity.logical_name in _PRIVILEGE_ENTITY:
        target = _PRIVILEGE_ENTITY[entity.logical_name]
    elif entity.is_activity or entity.logical_name == "activitypointer":
        target = "Activity"
    else:
        target = entity.schema_name
    return f"prv{action}{target}"


def all_privileges(em: TenantState) -> set[str]:
    names = {privilege_name(a, e) for e in em.schema.entities.values() for a in PRIVILEGE_ACTIONS}
    return names | set(SCHEMA_PRIVILEGES)


def check_privilege(em: TenantState, ctx: Ctx, action: str, entity: EntityDef) -> None:
    """403 PrivilegeDenied when the caller's role lacks the privilege for ``action``."""
    removed = em.removed_privileges(ctx.caller)
    if not removed:
        return
    name = privilege_name(action, entity)
    if name in removed:
        raise _denied(em, ctx, removed, name, entity)


def check_global_privilege(em: TenantState, ctx: Ctx, name: str) -> None:
    """403 PrivilegeDenied when the caller's role lacks ``name`` (``prvBulkDelete``...), a
    privilege on no particular table."""
    removed = em.removed_privileges(ctx.caller)
    if name in removed:
        raise _denied(em, ctx, removed, name, None)


def _denied(
    em: TenantState, ctx: Ctx, removed: frozenset[str], name: str, entity: EntityDef | None
) -> Fault:
    total = len(all_privileges(em) - removed)
    where = (
        f" on OTC={entity.object_type_code} for entity '{entity.logical_name}'"
        if entity is not None
        else ""
    )
    return Fault(
        403,
        PRIVILEGE_DENIED,
        f"Principal user (Id={ctx.caller}, type=8, roleCount=1, privilegeCount={total}, "
        f"accessMode=4), is missing {name} privilege (Id={privilege_id(name)}){where}. "
        f"context.Caller={ctx.caller}",
    )


__all__ = [
    "PRIVILEGE_ACTIONS",
    "SCHEMA_PRIVILEGES",
    "all_privileges",
    "check_global_privilege",
    "check_privilege",
    "privilege_id",
    "privilege_name",
]
