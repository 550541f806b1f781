"""The metadata Web API of the emulator: EntityDefinitions, RelationshipDefinitions,
GlobalOptionSetDefinitions — read, create, delete.

Written from
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets and
https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity.

Reads (GET): ``EntityDefinitions`` with ``$select``, ``$filter`` and ``$expand`` (``Attributes``,
``Keys``, ``ManyToOneRelationships``, ``OneToManyRelationships``, each with nested
``$select``/``$filter``); one definition by ``(LogicalName='x')`` or ``(<MetadataId>)``; its
``Attributes`` (also cast: ``Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata`` with
``$expand=OptionSet,GlobalOptionSet``), ``Keys`` and relationships;
``RelationshipDefinitions(SchemaName='x')``; ``GlobalOptionSetDefinitions(Name='x')``.

Writes: ``POST`` creates a table, a column, a one-to-many relationship with its lookup, an
alternate key or a global choice, answering ``204`` with ``OData-EntityId`` naming the new
definition; ``DELETE`` removes custom ones (a table with its rows, a column with its values).
``MSCRM.SolutionUniqueName`` must name an existing solution and is recorded on what is made;
schema names must carry a publisher's prefix (that solution's publisher's, when given).
Updates of definitions (``PUT``) are not emulated (``501``).

Eventual consistency: a new column is usable only ``visible_at`` (``CoreConfig``'s visibility
delay after its creation; the core's validation reads it); a new key is ``Pending`` until
:func:`settle` finds its time has come, then ``Active`` — or ``Failed`` when existing rows
have duplicate values for it (Dataverse's asynchronous index build).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

import httpx

from crm_ferry.emulator import _meta_write as w
from crm_ferry.emulator._meta_filter import FilterError, compile_filter
from crm_ferry.emulator._meta_json import (
    METADATA_TYPES,
    OPTION_SET_ATTRIBUTES,
    attribute_json,
    entity_json,
    key_json,
    option_set_json,
    relationship_json,
)
from crm_ferry.emulator._meta_write import MetaError, Publisher, bad
from crm_ferry.emulator.layers import API_PREFIX, ODATA_JSON, json_response, odata_error, origin
from crm_ferry.emulator.schema import (
    AttributeDef,
    EntityDef,
    KeyDef,
    OptionSetDef,
    RelationshipDef,
    Schema,
)

NS = "Microsoft.Dynamics.CRM."
ODATA_ERROR = "0x0"
NOT_FOUND = "0x80040217"

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

    def save_schema(self) -> None: ...

    def dispatch(self, request: httpx.Request) -> httpx.Response: ...

    def transaction(self) -> AbstractContextManager[Any]: ...


# -- settle: the asynchronous index build of alternate keys ------------------------------


def settle(emulator: MetaEmulator) -> None:
    """Flip Pending keys whose time has come to Active, or Failed on duplicate values."""
    pending = [
        (entity, key)
        for entity in emulator.schema.entities.values()
        for key in entity.keys.values()
        if key.status in ("Pending", "InProgress")
    ]
    if not pending:
        return
    now = emulator.clock()
    changed = False
    for entity, key in pending:
        if key.active_at <= now:
            duplicates = _has_duplicates(emulator, entity, key)
            key.status = "Failed" if duplicates else "Active"
            changed = True
    if changed:
        emulator.save_schema()


def _has_duplicates(emulator: MetaEmulator, entity: EntityDef, key: KeyDef) -> bool:
    store = emulator.store
    check = getattr(store, "has_duplicates", None)
    if callable(check):
        return bool(check(entity.logical_name, key.key_attributes))
    return False


# -- entry point -------------------------------------------------------------------------


def handle_metadata(emulator: MetaEmulator, request: httpx.Request, path: str) -> httpx.Response:
    """Answer one request on ``EntityDefinitions``, ``RelationshipDefinitions`` or
    ``GlobalOptionSetDefinitions`` (``path`` is the part after ``/api/data/v9.2/``)."""
    try:
        segments = _segments(path)
        method = request.method.upper()
        if method == "GET":
            return _get(emulator, request, segments)
        if method == "POST":
            return _post(emulator, request, segments)
        if method == "DELETE":
            return _delete(emulator, request, segments)
        if method in ("PUT", "PATCH"):
            return odata_error(
                501,
                ODATA_ERROR,
                "The emulator does not update metadata definitions; create and delete them.",
            )
        return odata_error(405, ODATA_ERROR, f"The HTTP method '{method}' is not allowed here.")
    except MetaError as exc:
        return odata_error(exc.status, exc.code, exc.message)


# -- paths -------------------------------------------------------------------------------

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z][\w.]*)(?:\((?P<key>.*)\))?$")
_GUID = re.compile(
    r"^'?(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})'?$"
)
_ALT = re.compile(r"^(?P<prop>\w+)\s*=\s*'(?P<value>(?:[^']|'')*)'$")


class _Seg:
    __slots__ = ("key", "name")

    def __init__(self, name: str, key: str | None) -> None:
        self.name = name
        self.key = key


def _segments(path: str) -> list[_Seg]:
    out: list[_Seg] = []
    for raw in unquote(path.split("?", 1)[0]).strip("/").split("/"):
        m = _SEGMENT.match(raw)
        if m is None:
            raise bad(f"Resource not found for the segment '{raw}'.", code=ODATA_ERROR, status=404)
        out.append(_Seg(m.group("name"), m.group("key")))
    return out


def _key_lookup(key: str, alt_property: str) -> tuple[str | None, str | None]:
    """``(metadata_id, alternate key value)`` of a key segment."""
    g = _GUID.match(key.strip())
    if g:
        return g.group("id").lower(), None
    a = _ALT.match(key.strip())
    if a and a.group("prop") == alt_property:
        return None, a.group("value").replace("''", "'")
    raise bad(
        f"The key '{key}' is not valid: use ({alt_property}='...') or (<MetadataId>).",
        code=ODATA_ERROR,
    )


def _find_entity(schema: Schema, key: str) -> EntityDef:
    mid, name = _key_lookup(key, "LogicalName")
    for entity in schema.entities.values():
        if entity.logical_name == name or entity.metadata_id.lower() == mid:
            return entity
    shown = name if name is not None else mid
    raise bad(
        f"Could not find an entity with the key '{shown}'.",
        code=NOT_FOUND,
        status=404,
    )


def _find(items: Iterable[Any], key: str, alt: str, attr: str, kind: str) -> Any:
    mid, name = _key_lookup(key, alt)
    for item in items:
        if getattr(item, attr) == name or str(item.metadata_id).lower() == mid:
            return item
    raise bad(
        f"Could not find the {kind} '{name if name is not None else mid}'.",
        code=NOT_FOUND,
        status=404,
    )


# -- GET ---------------------------------------------------------------------------------


class _Resource:
    """What a GET path names: rows of metadata JSON, how to expand them, their context."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        type_name: str,
        context: str,
        *,
        single: bool,
        expanders: dict[str, Callable[[dict[str, Any]], Any]] | None = None,
        allowed: set[str] | None = None,
    ) -> None:
        self.rows = rows
        self.type_name = type_name
        self.context = context
        self.single = single
        self.expanders = expanders or {}
        self.allowed = allowed


def _get(emulator: MetaEmulator, request: httpx.Request, segs: list[_Seg]) -> httpx.Response:
    schema = emulator.schema
    resource = _resolve(schema, segs)
    query = parse_qs(request.url.query.decode("utf-8"), keep_blank_values=True)
    options = {k: v[0] for k, v in query.items()}
    unknown = [
        k for k in options if k.startswith("$") and k not in ("$select", "$filter", "$expand")
    ]
    if unknown:
        raise bad(
            f"The query option '{unknown[0]}' is not supported on metadata.", code=ODATA_ERROR
        )
    rows = _apply(resource, options)
    base = origin(request)
    select = options.get("$select")
    context = f"{base}{API_PREFIX}$metadata#{resource.context}"
    if select:
        context += f"({select})"
    if resource.single:
        if not rows:
            raise bad("The requested definition does not exist.", code=NOT_FOUND, status=404)
        body = {"@odata.context": context + "/$entity", **rows[0]}
    else:
        body = {"@odata.context": context, "value": rows}
    return json_response(200, body, headers={"OData-Version": "4.0"}, content_type=ODATA_JSON)


def _apply(resource: _Resource, options: dict[str, str]) -> list[dict[str, Any]]:
    rows = resource.rows
    flt = options.get("$filter")
    if flt:
        try:
            predicate = compile_filter(flt)
            rows = [r for r in rows if predicate(r)]
        except FilterError as exc:
            raise bad(exc.message, code=exc.code) from None
    expand = _split_top(options.get("$expand", ""))
    select = [s.strip() for s in options.get("$select", "").split(",") if s.strip()]
    allowed = resource.allowed if resource.allowed is not None else _props(rows)
    for name in select:
        if name not in allowed and name not in resource.expanders:
            raise bad(
                f"Could not find a property named '{name}' on type '{NS}{resource.type_name}'.",
                code=ODATA_ERROR,
            )
    out: list[dict[str, Any]] = []
    for row in rows:
        shaped = _select(row, select)
        for item in expand:
            name, nested = _expand_item(item)
            expander = resource.expanders.get(name)
            if expander is None:
                raise bad(
                    f"Could not find a property named '{name}' on type '{NS}{resource.type_name}'.",
                    code=ODATA_ERROR,
                )
            value = expander(row)
            if isinstance(value, _Resource):
                expanded = _apply(value, nested)
                shaped[name] = expanded if not value.single else next(iter(expanded), None)
            else:
                shaped[name] = value
        out.append(shaped)
    return out


def _props(rows: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for row in rows:
        names.update(row)
    return names


def _select(row: dict[str, Any], select: list[str]) -> dict[str, Any]:
    if not select:
        return dict(row)
    keep = {"@odata.type", "MetadataId", *select}
    return {k: v for k, v in row.items() if k in keep}


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    out: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def _expand_item(item: str) -> tuple[str, dict[str, str]]:
    """``Attributes($select=A,B;$filter=x eq 1)`` → ``('Attributes', {...})``."""
    name, sep, rest = item.partition("(")
    options: dict[str, str] = {}
    if sep:
        inner = rest[:-1] if rest.endswith(")") else rest
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(inner):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == ";" and depth == 0:
                parts.append(inner[start:i])
                start = i + 1
        parts.append(inner[start:])
        for part in parts:
            key, eq, value = part.strip().partition("=")
            if eq:
                options[key.strip()] = value.strip()
    return name.strip(), options


_ENTITY_NAVS = ("Attributes", "Keys", "ManyToOneRelationships", "OneToManyRelationships")


def _resolve(schema: Schema, segs: list[_Seg]) -> _Resource:
    head = segs[0]
    if head.name == "EntityDefinitions":
        if head.key is None:
            if len(segs) > 1:
                raise bad("A definition must be addressed before its parts.", code=ODATA_ERROR)
            entities = list(schema.entities.values())
            return _Resource(
                [entity_json(e) for e in entities],
                "EntityMetadata",
                "EntityDefinitions",
                single=False,
                expanders=_entity_expanders(schema, {e.metadata_id: e for e in entities}),
                allowed=_ENTITY_PROPS | set(_ENTITY_NAVS),
            )
        entity = _find_entity(schema, head.key)
        if len(segs) == 1:
            return _Resource(
                [entity_json(entity)],
                "EntityMetadata",
                "EntityDefinitions",
                single=True,
                expanders=_entity_expanders(schema, {entity.metadata_id: entity}),
                allowed=_ENTITY_PROPS | set(_ENTITY_NAVS),
            )
        return _entity_part(schema, entity, segs[1:])
    if head.name == "RelationshipDefinitions":
        rels = list(schema.relationships.values())
        if head.key is not None:
            rels = [_find(rels, head.key, "SchemaName", "schema_name", "relationship")]
        rest = segs[1:]
        if rest and rest[0].name not in (NS + "OneToManyRelationshipMetadata",):
            if rest[0].name == NS + "ManyToManyRelationshipMetadata":
                rels = []
            else:
                raise bad(
                    f"Resource not found for the segment '{rest[0].name}'.",
                    code=ODATA_ERROR,
                    status=404,
                )
        return _Resource(
            [relationship_json(r, typed=True) for r in rels],
            "RelationshipMetadataBase",
            "RelationshipDefinitions",
            single=head.key is not None,
        )
    if head.name == "GlobalOptionSetDefinitions":
        sets = list(schema.global_option_sets.values())
        if head.key is not None:
            sets = [_find(sets, head.key, "Name", "name", "global choice")]
        return _Resource(
            [option_set_json(o) for o in sets],
            "OptionSetMetadataBase",
            "GlobalOptionSetDefinitions",
            single=head.key is not None,
        )
    raise bad(f"Resource not found for the segment '{head.name}'.", code=ODATA_ERROR, status=404)


_ENTITY_PROPS: set[str] = set()
_ATTRIBUTE_BASE_PROPS: set[str] = set()
_ATTRIBUTE_PROPS: dict[str, set[str]] = {}
"""Properties of each derived attribute type, for ``$select`` on a cast."""
_KEY_PROPS: set[str] = set()
_RELATIONSHIP_PROPS: set[str] = set()


def _entity_expanders(
    schema: Schema, by_id: dict[str, EntityDef]
) -> dict[str, Callable[[dict[str, Any]], Any]]:
    def entity_of(row: dict[str, Any]) -> EntityDef:
        return by_id[row["MetadataId"]]

    return {
        "Attributes": lambda row: _attributes(schema, entity_of(row), None),
        "Keys": lambda row: _keys(entity_of(row)),
        "ManyToOneRelationships": lambda row: _rels(
            schema.many_to_one(entity_of(row).logical_name)
        ),
        "OneToManyRelationships": lambda row: _rels(
            schema.one_to_many(entity_of(row).logical_name)
        ),
        "ManyToManyRelationships": lambda row: [],
    }


def _entity_part(schema: Schema, entity: EntityDef, segs: list[_Seg]) -> _Resource:
    part = segs[0]
    rest = segs[1:]
    ctx_base = f"EntityDefinitions('{entity.metadata_id}')/{part.name}"
    if part.name == "Attributes":
        cast: str | None = None
        attrs = list(entity.attributes.values())
        single = False
        if part.key is not None:
            attrs = [_find(attrs, part.key, "LogicalName", "logical_name", "attribute")]
            single = True
        if rest:
            if not rest[0].name.startswith(NS) or len(rest) > 1:
                raise bad(
                    f"Resource not found for the segment '{rest[0].name}'.",
                    code=ODATA_ERROR,
                    status=404,
                )
            cast = rest[0].name[len(NS) :]
            if cast not in set(METADATA_TYPES.values()):
                raise bad(
                    f"Resource not found for the segment '{rest[0].name}'.",
                    code=ODATA_ERROR,
                    status=404,
                )
            matching = [a for a in attrs if METADATA_TYPES.get(a.type) == cast]
            if single and not matching:
                raise bad(
                    f"The attribute '{attrs[0].logical_name}' is not a {cast}.",
                    code=ODATA_ERROR,
                )
            attrs = matching
        res = _attributes(schema, entity, cast, attrs=attrs)
        res.single = single
        res.context = ctx_base + (f"/{NS}{cast}" if cast else "")
        return res
    if rest:
        raise bad(
            f"Resource not found for the segment '{rest[0].name}'.", code=ODATA_ERROR, status=404
        )
    if part.name == "Keys":
        keys = list(entity.keys.values())
        if part.key is not None:
            keys = [_find(keys, part.key, "LogicalName", "logical_name", "key")]
        res = _keys(entity, keys)
        res.single = part.key is not None
        res.context = ctx_base
        return res
    if part.name in ("ManyToOneRelationships", "OneToManyRelationships"):
        rels = (
            schema.many_to_one(entity.logical_name)
            if part.name == "ManyToOneRelationships"
            else schema.one_to_many(entity.logical_name)
        )
        if part.key is not None:
            rels = [_find(rels, part.key, "SchemaName", "schema_name", "relationship")]
        res = _rels(rels)
        res.single = part.key is not None
        res.context = ctx_base
        return res
    raise bad(f"Resource not found for the segment '{part.name}'.", code=ODATA_ERROR, status=404)


def _attributes(
    schema: Schema, entity: EntityDef, cast: str | None, *, attrs: list[AttributeDef] | None = None
) -> _Resource:
    chosen = list(entity.attributes.values()) if attrs is None else attrs
    rows = [attribute_json(entity, a) for a in chosen]
    by_id = {a.metadata_id: a for a in chosen}
    expanders: dict[str, Callable[[dict[str, Any]], Any]] = {}
    if cast in (
        "PicklistAttributeMetadata",
        "MultiSelectPicklistAttributeMetadata",
        "StateAttributeMetadata",
        "StatusAttributeMetadata",
        "BooleanAttributeMetadata",
    ) or (
        cast is None
        and attrs is not None
        and len(chosen) == 1
        and chosen[0].type in OPTION_SET_ATTRIBUTES
    ):
        expanders["OptionSet"] = lambda row: _option_set(by_id[row["MetadataId"]].option_set)
        if cast != "BooleanAttributeMetadata" and not (
            cast is None and chosen and chosen[0].type == "Boolean"
        ):
            expanders["GlobalOptionSet"] = lambda row: _global_option_set(
                by_id[row["MetadataId"]].option_set
            )
    allowed = _ATTRIBUTE_BASE_PROPS | (_ATTRIBUTE_PROPS.get(cast, set()) if cast else set())
    if cast is None and attrs is not None and len(chosen) == 1:
        allowed = allowed | _props(rows)
    return _Resource(
        rows,
        cast or "AttributeMetadata",
        "",
        single=False,
        expanders=expanders,
        allowed=allowed,
    )


def _option_set(opt: OptionSetDef | None) -> dict[str, Any] | None:
    return option_set_json(opt) if opt is not None else None


def _global_option_set(opt: OptionSetDef | None) -> dict[str, Any] | None:
    return option_set_json(opt) if opt is not None and opt.is_global else None


def _keys(entity: EntityDef, keys: list[KeyDef] | None = None) -> _Resource:
    chosen = list(entity.keys.values()) if keys is None else keys
    return _Resource(
        [key_json(k) for k in chosen], "EntityKeyMetadata", "", single=False, allowed=_KEY_PROPS
    )


def _rels(rels: list[RelationshipDef]) -> _Resource:
    return _Resource(
        [relationship_json(r) for r in rels],
        "OneToManyRelationshipMetadata",
        "",
        single=False,
        allowed=_RELATIONSHIP_PROPS,
    )


def _init_props() -> None:
    probe = EntityDef("x", "X", "xs", "xid", None, 1)
    _ENTITY_PROPS.update(entity_json(probe))
    _ATTRIBUTE_BASE_PROPS.update(attribute_json(probe, AttributeDef("x", "X", "Virtual")))
    for type_, meta_type in METADATA_TYPES.items():
        attr = AttributeDef("x", "X", type_)  # type: ignore[arg-type]
        _ATTRIBUTE_PROPS.setdefault(meta_type, set()).update(attribute_json(probe, attr))
    _KEY_PROPS.update(key_json(KeyDef("k", "k", "x", ("a",))))
    _RELATIONSHIP_PROPS.update(
        relationship_json(RelationshipDef("r", "a", "b", "c", "d", "e", "f"))
    )


_init_props()


# -- POST --------------------------------------------------------------------------------


def _context(emulator: MetaEmulator, request: httpx.Request) -> w.Context:
    publishers, solutions = _catalog(emulator, request)
    solution = request.headers.get("MSCRM.SolutionUniqueName")
    if solution is not None and solution.lower() not in solutions:
        raise bad(f"The solution '{solution}' does not exist.", code=NOT_FOUND, status=404)
    config = emulator.config
    return w.Context(
        schema=emulator.schema,
        now=emulator.clock(),
        publishers=publishers,
        solutions=solutions,
        solution=solution,
        max_name_length=int(getattr(config, "max_schema_name_length", 50)),
        visibility_delay=float(getattr(config, "column_visibility_delay", 0.0)),
        key_delay=float(getattr(config, "key_activation_delay", 0.0)),
        custom_table_limit=getattr(config, "custom_table_limit", None),
    )


def _catalog(
    emulator: MetaEmulator, request: httpx.Request
) -> tuple[list[Publisher], dict[str, Publisher]]:
    """Publishers and solutions, read through the data plane like any client would."""
    base = origin(request)
    pubs = _rows(
        emulator,
        request,
        f"{base}{API_PREFIX}publishers?$select=publisherid,uniquename,customizationprefix,"
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
    sols = (
        _rows(
            emulator, request, f"{base}{API_PREFIX}solutions?$select=uniquename,_publisherid_value"
        )
        or []
    )
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


def _body(request: httpx.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content or b"null")
    except ValueError as exc:
        raise bad(f"Invalid JSON payload: {exc}.", code=ODATA_ERROR) from None
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.", code=ODATA_ERROR)
    return body


def _created(base: str, path: str) -> httpx.Response:
    url = f"{base}{API_PREFIX}{path}"
    return httpx.Response(204, headers={"OData-Version": "4.0", "OData-EntityId": url})


def _post(emulator: MetaEmulator, request: httpx.Request, segs: list[_Seg]) -> httpx.Response:
    body = _body(request)
    ctx = _context(emulator, request)
    schema = emulator.schema
    base = origin(request)
    before = schema.to_json()
    try:
        head = segs[0]
        if head.name == "EntityDefinitions" and head.key is None and len(segs) == 1:
            entity = w.create_table(ctx, body)
            response = _created(base, f"EntityDefinitions({entity.metadata_id})")
        elif head.name == "EntityDefinitions" and head.key is not None and len(segs) == 2:
            entity = _find_entity(schema, head.key)
            if segs[1].name == "Attributes" and segs[1].key is None:
                made = w.create_column(ctx, entity, body)
                response = _created(
                    base,
                    f"EntityDefinitions({entity.metadata_id})/Attributes({made[0].metadata_id})",
                )
            elif segs[1].name == "Keys" and segs[1].key is None:
                key = w.create_key(ctx, entity, body)
                response = _created(
                    base, f"EntityDefinitions({entity.metadata_id})/Keys({key.metadata_id})"
                )
            else:
                raise bad(
                    "Definitions can't be created at this address.", code=ODATA_ERROR, status=405
                )
        elif head.name == "RelationshipDefinitions" and head.key is None and len(segs) == 1:
            rel = w.create_relationship(ctx, body)
            response = _created(base, f"RelationshipDefinitions({rel.metadata_id})")
        elif head.name == "GlobalOptionSetDefinitions" and head.key is None and len(segs) == 1:
            opt = w.create_global_option_set(ctx, body)
            response = _created(base, f"GlobalOptionSetDefinitions({opt.metadata_id})")
        else:
            raise bad("Definitions can't be created at this address.", code=ODATA_ERROR, status=405)
    except MetaError:
        _restore(schema, before)
        raise
    emulator.save_schema()
    return response


def _restore(schema: Schema, snapshot: dict[str, Any]) -> None:
    """Undo a half-made change (validation runs before changes, so this is a safety net)."""
    if schema.to_json() == snapshot:
        return
    restored = Schema.from_json(json.loads(json.dumps(snapshot)))
    schema.entities.clear()
    schema.relationships.clear()
    schema.global_option_sets.clear()
    schema._by_set.clear()
    for entity in restored.entities.values():
        schema.add_entity(entity)
    schema.relationships.update(restored.relationships)
    schema.global_option_sets.update(restored.global_option_sets)


# -- DELETE ------------------------------------------------------------------------------


def _delete(emulator: MetaEmulator, request: httpx.Request, segs: list[_Seg]) -> httpx.Response:
    schema = emulator.schema
    head = segs[0]
    if head.key is None:
        raise bad("Address the definition to delete by its key.", code=ODATA_ERROR, status=405)
    if head.name == "EntityDefinitions":
        entity = _find_entity(schema, head.key)
        if len(segs) == 1:
            _delete_table(emulator, entity)
        elif len(segs) == 2 and segs[1].key is not None and segs[1].name == "Attributes":
            attr = _find(
                entity.attributes.values(), segs[1].key, "LogicalName", "logical_name", "attribute"
            )
            _delete_column(emulator, entity, attr)
        elif len(segs) == 2 and segs[1].key is not None and segs[1].name == "Keys":
            key = _find(entity.keys.values(), segs[1].key, "LogicalName", "logical_name", "key")
            del entity.keys[key.logical_name]
        else:
            raise bad("Nothing to delete at this address.", code=ODATA_ERROR, status=405)
    elif head.name == "RelationshipDefinitions" and len(segs) == 1:
        rel = _find(
            schema.relationships.values(), head.key, "SchemaName", "schema_name", "relationship"
        )
        _delete_relationship(emulator, rel)
    elif head.name == "GlobalOptionSetDefinitions" and len(segs) == 1:
        opt = _find(schema.global_option_sets.values(), head.key, "Name", "name", "global choice")
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


def _dependency(what: str, users: list[str]) -> MetaError:
    return bad(
        f"The component {what} cannot be deleted because it is referenced by "
        f"{len(users)} other components: {', '.join(sorted(users))}.",
        code="0x8004f01f",
    )


def _system(what: str) -> MetaError:
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
    if users:
        raise _dependency(f"Entity '{entity.logical_name}'", users)
    for other in schema.entities.values():
        for attr in other.attributes.values():
            if entity.logical_name in attr.targets and other is not entity:
                attr.targets = tuple(t for t in attr.targets if t != entity.logical_name)
    schema.remove_entity(entity.logical_name)
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
    for name in names:
        del entity.attributes[name]
        _store_call(emulator, "drop_column", entity.logical_name, name)
    for rel_name, rel in list(schema.relationships.items()):
        if rel.referencing_entity == entity.logical_name and rel.referencing_attribute in names:
            del schema.relationships[rel_name]


def _delete_relationship(emulator: MetaEmulator, rel: RelationshipDef) -> None:
    if not rel.is_custom:
        raise _system(f"The relationship '{rel.schema_name}'")
    entity = emulator.schema.entity(rel.referencing_entity)
    del emulator.schema.relationships[rel.schema_name]
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


__all__ = ["MetaEmulator", "handle_metadata", "settle"]
