"""Creating relationships: one-to-many with its lookup column (``POST RelationshipDefinitions``),
many-to-many (:mod:`.many_to_many`), and the lookups to several tables made by the
``CreateCustomerRelationships`` and ``CreatePolymorphicLookupAttribute`` actions.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api
and https://learn.microsoft.com/power-apps/developer/data-platform/webapi/multitable-lookup.
A lookup to several tables has one single-valued navigation property per table, named
``<lookup SchemaName>_<table>`` (``new_CheckedoutItem_new_book@odata.bind`` in the
multi-table article); a relationship posted with the ``Lookup`` of an existing multi-table
lookup adds a table to it ("Add relationship to existing polymorphic lookup").
"""

from __future__ import annotations

from typing import Any

from crm_ferry.emulator.metadata.errors import DUPLICATE, NOT_FOUND, bad
from crm_ferry.emulator.metadata.many_to_many import (
    TYPE as MANY_TO_MANY,
)
from crm_ferry.emulator.metadata.many_to_many import (
    check_navigation_name,
    create_many_to_many,
    relationship_name,
)
from crm_ferry.emulator.metadata.shapes import label_text
from crm_ferry.emulator.metadata.write_context import (
    Context,
    odata_type,
    required_level,
)
from crm_ferry.emulator.schema import (
    AttributeDef,
    AttributeType,
    CascadeType,
    EntityDef,
    ManyToManyRelationshipDef,
    RelationshipDef,
    Schema,
)
from crm_ferry.emulator.unsupported import not_implemented

_DELETE_CASCADES: dict[str, CascadeType] = {
    "Cascade": "Cascade",
    "RemoveLink": "RemoveLink",
    "Restrict": "Restrict",
}


def create_relationship(
    ctx: Context, body: dict[str, Any]
) -> RelationshipDef | ManyToManyRelationshipDef:
    """``POST RelationshipDefinitions``: the relationship the ``@odata.type`` names."""
    kind = odata_type(body)
    if kind == MANY_TO_MANY:
        return create_many_to_many(ctx, body)
    if kind != "OneToManyRelationshipMetadata":
        raise bad(
            f"'{kind or '(no @odata.type)'}' can't be created in RelationshipDefinitions: use "
            f"Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata or {MANY_TO_MANY}."
        )
    referenced, referencing = _tables(ctx.schema, body)
    lookup = body.get("Lookup")
    if not isinstance(lookup, dict):
        raise bad("A one-to-many relationship is created with its Lookup column (Lookup).")
    if odata_type(lookup) not in ("", "LookupAttributeMetadata"):
        raise bad("The Lookup of a relationship must be a LookupAttributeMetadata.")
    logical = str(lookup.get("SchemaName", "")).lower()
    existing = referencing.attribute(logical)
    if existing is not None and _is_multi_table(ctx.schema, referencing, existing):
        # a table added to a multi-table lookup
        rel = _one_to_many(ctx, body, referenced, referencing, existing, multi=True)
        existing.targets = (*existing.targets, referenced.logical_name)
        ctx.schema.add_relationship(rel)
        return rel
    attr = _lookup_attribute(ctx, referencing, lookup, "Lookup", (referenced.logical_name,))
    rel = _one_to_many(ctx, body, referenced, referencing, attr, multi=False)
    referencing.attributes[attr.logical_name] = attr
    ctx.schema.add_relationship(rel)
    return rel


def create_multi_table_lookup(
    ctx: Context, body: dict[str, Any], *, customer: bool
) -> tuple[AttributeDef, list[RelationshipDef]]:
    """``CreateCustomerRelationships`` (``customer``: a Customer column to account and
    contact) or ``CreatePolymorphicLookupAttribute``: a lookup column (``Lookup``) and one
    relationship per table (``OneToManyRelationships``)."""
    items = body.get("OneToManyRelationships")
    lookup = body.get("Lookup")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise bad("OneToManyRelationships must be an array of OneToManyRelationshipMetadata.")
    if not isinstance(lookup, dict):
        raise bad("Lookup must be a LookupAttributeMetadata.")
    allowed = ("", "LookupAttributeMetadata", "ComplexLookupAttributeMetadata")
    if odata_type(lookup) not in allowed:
        raise bad("The Lookup must be a LookupAttributeMetadata.")
    pairs = [_tables(ctx.schema, item) for item in items]
    referencing = {p[1].logical_name for p in pairs}
    if len(referencing) != 1:
        raise bad("Every relationship of a multi-table lookup has the same ReferencingEntity.")
    targets = tuple(p[0].logical_name for p in pairs)
    if len(set(targets)) != len(targets):
        raise bad("A multi-table lookup refers to each table once.")
    if customer and sorted(targets) != ["account", "contact"]:
        raise bad("CreateCustomerRelationships takes two relationships: to account and to contact.")
    table = pairs[0][1]
    kind: AttributeType = "Customer" if customer else "Lookup"
    attr = _lookup_attribute(ctx, table, lookup, kind, targets)
    rels = [
        _one_to_many(ctx, item, referenced, table, attr, multi=True)
        for item, (referenced, _) in zip(items, pairs, strict=True)
    ]
    names = [r.schema_name.lower() for r in rels]
    if len(set(names)) != len(names):
        raise bad("Each relationship of a multi-table lookup needs its own SchemaName.")
    navs = [r.referencing_nav for r in rels]
    if len(set(navs)) != len(navs):
        raise bad("Each relationship of a multi-table lookup needs its own navigation property.")
    table.attributes[attr.logical_name] = attr
    for rel in rels:
        ctx.schema.add_relationship(rel)
    return attr, rels


def _tables(schema: Schema, body: dict[str, Any]) -> tuple[EntityDef, EntityDef]:
    """(referenced, referencing) tables of a one-to-many body."""
    referenced = schema.entity(str(body.get("ReferencedEntity", "")))
    referencing = schema.entity(str(body.get("ReferencingEntity", "")))
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
    return referenced, referencing


def _lookup_attribute(
    ctx: Context,
    referencing: EntityDef,
    lookup: dict[str, Any],
    kind: AttributeType,
    targets: tuple[str, ...],
) -> AttributeDef:
    """The new lookup column a ``Lookup`` body describes."""
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
    return AttributeDef(
        logical_name=logical,
        schema_name=str(lookup_name),
        type=kind,
        display_name=display,
        description=label_text(lookup.get("Description")),
        required=required_level(lookup),
        targets=targets,
        is_custom=True,
        solution=ctx.solution,
        visible_at=ctx.now + ctx.visibility_delay,
    )


def _one_to_many(
    ctx: Context,
    body: dict[str, Any],
    referenced: EntityDef,
    referencing: EntityDef,
    attr: AttributeDef,
    *,
    multi: bool,
) -> RelationshipDef:
    """The relationship a one-to-many body describes, for the lookup column ``attr``."""
    name = relationship_name(ctx, body)
    if (
        referenced.logical_name in attr.targets
        and multi
        and attr.logical_name in referencing.attributes
    ):
        raise bad(
            f"The lookup '{attr.schema_name}' already refers to '{referenced.logical_name}'.",
            code=DUPLICATE,
        )
    delete, cascade = _cascades(body.get("CascadeConfiguration"))
    default_nav = f"{attr.schema_name}_{referenced.logical_name}" if multi else attr.schema_name
    referencing_nav = body.get("ReferencingEntityNavigationPropertyName") or default_nav
    referenced_nav = body.get("ReferencedEntityNavigationPropertyName") or name
    for nav, table in ((referencing_nav, referencing), (referenced_nav, referenced)):
        check_navigation_name(ctx.schema, table, nav)
    return RelationshipDef(
        schema_name=name,
        referenced_entity=referenced.logical_name,
        referenced_attribute=referenced.primary_id,
        referencing_entity=referencing.logical_name,
        referencing_attribute=attr.logical_name,
        referencing_nav=str(referencing_nav),
        referenced_nav=str(referenced_nav),
        cascade_delete=_DELETE_CASCADES[delete],
        is_custom=True,
        solution=ctx.solution,
        cascade=cascade,
    )


_CASCADE_ACTIONS = ("Assign", "Share", "Unshare", "Reparent", "Merge", "Archive", "RollupView")
_CASCADE_VALUES = frozenset(
    {"Cascade", "NoCascade", "Active", "UserOwned", "RemoveLink", "Restrict"}
)


def _cascades(config: Any) -> tuple[str, dict[str, str]]:
    """(Delete, the other actions) of a ``CascadeConfiguration``.

    Delete and Assign (``Cascade``: the children of a row given a new owner get it too) are
    what the emulator does; Share, Unshare, Reparent and Merge cascade operations it refuses
    (GrantAccess, Merge) or access it does not model, so their values are kept and read
    back. ``Active`` and ``UserOwned`` (cascade to active / to the owner's children only)
    are not implemented for Assign.
    """
    if config is None:
        return "RemoveLink", {}
    if not isinstance(config, dict):
        raise bad("CascadeConfiguration must be an object.")
    delete = config.get("Delete", "RemoveLink")
    if delete not in _DELETE_CASCADES:
        raise bad(f"'{delete}' is not a valid Delete cascade: Cascade, RemoveLink or Restrict.")
    others: dict[str, str] = {}
    for name, value in config.items():
        if name == "Delete" or name.startswith("@odata."):
            continue
        if name not in _CASCADE_ACTIONS:
            raise bad(f"'{name}' is not a property of CascadeConfiguration.")
        if value not in _CASCADE_VALUES:
            raise bad(f"'{value}' is not a valid cascade for {name}.")
        if name == "Assign" and value not in ("Cascade", "NoCascade"):
            raise not_implemented(f"Cascading Assign '{value}' (CascadeConfiguration)")
        others[name] = str(value)
    return str(delete), others


def _is_multi_table(schema: Schema, entity: EntityDef, attr: AttributeDef) -> bool:
    """Whether ``attr`` is a custom multi-table lookup (its navigation properties carry the
    table's name, as those CreatePolymorphicLookupAttribute makes)."""
    if attr.type != "Lookup" or not attr.is_custom:
        return False
    rels = [
        r
        for r in schema.many_to_one(entity.logical_name)
        if r.referencing_attribute == attr.logical_name
    ]
    return bool(rels) and all(
        r.referencing_nav == f"{attr.schema_name}_{r.referenced_entity}" for r in rels
    )


__all__ = ["create_multi_table_lookup", "create_relationship"]
