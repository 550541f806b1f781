"""GET on the metadata API: resolving a path to definitions, then ``$filter``, ``$select`` and
``$expand`` (with nested options) on their JSON.

``EntityDefinitions`` with ``$select``, ``$filter`` and ``$expand`` (``Attributes``, ``Keys``,
``ManyToOneRelationships``, ``OneToManyRelationships``, ``ManyToManyRelationships``, each with
nested ``$select``/``$filter``); one definition by ``(LogicalName='x')`` or ``(<MetadataId>)``; its
``Attributes`` (also cast: ``Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata`` with
``$expand=OptionSet,GlobalOptionSet``), ``Keys`` and relationships;
``RelationshipDefinitions(SchemaName='x')``; ``GlobalOptionSetDefinitions(Name='x')``.
Written from https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx

from crm_ferry.emulator.layers import ODATA_JSON, api_base, json_response
from crm_ferry.emulator.metadata.errors import NOT_FOUND, ODATA_ERROR, bad
from crm_ferry.emulator.metadata.filters import FilterError, compile_filter
from crm_ferry.emulator.metadata.many_to_many import many_to_many_json
from crm_ferry.emulator.metadata.paths import Segment, find, find_entity
from crm_ferry.emulator.metadata.shapes import (
    METADATA_TYPES,
    NAMESPACE,
    OPTION_SET_ATTRIBUTES,
    attribute_json,
    entity_json,
    key_json,
    option_set_json,
    relationship_json,
)
from crm_ferry.emulator.schema import (
    AttributeDef,
    EntityDef,
    KeyDef,
    ManyToManyRelationshipDef,
    OptionSetDef,
    RelationshipDef,
    Schema,
)
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import NOT_SUPPORTED, Fault


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


def get(schema: Schema, request: httpx.Request, segs: list[Segment]) -> httpx.Response:
    """Answer a GET on the definitions ``segs`` address."""
    resource = _resolve(schema, segs)
    query = parse_qs(request.url.query.decode("utf-8"), keep_blank_values=True)
    options = {k: v[0] for k, v in query.items()}
    _check_options(options)
    for name in options:
        if not name.startswith("$"):  # LabelLanguages and the like: never ignored
            feature = f"The query parameter '{name}' on definitions"
            raise not_implemented(feature)
    if "$filter" in options and resource.type_name == "OptionSetMetadataBase":
        # "this path does not support the use of the $filter system query option"
        # (query-metadata-web-api, "Querying Global OptionSets").
        raise Fault(
            400,
            NOT_SUPPORTED,
            "The $filter query option is not supported on GlobalOptionSetDefinitions.",
        )
    rows = _apply(resource, options)
    select = options.get("$select")
    context = f"{api_base(request)}$metadata#{resource.context}"
    if select:
        expanded = [_context_item(item) for item in _split_top(options.get("$expand", ""))]
        context += f"({','.join([select, *expanded])})"
    if resource.single:
        if not rows:
            raise bad("The requested definition does not exist.", code=NOT_FOUND, status=404)
        body = {"@odata.context": context + "/$entity", **rows[0]}
    else:
        body = {"@odata.context": context, "value": rows}
    return json_response(200, body, headers={"OData-Version": "4.0"}, content_type=ODATA_JSON)


def _check_options(options: dict[str, str]) -> None:
    """Only ``$select``, ``$filter`` and ``$expand`` apply to definitions (at the top and in an
    expansion); any other system query option is refused, never ignored."""
    unknown = [
        k for k in options if k.startswith("$") and k not in ("$select", "$filter", "$expand")
    ]
    if unknown:
        raise bad(
            f"The query option '{unknown[0]}' is not supported on metadata.", code=ODATA_ERROR
        )


def _context_item(item: str) -> str:
    """``OptionSet($select=Options)`` → ``OptionSet(Options)`` (an expansion in a context URL)."""
    name, nested = _expand_item(item)
    select = nested.get("$select")
    return f"{name}({select})" if select else name


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
            raise _no_property(resource, name)
    out: list[dict[str, Any]] = []
    for row in rows:
        shaped = _select(row, select)
        for item in expand:
            name, nested = _expand_item(item)
            expander = resource.expanders.get(name)
            if expander is None:
                raise _no_property(resource, name)
            _check_options(nested)
            value = expander(row)
            if isinstance(value, dict) and nested:  # an option set: $select applies too
                value = _Resource([value], "OptionSetMetadataBase", "", single=True)
            if isinstance(value, _Resource):
                expanded = _apply(value, nested)
                shaped[name] = expanded if not value.single else next(iter(expanded), None)
            else:
                shaped[name] = value
        out.append(shaped)
    return out


def _no_property(resource: _Resource, name: str) -> Fault:
    return bad(
        f"Could not find a property named '{name}' on type '{NAMESPACE}{resource.type_name}'.",
        code=ODATA_ERROR,
    )


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


def _split_outside_parens(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses (quotes are not special here); the last part is
    always there, possibly empty."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses (stripped; no empty last item)."""
    *items, last = _split_outside_parens(text, ",")
    out = [item.strip() for item in items]
    if last.strip():
        out.append(last.strip())
    return out


def _expand_item(item: str) -> tuple[str, dict[str, str]]:
    """``Attributes($select=A,B;$filter=x eq 1)`` → ``('Attributes', {...})``."""
    name, sep, rest = item.partition("(")
    options: dict[str, str] = {}
    if sep:
        inner = rest[:-1] if rest.endswith(")") else rest
        for part in _split_outside_parens(inner, ";"):
            key, eq, value = part.strip().partition("=")
            if eq:
                options[key.strip()] = value.strip()
    return name.strip(), options


_ENTITY_NAVS = (
    "Attributes",
    "Keys",
    "ManyToOneRelationships",
    "OneToManyRelationships",
    "ManyToManyRelationships",
)


def _resolve(schema: Schema, segs: list[Segment]) -> _Resource:
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
        entity = find_entity(schema, head.key)
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
        return _relationship_definitions(schema, head, segs[1:])
    if head.name == "GlobalOptionSetDefinitions":
        sets = list(schema.global_option_sets.values())
        if head.key is not None:
            sets = [find(sets, head.key, "Name", "name", "global choice")]
        return _Resource(
            [option_set_json(o) for o in sets],
            "OptionSetMetadataBase",
            "GlobalOptionSetDefinitions",
            single=head.key is not None,
            allowed=_OPTION_SET_PROPS,
        )
    raise bad(f"Resource not found for the segment '{head.name}'.", code=ODATA_ERROR, status=404)


_ENTITY_PROPS: set[str] = set()
_ATTRIBUTE_BASE_PROPS: set[str] = set()
_ATTRIBUTE_PROPS: dict[str, set[str]] = {}
"""Properties of each derived attribute type, for ``$select`` on a cast."""
_KEY_PROPS: set[str] = set()
_RELATIONSHIP_PROPS: set[str] = set()
_MANY_TO_MANY_PROPS: set[str] = set()
_OPTION_SET_PROPS: set[str] = set()


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
        "ManyToManyRelationships": lambda row: _many_to_many(
            schema.many_to_many_of(entity_of(row).logical_name)
        ),
    }


def _entity_part(schema: Schema, entity: EntityDef, segs: list[Segment]) -> _Resource:
    part = segs[0]
    rest = segs[1:]
    ctx_base = f"EntityDefinitions('{entity.metadata_id}')/{part.name}"
    if part.name == "Attributes":
        cast: str | None = None
        attrs = list(entity.attributes.values())
        single = False
        if part.key is not None:
            attrs = [find(attrs, part.key, "LogicalName", "logical_name", "attribute")]
            single = True
        navigation = rest[1].name if len(rest) == 2 else None
        if single and navigation in ("OptionSet", "GlobalOptionSet"):
            return _option_set_of_cast(schema, entity, attrs[0], rest[0].name, ctx_base, navigation)
        if rest:
            if not rest[0].name.startswith(NAMESPACE) or len(rest) > 1:
                raise bad(
                    f"Resource not found for the segment '{rest[0].name}'.",
                    code=ODATA_ERROR,
                    status=404,
                )
            cast = rest[0].name[len(NAMESPACE) :]
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
        res.context = ctx_base + (f"/{NAMESPACE}{cast}" if cast else "")
        return res
    if rest:
        raise bad(
            f"Resource not found for the segment '{rest[0].name}'.", code=ODATA_ERROR, status=404
        )
    if part.name == "Keys":
        keys = list(entity.keys.values())
        if part.key is not None:
            keys = [find(keys, part.key, "LogicalName", "logical_name", "key")]
        res = _keys(entity, keys)
        res.single = part.key is not None
        res.context = ctx_base
        return res
    if part.name == "ManyToManyRelationships":
        many = schema.many_to_many_of(entity.logical_name)
        if part.key is not None:
            many = [find(many, part.key, "SchemaName", "schema_name", "relationship")]
        res = _many_to_many(many)
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
            rels = [find(rels, part.key, "SchemaName", "schema_name", "relationship")]
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


def _option_set_of_cast(
    schema: Schema, entity: EntityDef, attr: AttributeDef, cast: str, ctx_base: str, nav: str
) -> _Resource:
    """``Attributes(<key>)/Microsoft.Dynamics.CRM.PicklistAttributeMetadata/OptionSet``: the
    column's choice (query-metadata-web-api, "Retrieving attributes")."""
    meta_type = cast[len(NAMESPACE) :] if cast.startswith(NAMESPACE) else ""
    if METADATA_TYPES.get(attr.type) != meta_type or attr.option_set is None:
        raise bad(
            f"Resource not found for the segment '{nav}' of the attribute '{attr.logical_name}'.",
            code=ODATA_ERROR,
            status=404,
        )
    rows = [option_set_json(attr.option_set)]
    context = f"{ctx_base}({attr.metadata_id})/{cast}/{nav}"
    type_name = "BooleanOptionSetMetadata" if attr.type == "Boolean" else "OptionSetMetadata"
    return _Resource(rows, type_name, context, single=True)


def _option_set(opt: OptionSetDef | None) -> dict[str, Any] | None:
    return option_set_json(opt) if opt is not None else None


def _global_option_set(opt: OptionSetDef | None) -> dict[str, Any] | None:
    """The column's choice, local or global: "You can get the option definition from either
    property regardless of whether the attribute is configured to use global option sets or
    the local option set" (retrieve-metadata-name-metadataid)."""
    return option_set_json(opt) if opt is not None else None


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


def _many_to_many(rels: list[ManyToManyRelationshipDef]) -> _Resource:
    return _Resource(
        [many_to_many_json(r) for r in rels],
        "ManyToManyRelationshipMetadata",
        "",
        single=False,
        allowed=_MANY_TO_MANY_PROPS,
    )


_RELATIONSHIP_CASTS = {
    NAMESPACE + "OneToManyRelationshipMetadata": "OneToManyRelationshipMetadata",
    NAMESPACE + "ManyToManyRelationshipMetadata": "ManyToManyRelationshipMetadata",
}


def _relationship_definitions(schema: Schema, head: Segment, rest: list[Segment]) -> _Resource:
    """``RelationshipDefinitions``, one of them by key, and either cast
    (``/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata``) to one kind."""
    rels: list[RelationshipDef | ManyToManyRelationshipDef] = [
        *schema.relationships.values(),
        *schema.many_to_many.values(),
    ]
    if head.key is not None:
        rels = [find(rels, head.key, "SchemaName", "schema_name", "relationship")]
    type_name = "RelationshipMetadataBase"
    if rest:
        cast = _RELATIONSHIP_CASTS.get(rest[0].name)
        if cast is None or len(rest) > 1:
            raise bad(
                f"Resource not found for the segment '{rest[0].name}'.",
                code=ODATA_ERROR,
                status=404,
            )
        many = cast == "ManyToManyRelationshipMetadata"
        kept = [r for r in rels if isinstance(r, ManyToManyRelationshipDef) == many]
        if head.key is not None and not kept:
            raise bad(
                f"The relationship '{rels[0].schema_name}' is not a {cast}.", code=ODATA_ERROR
            )
        rels, type_name = kept, cast
    rows = [
        many_to_many_json(r, typed=True)
        if isinstance(r, ManyToManyRelationshipDef)
        else relationship_json(r, typed=True)
        for r in rels
    ]
    return _Resource(rows, type_name, "RelationshipDefinitions", single=head.key is not None)


def _init_props() -> None:
    probe = EntityDef("x", "X", "xs", "xid", None, 1)
    _ENTITY_PROPS.update(entity_json(probe))
    _ATTRIBUTE_BASE_PROPS.update(attribute_json(probe, AttributeDef("x", "X", "Virtual")))
    for type_, meta_type in METADATA_TYPES.items():
        attr = AttributeDef("x", "X", type_)  # type: ignore[arg-type]
        _ATTRIBUTE_PROPS.setdefault(meta_type, set()).update(attribute_json(probe, attr))
    _KEY_PROPS.update(key_json(KeyDef("k", "k", "x", ("a",))))
    for kind in ("Picklist", "Boolean"):
        probe_set = OptionSetDef("x", kind, is_global=True)
        _OPTION_SET_PROPS.update(option_set_json(probe_set))
    _RELATIONSHIP_PROPS.update(
        relationship_json(RelationshipDef("r", "a", "b", "c", "d", "e", "f"))
    )
    _MANY_TO_MANY_PROPS.update(
        many_to_many_json(ManyToManyRelationshipDef("r", "a", "b", "ab", "aid", "bid", "r", "r"))
    )


_init_props()


__all__ = ["get"]
