"""``PUT`` on the metadata API: updating a table, a column or a global choice.

From https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api
("Update table definitions") and .../create-update-column-definitions-using-web-api
("Update a column"):

- ``PATCH`` can't update definitions; ``PUT`` "replaces the entity definition with the one
  included", so a property the body leaves out takes its default, as on create; what defines
  the definition and can't change (``SchemaName``, ``OwnershipType``, a column's type, ...)
  may be sent as it is and is refused otherwise;
- labels follow ``MSCRM.MergeLabels`` (:mod:`.labels`);
- a column's options are not updated by ``PUT`` ("If you want to update the options, you must
  send a different request"): the options sent must be the column's;
- a DateOnly or TimeZoneIndependent column keeps its behavior; a UserLocal one may become
  either (https://learn.microsoft.com/power-apps/developer/data-platform/behavior-format-date-time-attribute);
- a global choice updates "Only those properties defined by the OptionSetMetadataBase ...
  [which] doesn't include the options"
  (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets).

A table's answer is ``204``; a column's also names it in ``OData-EntityId`` (as the article's).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import httpx

from crm_ferry.emulator.layers import api_base
from crm_ferry.emulator.metadata.changes import MetaEmulator, context, read_json, restore
from crm_ferry.emulator.metadata.columns import attribute_from
from crm_ferry.emulator.metadata.errors import bad
from crm_ferry.emulator.metadata.labels import keep, merged, parse, stored
from crm_ferry.emulator.metadata.paths import Segment, find, find_entity, tables_named
from crm_ferry.emulator.metadata.properties import (
    ENTITY,
    ENTITY_NAVIGATION,
    OPTION_SET,
    attribute_rules,
)
from crm_ferry.emulator.metadata.shapes import (
    METADATA_TYPES,
    attribute_json,
    entity_json,
    option_set_json,
)
from crm_ferry.emulator.metadata.tables import (
    add_notes_relationship,
    check_set_name,
    table_properties,
)
from crm_ferry.emulator.metadata.verify import screen, verify
from crm_ferry.emulator.metadata.write_context import Context, odata_type
from crm_ferry.emulator.schema import AttributeDef, EntityDef, OptionSetDef
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import NOT_SUPPORTED, Fault

CANNOT_CHANGE_REQUIRED_LEVEL = "0x8004D293"
"""``CannotChangeAttributeRequiredLevel``: "An attribute's required level cannot be changed
from SystemRequired" (Web service error codes)."""

_TABLE_FIXED = frozenset({"SchemaName", "LogicalName", "MetadataId", "OwnershipType"})
_COLUMN_FIXED = frozenset(
    {"SchemaName", "LogicalName", "MetadataId", "AttributeType", "AttributeTypeName"}
    | {"EntityLogicalName", "IsPrimaryName"}
)
_IDENTITY = frozenset(
    {"logical_name", "schema_name", "type", "metadata_id", "is_custom", "is_primary_id"}
    | {"is_primary_name", "attribute_of", "valid_for_create", "valid_for_update"}
    | {"valid_for_read", "targets", "visible_at", "created_on", "solution"}
)
"""Fields of a column an update keeps (what the column is and how it came to be)."""


def put(emulator: MetaEmulator, request: httpx.Request, segs: list[Segment]) -> httpx.Response:
    """Update the definition ``segs`` address with the full definition in the body."""
    body = read_json(request)
    ctx = context(emulator, request)
    schema = emulator.schema
    snapshot = schema.snapshot(tables_named(schema, request))
    headers = {"OData-Version": "4.0"}
    head = segs[0]
    try:
        if head.name == "EntityDefinitions" and head.key is not None and len(segs) == 1:
            update_table(ctx, find_entity(schema, head.key), body)
        elif (
            head.name == "EntityDefinitions"
            and head.key is not None
            and len(segs) == 2
            and segs[1].name == "Attributes"
            and segs[1].key is not None
        ):
            entity = find_entity(schema, head.key)
            attr = find(
                entity.attributes.values(), segs[1].key, "LogicalName", "logical_name", "attribute"
            )
            update_column(ctx, entity, attr, body)
            headers["OData-EntityId"] = api_base(request) + request.url.path.split("/", 4)[-1]
        elif head.name == "GlobalOptionSetDefinitions" and head.key is not None and len(segs) == 1:
            opt = find(
                schema.global_option_sets.values(), head.key, "Name", "name", "global choice"
            )
            update_global_option_set(ctx, opt, body)
        elif head.name == "RelationshipDefinitions" and head.key is not None:
            raise not_implemented("Updating relationship definitions (PUT RelationshipDefinitions)")
        else:
            raise bad(
                "Definitions can't be updated at this address.", code=NOT_SUPPORTED, status=405
            )
    except Fault:
        restore(schema, snapshot)
        raise
    emulator.save_schema(tables_named(schema, request))
    return httpx.Response(204, headers=headers)


def update_table(ctx: Context, entity: EntityDef, body: dict[str, Any]) -> None:
    """Replace the table's definition (its columns are updated one by one)."""
    kind = odata_type(body)
    if kind not in ("", "EntityMetadata"):
        raise bad(f"The type '{kind}' can't update an EntityMetadata.")
    kept = screen(body, ENTITY, "EntityMetadata", skip=ENTITY_NAVIGATION)
    if body.get("Attributes"):
        raise bad(
            "The columns of a table are updated one by one: PUT "
            "EntityDefinitions(...)/Attributes(...)."
        )
    before = entity_json(entity)
    props = table_properties(body, entity, merge=ctx.merge_labels)
    if entity.has_notes and not props.has_notes:
        raise bad(f"Notes can't be turned off for the table '{entity.logical_name}' (HasNotes).")
    if entity.has_activities and not props.has_activities:
        raise bad(
            f"Activities can't be turned off for the table '{entity.logical_name}' (HasActivities)."
        )
    set_name = body.get("EntitySetName", entity.entity_set_name)
    if set_name != entity.entity_set_name:
        if not entity.is_custom:
            raise bad(f"The EntitySetName of the standard table '{entity.logical_name}' is fixed.")
        check_set_name(ctx.schema, set_name, entity)
    adding_notes = props.has_notes and not entity.has_notes
    props.ownership = entity.ownership  # OwnershipType is fixed: verify() compares it
    props.apply(entity)
    entity.extra = kept
    entity.modified_on = ctx.wall
    if set_name != entity.entity_set_name:
        ctx.schema.rename_entity_set(entity, set_name)
    if adding_notes:
        add_notes_relationship(ctx.schema, entity)
    verify(
        body,
        entity_json(entity),
        ENTITY,
        "EntityMetadata",
        before=before,
        fixed=_TABLE_FIXED,
        skip=ENTITY_NAVIGATION,
    )


def update_column(
    ctx: Context, entity: EntityDef, attr: AttributeDef, body: dict[str, Any]
) -> None:
    """Replace the column's definition (in place: caches that hold the column stay right)."""
    meta_type = METADATA_TYPES.get(attr.type, "AttributeMetadata")
    declared = odata_type(body)
    if declared and declared != meta_type:
        raise bad(
            f"The column '{attr.logical_name}' is a {meta_type}; its type can't be changed to "
            f"{declared}."
        )
    before = attribute_json(entity, attr)
    new = attribute_from(ctx, body, entity_name=entity.logical_name, existing=attr)
    if new.schema_name != attr.schema_name:
        raise bad(
            f"The SchemaName of the column '{attr.logical_name}' can't be changed "
            f"('{attr.schema_name}', the request has '{new.schema_name}')."
        )
    if attr.required == "SystemRequired" and new.required != "SystemRequired":
        raise bad(
            "An attribute's required level cannot be changed from SystemRequired",
            code=CANNOT_CHANGE_REQUIRED_LEVEL,
        )
    fixed_behavior = attr.datetime_behavior in ("DateOnly", "TimeZoneIndependent")
    if fixed_behavior and new.datetime_behavior != attr.datetime_behavior:
        raise bad(
            f"The DateTimeBehavior of the column '{attr.logical_name}' is "
            f"{attr.datetime_behavior} and can't be changed (CanChangeDateTimeBehavior is false)."
        )
    _same_options(attr, new, body)
    for f in fields(AttributeDef):
        if f.name not in _IDENTITY and f.name != "option_set":
            setattr(attr, f.name, getattr(new, f.name))
    attr.modified_on = ctx.wall
    base = entity.attribute(f"{attr.logical_name}_base") if attr.type == "Money" else None
    if base is not None and base.attribute_of == attr.logical_name:
        base.precision, base.min_value, base.max_value = (
            attr.precision,
            attr.min_value,
            attr.max_value,
        )
    verify(
        _changed_format(body, before),
        attribute_json(entity, attr),
        attribute_rules(meta_type),
        meta_type,
        before=before,
        fixed=_COLUMN_FIXED,
    )


def _changed_format(body: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """A String column carries its format twice (``Format``, ``FormatName``): a definition
    read back and changed in one of them still has the other as it was, and that one is not
    what the update asks for."""
    named = body.get("FormatName")
    plain = body.get("Format")
    if not isinstance(named, dict) or plain is None or named.get("Value") == plain:
        return body
    stale = "Format" if plain == before.get("Format") else "FormatName"
    return {k: v for k, v in body.items() if k != stale}


def _same_options(attr: AttributeDef, new: AttributeDef, body: dict[str, Any]) -> None:
    """The options a PUT sends (if any) must be the column's: options change by the option
    actions (InsertOptionValue, UpdateOptionValue, DeleteOptionValue, OrderOption)."""
    bind = body.get("GlobalOptionSet@odata.bind")
    current = attr.option_set
    if bind is not None and (new.option_set is not current):
        raise bad(
            f"The column '{attr.logical_name}' can't be bound to another global choice by PUT."
        )
    spec = body.get("OptionSet")
    if spec is None or current is None or new.option_set is None:
        return
    mine = option_set_json(current)
    theirs = option_set_json(new.option_set)
    keys = ("Options", "TrueOption", "FalseOption")
    if any(k in mine and not _same_option_list(theirs.get(k), mine.get(k)) for k in keys):
        raise bad(
            f"The options of the column '{attr.logical_name}' are changed with InsertOptionValue, "
            "UpdateOptionValue, DeleteOptionValue and OrderOption, not with PUT."
        )


def _same_option_list(theirs: Any, mine: Any) -> bool:
    def pairs(value: Any) -> list[tuple[Any, Any]]:
        items = value if isinstance(value, list) else [value]
        return [(o.get("Value"), _text(o.get("Label"))) for o in items if isinstance(o, dict)]

    return pairs(theirs) == pairs(mine)


def _text(label: Any) -> Any:
    items = label.get("LocalizedLabels") if isinstance(label, dict) else None
    return sorted((i.get("LanguageCode"), i.get("Label")) for i in items or [])


def update_global_option_set(ctx: Context, opt: OptionSetDef, body: dict[str, Any]) -> None:
    """Update a global choice's own properties (labels, settings); not its options."""
    kind = odata_type(body)
    expected = "BooleanOptionSetMetadata" if opt.kind == "Boolean" else "OptionSetMetadata"
    if kind not in ("", "OptionSetMetadataBase", expected):
        raise bad(f"The type '{kind}' can't update the global choice '{opt.name}'.")
    kept = screen(body, OPTION_SET, expected)
    before = option_set_json(opt)
    for key in ("Options", "TrueOption", "FalseOption"):
        if key in body and not _same_option_list(body[key], before.get(key)):
            raise bad(
                f"The options of the global choice '{opt.name}' are changed with "
                "InsertOptionValue, UpdateOptionValue, DeleteOptionValue and OrderOption."
            )
    for prop, primary in (("DisplayName", opt.display_name), ("Description", opt.description)):
        sent = parse(body.get(prop), prop)
        texts = merged(stored(primary, opt.other_labels, prop), sent or {}, merge=ctx.merge_labels)
        text = keep(texts, opt.other_labels, prop)
        if prop == "DisplayName":
            opt.display_name = text
        else:
            opt.description = text
    opt.extra = kept
    verify(
        body,
        option_set_json(opt),
        OPTION_SET,
        expected,
        before=before,
        fixed={"Name", "MetadataId", "OptionSetType", "IsGlobal"},
        skip=("Options", "TrueOption", "FalseOption"),
    )


__all__ = ["put", "update_column", "update_global_option_set", "update_table"]
