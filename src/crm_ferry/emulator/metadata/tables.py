"""Creating a custom table (``POST EntityDefinitions``) with its system columns and relationships.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api.
"""

from __future__ import annotations

from typing import Any

from crm_ferry.emulator import tenant
from crm_ferry.emulator.metadata.columns import attribute_from
from crm_ferry.emulator.metadata.errors import DUPLICATE, bad
from crm_ferry.emulator.metadata.shapes import label_text
from crm_ferry.emulator.metadata.write_context import (
    NAME_PATTERN,
    Context,
    Publisher,
    entity_set_name,
    odata_type,
)
from crm_ferry.emulator.schema import (
    BULK_MESSAGES,
    AttributeDef,
    EntityDef,
    OptionDef,
    OptionSetDef,
    OwnershipType,
    RelationshipDef,
    Schema,
)


def create_table(ctx: Context, body: dict[str, Any]) -> EntityDef:
    kind = odata_type(body)
    if kind not in ("", "EntityMetadata"):
        raise bad(f"The type '{kind}' can't be created in EntityDefinitions.")
    schema_name = body.get("SchemaName")
    publisher = ctx.publisher_for(schema_name, "table")
    logical = str(schema_name).lower()
    if ctx.schema.entity(logical) is not None:
        raise bad(f"A table with the name '{logical}' already exists.", code=DUPLICATE)
    display = label_text(body.get("DisplayName"))
    collection = label_text(body.get("DisplayCollectionName"))
    if not display or not collection:
        raise bad("DisplayName and DisplayCollectionName are required to create a table.")
    ownership_text = body.get("OwnershipType")
    ownership: OwnershipType = (
        "OrganizationOwned" if ownership_text == "OrganizationOwned" else "UserOwned"
    )
    if ownership_text not in ("UserOwned", "OrganizationOwned"):
        raise bad(
            f"OwnershipType '{ownership_text}' is not valid for a new table: use 'UserOwned' or "
            "'OrganizationOwned'."
        )
    if body.get("IsActivity"):
        raise bad("The emulator does not create activity tables (IsActivity = true).")
    primary = _primary_name(body, publisher, ctx)
    if ctx.custom_table_limit is not None:
        count = sum(1 for e in ctx.schema.entities.values() if e.is_custom)
        if count >= ctx.custom_table_limit:
            raise bad(
                f"The environment already has {count} custom tables, the most its licence "
                f"allows ({ctx.custom_table_limit}). Delete a custom table or upgrade the "
                "licence to create another.",
                code="0x8004431F",
            )
    set_name = body.get("EntitySetName") or entity_set_name(logical)
    if not isinstance(set_name, str) or not NAME_PATTERN.match(set_name):
        raise bad(f"'{set_name}' is not a valid EntitySetName.")
    if ctx.schema.by_entity_set(set_name) is not None:
        raise bad(f"The entity set name '{set_name}' is already used.", code=DUPLICATE)
    otc = max([9999, *(e.object_type_code for e in ctx.schema.entities.values() if e.is_custom)])
    entity = EntityDef(
        logical_name=logical,
        schema_name=str(schema_name),
        entity_set_name=set_name,
        primary_id=f"{logical}id",
        primary_name=primary.logical_name,
        object_type_code=otc + 1,
        display_name=display,
        display_collection_name=collection,
        description=label_text(body.get("Description")),
        ownership=ownership,
        is_custom=True,
        has_notes=bool(body.get("HasNotes")),
        has_activities=bool(body.get("HasActivities")),
        change_tracking=bool(body.get("ChangeTrackingEnabled")),
        bulk_messages=BULK_MESSAGES,
        solution=ctx.solution,
    )
    for attr in _standard_columns(entity, ownership, display):
        entity.attributes[attr.logical_name] = attr
    entity.attributes[primary.logical_name] = primary
    ctx.schema.add_entity(entity)
    _standard_relationships(ctx.schema, entity)
    if entity.has_notes:
        _notes_relationship(ctx.schema, entity)
    return entity


def _primary_name(body: dict[str, Any], publisher: Publisher, ctx: Context) -> AttributeDef:
    attrs = body.get("Attributes")
    if not isinstance(attrs, list):
        raise bad("Required field 'PrimaryAttribute' is missing")
    primaries = [a for a in attrs if isinstance(a, dict) and a.get("IsPrimaryName")]
    if len(primaries) != 1 or len(attrs) != 1:
        raise bad(
            "The Attributes of a new table must hold exactly one StringAttributeMetadata with "
            "IsPrimaryName = true (Required field 'PrimaryAttribute' is missing)."
        )
    spec = primaries[0]
    if odata_type(spec) != "StringAttributeMetadata":
        raise bad("The primary name column of a table must be a StringAttributeMetadata.")
    attr = attribute_from(ctx, spec, entity_name=str(body.get("SchemaName")).lower())
    attr.is_primary_name = True
    attr.required = "ApplicationRequired" if attr.required == "None" else attr.required
    attr.visible_at = 0.0
    return attr


def _standard_columns(
    entity: EntityDef, ownership: OwnershipType, display: str
) -> list[AttributeDef]:
    """The system columns of a new custom table: the tenant's own set for the ownership
    (createdon, modifiedon, createdby, modifiedby, versionnumber, overriddencreatedon,
    importsequencenumber; ownerid, owningbusinessunit, owninguser, owningteam when user-owned),
    the primary key, and statecode/statuscode with the default Active/Inactive pair."""
    pk = AttributeDef(
        entity.primary_id,
        entity.schema_name + "Id",
        "Uniqueidentifier",
        display,
        is_primary_id=True,
        valid_for_update=False,
    )
    state = OptionSetDef(
        f"{entity.logical_name}_statecode",
        kind="State",
        options=[
            OptionDef(0, "Active", default_status=1),
            OptionDef(1, "Inactive", default_status=2),
        ],
    )
    status = OptionSetDef(
        f"{entity.logical_name}_statuscode",
        kind="Status",
        options=[OptionDef(1, "Active", state=0), OptionDef(2, "Inactive", state=1)],
    )
    cols = [
        pk,
        *tenant.system_columns(ownership),
        AttributeDef("statecode", "StateCode", "State", "Status", option_set=state),
        AttributeDef("statuscode", "StatusCode", "Status", "Status Reason", option_set=status),
    ]
    if ownership == "OrganizationOwned":
        cols.append(tenant.lookup("organizationid", "organization", create=False, update=False))
    return cols


def _standard_relationships(schema: Schema, entity: EntityDef) -> None:
    for attr in entity.attributes.values():
        if attr.type in ("Lookup", "Owner", "Customer"):
            tenant.add_column_relationships(schema, entity, attr)


def _notes_relationship(schema: Schema, entity: EntityDef) -> None:
    """HasNotes: notes can point at the table through ``objectid_<table>@odata.bind``."""
    annotation = schema.entity("annotation")
    objectid = annotation.attribute("objectid") if annotation is not None else None
    if annotation is None or objectid is None:
        return
    if entity.logical_name not in objectid.targets:
        objectid.targets = (*objectid.targets, entity.logical_name)
    name = tenant.relationship_name("annotation", objectid, entity.logical_name)
    schema.add_relationship(
        RelationshipDef(
            schema_name=name,
            referenced_entity=entity.logical_name,
            referenced_attribute=entity.primary_id,
            referencing_entity="annotation",
            referencing_attribute="objectid",
            referencing_nav=tenant.navigation_name("annotation", objectid, entity.logical_name),
            referenced_nav=name,
            cascade_delete="Cascade",
        )
    )


__all__ = ["create_table"]
