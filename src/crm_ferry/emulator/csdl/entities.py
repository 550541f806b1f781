"""The entity types of the tenant's tables in ``$metadata``, made from the live schema.

From https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-entitytypes,
.../web-api-properties and .../web-api-navigation-properties:

- an ``EntityType`` per table, named by its logical name, with ``BaseType`` ``mscrm.crmbaseentity``
  (``mscrm.activitypointer`` for activity tables, ``mscrm.principal`` for users and teams,
  whose primary key is the inherited ``activityid`` / ``ownerid``), a ``Key`` on the primary
  id, and an ``OData.Community.Keys.V1.AlternateKeys`` annotation listing active alternate keys;
- a ``Property`` per readable column with its Edm type (date-only columns ``Edm.Date``); a
  lookup column is its computed ``_<name>_value`` (``Edm.Guid``) lookup property;
- a single-valued ``NavigationProperty`` per lookup target, with ``Partner`` and a
  ``ReferentialConstraint`` from the lookup property to the related key (``mscrm.principal``
  when the targets are users and teams), and a collection-valued one per one-to-many
  relationship the table is referenced by;
- with annotations (``?annotations=true``): ``Org.OData.Core.V1.Description``, and
  ``Computed`` with ``Permissions`` ``Read`` on read-only properties.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from crm_ferry.emulator.schema import (
    AttributeDef,
    EntityDef,
    RelationshipDef,
    Schema,
    has_property,
)

EDM = "http://docs.oasis-open.org/odata/ns/edm"
ALIAS = "mscrm"

EDM_TYPES: dict[str, str] = {
    "Uniqueidentifier": "Edm.Guid",
    "String": "Edm.String",
    "Memo": "Edm.String",
    "EntityName": "Edm.String",
    "MultiSelectPicklist": "Edm.String",
    "Integer": "Edm.Int32",
    "Picklist": "Edm.Int32",
    "State": "Edm.Int32",
    "Status": "Edm.Int32",
    "BigInt": "Edm.Int64",
    "Decimal": "Edm.Decimal",
    "Money": "Edm.Decimal",
    "Double": "Edm.Double",
    "Boolean": "Edm.Boolean",
    "DateTime": "Edm.DateTimeOffset",
    # a file column's property is the file's id; an image column's the thumbnail's bytes
    # (Use file column data, Use image column data)
    "File": "Edm.Guid",
    "Image": "Edm.Binary",
}
"""The Edm type of a column's values (``Virtual`` columns have no property)."""
LOOKUPS = frozenset({"Lookup", "Customer", "Owner"})
PRINCIPALS = frozenset({"systemuser", "team"})


def el(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    """A child element of the CSDL namespace."""
    return ET.SubElement(parent, f"{{{EDM}}}{tag}", attrs)


def annotate(parent: ET.Element, term: str, **value: str) -> ET.Element:
    return el(parent, "Annotation", Term=term, **value)


def base_types(schema_el: ET.Element) -> None:
    """The abstract types every table derives from."""
    el(schema_el, "EntityType", Name="crmbaseentity", Abstract="true")
    el(schema_el, "EntityType", Name="expando", BaseType=f"{ALIAS}.crmbaseentity", OpenType="true")
    principal = el(
        schema_el,
        "EntityType",
        Name="principal",
        BaseType=f"{ALIAS}.crmbaseentity",
        Abstract="true",
    )
    el(el(principal, "Key"), "PropertyRef", Name="ownerid")
    el(principal, "Property", Name="ownerid", Type="Edm.Guid")


def entity_types(schema_el: ET.Element, schema: Schema, *, annotations: bool) -> None:
    """An ``EntityType`` per table of the schema."""
    for entity in schema.entities.values():
        _entity_type(schema_el, schema, entity, annotations=annotations)


def _base(entity: EntityDef, schema: Schema) -> str:
    pointer = schema.entity("activitypointer")
    if entity.is_activity and entity.logical_name != "activitypointer" and pointer is not None:
        return "activitypointer"
    if entity.logical_name in PRINCIPALS:
        return "principal"
    return "crmbaseentity"


def _entity_type(
    schema_el: ET.Element, schema: Schema, entity: EntityDef, *, annotations: bool
) -> None:
    base = _base(entity, schema)
    node = el(schema_el, "EntityType", Name=entity.logical_name, BaseType=f"{ALIAS}.{base}")
    inherited: set[str] = set()
    if base == "crmbaseentity":
        el(el(node, "Key"), "PropertyRef", Name=entity.primary_id)
    elif base == "principal":
        inherited = {"ownerid"}
    else:
        pointer = schema.entity("activitypointer")
        inherited = set(property_names(pointer)) if pointer is not None else set()
    for attr in entity.attributes.values():
        name = property_name(attr)
        if name is None or name in inherited:
            continue
        prop = el(node, "Property", Name=name, Type=_edm_type(attr))
        if attr.type in ("Decimal", "Money"):
            prop.set("Scale", "Variable")
        if annotations:
            _property_annotations(prop, attr)
    for nav in navigation_properties(schema, entity):
        nav.emit(node)
    _alternate_keys(node, entity)
    if annotations and entity.description:
        annotate(node, "Org.OData.Core.V1.Description", String=entity.description)


def property_name(attr: AttributeDef) -> str | None:
    """The property of a column: its logical name, ``_<name>_value`` for a lookup, None for a
    column the Web API has no property for."""
    if not has_property(attr):
        return None
    if attr.type in LOOKUPS:
        return f"_{attr.logical_name}_value"
    return attr.logical_name if attr.type in EDM_TYPES else None


def property_names(entity: EntityDef) -> Iterator[str]:
    for attr in entity.attributes.values():
        name = property_name(attr)
        if name is not None:
            yield name


def _edm_type(attr: AttributeDef) -> str:
    if attr.type in LOOKUPS:
        return "Edm.Guid"
    if attr.type == "DateTime" and attr.datetime_behavior == "DateOnly":
        return "Edm.Date"
    return EDM_TYPES[attr.type]


def _property_annotations(prop: ET.Element, attr: AttributeDef) -> None:
    if attr.description:
        annotate(prop, "Org.OData.Core.V1.Description", String=attr.description)
    read_only = attr.type in LOOKUPS or not (attr.valid_for_create or attr.valid_for_update)
    if read_only:
        annotate(prop, "Org.OData.Core.V1.Computed", Bool="true")
        permissions = annotate(prop, "Org.OData.Core.V1.Permissions")
        el(permissions, "EnumMember").text = "Org.OData.Core.V1.PermissionType/Read"


class NavigationProperty:
    """One navigation property of an entity type and the binding of its entity set."""

    __slots__ = ("constraint", "name", "partner", "target", "type")

    def __init__(
        self,
        name: str,
        type_: str,
        target: str | None,
        partner: str | None,
        constraint: tuple[str, str] | None,
    ) -> None:
        self.name = name
        self.type = type_
        self.target = target
        """The entity set the property leads to (None for ``mscrm.principal``)."""
        self.partner = partner
        self.constraint = constraint

    def emit(self, node: ET.Element) -> None:
        nav = el(node, "NavigationProperty", Name=self.name, Type=self.type)
        if self.constraint is not None:
            nav.set("Nullable", "false")
        if self.partner is not None:
            nav.set("Partner", self.partner)
        if self.constraint is not None:
            prop, referenced = self.constraint
            el(nav, "ReferentialConstraint", Property=prop, ReferencedProperty=referenced)


def navigation_properties(schema: Schema, entity: EntityDef) -> list[NavigationProperty]:
    """The single-valued (lookups) then collection-valued (relationships the table is
    referenced by) navigation properties of a table, each name once."""
    out: dict[str, NavigationProperty] = {}
    single: dict[str, list[RelationshipDef]] = {}
    for rel in schema.many_to_one(entity.logical_name):
        if schema.entity(rel.referenced_entity) is not None:
            single.setdefault(rel.referencing_nav, []).append(rel)
    for name, rels in single.items():
        lookup = f"_{rels[0].referencing_attribute}_value"
        if len(rels) == 1:
            rel = rels[0]
            target = schema.entity(rel.referenced_entity)
            assert target is not None
            out[name] = NavigationProperty(
                name,
                f"{ALIAS}.{target.logical_name}",
                target.entity_set_name,
                rel.referenced_nav,
                (lookup, target.primary_id),
            )
        else:  # one navigation property for several tables: users and teams (owner)
            kinds = {r.referenced_entity for r in rels}
            principal = kinds <= PRINCIPALS
            out[name] = NavigationProperty(
                name,
                f"{ALIAS}.principal" if principal else f"{ALIAS}.crmbaseentity",
                None,
                None,
                (lookup, "ownerid") if principal else None,
            )
    for rel in schema.one_to_many(entity.logical_name):
        source = schema.entity(rel.referencing_entity)
        if source is None or rel.referenced_nav in out:
            continue
        out[rel.referenced_nav] = NavigationProperty(
            rel.referenced_nav,
            f"Collection({ALIAS}.{source.logical_name})",
            source.entity_set_name,
            rel.referencing_nav,
            None,
        )
    for m2m in (schema.many_to_many or {}).values():
        # each end has a collection-valued property to the other end's rows; the partner is
        # the other end's property (Web API navigation properties, "Many-to-many")
        for here, nav, there, back in (
            (m2m.entity1, m2m.entity1_nav, m2m.entity2, m2m.entity2_nav),
            (m2m.entity2, m2m.entity2_nav, m2m.entity1, m2m.entity1_nav),
        ):
            other = schema.entity(there)
            if here != entity.logical_name or other is None or nav in out:
                continue
            out[nav] = NavigationProperty(
                nav,
                f"Collection({ALIAS}.{other.logical_name})",
                other.entity_set_name,
                back,
                None,
            )
    return list(out.values())


def _alternate_keys(node: ET.Element, entity: EntityDef) -> None:
    keys = [k for k in entity.keys.values() if k.status == "Active"]
    if not keys:
        return
    collection = el(annotate(node, "OData.Community.Keys.V1.AlternateKeys"), "Collection")
    for key in keys:
        record = el(collection, "Record", Type="OData.Community.Keys.V1.AlternateKey")
        refs = el(el(record, "PropertyValue", Property="Key"), "Collection")
        for column in key.key_attributes:
            attr = entity.attribute(column)
            name = property_name(attr) if attr is not None else None
            ref = el(refs, "Record", Type="OData.Community.Keys.V1.PropertyRef")
            el(ref, "PropertyValue", Property="Alias", String=column)
            el(ref, "PropertyValue", Property="Name", PropertyPath=name or column)


__all__ = [
    "ALIAS",
    "EDM",
    "EDM_TYPES",
    "NavigationProperty",
    "annotate",
    "base_types",
    "el",
    "entity_types",
    "navigation_properties",
    "property_name",
]
