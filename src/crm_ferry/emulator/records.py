"""Records: create, retrieve, update, upsert, delete and query, as the Web API does them.

Sources (Microsoft Learn, Dataverse Web API):
create https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api,
update/delete https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api,
upsert https://learn.microsoft.com/power-apps/developer/data-platform/use-upsert-insert-update-record,
conditional operations https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api,
alternate keys https://learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record,
paging https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results.

A stored row holds column values by logical name; a lookup holds the target id under its
column name and the target table under ``<column>@lookuplogicalname``. On read, lookups come
back as ``_<column>_value`` (with annotations when ``Prefer: odata.include-annotations`` asks).
Business rules of particular tables (computed names, money base values, invoice totals, state
transitions, notes) live in :mod:`.rules`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import httpx

from crm_ferry.emulator import odata, rules, tenant
from crm_ferry.emulator.schema import AttributeDef, EntityDef, RelationshipDef
from crm_ferry.emulator.store import key_value
from crm_ferry.emulator.validation import (
    CANNOT_DELETE_ASSOCIATION,
    CONCURRENCY_MISMATCH,
    DUPLICATE_KEY,
    DUPLICATE_RECORD,
    INVALID_ARGUMENT,
    INVALID_KEY_OPERATION,
    NOT_SUPPORTED,
    PAYLOAD_ERROR,
    PRIVILEGE_DENIED,
    RECORD_NOT_FOUND_BY_KEY,
    UNKNOWN_PROPERTY,
    Fault,
    coerce,
    duplicate_record,
    format_instant,
    is_guid,
    lookup_not_found,
    norm_guid,
    not_found,
    undeclared_bind,
    unknown_property,
)

if TYPE_CHECKING:
    from crm_ferry.emulator.core import Emulator

API_PREFIX = "/api/data/v9.2/"
ODATA_JSON = "application/json; odata.metadata=minimal"
LOOKUP_TYPES = ("Lookup", "Customer", "Owner")
TYPE_SUFFIX = "@lookuplogicalname"
LOOKUP_ANNOTATION = "@Microsoft.Dynamics.CRM.lookuplogicalname"
NAV_ANNOTATION = "@Microsoft.Dynamics.CRM.associatednavigationproperty"
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
PRIVILEGE_ACTIONS = ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share")


# ---------------------------------------------------------------------------------------
# Request context


@dataclass(slots=True)
class Ctx:
    request: httpx.Request
    base: str
    """``https://host/api/data/v9.2/``: every URL handed out starts with it."""
    caller: str
    prefer: dict[str, str]
    lookup_annotations: bool
    formatted_values: bool

    @property
    def representation(self) -> bool:
        return self.prefer.get("return") == "representation"


def _origin(url: httpx.URL) -> str:
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port is not None and url.port != default else ""
    return f"{url.scheme}://{url.host}{port}"


_PREFER_RE = re.compile(r'\s*([A-Za-z.\-_]+)\s*(?:=\s*("[^"]*"|[^,]*))?\s*(?:,|$)')


def parse_prefer(header: str) -> dict[str, str]:
    prefs: dict[str, str] = {}
    for name, value in _PREFER_RE.findall(header or ""):
        if name:
            prefs[name.lower()] = value.strip().strip('"')
    return prefs


def make_ctx(em: Emulator, request: httpx.Request) -> Ctx:

    prefer = parse_prefer(", ".join(request.headers.get_list("Prefer")))
    annotations = prefer.get("odata.include-annotations", "")
    wanted = [a.strip() for a in annotations.split(",") if a.strip()]
    caller = request.extensions.get("crm_ferry.caller") or tenant.DEFAULT_APP_USER_ID
    return Ctx(
        request=request,
        base=_origin(request.url) + API_PREFIX,
        caller=str(caller),
        prefer=prefer,
        lookup_annotations=any(
            a in ("*", "Microsoft.Dynamics.CRM.*", "Microsoft.Dynamics.CRM.lookuplogicalname")
            for a in wanted
        ),
        formatted_values=any(
            a in ("*", "OData.Community.Display.V1.FormattedValue") for a in wanted
        ),
    )


# ---------------------------------------------------------------------------------------
# Responses


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"Content-Type": ODATA_JSON, "OData-Version": "4.0", **(headers or {})},
        content=json.dumps(body).encode("utf-8"),
    )


def error_response(fault: Fault) -> httpx.Response:
    """The documented error shape (compose-http-requests-handle-errors)."""
    return json_response(fault.status, {"error": {"code": fault.code, "message": fault.message}})


def no_content(headers: Mapping[str, str] | None = None) -> httpx.Response:
    raw = [(b"OData-Version", b"4.0")]
    raw += [(k.encode("ascii"), v.encode("utf-8")) for k, v in (headers or {}).items()]
    return httpx.Response(204, headers=raw)


def etag(row: Mapping[str, Any]) -> str:
    return f'W/"{row.get("versionnumber", 0)}"'


# ---------------------------------------------------------------------------------------
# Router


def dispatch(em: Emulator, request: httpx.Request) -> httpx.Response:
    """One non-batch Web API operation."""
    from crm_ferry.emulator import actions

    ctx = make_ctx(em, request)
    rest = request.url.path[len(API_PREFIX) :] if request.url.path.startswith(API_PREFIX) else ""
    method = request.method.upper()
    try:
        query = request.url.query.decode("utf-8") if request.url.query else ""
        opts = odata.parse_query_string(query) if query else odata.QueryOptions()
        segments = _simple_path(rest) or odata.parse_resource_path(
            unquote(rest), aliases=opts.aliases
        )
    except odata.ODataError as exc:
        raise odata_fault(exc) from None
    try:
        first = segments[0] if segments else None
        if isinstance(first, odata.OperationSegment):
            return actions.unbound(em, ctx, first, method)
        if not isinstance(first, odata.EntitySetSegment):
            raise Fault(404, UNKNOWN_PROPERTY, f"Resource not found for the segment '{rest}'.")
        entity = em.schema.by_entity_set(first.name)
        if entity is None:
            raise Fault(
                404, UNKNOWN_PROPERTY, f"Resource not found for the segment '{first.name}'."
            )
        tail = segments[1:]
        if entity.logical_name in tenant.VIRTUAL_TABLES and method != "GET":
            raise _method_not_allowed(method, rest)
        if first.key is None:
            if not tail:
                if method == "GET":
                    return query_collection(em, ctx, entity, opts)
                if method == "POST":
                    return post_create(em, ctx, entity, opts)
                raise _method_not_allowed(method, rest)
            if isinstance(tail[0], odata.SystemSegment) and tail[0].name == "$count":
                rows = _filtered(em, ctx, entity, opts)
                return httpx.Response(
                    200,
                    headers={"Content-Type": "text/plain", "OData-Version": "4.0"},
                    content=str(min(len(rows), 5000)).encode(),
                )
            if isinstance(tail[0], odata.OperationSegment) and tail[0].name == "DeleteMultiple":
                raise Fault(400, NOT_SUPPORTED, "DeleteMultiple has not yet been implemented.")
            raise Fault(404, UNKNOWN_PROPERTY, f"Resource not found for the segment '{rest}'.")
        if not tail:
            if method == "GET":
                return get_one(em, ctx, entity, first.key, opts)
            if method == "PATCH":
                return patch_upsert(em, ctx, entity, first.key, opts)
            if method == "DELETE":
                return delete_one(em, ctx, entity, first.key)
            raise _method_not_allowed(method, rest)
        if isinstance(tail[0], odata.OperationSegment):
            return actions.bound(em, ctx, entity, first.key, tail[0], method)
        if isinstance(tail[0], odata.PropertySegment) and len(tail) == 1:
            return single_property(em, ctx, entity, first.key, tail[0].name, method)
        if (
            isinstance(tail[0], odata.PropertySegment)
            and len(tail) == 2
            and isinstance(tail[1], odata.SystemSegment)
            and tail[1].name == "$ref"
        ):
            return reference(em, ctx, entity, first.key, tail[0].name, method)
        raise Fault(404, UNKNOWN_PROPERTY, f"Resource not found for the segment '{rest}'.")
    except odata.ODataError as exc:
        raise odata_fault(exc) from None


_SIMPLE_PATH = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_]*)(?:\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\))?$"
)


def _simple_path(rest: str) -> list[odata.Segment] | None:
    """``set`` or ``set(<guid>)`` without the full parser (the bulk write path)."""
    match = _SIMPLE_PATH.match(rest)
    if match is None:
        return None
    name, key = match.groups()
    if key is None:
        return None  # may be an unbound function such as WhoAmI: let the parser decide
    return [odata.EntitySetSegment(name, odata.Key(value=uuid.UUID(key)))]


def odata_fault(exc: odata.ODataError) -> Fault:
    code = exc.code if exc.code and exc.code != "0x0" else UNKNOWN_PROPERTY
    return Fault(exc.status, code, exc.message)


def _method_not_allowed(method: str, rest: str) -> Fault:
    return Fault(405, NOT_SUPPORTED, f"The HTTP method '{method}' is not allowed on '{rest}'.")


def read_body(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.request.content
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise Fault(400, PAYLOAD_ERROR, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Fault(400, PAYLOAD_ERROR, "The request body must be a JSON object.")
    return body


# ---------------------------------------------------------------------------------------
# Privileges


def fetch_row(em: Emulator, table: str, row_id: str) -> dict[str, Any] | None:
    """A stored row, or a row of a virtual (metadata-derived) table."""
    if table in tenant.VIRTUAL_TABLES:
        entity = em.schema.entity(table)
        pk = entity.primary_id if entity else ""
        return next((r for r in tenant.virtual_rows(em.schema, table) if r[pk] == row_id), None)
    return em.store.get(table, row_id)


def all_rows(em: Emulator, table: str) -> Iterable[dict[str, Any]]:
    if table in tenant.VIRTUAL_TABLES:
        return tenant.virtual_rows(em.schema, table)
    return em.store.rows(table)


def privilege_id(name: str) -> str:
    from crm_ferry.emulator.tenant import seed_id

    return seed_id("privilege", name)


SCHEMA_PRIVILEGES = (
    "prvCreateEntity",
    "prvCreateAttribute",
    "prvCreateRelationship",
    "prvBypassCustomBusinessLogic",
)
"""Non-record privileges a System Administrator holds (customisation, bypassing plug-ins)."""

# Tables whose records are governed by another table's privileges: notes use "Note",
# activities share "Activity", invoice lines use the invoice's.
# https://learn.microsoft.com/power-platform/admin/security-roles-privileges
_PRIVILEGE_ENTITY = {"annotation": "Note", "invoicedetail": "Invoice"}


def privilege_name(action: str, entity: EntityDef) -> str:
    """Dataverse's name of the privilege for ``action`` on rows of ``entity``."""
    if entity.logical_name in _PRIVILEGE_ENTITY:
        target = _PRIVILEGE_ENTITY[entity.logical_name]
    elif entity.is_activity or entity.logical_name == "activitypointer":
        target = "Activity"
    else:
        target = entity.schema_name
    return f"prv{action}{target}"


def all_privileges(em: Emulator) -> set[str]:
    names = {privilege_name(a, e) for e in em.schema.entities.values() for a in PRIVILEGE_ACTIONS}
    return names | set(SCHEMA_PRIVILEGES)


def check_privilege(em: Emulator, ctx: Ctx, action: str, entity: EntityDef) -> None:
    """403 PrivilegeDenied when the caller's role lacks the privilege for ``action``."""
    removed = em.removed_privileges(ctx.caller)
    if not removed:
        return
    name = privilege_name(action, entity)
    if name in removed:
        total = len(all_privileges(em) - removed)
        raise Fault(
            403,
            PRIVILEGE_DENIED,
            f"Principal user (Id={ctx.caller}, type=8, roleCount=1, privilegeCount={total}, "
            f"accessMode=4), is missing {name} privilege (Id={privilege_id(name)}) on "
            f"OTC={entity.object_type_code} for entity '{entity.logical_name}'. "
            f"context.Caller={ctx.caller}",
        )


# ---------------------------------------------------------------------------------------
# Keys and references


def _key_value_of(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def resolve_key(
    em: Emulator, entity: EntityDef, key: odata.Key
) -> tuple[str | None, dict[str, Any]]:
    """(row id or None, alternate-key values) for ``set(<key>)``.

    The id form and ``set(<pk>=<guid>)`` address by primary key; anything else must name
    exactly the columns of one Active alternate key.
    """
    if not key.named:
        if isinstance(key.value, uuid.UUID):
            return str(key.value), {}  # already the canonical form norm_guid gives
        value = _key_value_of(key.value)
        if not is_guid(value):
            raise _bad_key(entity)
        return norm_guid(value), {}
    names = [n for n, _ in key.named]
    if names == [entity.primary_id] and entity.logical_name not in ("systemuser", "team"):
        value = _key_value_of(key.named[0][1])
        if not is_guid(value):
            raise _bad_key(entity)
        return norm_guid(value), {}
    columns = {_lookup_name(n): _key_value_of(v) for n, v in key.named}
    for k in entity.keys.values():
        if set(k.key_attributes) == set(columns):
            if k.status != "Active":
                raise Fault(
                    400,
                    INVALID_KEY_OPERATION,
                    f"The entity key '{k.schema_name}' of entity '{entity.logical_name}' is "
                    f"not active (its index status is {k.status}); it cannot be used to "
                    "reference a record until its index has been built.",
                )
            values = {c: columns[c] for c in k.key_attributes}
            ids = em.store.find_by_key(entity.logical_name, k.key_attributes, values)
            return (ids[0] if ids else None), values
    raise _bad_key(entity)


def _lookup_name(name: str) -> str:
    if name.startswith("_") and name.endswith("_value"):
        return name[1:-6]
    return name


def _bad_key(entity: EntityDef) -> Fault:
    t = f"Microsoft.Dynamics.CRM.{entity.logical_name}"
    return Fault(
        400,
        INVALID_KEY_OPERATION,
        f"The key in the request URI is not valid for resource '{t}'. Ensure that the names "
        "and number of key properties match the declared or alternate key properties for the "
        f"resource '{t}'.",
    )


def _key_not_found(entity: EntityDef, values: Mapping[str, Any]) -> Fault:
    return Fault(
        404,
        RECORD_NOT_FOUND_BY_KEY,
        f"A record with the specified key values does not exist in {entity.logical_name} entity",
    )


_PLAIN_REFERENCE = re.compile(
    r"/?([A-Za-z_][A-Za-z0-9_]*)\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)"
)
"""An ``@odata.bind`` value that is an entity set and a GUID, and nothing else."""


def parse_reference(em: Emulator, text: Any) -> tuple[EntityDef, str]:
    """``/set(id)``, ``set(id)``, an absolute URL or ``set(key='v')`` → (table, existing id)."""
    if not isinstance(text, str):
        raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not a URI.")
    plain = _PLAIN_REFERENCE.fullmatch(text)
    if plain is not None:
        # ``/set(<guid>)``, what clients send: the answer of the general parse below,
        # without tokenizing the path
        found = em.schema.by_entity_set(plain.group(1))
        if found is None:
            raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not valid.")
        plain_id = str(uuid.UUID(plain.group(2)))
        table = found.logical_name
        if table in tenant.VIRTUAL_TABLES:
            there = fetch_row(em, table, plain_id) is not None
        else:
            there = em.store.exists(table, plain_id)
        if not there:
            raise lookup_not_found(table, plain_id)
        return found, plain_id
    ref = text
    if "://" in ref:
        path = httpx.URL(ref).path
        ref = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
    elif ref.startswith(API_PREFIX):
        ref = ref[len(API_PREFIX) :]
    ref = ref.lstrip("/")
    try:
        segments = odata.parse_resource_path(unquote(ref))
    except odata.ODataError:
        raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not valid.") from None
    if len(segments) != 1 or not isinstance(segments[0], odata.EntitySetSegment):
        raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not valid.")
    seg = segments[0]
    target = em.schema.by_entity_set(seg.name)
    if target is None or seg.key is None:
        raise Fault(400, PAYLOAD_ERROR, f"The @odata.bind value '{text}' is not valid.")
    row_id, values = resolve_key(em, target, seg.key)
    if row_id is None:
        raise _key_not_found(target, values)
    if fetch_row(em, target.logical_name, row_id) is None:
        raise lookup_not_found(target.logical_name, row_id)
    return target, row_id


# ---------------------------------------------------------------------------------------
# Writing


@dataclass(slots=True)
class Parsed:
    changes: dict[str, Any]
    children: list[tuple[RelationshipDef, list[dict[str, Any]]]]


def parse_body(
    em: Emulator, ctx: Ctx, entity: EntityDef, body: Mapping[str, Any], *, creating: bool
) -> Parsed:
    """Validate a request body against the table's metadata; the column values to write."""
    changes: dict[str, Any] = {}
    children: list[tuple[RelationshipDef, list[dict[str, Any]]]] = []
    now = em.clock()
    for name, value in body.items():
        if "@" not in name:
            # a column (the common case), else a navigation property (below)
            attr = entity.attributes.get(name)
            if attr is not None and attr.type not in LOOKUP_TYPES:
                if attr.visible_at > now or not attr.valid_for_read:
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
                raise undeclared_bind(nav)
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
        collection = _collection_nav(em, entity, name)
        if collection is not None:
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
    return Parsed(changes, children)


def _coerce_checked(em: Emulator, entity: EntityDef, attr: AttributeDef, value: Any) -> Any:
    stored = coerce(entity, attr, value)
    if attr.type == "EntityName" and value is not None and em.schema.entity(value) is None:
        raise Fault(
            400,
            INVALID_ARGUMENT,
            f"The value '{value}' of '{attr.logical_name}' is not the logical name of a table.",
        )
    return stored


def _check_writable(em: Emulator, entity: EntityDef, attr: AttributeDef, creating: bool) -> bool:
    """Whether to write the column; a Fault for a read-only one (False: silently ignored)."""
    if attr.is_primary_id:
        return creating
    allowed = attr.valid_for_create if creating else attr.valid_for_update
    if allowed:
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


def _collection_nav(em: Emulator, entity: EntityDef, name: str) -> RelationshipDef | None:
    for rel in em.schema.one_to_many(entity.logical_name):
        if rel.referenced_nav == name:
            return rel
    return None


def key_columns(entity: EntityDef) -> list[tuple[str, ...]]:
    return [k.key_attributes for k in entity.keys.values()]


def check_unique_keys(em: Emulator, entity: EntityDef, row_id: str, row: dict[str, Any]) -> None:
    """412 DuplicateRecordEntityKey when an Active alternate key's values are taken."""
    for k in entity.keys.values():
        if k.status != "Active":
            continue
        if key_value(row, k.key_attributes) is None:
            continue
        values = {c: row.get(c) for c in k.key_attributes}
        others = em.store.find_by_key(entity.logical_name, k.key_attributes, values)
        if any(i != row_id for i in others):
            shown = ",".join(str(row.get(c)) for c in k.key_attributes)
            raise Fault(
                412,
                DUPLICATE_KEY,
                f"A record that has the attribute values {shown} already exists. The entity "
                f"key {k.schema_name} requires that this set of attributes contains unique "
                "values.",
            )


def _store(em: Emulator, entity: EntityDef, row_id: str, row: dict[str, Any]) -> None:
    em.store.put(entity.logical_name, row_id, row, key_columns(entity))
    if entity.logical_name in ("systemuser", "team"):
        em.forget_principals()


def insert_system_row(em: Emulator, table: str, row: dict[str, Any], caller: str) -> None:
    """Write a seeded or platform-made row: system columns added, no validation."""
    entity = em.schema.entity(table)
    assert entity is not None
    row = dict(row)
    row_id = row[entity.primary_id]
    _system_columns(em, entity, row, caller, creating=True)
    rules.set_defaults(em, entity, row, {})
    _store(em, entity, row_id, row)


def _system_columns(
    em: Emulator, entity: EntityDef, row: dict[str, Any], caller: str, *, creating: bool
) -> None:
    now = format_instant(em.now())
    if creating:
        row["createdon"] = now
        row["createdby"] = caller
        row["createdby" + TYPE_SUFFIX] = "systemuser"
        if entity.ownership == "UserOwned" and not row.get("ownerid"):
            row["ownerid"] = caller
            row["ownerid" + TYPE_SUFFIX] = "systemuser"
    row["modifiedon"] = now
    row["modifiedby"] = caller
    row["modifiedby" + TYPE_SUFFIX] = "systemuser"
    row["versionnumber"] = em.next_version()


def create_record(
    em: Emulator,
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
    _system_columns(em, entity, row, ctx.caller, creating=True)
    rules.before_create(em, ctx, entity, row, changes)
    rules.check_required(em, entity, row, creating=True)
    check_unique_keys(em, entity, row_id, row)
    _store(em, entity, row_id, row)
    em.count_records(1)
    for rel, items in parsed.children:
        child = em.schema.entity(rel.referencing_entity)
        if child is None:
            continue
        link = {
            rel.referencing_attribute: row_id,
            rel.referencing_attribute + TYPE_SUFFIX: entity.logical_name,
        }
        for item in items:
            create_record(em, ctx, child, item, preset=link)
    rules.after_write(em, ctx, entity, row, None)
    return row_id, row


def update_record(
    em: Emulator,
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
    rules.check_writable_row(em, entity, existing)
    body = {k: v for k, v in body.items() if k not in set(strip)}
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
    _system_columns(em, entity, row, ctx.caller, creating=False)
    check_unique_keys(em, entity, row_id, row)
    _store(em, entity, row_id, row)
    em.count_records(1)
    rules.after_write(em, ctx, entity, row, existing)
    return row


def write_platform_update(
    em: Emulator, entity: EntityDef, row_id: str, row: dict[str, Any], caller: str
) -> None:
    """A change the platform makes itself (rollups, state by actions): no validation."""
    _system_columns(em, entity, row, caller, creating=False)
    _store(em, entity, row_id, row)


def delete_record(em: Emulator, ctx: Ctx, entity: EntityDef, row_id: str) -> None:
    """Delete a row, cascading per relationship (Restrict → 405 CannotDeleteDueToAssociation)."""
    existing = em.store.get(entity.logical_name, row_id)
    if existing is None:
        raise not_found(entity.logical_name, row_id)
    check_privilege(em, ctx, "Delete", entity)
    rules.check_deletable(em, entity, existing)
    for rel in em.schema.one_to_many(entity.logical_name):
        child = em.schema.entity(rel.referencing_entity)
        if child is None:
            continue
        refs = em.store.referencing(child.logical_name, rel.referencing_attribute, row_id)
        if not refs:
            continue
        if rel.cascade_delete == "Restrict":
            raise Fault(
                405,
                CANNOT_DELETE_ASSOCIATION,
                f"The record cannot be deleted because it is associated with another record "
                f"({child.logical_name} via {rel.schema_name}).",
            )
    em.store.delete(entity.logical_name, row_id)
    if entity.logical_name in ("systemuser", "team"):
        em.forget_principals()
    em.count_records(1)
    for rel in em.schema.one_to_many(entity.logical_name):
        child = em.schema.entity(rel.referencing_entity)
        if child is None or rel.cascade_delete == "NoCascade":
            continue
        for child_id, child_row in em.store.referencing(
            child.logical_name, rel.referencing_attribute, row_id
        ):
            if rel.cascade_delete == "Cascade":
                delete_record(em, ctx, child, child_id)
            else:  # RemoveLink
                child_row.pop(rel.referencing_attribute, None)
                child_row.pop(rel.referencing_attribute + TYPE_SUFFIX, None)
                write_platform_update(em, child, child_id, child_row, ctx.caller)
    rules.after_delete(em, ctx, entity, existing)


# ---------------------------------------------------------------------------------------
# Handlers


def _entity_url(ctx: Ctx, entity: EntityDef, row_id: str) -> str:
    return f"{ctx.base}{entity.entity_set_name}({row_id})"


def post_create(
    em: Emulator, ctx: Ctx, entity: EntityDef, opts: odata.QueryOptions
) -> httpx.Response:
    """POST: 204 + OData-EntityId, or 201 + body with ``Prefer: return=representation``."""
    row_id, row = create_record(em, ctx, entity, read_body(ctx))
    if ctx.representation:
        body = represent(em, ctx, entity, row, opts.select, opts.expand)
        body = {"@odata.context": _context(ctx, entity, opts.select, single=True), **body}
        return json_response(
            201,
            body,
            {"Preference-Applied": "return=representation", "ETag": etag(row)},
        )
    url = _entity_url(ctx, entity, row_id)
    return no_content({"OData-EntityId": url, "Location": url})


def _match_etag(header: str, row: Mapping[str, Any]) -> bool:
    return any(t.strip() in ("*", etag(row)) for t in header.split(","))


def patch_upsert(
    em: Emulator, ctx: Ctx, entity: EntityDef, key: odata.Key, opts: odata.QueryOptions
) -> httpx.Response:
    """PATCH is an upsert unless If-Match / If-None-Match say otherwise."""
    row_id, key_values = resolve_key(em, entity, key)
    existing = em.store.get(entity.logical_name, row_id) if row_id else None
    if_match = ctx.request.headers.get("If-Match")
    if_none = ctx.request.headers.get("If-None-Match")
    body = read_body(ctx)
    row_id, row, created = write_upsert(
        em, ctx, entity, row_id, key_values, existing, body, if_match=if_match, if_none=if_none
    )
    url = _entity_url(ctx, entity, row_id)
    if ctx.representation:
        body_out = represent(em, ctx, entity, row, opts.select, [])
        body_out = {"@odata.context": _context(ctx, entity, opts.select, single=True), **body_out}
        return json_response(
            201 if created else 200,
            body_out,
            {"Preference-Applied": "return=representation", "ETag": etag(row)},
        )
    return no_content({"OData-EntityId": url})


def write_upsert(
    em: Emulator,
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
                raise _key_not_found(entity, key_values)
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
        if if_match is not None and not _match_etag(if_match, existing):
            raise Fault(
                412,
                CONCURRENCY_MISMATCH,
                "The version of the existing record doesn't match the RowVersion property "
                "provided.",
            )
        row = update_record(em, ctx, entity, row_id, existing, body, strip=key_values.keys())
        created = False
    return row_id, row, created


def delete_one(em: Emulator, ctx: Ctx, entity: EntityDef, key: odata.Key) -> httpx.Response:
    row_id, key_values = resolve_key(em, entity, key)
    existing = em.store.get(entity.logical_name, row_id) if row_id else None
    if existing is None or row_id is None:
        if key_values:
            raise _key_not_found(entity, key_values)
        raise not_found(entity.logical_name, str(row_id))
    if_match = ctx.request.headers.get("If-Match")
    if if_match is not None and not _match_etag(if_match, existing):
        raise Fault(
            412,
            CONCURRENCY_MISMATCH,
            "The version of the existing record doesn't match the RowVersion property provided.",
        )
    delete_record(em, ctx, entity, row_id)
    return no_content()


def get_one(
    em: Emulator, ctx: Ctx, entity: EntityDef, key: odata.Key, opts: odata.QueryOptions
) -> httpx.Response:
    check_privilege(em, ctx, "Read", entity)
    row_id, key_values = resolve_key(em, entity, key)
    row = fetch_row(em, entity.logical_name, row_id) if row_id else None
    if row is None:
        if key_values:
            raise _key_not_found(entity, key_values)
        raise not_found(entity.logical_name, str(row_id))
    if_none = ctx.request.headers.get("If-None-Match")
    if (
        if_none
        and if_none != "null"
        and not opts.expand
        and not (ctx.lookup_annotations or ctx.formatted_values)
        and _match_etag(if_none, row)
    ):
        return httpx.Response(304, headers={"OData-Version": "4.0"})
    em.count_records(1)
    body = represent(em, ctx, entity, row, opts.select, opts.expand)
    return json_response(
        200, {"@odata.context": _context(ctx, entity, opts.select, single=True), **body}
    )


def single_property(
    em: Emulator, ctx: Ctx, entity: EntityDef, key: odata.Key, name: str, method: str
) -> httpx.Response:
    """GET / PUT / DELETE of one property: ``accounts(id)/name``."""
    row_id, key_values = resolve_key(em, entity, key)
    row = em.store.get(entity.logical_name, row_id) if row_id else None
    if row is None or row_id is None:
        if key_values:
            raise _key_not_found(entity, key_values)
        raise not_found(entity.logical_name, str(row_id))
    attr = entity.attribute(_lookup_name(name))
    if attr is None:
        raise unknown_property(entity.logical_name, name)
    if method == "GET":
        check_privilege(em, ctx, "Read", entity)
        rep = represent(em, ctx, entity, row, [name], [])
        return json_response(
            200,
            {
                "@odata.context": f"{ctx.base}$metadata#{entity.entity_set_name}({row_id})/{name}",
                "value": rep.get(name),
            },
        )
    if method == "PUT":
        value = read_body(ctx).get("value")
        update_record(em, ctx, entity, row_id, row, {name: value})
        return no_content()
    if method == "DELETE":
        update_record(em, ctx, entity, row_id, row, {name: None})
        return no_content()
    raise _method_not_allowed(method, name)


def reference(
    em: Emulator, ctx: Ctx, entity: EntityDef, key: odata.Key, nav: str, method: str
) -> httpx.Response:
    """``PUT <set>(id)/<nav>/$ref`` {"@odata.id": uri} associates; ``DELETE`` disassociates.

    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api
    """
    row_id, key_values = resolve_key(em, entity, key)
    row = em.store.get(entity.logical_name, row_id) if row_id else None
    if row is None or row_id is None:
        if key_values:
            raise _key_not_found(entity, key_values)
        raise not_found(entity.logical_name, str(row_id))
    if em.schema.navigation(entity.logical_name, nav) is None:
        raise unknown_property(entity.logical_name, nav)
    if method == "PUT":
        target = read_body(ctx).get("@odata.id")
        update_record(em, ctx, entity, row_id, row, {f"{nav}@odata.bind": target})
        return no_content()
    if method == "DELETE":
        update_record(em, ctx, entity, row_id, row, {f"{nav}@odata.bind": None})
        return no_content()
    raise _method_not_allowed(method, nav)


# ---------------------------------------------------------------------------------------
# Reading


def _context(ctx: Ctx, entity: EntityDef, select: list[str] | None, *, single: bool) -> str:
    sel = f"({','.join(select)})" if select else ""
    return f"{ctx.base}$metadata#{entity.entity_set_name}{sel}" + ("/$entity" if single else "")


def _readable(em: Emulator, entity: EntityDef) -> list[AttributeDef]:
    now = em.clock()
    return [a for a in entity.attributes.values() if a.valid_for_read and a.visible_at <= now]


def property_name(attr: AttributeDef) -> str:
    return f"_{attr.logical_name}_value" if attr.type in LOOKUP_TYPES else attr.logical_name


def _formatted(attr: AttributeDef, value: Any) -> str | None:
    if value is None:
        return None
    if attr.option_set is not None and isinstance(value, (int, bool)):
        opt = attr.option_set.option(int(value))
        return opt.label if opt else None
    if attr.type in ("Money", "Decimal", "Integer", "BigInt", "Double"):
        return f"{value:,}"
    return None


def represent(
    em: Emulator,
    ctx: Ctx,
    entity: EntityDef,
    row: Mapping[str, Any],
    select: list[str] | None,
    expand: list[odata.ExpandSpec],
) -> dict[str, Any]:
    """The JSON of one row as the Web API returns it."""
    attrs = _readable(em, entity)
    by_prop = {property_name(a): a for a in attrs}
    if select:
        for name in select:
            if name not in by_prop:
                raise unknown_property(entity.logical_name, name)
        chosen = [by_prop[n] for n in select]
        pk = entity.attribute(entity.primary_id)
        if pk is not None and pk not in chosen:
            chosen.append(pk)
    else:
        chosen = attrs
    out: dict[str, Any] = {"@odata.etag": etag(row)}
    for attr in chosen:
        prop = property_name(attr)
        value = row.get(attr.logical_name)
        if attr.type in LOOKUP_TYPES:
            target = row.get(attr.logical_name + TYPE_SUFFIX)
            if value is not None and ctx.formatted_values:
                out[prop + FORMATTED] = _primary_name(em, target, value)
            if value is not None and ctx.lookup_annotations:
                nav = _nav_of(em, entity, attr, target)
                if nav:
                    out[prop + NAV_ANNOTATION] = nav
                out[prop + LOOKUP_ANNOTATION] = target
        elif ctx.formatted_values:
            text = _formatted(attr, value)
            if text is not None:
                out[prop + FORMATTED] = text
        out[prop] = value
    for spec in expand:
        out[spec.nav] = _expand(em, ctx, entity, row, spec)
    return out


def _nav_of(em: Emulator, entity: EntityDef, attr: AttributeDef, target: Any) -> str | None:
    for rel in em.schema.many_to_one(entity.logical_name):
        if rel.referencing_attribute == attr.logical_name and rel.referenced_entity == target:
            return rel.referencing_nav
    return None


def _primary_name(em: Emulator, table: Any, row_id: Any) -> str | None:
    target = em.schema.entity(str(table)) if table else None
    if target is None or not target.primary_name:
        return None
    row = fetch_row(em, target.logical_name, str(row_id))
    return None if row is None else row.get(target.primary_name)


def _expand(
    em: Emulator, ctx: Ctx, entity: EntityDef, row: Mapping[str, Any], spec: odata.ExpandSpec
) -> Any:
    rel = em.schema.navigation(entity.logical_name, spec.nav)
    if rel is not None:
        target = em.schema.entity(rel.referenced_entity)
        value = row.get(rel.referencing_attribute)
        if target is None or value is None:
            return None
        if row.get(rel.referencing_attribute + TYPE_SUFFIX) not in (None, target.logical_name):
            return None
        related = fetch_row(em, target.logical_name, str(value))
        if related is None:
            return None
        em.count_records(1)
        return represent(em, ctx, target, related, spec.select, spec.expand)
    coll = _collection_nav(em, entity, spec.nav)
    if coll is None:
        raise unknown_property(entity.logical_name, spec.nav)
    child = em.schema.entity(coll.referencing_entity)
    if child is None:
        return []
    rows = [
        r
        for _, r in em.store.referencing(
            child.logical_name, coll.referencing_attribute, str(row[entity.primary_id])
        )
    ]
    reps = [represent(em, ctx, child, r, None, []) for r in rows]
    if spec.filter is not None:
        reps = [r for r in reps if odata.evaluate(spec.filter, r)]
    if spec.orderby:
        reps = [dict(r) for r in odata.sort_rows(reps, spec.orderby)]
    if spec.top is not None:
        reps = reps[: spec.top]
    em.count_records(len(reps))
    if spec.select:
        ids = [r[child.primary_id] for r in reps]
        by_id = {r[child.primary_id]: r for r in rows}
        return [represent(em, ctx, child, by_id[i], spec.select, spec.expand) for i in ids]
    return reps


def _filtered(
    em: Emulator, ctx: Ctx, entity: EntityDef, opts: odata.QueryOptions
) -> list[dict[str, Any]]:
    """Full representations of the rows matching ``$filter``, in ``$orderby`` order."""
    check_privilege(em, ctx, "Read", entity)
    plain = Ctx(ctx.request, ctx.base, ctx.caller, ctx.prefer, False, False)
    props = {property_name(a) for a in _readable(em, entity)}
    if opts.filter is not None:
        for path in odata.referenced_properties(opts.filter):
            head = path.split("/")[0]
            known = head in props or em.schema.navigation(entity.logical_name, head) is not None
            if not known and _collection_nav(em, entity, head) is None:
                raise unknown_property(entity.logical_name, head)
    for name, _ in opts.orderby:
        if name not in props:
            raise unknown_property(entity.logical_name, name)
    rows: list[dict[str, Any]] = []
    for stored in all_rows(em, entity.logical_name):
        rep = represent(em, plain, entity, stored, None, [])
        if opts.filter is not None:

            def resolve(path: str, stored: Mapping[str, Any] = stored) -> Any:
                return _resolve_path(em, plain, entity, stored, path)

            if not odata.evaluate(opts.filter, rep, resolve):
                continue
        rows.append(rep)
    if opts.orderby:
        rows = [dict(r) for r in odata.sort_rows(rows, opts.orderby)]
    return rows


def _resolve_path(
    em: Emulator, ctx: Ctx, entity: EntityDef, row: Mapping[str, Any], path: str
) -> Any:
    head, _, rest = path.partition("/")
    rel = em.schema.navigation(entity.logical_name, head)
    if rel is not None:
        target = em.schema.entity(rel.referenced_entity)
        value = row.get(rel.referencing_attribute)
        if target is None or value is None:
            return None
        related = fetch_row(em, target.logical_name, str(value))
        if related is None:
            return None
        rep = represent(em, ctx, target, related, None, [])
        return rep.get(rest) if rest else rep
    coll = _collection_nav(em, entity, head)
    if coll is not None:
        child = em.schema.entity(coll.referencing_entity)
        if child is None:
            return []
        return [
            represent(em, ctx, child, r, None, [])
            for _, r in em.store.referencing(
                child.logical_name, coll.referencing_attribute, str(row[entity.primary_id])
            )
        ]
    return None


_COOKIE_RE = re.compile(r'pagenumber="(\d+)"')


def query_collection(
    em: Emulator, ctx: Ctx, entity: EntityDef, opts: odata.QueryOptions
) -> httpx.Response:
    """GET on an entity set: $filter, $select, $orderby, $top, $count, $expand and paging.

    ``Prefer: odata.maxpagesize`` (≤ 5,000, the default) pages with an opaque ``$skiptoken``
    in ``@odata.nextLink``; ``$top`` is ignored when a page size is asked for.
    """
    rows = _filtered(em, ctx, entity, opts)
    total = len(rows)
    asked = ctx.prefer.get("odata.maxpagesize")
    limit = em.config.max_page_size
    page_size = limit
    if asked is not None:
        try:
            page_size = max(1, min(int(asked), limit))
        except ValueError:
            page_size = limit
    elif opts.top is not None:
        rows = rows[: opts.top]
    page = 1
    if opts.skiptoken:
        found = _COOKIE_RE.search(unquote(opts.skiptoken))
        if found is None:
            raise Fault(400, INVALID_ARGUMENT, "The $skiptoken is not valid.")
        page = int(found.group(1))
    start = (page - 1) * page_size
    chunk = rows[start : start + page_size]
    by_id = None
    if opts.select or opts.expand or ctx.lookup_annotations or ctx.formatted_values:
        by_id = {r[entity.primary_id]: r for r in all_rows(em, entity.logical_name)}
    values: list[dict[str, Any]] = []
    for rep in chunk:
        if by_id is not None:
            stored = by_id[rep[entity.primary_id]]
            values.append(represent(em, ctx, entity, stored, opts.select, opts.expand))
        else:
            values.append(rep)
    em.count_records(len(values))
    body: dict[str, Any] = {"@odata.context": _context(ctx, entity, opts.select, single=False)}
    if opts.count:
        body["@odata.count"] = min(total, 5000)
        if total > 5000:
            body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = True
    body["value"] = values
    headers: dict[str, str] = {}
    if asked is not None:
        headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
    if start + page_size < len(rows):
        cookie = f'<cookie pagenumber="{page + 1}" pagingcookie="" istracking="False" />'
        query = [
            p
            for p in (ctx.request.url.query.decode("utf-8") or "").split("&")
            if p and not p.lower().startswith(("%24skiptoken", "$skiptoken"))
        ]
        query.append("$skiptoken=" + quote(cookie, safe=""))
        body["@odata.nextLink"] = f"{ctx.base}{entity.entity_set_name}?" + "&".join(query)
    return json_response(200, body, headers)


__all__ = [
    "Ctx",
    "check_privilege",
    "create_record",
    "delete_record",
    "dispatch",
    "error_response",
    "insert_system_row",
    "make_ctx",
    "represent",
    "resolve_key",
    "update_record",
]
