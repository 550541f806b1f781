"""Many-to-many relationships in the metadata API: created with
``POST RelationshipDefinitions`` and ``Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata``,
read as that type, deleted with their intersect rows.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api
("Create a many-to-many relationship") and the ManyToManyRelationshipMetadata entity type
reference (its properties). What Microsoft's Python SDK sends is the smallest body:
``SchemaName``, ``Entity1LogicalName``, ``Entity2LogicalName``, ``IntersectEntityName``.

Each property of the type is applied (read back as given) or refused: the navigation
property names default to the relationship's schema name on both tables, as on standard
relationships (``teammembership_association``); the intersect attributes are the two
tables' primary keys; the menu configurations are kept as given. Properties the emulator
does not model (IsCustomizable, IsValidForAdvancedFind, SecurityTypes...) are refused with
501 rather than dropped. Two tables with the same primary key name (a table with itself, two
activity tables) would need intersect attributes the documentation does not describe: 501.
"""

from __future__ import annotations

from typing import Any

from crm_ferry.emulator import tenant
from crm_ferry.emulator.metadata.errors import DUPLICATE, NOT_FOUND, bad
from crm_ferry.emulator.metadata.shapes import NS, label, managed
from crm_ferry.emulator.metadata.write_context import NAME_PATTERN, Context, check_name
from crm_ferry.emulator.schema import EntityDef, ManyToManyRelationshipDef, Schema
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import PAYLOAD_ERROR

TYPE = "ManyToManyRelationshipMetadata"

_APPLIED = frozenset(
    {
        "@odata.type",
        "SchemaName",
        "Entity1LogicalName",
        "Entity2LogicalName",
        "IntersectEntityName",
        "Entity1NavigationPropertyName",
        "Entity2NavigationPropertyName",
        "Entity1AssociatedMenuConfiguration",
        "Entity2AssociatedMenuConfiguration",
        "Entity1IntersectAttribute",
        "Entity2IntersectAttribute",
        "RelationshipType",
        "IsCustomRelationship",
    }
)
_NOT_MODELLED = frozenset(
    {
        "HasChanged",
        "IntroducedVersion",
        "IsCustomizable",
        "IsManaged",
        "IsValidForAdvancedFind",
        "MetadataId",
        "SecurityTypes",
    }
)
"""Properties of the type the emulator does not model (501 when sent)."""


def create_many_to_many(ctx: Context, body: dict[str, Any]) -> ManyToManyRelationshipDef:
    """Validate a ``ManyToManyRelationshipMetadata`` body and add the relationship."""
    _check_properties(body)
    name = relationship_name(ctx, body)
    entity1 = _table(ctx.schema, body, "Entity1LogicalName")
    entity2 = _table(ctx.schema, body, "Entity2LogicalName")
    if entity1.primary_id == entity2.primary_id:
        raise not_implemented(
            f"A many-to-many relationship between tables with the same primary key "
            f"'{entity1.primary_id}' ({entity1.logical_name}, {entity2.logical_name})"
        )
    intersect = _intersect_name(ctx, body)
    for key, entity in (
        ("Entity1IntersectAttribute", entity1),
        ("Entity2IntersectAttribute", entity2),
    ):
        given = body.get(key)
        if given is not None and given != entity.primary_id:
            raise bad(
                f"{key} must be the primary key of '{entity.logical_name}' ('{entity.primary_id}')."
            )
    navs = []
    for key, entity in (
        ("Entity1NavigationPropertyName", entity1),
        ("Entity2NavigationPropertyName", entity2),
    ):
        navs.append(check_navigation_name(ctx.schema, entity, body.get(key) or name))
    rel = ManyToManyRelationshipDef(
        schema_name=name,
        entity1=entity1.logical_name,
        entity2=entity2.logical_name,
        intersect_entity=intersect,
        entity1_attribute=entity1.primary_id,
        entity2_attribute=entity2.primary_id,
        entity1_nav=navs[0],
        entity2_nav=navs[1],
        entity1_menu=_menu(body, "Entity1AssociatedMenuConfiguration"),
        entity2_menu=_menu(body, "Entity2AssociatedMenuConfiguration"),
        is_custom=True,
        solution=ctx.solution,
    )
    ctx.schema.add_many_to_many(rel)
    return rel


def _check_properties(body: dict[str, Any]) -> None:
    for key in body:
        if key in _APPLIED:
            continue
        if key in _NOT_MODELLED:
            raise not_implemented(f"Setting '{key}' of a {TYPE}")
        raise bad(
            f"The property '{key}' does not exist on type 'Microsoft.Dynamics.CRM.{TYPE}'.",
            code=PAYLOAD_ERROR,
        )
    kind = body.get("RelationshipType", "ManyToManyRelationship")
    if kind != "ManyToManyRelationship":
        raise bad(f"RelationshipType '{kind}' does not match {TYPE}.")
    if body.get("IsCustomRelationship", True) is not True:
        raise bad("A relationship created through the Web API is a custom relationship.")


def _table(schema: Schema, body: dict[str, Any], key: str) -> EntityDef:
    name = body.get(key)
    if not isinstance(name, str) or not name:
        raise bad(f"A many-to-many relationship needs {key}.")
    entity = schema.entity(name)
    if entity is None:
        raise bad(f"The table '{name}' does not exist.", code=NOT_FOUND, status=404)
    if name in tenant.VIRTUAL_TABLES or name == "activityparty":
        raise bad(f"The table '{name}' can't take part in a many-to-many relationship.")
    return entity


def _intersect_name(ctx: Context, body: dict[str, Any]) -> str:
    given = body.get("IntersectEntityName")
    if given is None:
        raise bad("A many-to-many relationship needs IntersectEntityName.")
    ctx.publisher_for(check_name(given, "intersect table", ctx.max_name_length), "intersect table")
    name = str(given).lower()
    taken = ctx.schema.entity(name) is not None or any(
        r.intersect_entity == name for r in ctx.schema.many_to_many.values()
    )
    if taken:
        raise bad(f"A table named '{name}' already exists.", code=DUPLICATE)
    return name


def _menu(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad(f"{key} must be an AssociatedMenuConfiguration.")
    return dict(value)


def relationship_name(ctx: Context, body: dict[str, Any]) -> str:
    """The ``SchemaName`` of a new relationship: a publisher's prefix, and no relationship of
    any kind has the name yet."""
    schema_name = body.get("SchemaName")
    ctx.publisher_for(schema_name, "relationship")
    name = str(schema_name)
    if name.lower() in ctx.schema.relationship_names():
        raise bad(f"A relationship named '{name}' already exists.", code=DUPLICATE)
    return name


def check_navigation_name(schema: Schema, entity: EntityDef, nav: Any) -> str:
    """``nav`` as the name of a new navigation property of ``entity``: a valid name that no
    relationship of ``entity`` uses yet."""
    if not isinstance(nav, str) or not NAME_PATTERN.match(nav):
        raise bad(f"'{nav}' is not a valid navigation property name.")
    if navigation_taken(schema, entity.logical_name, nav):
        raise bad(
            f"The navigation property '{nav}' already exists on '{entity.logical_name}'.",
            code=DUPLICATE,
        )
    return nav


def navigation_taken(schema: Schema, entity: str, nav: str) -> bool:
    """Whether ``entity`` has a navigation property named ``nav`` (of any relationship)."""
    for r in schema.relationships.values():
        if r.referencing_entity == entity and r.referencing_nav == nav:
            return True
        if r.referenced_entity == entity and r.referenced_nav == nav:
            return True
    return schema.many_to_many_navigation(entity, nav) is not None


_DEFAULT_MENU: dict[str, Any] = {
    "Behavior": "UseCollectionName",
    "Group": "Details",
    "Order": 10000,
}


def _menu_json(menu: dict[str, Any] | None) -> dict[str, Any]:
    out = {**_DEFAULT_MENU, **(menu or {})}
    out.setdefault("Label", label(""))
    return out


def many_to_many_json(rel: ManyToManyRelationshipDef, *, typed: bool = False) -> dict[str, Any]:
    """``ManyToManyRelationshipMetadata``; ``typed`` adds ``@odata.type`` (in collections
    declared as the base type, ``RelationshipDefinitions``)."""
    out: dict[str, Any] = {"@odata.type": NS + TYPE} if typed else {}
    return {
        **out,
        "MetadataId": rel.metadata_id,
        "SchemaName": rel.schema_name,
        "RelationshipType": "ManyToManyRelationship",
        "Entity1LogicalName": rel.entity1,
        "Entity2LogicalName": rel.entity2,
        "IntersectEntityName": rel.intersect_entity,
        "Entity1IntersectAttribute": rel.entity1_attribute,
        "Entity2IntersectAttribute": rel.entity2_attribute,
        "Entity1NavigationPropertyName": rel.entity1_nav,
        "Entity2NavigationPropertyName": rel.entity2_nav,
        "Entity1AssociatedMenuConfiguration": _menu_json(rel.entity1_menu),
        "Entity2AssociatedMenuConfiguration": _menu_json(rel.entity2_menu),
        "IsCustomRelationship": rel.is_custom,
        "IsManaged": False,
        "IsValidForAdvancedFind": True,
        "SecurityTypes": "None",
        "IntroducedVersion": "1.0",
        "HasChanged": None,
        "IsCustomizable": managed(True, "iscustomizable"),
    }


__all__ = [
    "TYPE",
    "check_navigation_name",
    "create_many_to_many",
    "many_to_many_json",
    "navigation_taken",
    "relationship_name",
]
