"""A FetchXML query checked against the tenant's tables: every name resolved to its table or
column, every condition's operator and values checked and read as the column's kind, the
output columns named and the sort keys in the order Dataverse applies them.

Names follow the FetchXML articles (https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/):

* a link-entity without an ``alias`` is named after its table and its place among the
  link-entities: the first joining ``account`` is ``account1`` ("if no alias is provided, the
  data is returned with a column named ``account1.name``", Join tables using FetchXml);
* a link-entity's columns are returned as ``<alias>.<column>``, unless the attribute has an
  alias of its own (Select columns using FetchXml, "Column aliases");
* the entity's orders apply first, then the link-entities' orders ("Dataverse always orders
  attributes specified by the link-entity after attributes for the entity element", Order
  rows using FetchXml), then the primary key, the order Dataverse adds to page by.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_ferry.emulator.conditions import OPERATORS, ConditionError, Operator, parse_instant
from crm_ferry.emulator.fetchxml import errors, model
from crm_ferry.emulator.records.context import Ctx
from crm_ferry.emulator.records.privileges import check_privilege
from crm_ferry.emulator.records.reads import property_name
from crm_ferry.emulator.records.rows import LOOKUP_TYPES
from crm_ferry.emulator.schema import AttributeDef, EntityDef
from crm_ferry.emulator.state import TenantState
from crm_ferry.emulator.validation import Fault

AGGREGATE_LIMIT = 50_000
"""Rows an aggregate query may aggregate (Aggregate data using FetchXml, "Limitations")."""
MAX_TOP = 5000
"""The largest ``top`` (fetch element)."""

_TEXT = ("String", "Memo", "EntityName")
_INTEGER = ("Integer", "BigInt", "Picklist", "State", "Status")
_NUMBER = (*_INTEGER, "Decimal", "Double", "Money")
_GUID = ("Uniqueidentifier", *LOOKUP_TYPES)
_LIKE = frozenset({"like", "not-like", "begins-with", "not-begin-with", "ends-with"})
_LIKE |= {"not-end-with"}
_CALLER = frozenset({"eq-userid", "ne-userid", "eq-businessid", "ne-businessid"})


@dataclass(slots=True)
class Column:
    """One column of the answer: ``key`` is its name in each row (``name``, an alias,
    ``contact.fullname``)."""

    node: BoundNode
    attr: AttributeDef
    key: str
    aggregate: str | None = None
    groupby: bool = False
    dategrouping: str | None = None
    distinct: bool = False

    @property
    def renamed(self) -> bool:
        """Whether the key is not the column's own property name (an aliased value)."""
        return self.key != property_name(self.attr)


@dataclass(slots=True)
class BoundCondition:
    alias: str
    attr: AttributeDef
    op: Operator
    operands: tuple[Any, ...]


@dataclass(slots=True)
class BoundFilter:
    type: model.FilterType
    items: list[BoundCondition | BoundFilter]


@dataclass(slots=True)
class SortKey:
    """Sort by a column of a node (``alias``, ``attr``) or, in aggregate queries, by an output
    column (``key``)."""

    descending: bool
    alias: str | None = None
    attr: AttributeDef | None = None
    key: str | None = None


@dataclass(slots=True)
class BoundNode:
    """The entity (``parent`` None) or a link-entity, resolved."""

    entity: EntityDef
    alias: str
    parent: BoundNode | None = None
    from_attr: AttributeDef | None = None
    to_attr: AttributeDef | None = None
    outer: bool = False
    filter: BoundFilter | None = None
    """The root's: the query's conditions; a link-entity's: part of its join."""
    links: list[BoundNode] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    fetch: model.Fetch
    root: BoundNode
    nodes: dict[str, BoundNode]
    """Every node by alias (the root by its table's name)."""
    columns: list[Column]
    sort: list[SortKey]
    all_root_columns: bool
    """No attribute chosen on the entity (or ``all-attributes``): every column."""
    late_filter: bool
    """The root filter reads link-entity columns (``entityname``): test it after the joins."""

    @property
    def links(self) -> list[BoundNode]:
        return [n for n in self.nodes.values() if n.parent is not None]


def plan(em: TenantState, ctx: Ctx, entity: EntityDef, fetch: model.Fetch) -> Plan:
    """``fetch`` resolved against the tables; the query's entity must be ``entity``, the
    entity set's table."""
    if fetch.entity.name != entity.logical_name and em.schema.entity(fetch.entity.name) is not None:
        raise errors.invalid(
            errors.ENTITIES_DONT_MATCH,
            "The entity name specified in fetchxml does not match the entity name specified "
            f"in the Entity or Query Expression: '{fetch.entity.name}' is queried on the "
            f"entity set of '{entity.logical_name}'.",
        )
    _check_options(fetch)
    builder = _Builder(em, ctx, fetch)
    root = builder.node(fetch.entity, None, fetch.entity.name)
    builder.root_filter(root, fetch.entity)
    all_root = fetch.entity.all_attributes or not fetch.entity.attributes
    if fetch.aggregate and fetch.entity.all_attributes:
        raise errors.invalid(
            errors.ATTRIBUTE_WITH_AGGREGATE,
            "Attributes can not be returned when aggregate operation is specified.",
        )
    sort = builder.sort(fetch.entity, root)
    return Plan(
        fetch,
        root,
        builder.nodes,
        builder.columns,
        sort,
        all_root and not fetch.aggregate,
        builder.late,
    )


def _check_options(fetch: model.Fetch) -> None:
    if fetch.top is not None:
        for name, given in (
            ("page", fetch.page),
            ("count", fetch.count),
            ("returntotalrecordcount", fetch.total_count or None),
        ):
            if given is not None:
                raise errors.argument(
                    f"The top attribute can't be specified with paging attribute {name}"
                )
        if fetch.top > MAX_TOP:
            raise errors.argument(f"The top attribute can't be greater than {MAX_TOP}.")
    if fetch.aggregate_limit is not None:
        if not fetch.aggregate:
            raise errors.argument("The aggregatelimit attribute applies to aggregate queries.")
        if fetch.aggregate_limit > AGGREGATE_LIMIT:
            raise errors.argument(
                f"The aggregatelimit can't exceed the aggregate limit of {AGGREGATE_LIMIT:,}."
            )


class _Builder:
    def __init__(self, em: TenantState, ctx: Ctx, fetch: model.Fetch) -> None:
        self.em = em
        self.ctx = ctx
        self.fetch = fetch
        self.nodes: dict[str, BoundNode] = {}
        self.names: dict[str, list[BoundNode]] = {}
        self.columns: list[Column] = []
        self.keys: set[str] = set()
        self.link_count = 0
        self.late = False
        self.link_orders: list[tuple[model.Order, BoundNode]] = []

    # -- nodes and columns --------------------------------------------------------------

    def entity(self, name: str) -> EntityDef:
        entity = self.em.schema.entity(name)
        if entity is None:
            raise errors.invalid(
                errors.NO_ENTITY,
                f"The specified entity was not found: '{name}' entity doesn't exist.",
            )
        check_privilege(self.em, self.ctx, "Read", entity)
        return entity

    def attribute(self, entity: EntityDef, name: str) -> AttributeDef:
        attr = entity.attribute(name)
        if attr is None or not attr.valid_for_read or attr.visible_at > self.em.clock():
            raise errors.invalid(
                errors.NO_ATTRIBUTE,
                f"'{entity.logical_name}' entity doesn't contain attribute with Name = "
                f"'{name}' and NameMapping = 'Logical'.",
            )
        return attr

    def node(self, source: model.Node, parent: BoundNode | None, alias: str) -> BoundNode:
        bound = BoundNode(self.entity(source.name), alias, parent)
        if alias in self.nodes:
            raise errors.invalid(errors.DUPLICATE_ALIAS, "FetchXML should have unique aliases.")
        self.nodes[alias] = bound
        self.names.setdefault(source.name, []).append(bound)
        if parent is not None:
            assert source.from_ is not None
            assert source.to is not None
            bound.from_attr = self.attribute(bound.entity, source.from_)
            bound.to_attr = self.attribute(parent.entity, source.to)
            bound.outer = source.link_type == "outer"
            bound.filter = self.filters(source.filters, bound, link=True)
        for attribute in source.attributes:
            self.column(bound, attribute)
        if source.all_attributes and parent is not None:
            for attr in bound.entity.attributes.values():
                if attr.valid_for_read and attr.visible_at <= self.em.clock():
                    self.column(bound, model.Attribute(attr.logical_name))
        if parent is not None:
            self.link_orders.extend((o, bound) for o in source.orders)
        for link in source.links:
            self.link_count += 1
            bound.links.append(
                self.node(link, bound, link.alias or f"{link.name}{self.link_count}")
            )
        return bound

    def column(self, node: BoundNode, source: model.Attribute) -> None:
        attr = self.attribute(node.entity, source.name)
        aggregate = self.fetch.aggregate
        if aggregate or source.aggregate or source.groupby or source.dategrouping:
            _check_aggregate_column(self.fetch, source, attr)
        if source.alias:
            key = source.alias
        elif node.parent is not None:
            key = f"{node.alias}.{attr.logical_name}"
        else:
            key = property_name(attr)
        if key in self.keys:
            if source.alias or aggregate:
                raise errors.invalid(errors.DUPLICATE_ALIAS, "FetchXML should have unique aliases.")
            return  # the same column asked twice is returned once
        self.keys.add(key)
        self.columns.append(
            Column(
                node,
                attr,
                key,
                aggregate=source.aggregate,
                groupby=source.groupby,
                dategrouping=source.dategrouping,
                distinct=source.distinct,
            )
        )

    # -- filters -------------------------------------------------------------------------

    def root_filter(self, root: BoundNode, source: model.Node) -> None:
        root.filter = self.filters(source.filters, root, link=False)

    def filters(
        self, sources: list[model.Filter], node: BoundNode, *, link: bool
    ) -> BoundFilter | None:
        if not sources:
            return None
        items: list[BoundCondition | BoundFilter] = [self.filter(f, node, link) for f in sources]
        return (
            items[0]
            if len(items) == 1 and isinstance(items[0], BoundFilter)
            else BoundFilter("and", items)
        )

    def filter(self, source: model.Filter, node: BoundNode, link: bool) -> BoundFilter:
        items: list[BoundCondition | BoundFilter] = []
        for item in source.items:
            if isinstance(item, model.Filter):
                items.append(self.filter(item, node, link))
            else:
                items.append(self.condition(item, node, link))
        return BoundFilter(source.type, items)

    def condition(self, source: model.Condition, node: BoundNode, link: bool) -> BoundCondition:
        target = node
        if source.entityname is not None:
            if link:
                raise errors.refused("The entityname of a condition inside a link-entity")
            target = self.named(source.entityname)
            self.late = self.late or target is not node
        attr = self.attribute(target.entity, source.attribute)
        op = OPERATORS[source.operator]
        _check_operator(op, attr)
        if op.operands in ("value", "values", "pair"):
            values: list[Any] = [_operand(target.entity, attr, v) for v in source.values]
        else:
            values = list(source.values)  # a number of units, a date: read by the operator
        if op.operands in ("values", "pair") and not values:
            raise errors.invalid(
                errors.BAD_CONDITION,
                f"Incorrect filter condition or conditions: the condition operator "
                f"'{op.name}' needs value elements.",
            )
        try:
            operands = op.prepare(values)
        except ConditionError as exc:  # the wrong number or kind of values
            raise errors.invalid(
                errors.BAD_CONDITION, f"Incorrect filter condition or conditions. {exc.message}"
            ) from None
        return BoundCondition(target.alias, attr, op, operands)

    def named(self, name: str) -> BoundNode:
        """The node a condition's or an order's ``entityname`` names: an alias, or the
        table of a link-entity without one."""
        # every link-entity is bound before the root's filter and orders are
        if name in self.nodes:
            return self.nodes[name]
        found = self.names.get(name, [])
        if len(found) == 1:
            return found[0]
        raise errors.invalid(
            errors.ALIAS_DOES_NOT_EXIST,
            f"The specified alias for the given entity in the condition does not exist: '{name}'.",
        )

    # -- orders --------------------------------------------------------------------------

    def sort(self, source: model.Node, root: BoundNode) -> list[SortKey]:
        keys = [self.order(o, root) for o in source.orders]
        keys.extend(self.order(o, node) for o, node in self.link_orders)
        return keys

    def order(self, source: model.Order, node: BoundNode) -> SortKey:
        if self.fetch.aggregate:
            if source.attribute is not None:
                raise errors.invalid(
                    errors.ATTRIBUTE_IN_AGGREGATE_ORDER,
                    "An attribute cannot be specified for an order clause for an aggregate "
                    "Query. Use an alias.",
                )
            if source.alias is None:
                raise errors.invalid(
                    errors.ALIAS_REQUIRED_IN_AGGREGATE_ORDER,
                    "An alias is required for an order clause for an aggregate Query.",
                )
            if source.alias not in self.keys:
                raise errors.invalid(
                    errors.INVALID_ALIAS,
                    f"Invalid alias for aggregate operation: no attribute has the alias "
                    f"'{source.alias}'.",
                )
            return SortKey(source.descending, key=source.alias)
        if source.alias is not None:
            raise errors.invalid(
                errors.ALIAS_IN_NON_AGGREGATE_ORDER,
                "An alias cannot be specified for an order clause for a non-aggregate Query. "
                "Use an attribute.",
            )
        if source.attribute is None:
            raise errors.invalid(
                errors.ATTRIBUTE_REQUIRED_IN_ORDER,
                "An attribute is required for an order clause for a non-aggregate Query.",
            )
        target = self.named(source.entityname) if source.entityname is not None else node
        attr = self.attribute(target.entity, source.attribute)
        return SortKey(source.descending, alias=target.alias, attr=attr)


# ---------------------------------------------------------------------------------------------
# Checks


def _check_aggregate_column(
    fetch: model.Fetch, source: model.Attribute, attr: AttributeDef
) -> None:
    if not fetch.aggregate:
        raise errors.invalid(
            errors.INVALID_AGGREGATE,
            "An error occurred while processing Aggregates in Query: aggregate, groupby and "
            "dategrouping need the fetch element's aggregate='true'.",
        )
    if source.aggregate and source.groupby:
        raise errors.invalid(
            errors.GROUPBY_AND_AGGREGATE,
            "An attribute can either be an aggregate or a Group By but not both",
        )
    if not source.aggregate and not source.groupby:
        raise errors.invalid(
            errors.ATTRIBUTE_WITH_AGGREGATE,
            "Attributes can not be returned when aggregate operation is specified.",
        )
    if not source.alias:
        raise errors.invalid(errors.INVALID_ALIAS, "Invalid alias for aggregate operation.")
    if source.dategrouping and (not source.groupby or attr.type != "DateTime"):
        raise errors.invalid(
            errors.INVALID_DATE_GROUPING, "An invalid value was specified for dategrouping."
        )
    if source.distinct and source.aggregate != "countcolumn":
        raise errors.invalid(
            errors.INVALID_AGGREGATE,
            "An error occurred while processing Aggregates in Query: distinct applies to the "
            "countcolumn aggregate only.",
        )
    numeric = attr.type in _NUMBER and attr.type not in ("Picklist", "State", "Status")
    fits = {"sum": numeric, "avg": numeric, "min": numeric or attr.type == "DateTime"}
    fits["max"] = fits["min"]
    if source.aggregate in fits and not fits[source.aggregate]:
        raise errors.invalid(
            errors.INVALID_AGGREGATE_ATTRIBUTE,
            f"Aggregate {source.aggregate} is not supported for attribute of type {attr.type}.",
        )


def _check_operator(op: Operator, attr: AttributeDef) -> None:
    def wrong(kind: str) -> Fault:
        return errors.invalid(
            errors.INVALID_CONDITION_OPERATOR,
            f"Unsupported condition operator: '{op.name}' applies to {kind} columns, and "
            f"'{attr.logical_name}' is of type {attr.type}.",
        )

    if attr.type in ("MultiSelectPicklist", "Virtual"):
        raise errors.refused(f"Conditions on {attr.type} columns ('{attr.logical_name}')")
    if op.dates and attr.type != "DateTime":
        raise wrong("date and time")
    if op.hours and attr.datetime_behavior == "DateOnly":
        raise errors.invalid(
            errors.INVALID_CONDITION_OPERATOR,
            f"The condition operator '{op.name}' can't be applied to '{attr.logical_name}', "
            "a column with the DateOnly behavior.",
        )
    if op.name in _LIKE and attr.type not in _TEXT:
        raise wrong("text")
    if op.name in _CALLER and attr.type not in _GUID:
        raise wrong("unique identifier")


_GUID_TEXT = re.compile(r"\{?([0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12})\}?")


def _operand(entity: EntityDef, attr: AttributeDef, text: str) -> Any:
    """A condition's value read as the column's kind, as Dataverse converts it before the
    query runs; the conversion error it answers otherwise."""

    def cannot(expected: str) -> Fault:
        return errors.argument(
            f"An exception System.FormatException was thrown while trying to convert input "
            f"value '{text}' to attribute '{entity.logical_name}.{attr.logical_name}'. "
            f"Expected type of attribute value: {expected}."
        )

    value = text.strip()
    kind = attr.type
    if kind in _TEXT:
        return text
    if kind in _INTEGER:
        if not re.fullmatch(r"-?\d+", value):
            raise cannot("System.Int32" if kind != "BigInt" else "System.Int64")
        return int(value)
    if kind in _NUMBER:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise cannot("System.Decimal") from None
        if not number.is_finite():
            raise cannot("System.Decimal")
        return number
    if kind == "Boolean":
        if value.lower() not in ("true", "false", "1", "0"):
            raise cannot("System.Boolean")
        return value.lower() in ("true", "1")
    if kind in _GUID:
        match = _GUID_TEXT.fullmatch(value)
        if match is None:
            raise cannot("System.Guid")
        return uuid.UUID(match.group(1))
    if kind == "DateTime":
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
            instant: datetime = parse_instant(value.replace(" ", "T"))
        except ValueError:
            raise cannot("System.DateTime") from None
        return instant
    return text


__all__ = [
    "AGGREGATE_LIMIT",
    "MAX_TOP",
    "BoundCondition",
    "BoundFilter",
    "BoundNode",
    "Column",
    "Plan",
    "SortKey",
    "plan",
]
