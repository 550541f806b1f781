"""``CreateEntities``: several tables, each with its columns, in one atomic action.

Microsoft's Python SDK creates tables with it (``tables.create`` POSTs ``CreateEntities`` with
``{"Entities": [<ComplexEntityMetadata>]}``, the solution as the ``SolutionUniqueName`` query
parameter; ``PowerPlatform/Dataverse/data/_odata.py``). The message has no reference page in
the Web API documentation; its parameters and answer are read from the SDK: an entity is an
``EntityMetadata`` written with the ``Complex*`` variants of the metadata types
(``ComplexEntityMetadata``, ``ComplexStringAttributeMetadata``, ``ComplexOptionSetMetadata``...)
whose ``Attributes`` hold the primary name column and the other columns. The SDK reads
nothing from the answer (it reads the table back); the emulator answers ``200`` with
``CreateEntitiesResponse`` ``{"EntityIds": [<MetadataId>...]}`` (the CreateEntity message's
``EntityId``, one per table), an undocumented shape.

Each table is created as ``POST EntityDefinitions`` creates it, then its other columns as
``POST EntityDefinitions(...)/Attributes``; a failure undoes them all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx

from crm_ferry.emulator.layers import ODATA_JSON, api_base, json_response
from crm_ferry.emulator.metadata.changes import MetaEmulator, context, read_json, restore
from crm_ferry.emulator.metadata.columns import create_column
from crm_ferry.emulator.metadata.errors import NOT_FOUND, bad
from crm_ferry.emulator.metadata.paths import tables_named
from crm_ferry.emulator.metadata.shapes import NAMESPACE
from crm_ferry.emulator.metadata.tables import create_table
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import NOT_SUPPORTED, PAYLOAD_ERROR, Fault

CREATE_ENTITIES = "CreateEntities"
_COMPLEX = f"{NAMESPACE}Complex"
_PARAMETERS = frozenset({"Entities", "SolutionUniqueName"})


def handle_create_entities(emulator: MetaEmulator, request: httpx.Request) -> httpx.Response:
    """Answer ``POST CreateEntities``."""
    if request.method.upper() != "POST":
        raise bad(
            f"The HTTP method '{request.method.upper()}' is not allowed on '{CREATE_ENTITIES}': "
            "it is an action (POST).",
            code=NOT_SUPPORTED,
            status=405,
        )
    body = read_json(request)
    unknown = sorted(set(body) - _PARAMETERS - {"@odata.type"})
    if unknown:
        raise bad(
            f"The parameter '{unknown[0]}' in the request payload is not a valid parameter for "
            f"the operation '{CREATE_ENTITIES}'.",
            code=PAYLOAD_ERROR,
        )
    entities = body.get("Entities")
    if not isinstance(entities, list) or not entities:
        raise bad("CreateEntities needs Entities: a collection of ComplexEntityMetadata.")
    ctx = context(emulator, request)
    solution = _solution(request, body)
    if solution is not None:
        if solution.lower() not in ctx.solutions:
            raise bad(f"The solution '{solution}' does not exist.", code=NOT_FOUND, status=404)
        ctx.solution = solution
    schema = emulator.schema
    snapshot = schema.snapshot(tables_named(schema, request))
    ids: list[str] = []
    try:
        for spec in entities:
            ids.append(_create(ctx, spec))
    except Fault:
        restore(schema, snapshot)
        raise
    emulator.save_schema()
    return json_response(
        200,
        {
            "@odata.context": f"{api_base(request)}$metadata#{NAMESPACE}CreateEntitiesResponse",
            "EntityIds": ids,
        },
        headers={"OData-Version": "4.0"},
        content_type=ODATA_JSON,
    )


def _solution(request: httpx.Request, body: dict[str, Any]) -> str | None:
    """The solution: the ``SolutionUniqueName`` parameter (body or query string, as the SDK
    sends it) or the ``MSCRM.SolutionUniqueName`` header; they must agree."""
    named: list[str] = []
    for name, value in parse_qsl(request.url.query.decode("utf-8"), keep_blank_values=True):
        if name != "SolutionUniqueName":
            raise not_implemented(f"The query parameter '{name}' on {CREATE_ENTITIES}")
        named.append(value)
    if isinstance(body.get("SolutionUniqueName"), str):
        named.append(body["SolutionUniqueName"])
    header = request.headers.get("MSCRM.SolutionUniqueName")
    if header is not None:
        named.append(header)
    if len({n.lower() for n in named}) > 1:
        raise bad(f"CreateEntities names two solutions: {', '.join(sorted(set(named)))}.")
    return named[0] if named else None


def _create(ctx: Any, spec: Any) -> str:
    if not isinstance(spec, dict):
        raise bad("Each item of Entities must be a ComplexEntityMetadata.")
    plain = _plain(spec)
    kind = plain.get("@odata.type")
    if kind not in (None, f"{NAMESPACE}EntityMetadata"):
        raise bad(f"'{spec.get('@odata.type')}' is not a ComplexEntityMetadata.")
    attributes = plain.get("Attributes")
    if not isinstance(attributes, list):
        raise bad("Required field 'PrimaryAttribute' is missing")
    primaries = [a for a in attributes if isinstance(a, dict) and a.get("IsPrimaryName")]
    if len(primaries) != 1:
        raise bad(
            "The Attributes of a new table must hold exactly one StringAttributeMetadata with "
            "IsPrimaryName = true (Required field 'PrimaryAttribute' is missing)."
        )
    others = [a for a in attributes if a is not primaries[0]]
    entity = create_table(ctx, {**plain, "Attributes": primaries})
    for column in others:
        if not isinstance(column, dict):
            raise bad("Each item of Attributes must be a ComplexAttributeMetadata.")
        create_column(ctx, entity, column)
    return entity.metadata_id


def _plain(value: Any) -> Any:
    """``Microsoft.Dynamics.CRM.Complex<Type>`` renamed ``<Type>`` throughout."""
    if isinstance(value, dict):
        out = {k: _plain(v) for k, v in value.items()}
        kind = out.get("@odata.type")
        if isinstance(kind, str):
            text = kind.lstrip("#")
            if text.startswith(_COMPLEX):
                out["@odata.type"] = NAMESPACE + text[len(_COMPLEX) :]
        return out
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


__all__ = ["CREATE_ENTITIES", "handle_create_entities"]
