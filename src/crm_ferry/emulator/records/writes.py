"""Writing records: the request body checked against the table's metadata, then create, update,
upsert and delete (with cascades), as the Web API does them.

Sources (Microsoft Learn, Dataverse Web API):
create https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api,
update/delete https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api,
upsert https://learn.microsoft.com/power-apps/developer/data-platform/use-upsert-insert-update-record,
conditional operations https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api.

Business rules of particular tables (computed names, money base values, invoice totals, state
transitions, notes) live in :mod:`.rules`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crm_ferry.emulator.records import rules
from crm_ferry.emulator.records.context import Ctx, check_if_match
from crm_ferry.emulator.records.keys import check_unique_keys, key_not_found, parse_reference
from crm_ferry.emulator.records.privileges import check_privilege
from crm_ferry.emulator.records.relations import (
    Navigation,
    expect_target,
    link,
    navigation,
    unlink_all,
)
from crm_ferry.emulator.records.rows import (
    LOOKUP_TYPES,
    TYPE_SUFFIX,
    store_row,
    system_columns,
    write_platform_update,
)
from crm_ferry.emulator.schema import AttributeDef, EntityDef, has_property
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import (
    CANNOT_DELETE_ASSOCIATION,
    DUPLICATE_RECORD,
    INVALID_ARGUMENT,
    PAYLOAD_ERROR,
    Fault,
    coerce,
    duplicate_record,
    not_found,
    undeclared_bind,
    unknown_property,
)


@dataclass(slots=True)
class Parsed:
    changes: dict[str, Any]
    children: list[tuple[Navigation, list[dict[str, Any]]]]
    """Deep insert: new rows for collection-valued navigation properties."""
    binds: list[tuple[Navigation, list[str]]]
    """Existing rows (ids) bound to collection-valued navigation properties on create."""


def parse_body(
    em: TenantState, ctx: Ctx, entity: EntityDef, body: Mapping[str, Any], *, creating: bool
) -> Parsed:
    """Validate a request body against the table's metadata; the column values to write."""
    changes: dict[str, Any] = {}
    children: list[tuple[Navigation, list[dict[str, Any]]]] = []
    binds: list[tuple[Navigation, list[str]]] = []
    now = em.clock()
    for name, value in body.items():
        if "@" not in name:
            # a column (the common case), else a navigation property (below)
            attr = entity.attributes.get(name)
            if attr is not None and attr.type not in LOOKUP_TYPES:
                if attr.visible_at > now or not has_property(attr):
                    raise unknown_property(entity.logical_name, name)
                # _check_writable, inlined for the columns that may simply be written
                writable = (attr.valid_for_create if creating else attr.valid_for_update) and (
                    creating or not attr.is_primary_id
                )
                if writable or _check_writable(em, entity, attr, creating):
                    changes[name] = (
                        coerce(entity, attr, value)
                        if attr.type != "EntityName"
                        else _coerce_checked(em, entity, attr, value)
                    )
                continue
        elif name.endswith("@odata.bind"):
            nav = name[: -len("@odata.bind")]
            rel = em.schema.navigation(entity.logical_name, nav)
            if rel is None:
                binds.append(_collection_bind(em, ctx, entity, nav, value, creating=creating))
                continue
            attr = entity.attribute(rel.referencing_attribute)
            if attr is None:
                raise undeclared_bind(nav)
            _check_writable(em, entity, attr, creating)
            if value is None:
                changes[attr.logical_name] = None
                changes[attr.logical_name + TYPE_SUFFIX] = None
                continue
            target, target_id = parse_reference(em, value)
            allowed = attr.targets if attr.type == "Owner" else (rel.referenced_entity,)
            if target.logical_name not in allowed:
                raise Fault(
                    400,
                    PAYLOAD_ERROR,
                    f"The navigation property '{nav}' expects a reference to "
                    f"'{rel.referenced_entity}', not to '{target.logical_name}'.",
                )
            check_privilege(em, ctx, "AppendTo", target)
            changes[attr.logical_name] = target_id
            changes[attr.logical_name + TYPE_SUFFIX] = target.logical_name
            continue
        elif name == "@odata.type":
            expected = f"Microsoft.Dynamics.CRM.{entity.logical_name}"
            if not isinstance(value, str) or value.lstrip("#") != expected:
                raise Fault(
                    400,
                    PAYLOAD_ERROR,
                    f"The @odata.type '{value}' does not match the entity set's type '{expected}'.",
                )
            continue
        else:
            continue  # other instance annotations (@odata.etag ...) carry no data
        single = em.schema.navigation(entity.logical_name, name)
        if single is not None and value is None:
            # "just use the name of the single-valued navigation property" to disassociate
            # (associate-disassociate-entities-using-web-api, "Disassociate table rows on
            # update")
            lookup_attr = entity.attribute(single.referencing_attribute)
            if lookup_attr is None:
                raise unknown_property(entity.logical_name, name)
            if _check_writable(em, entity, lookup_attr, creating):
                changes[lookup_attr.logical_name] = None
                changes[lookup_attr.logical_name + TYPE_SUFFIX] = None
            continue
        if single is not None and isinstance(value, dict):
            # deep insert of a related row through a single-valued navigation property
            target_entity = em.schema.entity(single.referenced_entity)
            lookup_attr = entity.attribute(single.referencing_attribute)
            if target_entity is None or lookup_attr is None:
                raise unknown_property(entity.logical_name, name)
            _check_writable(em, entity, lookup_attr, creating)
            target_id, _ = create_record(em, ctx, target_entity, value)
            changes[lookup_attr.logical_name] = target_id
            changes[lookup_attr.logical_name + TYPE_SUFFIX] = target_entity.logical_name
            continue
        collection = navigation(em, entity, name)
        if collection is not None and collection.is_collection:
            if not creating or not isinstance(value, list):
                raise Fault(
                    400,
                    PAYLOAD_ERROR,
                    f"The collection-valued navigation property '{name}' can only be set "
                    "with an array of new records when the record is created.",
                )
            items = [dict(v) for v in value if isinstance(v, dict)]
            if len(items) != len(value):
                raise Fault(400, PAYLOAD_ERROR, f"'{name}' must be an array of objects.")
            children.append((collection, items))
            continue
        attr = entity.attribute(name)
        if attr is None or attr.visible_at > now or not attr.valid_for_read:
            raise unknown_property(entity.logical_name, name)
        if attr.type in LOOKUP_TYPES:
            raise Fault(
                400,
                PAYLOAD_ERROR,
                "A node of type 'PrimitiveValue' was read from the JSON reader when trying to "
                f"read the contents of the property '{name}'; however, a 'StartObject' node "
                "was expected. Set lookups with '<navigation property>@odata.bind'.",
            )
        raise unknown_property(entity.logical_name, name)
    return Parsed(changes, children, binds)


def _collection_bind(
    em: TenantState, ctx: Ctx, entity: EntityDef, nav: str, value: Any, *, creating: bool
) -> tuple[Navigation, list[str]]:
    """``<collection-valued navigation property>@odata.bind``: an array of references to
    existing rows, associated with the new row ("Associate table rows on create",
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api).
    On update, collections are changed through ``$ref``."""
    found = navigation(em, entity, nav)
    if found is None or not found.is_collection:
        raise undeclared_bind(nav)
    if not creating:
        raise Fault(
            400,
            PAYLOAD_ERROR,
            f"The collection-valued navigation property '{nav}' can be bound only when the "
            f"record is created; associate existing records with POST "
            f"{entity.entity_set_name}(<id>)/{nav}/$ref.",
        )
    if not isinstance(value, list):
        raise Fault(
            400,
            PAYLOAD_ERROR,
            f"'{nav}@odata.bind' must be an array of references to {found.target.entity_set_name}.",
        )
    ids: list[str] = []
    for item in value:
        target, target_id = parse_reference(em, item)
        expect_target(found, target, "references")
        ids.append(target_id)
    check_association(em, ctx, found)
    return found, ids


def _coerce_checked(em: TenantState, entity: EntityDef, attr: AttributeDef, value: Any) -> Any:
    stored = coerce(entity, attr, value)
    if attr.type == "EntityName" and value is not None and em.schema.entity(value) is None:
        raise Fault(
            400,
            INVALID_ARGUMENT,
            f"The value '{value}' of '{attr.logical_name}' is not the logical name of a table.",
        )
    return stored


def _check_writable(em: TenantState, entity: EntityDef, attr: AttributeDef, creating: bool) -> bool:
    """Whether to write the column; a Fault for a read-only one (False: silently ignored)."""
    if attr.is_primary_id:
        return creating
    allowed = attr.valid_for_create if creating else attr.valid_for_update
    if allowed or (creating and attr.type == "State"):
        # statecode is not valid for create in the table reference; a new row in its default
        # state is accepted, another state as ``CoreConfig.state_on_create`` says
        # (records.rules._check_state_change)
        return True
    if not creating and attr.valid_for_create and em.config.readonly_on_update == "ignore":
        return False
    verb = "create" if creating else "update"
    raise Fault(
        400,
        INVALID_ARGUMENT,
        f"The '{attr.logical_name}' attribute of the '{entity.logical_name}' entity is not "
        f"valid for {verb}.",
    )


def insert_system_row(em: TenantState, table: str, row: dict[str, Any], caller: str) -> None:
    """Write a seeded or platform-made row: system columns added, no validation."""
    entity = em.schema.entity(table)
    assert entity is not None
    row = dict(row)
    row_id = row[entity.primary_id]
    system_columns(em, entity, row, caller, creating=True)
    rules.set_defaults(em, entity, row, {})
    store_row(em, entity, row_id, row)


def create_record(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    body: Mapping[str, Any],
    *,
    row_id: str | None = None,
    preset: Mapping[str, Any] | None = None,
    key_values: Mapping[str, Any] | None = None,
    known_new: bool = False,
) -> tuple[str, dict[str, Any]]:
    """Create a row (and deep-inserted children); its id and stored row.

    ``known_new``: the caller has just looked ``row_id`` up and found nothing.
    """
    check_privilege(em, ctx, "Create", entity)
    parsed = parse_body(em, ctx, entity, body, creating=True)
    changes = parsed.changes
    for name, value in (key_values or {}).items():
        attr = entity.attribute(name)
        if attr is not None and name not in changes:
            changes[name] = value if attr.type in LOOKUP_TYPES else coerce(entity, attr, value)
    changes.update(preset or {})
    body_id = changes.pop(entity.primary_id, None)
    if row_id is not None and body_id is not None and body_id != row_id:
        raise Fault(
            400,
            INVALID_ARGUMENT,
            f"The primary key in the body ({body_id}) differs from the one in the URL.",
        )
    fresh = known_new and row_id is not None and body_id in (None, row_id)
    row_id = row_id or body_id or str(uuid.uuid4())
    if not fresh and em.store.get(entity.logical_name, row_id) is not None:
        raise duplicate_record()
    row: dict[str, Any] = {entity.primary_id: row_id}
    row.update({k: v for k, v in changes.items() if v is not None})
    if any(k.endswith(TYPE_SUFFIX) for k in changes) or "ownerid" in changes:
        check_privilege(em, ctx, "Append", entity)
    system_columns(em, entity, row, ctx.caller, creating=True)
    rules.before_create(em, ctx, entity, row, changes)
    rules.check_required(em, entity, row, creating=True)
    check_unique_keys(em, entity, row_id, row)
    store_row(em, entity, row_id, row)
    em.count_records(1)
    if parsed.children or parsed.binds:
        _relate_new(em, ctx, entity, row_id, parsed)
    rules.after_write(em, ctx, entity, row, None)
    return row_id, row


def check_association(em: TenantState, ctx: Ctx, nav: Navigation) -> None:
    """The privileges associating rows through ``nav`` takes: Append on the table whose row
    points (a one-to-many child, or the row a many-to-many pair is added to), AppendTo on
    the table pointed at."""
    if nav.kind == "many":
        check_privilege(em, ctx, "Append", nav.source)
        check_privilege(em, ctx, "AppendTo", nav.target)
    else:
        check_privilege(em, ctx, "Append", nav.target)
        check_privilege(em, ctx, "AppendTo", nav.source)


def _relate_new(em: TenantState, ctx: Ctx, entity: EntityDef, row_id: str, parsed: Parsed) -> None:
    """The related rows of a new row: deep-inserted ones created, bound ones associated
    (a bound one-to-many row is updated, as any association of it is)."""
    for nav, items in parsed.children:
        if nav.kind == "collection":
            lookup = nav.lookup
            preset = {lookup: row_id, lookup + TYPE_SUFFIX: entity.logical_name}
            for item in items:
                create_record(em, ctx, nav.target, item, preset=preset)
            continue
        assert nav.many_to_many is not None
        check_association(em, ctx, nav)
        for item in items:
            child_id, _ = create_record(em, ctx, nav.target, item)
            link(em, nav.many_to_many, entity.logical_name, row_id, child_id)
    for nav, ids in parsed.binds:
        if nav.kind == "many":
            assert nav.many_to_many is not None
            for other in ids:
                link(em, nav.many_to_many, entity.logical_name, row_id, other)
            continue
        assert nav.one_to_many is not None
        bind = {
            f"{nav.one_to_many.referencing_nav}@odata.bind": f"/{entity.entity_set_name}({row_id})"
        }
        for other in ids:
            existing = em.store.get(nav.target.logical_name, other)
            if existing is None:
                raise not_found(nav.target.logical_name, other)
            update_record(em, ctx, nav.target, other, existing, bind)


def update_record(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row_id: str,
    existing: dict[str, Any],
    body: Mapping[str, Any],
    *,
    strip: Iterable[str] = (),
) -> dict[str, Any]:
    """Update a row with the body's columns (``strip``: key columns dropped on upsert)."""
    check_privilege(em, ctx, "Write", entity)
    body = {k: v for k, v in body.items() if k not in set(strip)}
    if not rules.reopens(body):
        rules.check_writable_row(em, entity, existing)
    rules.check_closed_activity(em, entity, existing, body)
    parsed = parse_body(em, ctx, entity, body, creating=False)
    changes = parsed.changes
    changes.pop(entity.primary_id, None)
    if any(k.endswith(TYPE_SUFFIX) for k in changes):
        check_privilege(em, ctx, "Append", entity)
    if "ownerid" in changes:
        check_privilege(em, ctx, "Assign", entity)
    row = dict(existing)
    for k, v in changes.items():
        if v is None:
            row.pop(k, None)
        else:
            row[k] = v
    rules.before_update(em, ctx, entity, row, changes, existing)
    rules.check_required(em, entity, row, creating=False, changed=changes)
    system_columns(em, entity, row, ctx.caller, creating=False)
    check_unique_keys(em, entity, row_id, row)
    store_row(em, entity, row_id, row)
    em.count_records(1)
    if "ownerid" in changes and row.get("ownerid") != existing.get("ownerid"):
        _cascade_assign(em, ctx, entity, row_id, row, {(entity.logical_name, row_id)})
    rules.after_write(em, ctx, entity, row, existing)
    return row


def _cascade_assign(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row_id: str,
    row: dict[str, Any],
    seen: set[tuple[str, str]],
) -> None:
    """A row given a new owner passes it on to its children through the relationships
    whose CascadeConfiguration says ``Assign: Cascade``."""
    owner = row.get("ownerid")
    owner_type = row.get("ownerid" + TYPE_SUFFIX)
    for rel in em.schema.one_to_many(entity.logical_name):
        child = em.schema.entity(rel.referencing_entity)
        if rel.cascade.get("Assign") != "Cascade" or child is None:
            continue
        if child.attribute("ownerid") is None:
            continue
        for child_id, child_row in em.store.referencing(
            child.logical_name, rel.referencing_attribute, row_id
        ):
            if (child.logical_name, child_id) in seen or child_row.get("ownerid") == owner:
                continue
            seen.add((child.logical_name, child_id))
            before = dict(child_row)
            changes = {"ownerid": owner, "ownerid" + TYPE_SUFFIX: owner_type}
            child_row.update(changes)
            rules.before_update(em, ctx, child, child_row, changes, before)
            write_platform_update(em, child, child_id, child_row, ctx.caller)
            _cascade_assign(em, ctx, child, child_id, child_row, seen)


def write_upsert(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row_id: str | None,
    key_values: dict[str, Any],
    existing: dict[str, Any] | None,
    body: Mapping[str, Any],
    *,
    if_match: str | None,
    if_none: str | None,
) -> tuple[str, dict[str, Any], bool]:
    """The write of a PATCH on ``set(<key>)`` (an upsert unless If-Match / If-None-Match say
    otherwise) once the key is resolved: (row id, stored row, created). Bulk messages call it
    directly with the headers their inner requests would carry."""
    if existing is None:
        if if_match is not None:
            if key_values:
                raise key_not_found(entity, key_values)
            raise not_found(entity.logical_name, str(row_id))
        row_id, row = create_record(
            em,
            ctx,
            entity,
            body,
            row_id=row_id if not key_values else None,
            key_values=key_values,
            known_new=not key_values,
        )
        created = True
    else:
        assert row_id is not None
        if if_none is not None and if_none.strip() == "*":
            raise Fault(412, DUPLICATE_RECORD, "A record with matching key values already exists.")
        check_if_match(if_match, existing)
        row = update_record(em, ctx, entity, row_id, existing, body, strip=key_values.keys())
        created = False
    return row_id, row, created


def delete_record(
    em: TenantState,
    ctx: Ctx,
    entity: EntityDef,
    row_id: str,
    *,
    existing: dict[str, Any] | None = None,
) -> None:
    """Delete a row, cascading per relationship (Restrict → 405 CannotDeleteDueToAssociation).

    ``existing``: the row as the caller has just read it (else it is read here)."""
    if existing is None:
        existing = em.store.get(entity.logical_name, row_id)
    if existing is None:
        raise not_found(entity.logical_name, row_id)
    check_privilege(em, ctx, "Delete", entity)
    rules.check_deletable(em, entity, existing)
    relationships = [
        (rel, child)
        for rel in em.schema.one_to_many(entity.logical_name)
        if rel.cascade_delete != "NoCascade"
        and (child := em.schema.entity(rel.referencing_entity)) is not None
    ]
    pointing = em.store.referenced_by(
        [(child.logical_name, rel.referencing_attribute) for rel, child in relationships], row_id
    )
    for rel, child in relationships:
        if rel.cascade_delete == "Restrict" and pointing.get(
            (child.logical_name, rel.referencing_attribute)
        ):
            raise Fault(
                405,
                CANNOT_DELETE_ASSOCIATION,
                f"The record cannot be deleted because it is associated with another record "
                f"({child.logical_name} via {rel.schema_name}).",
            )
    em.store.delete(entity.logical_name, row_id)
    if em.schema.many_to_many:
        unlink_all(em, entity.logical_name, row_id)
    if entity.logical_name in ("systemuser", "team"):
        em.forget_principals()
    em.count_records(1)
    for rel, child in relationships:
        ids = pointing.get((child.logical_name, rel.referencing_attribute))
        if not ids:
            continue
        # read now: an earlier cascade may have taken some of them
        for child_id in ids:
            child_row = em.store.get(child.logical_name, child_id)
            if child_row is None:
                continue
            if rel.cascade_delete == "Cascade":
                delete_record(em, ctx, child, child_id, existing=child_row)
                continue
            child_row.pop(rel.referencing_attribute, None)  # RemoveLink
            child_row.pop(rel.referencing_attribute + TYPE_SUFFIX, None)
            write_platform_update(em, child, child_id, child_row, ctx.caller)
    rules.after_delete(em, ctx, entity, existing)


__all__ = [
    "Parsed",
    "check_association",
    "create_record",
    "delete_record",
    "insert_system_row",
    "parse_body",
    "update_record",
    "write_upsert",
]
