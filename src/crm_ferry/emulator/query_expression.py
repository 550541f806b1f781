"""``QueryExpression`` as the Web API writes it (JSON), read into a ``$filter`` tree.

Actions take queries as ``Microsoft.Dynamics.CRM.QueryExpression`` complex values: the
``QuerySet`` of ``BulkDelete`` is one
(https://learn.microsoft.com/power-apps/developer/data-platform/delete-data-bulk). Their
``Criteria`` (a ``FilterExpression``: ``FilterOperator``, ``Conditions``, nested ``Filters``)
becomes the same expression tree a ``$filter`` parses to, so a query selects the rows the
equivalent Web API query would, through the same evaluation and indexes. The condition
operators of a ``ConditionExpression`` (QueryExpression's ``ConditionOperator``: ``Equal``,
``In``, ``Null``, ``BeginsWith`` ...) map to ``eq``, ``Microsoft.Dynamics.CRM.In``,
``eq null``, ``startswith`` ...; each value is ``{"Value": ..., "Type": "System.Guid"}``
(or a bare JSON value).

What the emulator does not evaluate is refused, never dropped: link entities, conditions on
another entity, column comparisons, paging and ``TopCount`` (501), and members a
QueryExpression does not have (400). ``ColumnSet``, ``Orders``, ``Distinct`` and ``NoLock``
are read and have no effect on which rows a query selects.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

from crm_ferry.emulator import odata
from crm_ferry.emulator.records.reads import property_name
from crm_ferry.emulator.schema import EntityDef, Schema
from crm_ferry.emulator.unsupported import not_implemented
from crm_ferry.emulator.validation import PAYLOAD_ERROR, Fault, parse_datetime_value

QUERY_BUILDER_NO_ENTITY = "0x80041102"
"""``QueryBuilderNoEntity`` (-2147217150): the query names a table that does not exist."""
QUERY_BUILDER_NO_ATTRIBUTE = "0x80041103"
"""``QueryBuilderNoAttribute`` (-2147217149): a condition names a column the table lacks."""

_NAMESPACE = "Microsoft.Dynamics.CRM."
_QUERY_MEMBERS = frozenset(
    {"@odata.type", "EntityName", "ColumnSet", "Criteria", "Orders", "Distinct", "NoLock"}
)
_REFUSED_QUERY_MEMBERS = {
    "LinkEntities": "Link entities (LinkEntities) in a QueryExpression",
    "TopCount": "TopCount in a QueryExpression",
    "PageInfo": "Paging (PageInfo) in a QueryExpression",
    "DataSource": "Querying retained data (DataSource) in a QueryExpression",
    "SubQueryExpression": "Sub-queries (SubQueryExpression) in a QueryExpression",
}
_FILTER_MEMBERS = frozenset({"@odata.type", "FilterOperator", "Conditions", "Filters"})
_CONDITION_MEMBERS = frozenset({"@odata.type", "AttributeName", "Operator", "Values"})
_COMPARISONS = {
    "Equal": "eq",
    "NotEqual": "ne",
    "GreaterThan": "gt",
    "GreaterEqual": "ge",
    "LessThan": "lt",
    "LessEqual": "le",
}
_FUNCTIONS = {"In": "In", "NotIn": "NotIn", "Between": "Between", "NotBetween": "NotBetween"}
_STRING_CALLS = {
    "BeginsWith": ("startswith", False),
    "DoesNotBeginWith": ("startswith", True),
    "EndsWith": ("endswith", False),
    "DoesNotEndWith": ("endswith", True),
}
_FETCH_OPERATORS = {
    "Equal": "eq",
    "NotEqual": "ne",
    "GreaterThan": "gt",
    "GreaterEqual": "ge",
    "LessThan": "lt",
    "LessEqual": "le",
    "Null": "null",
    "NotNull": "not-null",
    "In": "in",
    "NotIn": "not-in",
    "Between": "between",
    "NotBetween": "not-between",
    "BeginsWith": "begins-with",
    "DoesNotBeginWith": "not-begin-with",
    "EndsWith": "ends-with",
    "DoesNotEndWith": "not-end-with",
}
"""FetchXML's name of each condition operator the emulator evaluates."""


@dataclass(frozen=True, slots=True)
class Query:
    """One QueryExpression: the table it reads and its criteria as a filter (None: every
    row). ``fetch_xml`` is the same query written as FetchXML."""

    entity: EntityDef
    filter: odata.Expr | None
    fetch_xml: str


def bad_payload(message: str) -> Fault:
    return Fault(400, PAYLOAD_ERROR, message)


def read_query(schema: Schema, body: Any) -> Query:
    """The :class:`Query` of a QueryExpression value; a :class:`Fault` as Dataverse refuses it."""
    if not isinstance(body, Mapping):
        raise bad_payload("A QueryExpression must be a JSON object.")
    _check_type(body, "QueryExpression")
    for name in body:
        if name in _REFUSED_QUERY_MEMBERS and body[name] not in (None, [], ""):
            raise not_implemented(_REFUSED_QUERY_MEMBERS[name])
        if name not in _QUERY_MEMBERS and name not in _REFUSED_QUERY_MEMBERS:
            raise _unknown_member(name, "QueryExpression")
    name = body.get("EntityName")
    if not isinstance(name, str) or not name:
        raise bad_payload("The QueryExpression has no EntityName.")
    entity = schema.entity(name)
    if entity is None:
        raise Fault(
            400,
            QUERY_BUILDER_NO_ENTITY,
            f"The entity with a name = '{name}' with namemapping = 'Logical' was not found in "
            "the MetadataCache.",
        )
    criteria = body.get("Criteria")
    reader = _Reader(entity)
    flt = None if criteria is None else reader.filter(criteria)
    fetch = reader.fetch_xml(criteria)
    return Query(entity, flt, fetch)


def _check_type(body: Mapping[str, Any], kind: str) -> None:
    declared = body.get("@odata.type")
    if declared is not None and str(declared).lstrip("#") != _NAMESPACE + kind:
        raise bad_payload(
            f"The type '{declared}' is not the expected type '{_NAMESPACE}{kind}' of this value."
        )


def _unknown_member(name: str, kind: str) -> Fault:
    return bad_payload(
        f"The property '{name}' does not exist on type '{_NAMESPACE}{kind}'. Make sure to only "
        "use property names that are defined by the type."
    )


class _Reader:
    """Reads the criteria of one QueryExpression on ``entity``."""

    def __init__(self, entity: EntityDef) -> None:
        self.entity = entity

    def filter(self, body: Any) -> odata.Expr | None:
        if not isinstance(body, Mapping):
            raise bad_payload("A FilterExpression must be a JSON object.")
        _check_type(body, "FilterExpression")
        for name in body:
            if name == "IsQuickFindFilter" and body[name]:
                raise not_implemented("Quick find filters (IsQuickFindFilter) in a QueryExpression")
            if name not in _FILTER_MEMBERS and name != "IsQuickFindFilter":
                raise _unknown_member(name, "FilterExpression")
        op = _filter_operator(body.get("FilterOperator", "And"))
        parts = [self.condition(c) for c in _list(body, "Conditions", "FilterExpression")]
        parts += [
            f for f in (self.filter(f) for f in _list(body, "Filters", "FilterExpression")) if f
        ]
        result: odata.Expr | None = None
        for part in parts:
            result = part if result is None else odata.Logical(op, result, part)
        return result

    def condition(self, body: Any) -> odata.Expr:
        if not isinstance(body, Mapping):
            raise bad_payload("A ConditionExpression must be a JSON object.")
        _check_type(body, "ConditionExpression")
        for name in body:
            if name == "EntityName" and body[name]:
                raise not_implemented(
                    "Conditions on a linked entity (EntityName) in a QueryExpression"
                )
            if name == "CompareColumns" and body[name]:
                raise not_implemented("Column comparisons (CompareColumns) in a QueryExpression")
            if name not in _CONDITION_MEMBERS and name not in ("EntityName", "CompareColumns"):
                raise _unknown_member(name, "ConditionExpression")
        attr_name = body.get("AttributeName")
        attr = self.entity.attribute(attr_name) if isinstance(attr_name, str) else None
        if attr is None:
            raise Fault(
                400,
                QUERY_BUILDER_NO_ATTRIBUTE,
                f"'{self.entity.logical_name}' entity doesn't contain attribute with Name = "
                f"'{attr_name}'.",
            )
        prop = odata.Property((property_name(attr),))
        operator = body.get("Operator")
        values = [_value(v) for v in _list(body, "Values", "ConditionExpression")]
        return _expression(str(operator), prop, values)

    def fetch_xml(self, criteria: Any) -> str:
        """The query as FetchXML (``orderedquerysetxml`` of a bulk deletion job)."""
        inner = "" if criteria is None else self._fetch_filter(criteria)
        return f"<fetch><entity name={quoteattr(self.entity.logical_name)}>{inner}</entity></fetch>"

    def _fetch_filter(self, body: Mapping[str, Any]) -> str:
        kind = _filter_operator(body.get("FilterOperator", "And"))
        items = [self._fetch_condition(c) for c in body.get("Conditions") or ()]
        items += [self._fetch_filter(f) for f in body.get("Filters") or ()]
        return f"<filter type={quoteattr(kind)}>{''.join(items)}</filter>"

    def _fetch_condition(self, body: Mapping[str, Any]) -> str:
        operator = _FETCH_OPERATORS[str(body.get("Operator"))]
        values = [_value(v) for v in body.get("Values") or ()]
        head = f"<condition attribute={quoteattr(str(body.get('AttributeName')))} "
        if operator in ("in", "not-in", "between", "not-between"):
            inner = "".join(f"<value>{_text(v)}</value>" for v in values)
            return f"{head}operator={quoteattr(operator)}>{inner}</condition>"
        value = f" value={quoteattr(_text(values[0]))}" if values else ""
        return f"{head}operator={quoteattr(operator)}{value} />"


def _filter_operator(value: Any) -> Literal["and", "or"]:
    if value in ("And", 0):
        return "and"
    if value in ("Or", 1):
        return "or"
    raise bad_payload(f"'{value}' is not a valid LogicalOperator (And, Or).")


def _list(body: Mapping[str, Any], name: str, kind: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_payload(f"The property '{name}' of a {kind} must be a collection.")
    return value


def _expression(operator: str, prop: odata.Property, values: list[Any]) -> odata.Expr:
    if operator in _COMPARISONS:
        return odata.Compare(_COMPARISONS[operator], prop, odata.Literal(_one(operator, values)))
    if operator in ("Null", "NotNull"):
        if values:
            raise bad_payload(f"The condition operator '{operator}' takes no values.")
        return odata.Compare("eq" if operator == "Null" else "ne", prop, odata.Literal(None))
    if operator in _FUNCTIONS:
        if not values or (operator.endswith("Between") and len(values) != 2):
            raise bad_payload(
                f"The condition operator '{operator}' has the wrong number of values."
            )
        texts = tuple(_text(v) for v in values)
        params: tuple[tuple[str, odata.Value], ...] = (
            ("PropertyName", prop.name),
            ("PropertyValues", texts),
        )
        return odata.QueryFunction(_FUNCTIONS[operator], params)
    if operator in _STRING_CALLS:
        call, negated = _STRING_CALLS[operator]
        value = _one(operator, values)
        if not isinstance(value, str):
            raise bad_payload(f"The condition operator '{operator}' takes a string value.")
        expr: odata.Expr = odata.Call(call, (prop, odata.Literal(value)))
        return odata.Not(expr) if negated else expr
    raise not_implemented(f"The condition operator '{operator}' in a QueryExpression")


def _one(operator: str, values: list[Any]) -> Any:
    if len(values) != 1:
        raise bad_payload(f"The condition operator '{operator}' takes exactly one value.")
    return values[0]


_TYPES: dict[str, Callable[[Any], Any]] = {
    "System.Guid": lambda v: uuid.UUID(str(v)),
    "System.String": str,
    "System.Int32": int,
    "System.Int64": int,
    "System.Boolean": bool,
    "System.Double": float,
    "System.Decimal": lambda v: Decimal(str(v)),
    "System.DateTime": lambda v: parse_datetime_value(str(v)),
}


def _value(item: Any) -> Any:
    """A condition value: ``{"Value": v, "Type": "System.Guid"}`` or a bare JSON value."""
    if not isinstance(item, Mapping):
        return item
    raw, kind = item.get("Value"), item.get("Type")
    if kind is None:
        return raw
    convert = _TYPES.get(str(kind))
    if convert is None:
        raise bad_payload(f"The value type '{kind}' of a condition is not supported.")
    try:
        return convert(raw)
    except (ValueError, TypeError, InvalidOperation):
        raise bad_payload(f"'{raw}' is not a valid {kind} value.") from None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["QUERY_BUILDER_NO_ATTRIBUTE", "QUERY_BUILDER_NO_ENTITY", "Query", "read_query"]
