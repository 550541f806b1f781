"""Creating a one-to-many relationship with its lookup column (``POST RelationshipDefinitions``).

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api.
"""

from __future__ import annotations

from typing import Any

from crm_ferry.emulator.metadata.errors import DUPLICATE, NOT_FOUND, bad
from crm_ferry.emulator.metadata.shapes import label_text
from crm_ferry.emulator.metadata.write_context import (
    NAME_PATTERN,
    Context,
    odata_type,
    required_level,
)
from crm_ferry.emulator.schema import AttributeDef, CascadeType, RelationshipDef, Schema

_DELETE_CASCADES: dict[str, CascadeType] = {
    "Cascade": "Cascade",
    "RemoveLink": "RemoveLink",
    "Restrict": "Restrict",
}


def create_relationship(ctx: Context, body: dict[str, Any]) -> RelationshipDef:
    kind = odata_type(body)
    if kind == "ManyToManyRelationshipMetadata":
        raise bad("The emulator does not create many-to-many relationships.")
    if kind != "OneToManyRelationshipMetadata":
        raise bad(
            f"'{kind or '(no @odata.type)'}' can't be created in RelationshipDefinitions: use "
            "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata."
        )
    schema_name = body.get("SchemaName")
    ctx.publisher_for(schema_name, "relationship")
    name = str(schema_name)
    if any(r.lower() == name.lower() for r in ctx.schema.relationships):
        raise bad(f"A relationship named '{name}' already exists.", code=DUPLICATE)
    referenced = ctx.schema.entity(str(body.get("ReferencedEntity", "")))
    referencing = ctx.schema.entity(str(body.get("ReferencingEntity", "")))
    if referenced is None or referencing is None:
        missing = (
            body.get("ReferencedEntity") if referenced is None else body.get("ReferencingEntity")
        )
        raise bad(f"The table '{missing}' does not exist.", code=NOT_FOUND, status=404)
    ref_attr = body.get("ReferencedAttribute") or referenced.primary_id
    if ref_attr != referenced.primary_id:
        raise bad(
            f"ReferencedAttribute must be the primary key of '{referenced.logical_name}' "
            f"('{referenced.primary_id}')."
        )
    lookup = body.get("Lookup")
    if not isinstance(lookup, dict):
        raise bad("A one-to-many relationship is created with its Lookup column (Lookup).")
    if odata_type(lookup) not in ("", "LookupAttributeMetadata"):
        raise bad("The Lookup of a relationship must be a LookupAttributeMetadata.")
    lookup_name = lookup.get("SchemaName")
    ctx.publisher_for(lookup_name, "column")
    logical = str(lookup_name).lower()
    if referencing.attribute(logical) is not None:
        raise bad(
            f"A column named '{logical}' already exists on the table '{referencing.logical_name}'.",
            code=DUPLICATE,
        )
    display = label_text(lookup.get("DisplayName"))
    if not display:
        raise bad(f"The lookup column '{lookup_name}' has no DisplayName.")
    cascade_cfg = body.get("CascadeConfiguration") or {}
    delete = (
        cascade_cfg.get("Delete", "RemoveLink") if isinstance(cascade_cfg, dict) else "RemoveLink"
    )
    if delete not in ("Cascade", "RemoveLink", "Restrict"):
        raise bad(f"'{delete}' is not a valid Delete cascade: Cascade, RemoveLink or Restrict.")
    referencing_nav = body.get("ReferencingEntityNavigationPropertyName") or str(lookup_name)
    referenced_nav = body.get("ReferencedEntityNavigationPropertyName") or name
    for nav, table in ((referencing_nav, referencing), (referenced_nav, referenced)):
        if not isinstance(nav, str) or not NAME_PATTERN.match(nav):
            raise bad(f"'{nav}' is not a valid navigation property name.")
        if _nav_taken(ctx.schema, table.logical_name, nav):
            raise bad(
                f"The navigation property '{nav}' already exists on '{table.logical_name}'.",
                code=DUPLICATE,
            )
    attr = AttributeDef(
        logical_name=logical,
        schema_name=str(lookup_name),
        type="Lookup",
        display_name=display,
        description=label_text(lookup.get("Description")),
        required=required_level(lookup),
        targets=(referenced.logical_name,),
        is_custom=True,
        solution=ctx.solution,
        visible_at=ctx.now + ctx.visibility_delay,
    )
    rel = RelationshipDef(
        schema_name=name,
        referenced_entity=referenced.logical_name,
        referenced_attribute=referenced.primary_id,
        referencing_entity=referencing.logical_name,
        referencing_attribute=logical,
        referencing_nav=str(referencing_nav),
        referenced_nav=str(referenced_nav),
        cascade_delete=_DELETE_CASCADES[delete],
        is_custom=True,
        solution=ctx.solution,
    )
    referencing.attributes[logical] = attr
    ctx.schema.add_relationship(rel)
    return rel


def _nav_taken(schema: Schema, entity: str, nav: str) -> bool:
    for r in schema.relationships.values():
        if r.referencing_entity == entity and r.referencing_nav == nav:
            return True
        if r.referenced_entity == entity and r.referenced_nav == nav:
            return True
    return False


__all__ = ["create_relationship"]
