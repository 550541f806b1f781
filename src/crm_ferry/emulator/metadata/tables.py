"""Creating a custom table (``POST EntityDefinitions``) with its system columns and relationships.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_ferry.emulator import tenant
from crm_ferry.emulator.metadata.columns import attribute_from
from crm_ferry.emulator.metadata.errors import DUPLICATE, bad
from crm_ferry.emulator.metadata.labels import Texts, keep, merged, parse, stored
from crm_ferry.emulator.metadata.properties import ENTITY, ENTITY_NAVIGATION, attribute_rules
from crm_ferry.emulator.metadata.shapes import METADATA_TYPES, attribute_json, entity_json
from crm_ferry.emulator.metadata.verify import screen, verify
from crm_ferry.emulator.metadata.write_context import (
    NAME_PATTERN,
    Context,
    Publisher,
    chosen_metadata_id,
    definition_ids,
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
    """A new custom table from an ``EntityMetadata`` body, added to the schema with its system
    columns, primary name column and relationships."""
    kind = odata_type(body)
    if kind not in ("", "EntityMetadata"):
        raise bad(f"The type '{kind}' can't be created in EntityDefinitions.")
    kept = screen(body, ENTITY, "EntityMetadata", skip=ENTITY_NAVIGATION)
    schema_name = body.get("SchemaName")
    publisher = ctx.publisher_for(schema_name, "table")
    logical = str(schema_name).lower()
    if ctx.schema.entity(logical) is not None:
        raise bad(f"A table with the name '{logical}' already exists.", code=DUPLICATE)
    props = table_properties(body, None, merge=False)
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
    check_set_name(ctx.schema, set_name)
    otc = max([9999, *(e.object_type_code for e in ctx.schema.entities.values() if e.is_custom)])
    entity = EntityDef(
        logical_name=logical,
        schema_name=str(schema_name),
        entity_set_name=set_name,
        primary_id=f"{logical}id",
        primary_name=primary.logical_name,
        object_type_code=otc + 1,
        is_custom=True,
        bulk_messages=BULK_MESSAGES,
        solution=ctx.solution,
        metadata_id=chosen_metadata_id(body, definition_ids(ctx.schema)),
        extra=kept,
        created_on=ctx.wall,
    )
    props.apply(entity)
    for attr in _standard_columns(entity, entity.ownership, entity.display_name):
        entity.attributes[attr.logical_name] = attr
    entity.attributes[primary.logical_name] = primary
    ctx.schema.add_entity(entity)
    _standard_relationships(ctx.schema, entity)
    if entity.has_notes:
        add_notes_relationship(ctx.schema, entity)
    verify(body, entity_json(entity), ENTITY, "EntityMetadata", skip=ENTITY_NAVIGATION)
    spec = _primary_spec(body)
    string = METADATA_TYPES["String"]
    verify(spec, attribute_json(entity, primary), attribute_rules(string), string)
    return entity


@dataclass(slots=True)
class TableProperties:
    """The properties of a table a request sets (on create, and on update with ``PUT``)."""

    display: Texts
    collection: Texts
    description: Texts
    ownership: OwnershipType
    has_notes: bool
    has_activities: bool
    change_tracking: bool

    def apply(self, entity: EntityDef) -> None:
        others = entity.other_labels
        entity.display_name = keep(self.display, others, "DisplayName")
        entity.display_collection_name = keep(self.collection, others, "DisplayCollectionName")
        entity.description = keep(self.description, others, "Description")
        entity.ownership = self.ownership
        entity.has_notes = self.has_notes
        entity.has_activities = self.has_activities
        entity.change_tracking = self.change_tracking


def table_properties(
    body: dict[str, Any], current: EntityDef | None, *, merge: bool
) -> TableProperties:
    """What ``body`` sets; labels merged into those of ``current`` when ``merge``."""

    def texts(prop: str, primary: str) -> Texts:
        sent = parse(body.get(prop), prop)
        if current is None:
            return sent or {}
        held = stored(primary, current.other_labels, prop)
        return merged(held, sent or {}, merge=merge)

    display = texts("DisplayName", current.display_name if current else "")
    collection = texts("DisplayCollectionName", current.display_collection_name if current else "")
    description = texts("Description", current.description if current else "")
    if not display or not collection:
        raise bad("DisplayName and DisplayCollectionName are required to create a table.")
    ownership_text = body.get("OwnershipType")
    if ownership_text is None and current is not None:
        ownership_text = current.ownership
    if ownership_text not in ("UserOwned", "OrganizationOwned"):
        raise bad(
            f"OwnershipType '{ownership_text}' is not valid for a new table: use 'UserOwned' or "
            "'OrganizationOwned'."
        )
    ownership: OwnershipType = (
        "OrganizationOwned" if ownership_text == "OrganizationOwned" else "UserOwned"
    )
    flags = {}
    for prop in ("HasNotes", "HasActivities", "ChangeTrackingEnabled"):
        value = body.get(prop, False)
        if not isinstance(value, bool):
            raise bad(f"{value!r} is not a valid value for the property '{prop}': true or false.")
        flags[prop] = value
    return TableProperties(
        display=display,
        collection=collection,
        description=description,
        ownership=ownership,
        has_notes=flags["HasNotes"],
        has_activities=flags["HasActivities"],
        change_tracking=flags["ChangeTrackingEnabled"],
    )


def check_set_name(schema: Schema, set_name: Any, entity: EntityDef | None = None) -> None:
    if not isinstance(set_name, str) or not NAME_PATTERN.match(set_name):
        raise bad(f"'{set_name}' is not a valid EntitySetName.")
    taken = schema.by_entity_set(set_name)
    if taken is not None and taken is not entity:
        raise bad(f"The entity set name '{set_name}' is already used.", code=DUPLICATE)


def _primary_spec(body: dict[str, Any]) -> dict[str, Any]:
    attrs = body.get("Attributes")
    return attrs[0] if isinstance(attrs, list) and attrs and isinstance(attrs[0], dict) else {}


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


def add_notes_relationship(schema: Schema, entity: EntityDef) -> None:
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


__all__ = [
    "TableProperties",
    "add_notes_relationship",
    "check_set_name",
    "create_table",
    "table_properties",
]
