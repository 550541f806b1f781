"""The service document (``GET /api/data/v9.2/``) and the CSDL ``$metadata`` document.

From https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents:

- the service document is JSON: ``@odata.context`` naming ``$metadata`` and a ``value`` listing
  every entity set as ``{"name": ..., "kind": "EntitySet", "url": ...}``;
- ``$metadata`` is the CSDL (XML) of everything the service offers, in the namespace
  ``Microsoft.Dynamics.CRM`` with the alias ``mscrm``: the tables' entity types
  (:mod:`.entities`), the metadata types (:mod:`.definitions`), the functions and actions
  (:mod:`.operations`) and the container ``System`` with an ``EntitySet`` per table (with its
  ``NavigationPropertyBinding``) and the imports of the unbound operations;
- "To get even more information from the $metadata, append ``?annotations=true``", or send
  ``Prefer: odata.include-annotations="*"``: descriptions and the read-only (``Computed``,
  ``Permissions``) annotations of properties. "The annotations=true query parameter only
  works for the $metadata document": any query parameter on the service document, and any
  other on ``$metadata``, is refused (501), never ignored.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl

import httpx

from crm_ferry.emulator.csdl.definitions import DEFINITION_SETS, definition_types
from crm_ferry.emulator.csdl.entities import (
    ALIAS,
    EDM,
    base_types,
    el,
    entity_types,
    navigation_properties,
)
from crm_ferry.emulator.csdl.operations import COMPLEX_TYPES, ENUM_TYPES, OPERATIONS, Operation
from crm_ferry.emulator.layers import ODATA_JSON, api_base, json_response
from crm_ferry.emulator.schema import Schema
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import INVALID_ARGUMENT, NOT_SUPPORTED, Fault

EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
NAMESPACE = "Microsoft.Dynamics.CRM"
SERVICE_PATHS = ("", "$metadata")
"""The paths (after ``/api/data/<version>/``) this module answers."""
_VOCABULARIES = (
    (
        "http://vocabularies.odata.org/OData.Community.Keys.V1.xml",
        "OData.Community.Keys.V1",
        "Keys",
    ),
    (
        "http://docs.oasis-open.org/odata/odata/v4.0/os/vocabularies/Org.OData.Core.V1.xml",
        "Org.OData.Core.V1",
        "Core",
    ),
)
ET.register_namespace("edmx", EDMX)
ET.register_namespace("", EDM)


def handle_service(schema: Schema, request: httpx.Request, path: str) -> httpx.Response:
    """Answer ``GET`` on the service root (``path`` ``""``) or on ``$metadata``."""
    method = request.method.upper()
    shown = path or "/"
    if method != "GET":
        raise Fault(405, NOT_SUPPORTED, f"The HTTP method '{method}' is not allowed on '{shown}'.")
    params = parse_qsl(request.url.query.decode("utf-8"), keep_blank_values=True)
    if path == "":
        for name, _ in params:
            raise not_implemented(f"The query parameter '{name}' on the service document")
        return service_document(schema, api_base(request))
    annotations = _wants_annotations(request)
    for name, value in params:
        if name != "annotations":
            raise not_implemented(f"The query parameter '{name}' on $metadata")
        if value not in ("true", "false"):
            raise Fault(
                400,
                INVALID_ARGUMENT,
                f"Invalid value '{value}' for the annotations parameter: true or false.",
            )
        annotations = annotations or value == "true"
    body = metadata_document(schema, annotations=annotations)
    return httpx.Response(
        200,
        headers={"Content-Type": "application/xml; charset=utf-8", "OData-Version": "4.0"},
        content=body.encode("utf-8"),
    )


def _wants_annotations(request: httpx.Request) -> bool:
    for header in request.headers.get_list("Prefer"):
        for pref in header.split(","):
            name, _, value = pref.strip().partition("=")
            if name.strip().lower() == "odata.include-annotations":
                wanted = [v.strip() for v in value.strip().strip('"').split(",")]
                if any(v in ("*", "Org.OData.Core.V1.*") for v in wanted):
                    return True
    return False


def entity_sets(schema: Schema) -> list[str]:
    """Every entity set of the service: the tables' and the metadata API's, by name."""
    names = {e.entity_set_name for e in schema.entities.values()} | set(DEFINITION_SETS)
    return sorted(names)


def service_document(schema: Schema, base: str) -> httpx.Response:
    """The JSON service document (``base`` is ``https://host/api/data/<version>/``)."""
    value = [{"name": n, "kind": "EntitySet", "url": n} for n in entity_sets(schema)]
    return json_response(
        200,
        {"@odata.context": f"{base}$metadata", "value": value},
        headers={"OData-Version": "4.0"},
        content_type=ODATA_JSON,
    )


def metadata_document(schema: Schema, *, annotations: bool = False) -> str:
    """The CSDL XML of the live schema."""
    root = ET.Element(f"{{{EDMX}}}Edmx", Version="4.0")
    for uri, namespace, alias in _VOCABULARIES:
        reference = ET.SubElement(root, f"{{{EDMX}}}Reference", Uri=uri)
        ET.SubElement(reference, f"{{{EDMX}}}Include", Namespace=namespace, Alias=alias)
    services = ET.SubElement(root, f"{{{EDMX}}}DataServices")
    schema_el = el(services, "Schema", Namespace=NAMESPACE, Alias=ALIAS)
    base_types(schema_el)
    entity_types(schema_el, schema, annotations=annotations)
    definition_types(schema_el)
    _operation_types(schema_el)
    for op in OPERATIONS:
        _operation(schema_el, op)
    _container(schema_el, schema)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _operation_types(schema_el: ET.Element) -> None:
    for name, members in ENUM_TYPES.items():
        enum = el(schema_el, "EnumType", Name=name)
        for member, value in members:
            el(enum, "Member", Name=member, Value=str(value))
    for name, props in COMPLEX_TYPES.items():
        complex_ = el(schema_el, "ComplexType", Name=name)
        if name.startswith("Complex"):  # the metadata of CreateEntities: every property
            complex_.set("OpenType", "true")
        for prop, type_ in props:
            el(complex_, "Property", Name=prop, Type=type_)


def _operation(schema_el: ET.Element, op: Operation) -> None:
    node = el(schema_el, op.kind, Name=op.name)
    if op.bound_to is not None:
        node.set("IsBound", "true")
        binding = "entityset" if op.bound_to.startswith("Collection(") else "entity"
        el(node, "Parameter", Name=binding, Type=op.bound_to, Nullable="false")
    for param in op.parameters:
        p = el(node, "Parameter", Name=param.name, Type=param.type)
        if param.required:
            p.set("Nullable", "false")
    if op.returns is not None:
        el(node, "ReturnType", Type=op.returns, Nullable="false")


def _container(schema_el: ET.Element, schema: Schema) -> None:
    container = el(schema_el, "EntityContainer", Name="System")
    for entity in schema.entities.values():
        entity_set = el(
            container,
            "EntitySet",
            Name=entity.entity_set_name,
            EntityType=f"{ALIAS}.{entity.logical_name}",
        )
        for nav in navigation_properties(schema, entity):
            if nav.target is not None:
                el(entity_set, "NavigationPropertyBinding", Path=nav.name, Target=nav.target)
    for name, type_ in DEFINITION_SETS.items():
        el(container, "EntitySet", Name=name, EntityType=f"{ALIAS}.{type_}")
    for op in OPERATIONS:
        if op.bound_to is not None:
            continue
        if op.kind == "Function":
            el(
                container,
                "FunctionImport",
                Name=op.name,
                Function=f"{ALIAS}.{op.name}",
                IncludeInServiceDocument="false",
            )
        else:
            el(container, "ActionImport", Name=op.name, Action=f"{ALIAS}.{op.name}")


__all__ = [
    "NAMESPACE",
    "SERVICE_PATHS",
    "entity_sets",
    "handle_service",
    "metadata_document",
    "service_document",
]
