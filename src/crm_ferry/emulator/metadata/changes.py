"""POST and DELETE on the metadata API: creating tables, columns, relationships, keys and
global choices, and deleting custom ones (a table with its rows, a column with its values).

``POST`` answers ``204`` with ``OData-EntityId`` naming the new definition.
``MSCRM.SolutionUniqueName`` must name an existing solution and is recorded on what is made;
schema names must carry a publisher's prefix (that solution's publisher's, when given).
A definition referenced by another (a column by a key, a global choice by a column, a table by
a custom relationship) can't be deleted (0x8004f01f).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

import httpx

from crm_ferry.emulator.layers import ODATA_JSON, api_base, json_response
from crm_ferry.emulator.metadata.choices import create_global_option_set
from crm_ferry.emulator.metadata.columns import create_column
from crm_ferry.emulator.metadata.errors import NOT_FOUND, ODATA_ERROR, bad
from crm_ferry.emulator.metadata.keys import create_key
from crm_ferry.emulator.metadata.media import FILE_ATTACHMENT, detach
from crm_ferry.emulator.metadata.paths import Segment, find, find_entity, tables_named
from crm_ferry.emulator.metadata.relationships import (
    create_multi_table_lookup,
    create_relationship,
)
from crm_ferry.emulator.metadata.tables import create_table
from crm_ferry.emulator.metadata.write_context import Context, Publisher
from crm_ferry.emulator.schema import (
    AttributeDef,
    EntityDef,
    ManyToManyRelationshipDef,
    RelationshipDef,
    Schema,
    SchemaSnapshot,
)
from crm_ferry.emulator.validation import Fault, format_instant

DEFAULT_PUBLISHER = Publisher("DefaultPublisher", "new", 10000)
"""Used only when the tenant has no ``publisher`` rows to read."""


class MetaEmulator(Protocol):
    """What the metadata API needs from the emulator core."""

    @property
    def schema(self) -> Schema: ...

    @property
    def config(self) -> Any: ...

    @property
    def store(self) -> Any: ...

    def clock(self) -> float: ...

    def save_schema(self, tables: Iterable[str] | None = None) -> None: ...

    def dispatch(self, request: httpx.Request) -> httpx.Response: ...


def context(emulator: MetaEmulator, request: httpx.Request) -> Context:
    publishers, solutions = _catalog(emulator, request)
    solution = request.headers.get("MSCRM.SolutionUniqueName")
    if solution is not None and solution.lower() not in solutions:
        raise bad(f"The solution '{solution}' does not exist.", code=NOT_FOUND, status=404)
    config = emulator.config
    now = getattr(emulator, "now", None)
    return Context(
        schema=emulator.schema,
        now=emulator.clock(),
        publishers=publishers,
        solutions=solutions,
        solution=solution,
        max_name_length=int(getattr(config, "max_schema_name_length", 50)),
        visibility_delay=float(getattr(config, "column_visibility_delay", 0.0)),
        key_delay=float(getattr(config, "key_activation_delay", 0.0)),
        custom_table_limit=getattr(config, "custom_table_limit", None),
        wall=format_instant(now()) if callable(now) else None,
        merge_labels=merge_labels(request),
    )


def merge_labels(request: httpx.Request) -> bool:
    """``MSCRM.MergeLabels``: ``true`` merges labels on update; absent is ``false`` ("If you
    don't include a MSCRM.MergeLabels header, the default behavior is as if the value were
    false"; https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api#update-table-definitions)."""
    value = request.headers.get("MSCRM.MergeLabels")
    if value is None:
        return False
    flag = value.strip().lower()
    if flag not in ("true", "false"):
        raise bad(f"Invalid value '{value}' for the MSCRM.MergeLabels header: true or false.")
    return bool(flag == "true")


def _catalog(
    emulator: MetaEmulator, request: httpx.Request
) -> tuple[list[Publisher], dict[str, Publisher]]:
    """Publishers and solutions, read through the data plane like any client would."""
    base = api_base(request)
    pubs = _rows(
        emulator,
        request,
        f"{base}publishers?$select=publisherid,uniquename,customizationprefix,"
        "customizationoptionvalueprefix",
    )
    if pubs is None:
        return [DEFAULT_PUBLISHER], {}
    publishers: dict[str, Publisher] = {}
    for row in pubs:
        prefix = row.get("customizationprefix")
        if not prefix:
            continue
        publishers[str(row.get("publisherid"))] = Publisher(
            str(row.get("uniquename")),
            str(prefix),
            int(row.get("customizationoptionvalueprefix") or 10000),
        )
    sols = _rows(emulator, request, f"{base}solutions?$select=uniquename,_publisherid_value") or []
    solutions: dict[str, Publisher] = {}
    for row in sols:
        pub = publishers.get(str(row.get("_publisherid_value")))
        if pub is not None and row.get("uniquename"):
            solutions[str(row["uniquename"]).lower()] = pub
    return list(publishers.values()), solutions


def _rows(emulator: MetaEmulator, outer: httpx.Request, url: str) -> list[dict[str, Any]] | None:
    headers = {"Accept": "application/json"}
    if "authorization" in outer.headers:
        headers["Authorization"] = outer.headers["authorization"]
    inner = httpx.Request("GET", url, headers=headers, extensions=dict(outer.extensions))
    response = emulator.dispatch(inner)
    response.read()
    if response.status_code != 200:
        return None
    value = response.json().get("value")
    return value if isinstance(value, list) else None


def read_json(request: httpx.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content or b"null")
    except ValueError as exc:
        raise bad(f"Invalid JSON payload: {exc}.", code=ODATA_ERROR) from None
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.", code=ODATA_ERROR)
    return body


def _created(base: str, path: str) -> httpx.Response:
    url = f"{base}{path}"
    return httpx.Response(204, headers={"OData-Version": "4.0", "OData-EntityId": url})


def post(emulator: MetaEmulator, request: httpx.Request, segs: list[Segment]) -> httpx.Response:
    """Create the definition the body describes at the address ``segs`` names."""
    body = read_json(request)
    ctx = context(emulator, request)
    schema = emulator.schema
    base = api_base(request)
    before = schema.snapshot(tables_named(schema, request))
    try:
        head = segs[0]
        if head.name == "EntityDefinitions" and head.key is None and len(segs) == 1:
            entity = create_table(ctx, body)
            response = _created(base, f"EntityDefinitions({entity.metadata_id})")
        elif head.name == "EntityDefinitions" and head.key is not None and len(segs) == 2:
            entity = find_entity(schema, head.key)
            if segs[1].name == "Attributes" and segs[1].key is None:
                if body.get("IsPrimaryName") is True:
                    raise bad(
                        f"The table '{entity.logical_name}' has its primary name column "
                        f"('{entity.primary_name}'); a new column can't be the primary name "
                        "(IsPrimaryName)."
                    )
                made = create_column(ctx, entity, body)
                # the table as the request named it: "OData-EntityId: .../EntityDefinitions(
                # LogicalName='sample_bankaccount')/Attributes(<id>)"
                # (create-update-column-definitions-using-web-api)
                response = _created(
                    base, f"EntityDefinitions({head.key})/Attributes({made[0].metadata_id})"
                )
            elif segs[1].name == "Keys" and segs[1].key is None:
                key = create_key(ctx, entity, body)
                response = _created(base, f"EntityDefinitions({head.key})/Keys({key.metadata_id})")
            else:
                raise bad(
                    "Definitions can't be created at this address.", code=ODATA_ERROR, status=405
                )
        elif head.name == "RelationshipDefinitions" and head.key is None and len(segs) == 1:
            rel = create_relationship(ctx, body)
            response = _created(base, f"RelationshipDefinitions({rel.metadata_id})")
        elif head.name == "GlobalOptionSetDefinitions" and head.key is None and len(segs) == 1:
            opt = create_global_option_set(ctx, body)
            response = _created(base, f"GlobalOptionSetDefinitions({opt.metadata_id})")
        else:
            raise bad("Definitions can't be created at this address.", code=ODATA_ERROR, status=405)
    except Fault:
        restore(schema, before)
        raise
    emulator.save_schema(tables_named(schema, request))  # what the change may have altered
    return response


METADATA_ACTIONS = (
    "CreateCustomerRelationships",
    "CreatePolymorphicLookupAttribute",
    "CreateOneToMany",
    "CreateManyToMany",
)
"""Unbound actions that make definitions (answered here, in a metadata request's context):
the Web API forms of the CreateCustomerRelationships, CreatePolymorphicLookupAttribute,
CreateOneToMany and CreateManyToMany messages (parameters and response properties as the
messages name them)."""

_ACTION_PARAMETERS = {
    "CreateCustomerRelationships": {"Lookup", "OneToManyRelationships", "SolutionUniqueName"},
    "CreatePolymorphicLookupAttribute": {
        "Lookup",
        "OneToManyRelationships",
        "SolutionUniqueName",
    },
    "CreateOneToMany": {"Lookup", "OneToManyRelationship", "SolutionUniqueName"},
    "CreateManyToMany": {
        "ManyToManyRelationship",
        "IntersectEntitySchemaName",
        "SolutionUniqueName",
    },
}


def post_action(emulator: MetaEmulator, request: httpx.Request, name: str) -> httpx.Response:
    """``POST`` one of :data:`METADATA_ACTIONS`: 200 with the ids of what was made
    (``RelationshipIds`` and ``AttributeId`` for the multi-table lookups, as the
    multitable-lookup article shows; ``RelationshipId`` and ``AttributeId`` for
    CreateOneToMany; ``ManyToManyRelationshipId`` for CreateManyToMany).
    ``SolutionUniqueName`` in the body names the solution, as the header does elsewhere."""
    if request.method.upper() != "POST":
        raise bad(f"The HTTP method '{request.method}' is not allowed on '{name}'.", status=405)
    body = read_json(request)
    unknown = sorted(set(body) - _ACTION_PARAMETERS[name])
    if unknown:
        raise bad(f"'{unknown[0]}' is not a parameter of the {name} action.")
    solution = body.pop("SolutionUniqueName", None)
    if solution is not None:
        headers = [
            (k, v)
            for k, v in request.headers.multi_items()
            if k.lower() != "mscrm.solutionuniquename"
        ]
        request = httpx.Request(
            request.method,
            request.url,
            headers=[*headers, ("MSCRM.SolutionUniqueName", str(solution))],
            content=request.content,
            extensions=request.extensions,
        )
    ctx = context(emulator, request)
    before = emulator.schema.snapshot(tables_named(emulator.schema, request))
    try:
        answer = _run_action(ctx, name, body)
    except Fault:
        restore(emulator.schema, before)
        raise
    emulator.save_schema(tables_named(emulator.schema, request))
    answer_context = f"{api_base(request)}$metadata#Microsoft.Dynamics.CRM.{name}Response"
    payload = {"@odata.context": answer_context, **answer}
    return json_response(200, payload, headers={"OData-Version": "4.0"}, content_type=ODATA_JSON)


def _run_action(ctx: Context, name: str, body: dict[str, Any]) -> dict[str, Any]:
    if name == "CreateOneToMany":
        rel_body = body.get("OneToManyRelationship")
        if not isinstance(rel_body, dict):
            raise bad("CreateOneToMany needs OneToManyRelationship.")
        made = create_relationship(
            ctx,
            {
                **rel_body,
                "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
                "Lookup": body.get("Lookup"),
            },
        )
        assert isinstance(made, RelationshipDef)
        table = ctx.schema.entity(made.referencing_entity)
        attr = table.attribute(made.referencing_attribute) if table is not None else None
        assert attr is not None
        return {"AttributeId": attr.metadata_id, "RelationshipId": made.metadata_id}
    if name == "CreateManyToMany":
        rel_body = body.get("ManyToManyRelationship")
        if not isinstance(rel_body, dict):
            raise bad("CreateManyToMany needs ManyToManyRelationship.")
        intersect = body.get("IntersectEntitySchemaName")
        given = rel_body.get("IntersectEntityName")
        if intersect is None or (
            given is not None and str(given).lower() != str(intersect).lower()
        ):
            raise bad("CreateManyToMany needs IntersectEntitySchemaName (the intersect table).")
        made = create_relationship(
            ctx,
            {
                **rel_body,
                "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
                "IntersectEntityName": intersect,
            },
        )
        return {"ManyToManyRelationshipId": made.metadata_id}
    attr, rels = create_multi_table_lookup(
        ctx, body, customer=name == "CreateCustomerRelationships"
    )
    return {"RelationshipIds": [r.metadata_id for r in rels], "AttributeId": attr.metadata_id}


def restore(schema: Schema, snapshot: SchemaSnapshot) -> None:
    """Undo a half-made change (validation runs before changes, so this is a safety net)."""
    schema.restore(snapshot)


def delete(emulator: MetaEmulator, request: httpx.Request, segs: list[Segment]) -> httpx.Response:
    """Delete the custom definition ``segs`` addresses (and the values stored for it)."""
    schema = emulator.schema
    head = segs[0]
    if head.key is None:
        raise bad("Address the definition to delete by its key.", code=ODATA_ERROR, status=405)
    if head.name == "EntityDefinitions":
        entity = find_entity(schema, head.key)
        if len(segs) == 1:
            _delete_table(emulator, entity)
        elif len(segs) == 2 and segs[1].key is not None and segs[1].name == "Attributes":
            attr = find(
                entity.attributes.values(), segs[1].key, "LogicalName", "logical_name", "attribute"
            )
            _delete_column(emulator, entity, attr)
        elif len(segs) == 2 and segs[1].key is not None and segs[1].name == "Keys":
            key = find(entity.keys.values(), segs[1].key, "LogicalName", "logical_name", "key")
            del entity.keys[key.logical_name]
        else:
            raise bad("Nothing to delete at this address.", code=ODATA_ERROR, status=405)
    elif head.name == "RelationshipDefinitions" and len(segs) == 1:
        found = find(
            [*schema.relationships.values(), *schema.many_to_many.values()],
            head.key,
            "SchemaName",
            "schema_name",
            "relationship",
        )
        if isinstance(found, ManyToManyRelationshipDef):
            _delete_many_to_many(emulator, found)
        else:
            _delete_relationship(emulator, found)
    elif head.name == "GlobalOptionSetDefinitions" and len(segs) == 1:
        opt = find(schema.global_option_sets.values(), head.key, "Name", "name", "global choice")
        users = [
            f"{e.logical_name}.{a.logical_name}"
            for e in schema.entities.values()
            for a in e.attributes.values()
            if a.option_set is not None and a.option_set.is_global and a.option_set.name == opt.name
        ]
        if users:
            raise _dependency(f"the global choice '{opt.name}'", users)
        del schema.global_option_sets[opt.name]
    else:
        raise bad("Nothing to delete at this address.", code=ODATA_ERROR, status=405)
    emulator.save_schema()
    return httpx.Response(204, headers={"OData-Version": "4.0"})


def _dependency(what: str, users: list[str]) -> Fault:
    return bad(
        f"The component {what} cannot be deleted because it is referenced by "
        f"{len(users)} other components: {', '.join(sorted(users))}.",
        code="0x8004f01f",
    )


def _system(what: str) -> Fault:
    return bad(f"{what} is not custom and can't be deleted.", code="0x80040203")


def _delete_table(emulator: MetaEmulator, entity: EntityDef) -> None:
    schema = emulator.schema
    if not entity.is_custom:
        raise _system(f"The table '{entity.logical_name}'")
    users = [
        f"{r.referencing_entity}.{r.referencing_attribute}"
        for r in schema.one_to_many(entity.logical_name)
        if r.is_custom and r.referencing_entity != entity.logical_name
    ]
    users += [
        r.schema_name
        for r in schema.many_to_many_of(entity.logical_name)
        if r.is_custom and {r.entity1, r.entity2} != {entity.logical_name}
    ]
    if users:
        raise _dependency(f"Entity '{entity.logical_name}'", users)
    for other in schema.entities.values():
        for attr in other.attributes.values():
            if entity.logical_name in attr.targets and other is not entity:
                attr.targets = tuple(t for t in attr.targets if t != entity.logical_name)
    schema.remove_entity(entity.logical_name)
    _store_call(emulator, "drop_media", entity.logical_name, None, FILE_ATTACHMENT)
    _store_call(emulator, "drop_table", entity.logical_name)


def _delete_column(emulator: MetaEmulator, entity: EntityDef, attr: AttributeDef) -> None:
    schema = emulator.schema
    if not attr.is_custom or attr.attribute_of is not None:
        raise _system(f"The column '{entity.logical_name}.{attr.logical_name}'")
    if attr.is_primary_name:
        raise bad(f"The primary name column '{attr.logical_name}' can't be deleted.")
    users = [k.logical_name for k in entity.keys.values() if attr.logical_name in k.key_attributes]
    if users:
        raise _dependency(f"Attribute '{attr.logical_name}'", [f"key {u}" for u in users])
    names = [attr.logical_name] + [
        a.logical_name for a in entity.attributes.values() if a.attribute_of == attr.logical_name
    ]
    if attr.type in ("File", "Image"):  # its files go with it
        detach(entity, attr)
        _store_call(emulator, "drop_media", entity.logical_name, attr.logical_name, FILE_ATTACHMENT)
    for name in names:
        del entity.attributes[name]
        _store_call(emulator, "drop_column", entity.logical_name, name)
    for rel_name, rel in list(schema.relationships.items()):
        if rel.referencing_entity == entity.logical_name and rel.referencing_attribute in names:
            del schema.relationships[rel_name]


def _delete_many_to_many(emulator: MetaEmulator, rel: ManyToManyRelationshipDef) -> None:
    """A custom many-to-many relationship goes with its intersect rows."""
    if not rel.is_custom:
        raise _system(f"The relationship '{rel.schema_name}'")
    del emulator.schema.many_to_many[rel.schema_name]
    _store_call(emulator, "drop_table", rel.intersect_entity)


def _delete_relationship(emulator: MetaEmulator, rel: RelationshipDef) -> None:
    if not rel.is_custom:
        raise _system(f"The relationship '{rel.schema_name}'")
    entity = emulator.schema.entity(rel.referencing_entity)
    del emulator.schema.relationships[rel.schema_name]
    attr = entity.attribute(rel.referencing_attribute) if entity is not None else None
    if entity is not None and attr is not None and len(attr.targets) > 1:
        # one table of a multi-table lookup ("Remove relationship", multitable-lookup)
        attr.targets = tuple(t for t in attr.targets if t != rel.referenced_entity)
        _store_call(
            emulator,
            "drop_lookup_target",
            entity.logical_name,
            attr.logical_name,
            rel.referenced_entity,
        )
        return
    if entity is not None and rel.referencing_attribute in entity.attributes:
        users = [
            k.logical_name
            for k in entity.keys.values()
            if rel.referencing_attribute in k.key_attributes
        ]
        if users:
            emulator.schema.relationships[rel.schema_name] = rel
            raise _dependency(f"Relationship '{rel.schema_name}'", [f"key {u}" for u in users])
        del entity.attributes[rel.referencing_attribute]
        _store_call(emulator, "drop_column", entity.logical_name, rel.referencing_attribute)


def _store_call(emulator: MetaEmulator, name: str, *args: Any) -> None:
    method = getattr(emulator.store, name, None)
    if callable(method):
        method(*args)


__all__ = [
    "DEFAULT_PUBLISHER",
    "METADATA_ACTIONS",
    "MetaEmulator",
    "context",
    "delete",
    "merge_labels",
    "post",
    "post_action",
    "read_json",
    "restore",
]
