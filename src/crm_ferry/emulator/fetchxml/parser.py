"""Reading a FetchXML query: the XML (with the standard library's parser, a document type
declaration refused so no entity is ever expanded) into a :class:`~.model.Fetch`.

Every element and attribute of the FetchXML reference is either read, accepted because it has
no visible effect (said where), or refused: with 501 when the reference documents it and the
emulator does not implement it, with Dataverse's error when it is not FetchXML at all.
Reference: https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/reference/
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from crm_ferry.emulator.conditions import NOT_IMPLEMENTED, OPERATORS
from crm_ferry.emulator.fetchxml import errors
from crm_ferry.emulator.fetchxml.model import (
    Attribute,
    Condition,
    Fetch,
    Filter,
    LinkType,
    Node,
    Order,
)
from crm_ferry.emulator.validation import Fault

MAX_CONDITIONS = 500
"""Conditions and link-entities in one query ("Condition limits", Filter rows using FetchXml,
https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/filter-rows)."""
MAX_LINKS = 15
"""link-entity elements in one query ("Limitations", Join tables using FetchXml,
https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/join-tables)."""

_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

# Attributes accepted without a visible effect, and why:
# - fetch ``no-lock``: a legacy hint against shared locks, "No longer necessary" (fetch element);
#   the emulator takes no locks a reader could see.
# - fetch ``version``, ``output-format='xml-platform'``, ``mapping='logical'``: the only
#   format there is, written by every query FetchXML Builder and Advanced Find produce.
# - attribute ``usertimezone``: date grouping in the user's time zone or in UTC; the
#   emulated users' time zone is UTC, so both group alike.
# - link-entity ``intersect``: marks the join table of a many-to-many relationship; it
#   changes nothing in the results.
# - condition / value ``uiname``, ``uitype``: display names views keep beside a lookup's id.
_FETCH = {"top", "count", "page", "paging-cookie", "distinct", "aggregate", "aggregatelimit"}
_FETCH |= {"returntotalrecordcount", "useraworderby", "no-lock", "version", "output-format"}
_FETCH |= {"mapping"}
_REFUSED_FETCH = {
    "datasource": "Querying retained rows (the fetch datasource attribute)",
    "latematerialize": "Late materialized queries (the fetch latematerialize attribute)",
    "options": "SQL query hints (the fetch options attribute)",
    "min-active-row-version": "The fetch min-active-row-version attribute",
}
_ATTRIBUTE = {"name", "alias", "aggregate", "groupby", "dategrouping", "distinct", "usertimezone"}
_REFUSED_ATTRIBUTE = {"rowaggregate": "Counting hierarchy children (attribute rowaggregate)"}
_LINK = {"name", "from", "to", "alias", "link-type", "intersect"}
_FILTER = {"type"}
_REFUSED_FILTER = {
    "hint": "The filter union hint",
    "isquickfindfields": "Quick find queries (filter isquickfindfields)",
    "overridequickfindrecordlimitenabled": "Quick find record limits",
    "overridequickfindrecordlimitdisabled": "Quick find record limits",
}
_CONDITION = {"attribute", "operator", "value", "entityname", "uiname", "uitype"}
_REFUSED_CONDITION = {"valueof": "Comparing columns (the condition valueof attribute)"}
_ORDER = {"attribute", "alias", "descending", "entityname"}
_AGGREGATES = frozenset({"count", "countcolumn", "sum", "avg", "min", "max"})
_DATE_GROUPINGS = frozenset({"day", "week", "month", "quarter", "year"})
_REFUSED_LINK_TYPES = {"natural", "in", "exists", "matchfirstrowusingcrossapply", "any"}
_REFUSED_LINK_TYPES |= {"not any", "all", "not all"}


def parse_fetch(text: str) -> Fetch:
    """The query ``text`` holds; a :class:`Fault` when it is not one Dataverse would run."""
    if not text.strip():
        raise errors.invalid(errors.EMPTY_XML, "Xml String can't be null.")
    root = _xml(text)
    if root.tag != "fetch":
        raise _invalid_node(f"The root element is <{root.tag}>, not <fetch>.")
    if "utc-offset" in root.attrib:
        raise errors.invalid(
            errors.INVALID_UTC_OFFSET,
            "The utc-offset attribute is not supported for deserialization.",
        )
    _check_attributes(root, _FETCH, _REFUSED_FETCH)
    mapping = root.get("mapping", "logical")
    if mapping == "internal":
        raise errors.refused("The deprecated mapping 'internal'")
    if mapping != "logical":
        raise errors.invalid(
            errors.INVALID_MAPPING,
            "The only valid values for mapping are 'logical' or 'internal' which is deprecated.",
        )
    if root.get("output-format", "xml-platform") != "xml-platform":
        raise errors.refused(f"The output-format '{root.get('output-format')}'")
    _boolean(root, "no-lock")  # checked, no visible effect (see above)
    entities = _children(root, {"entity"})
    if len(entities) != 1:
        raise errors.invalid(
            errors.ELEMENT_NOT_FOUND, "A fetch element holds exactly one entity element."
        )
    counter = _Counter()
    fetch = Fetch(
        entity=_node(entities[0], counter, link=False),
        top=_positive(root, "top"),
        count=_positive(root, "count"),
        page=_positive(root, "page"),
        paging_cookie=root.get("paging-cookie") or None,
        distinct=_boolean(root, "distinct"),
        aggregate=_boolean(root, "aggregate"),
        aggregate_limit=_positive(root, "aggregatelimit"),
        total_count=_boolean(root, "returntotalrecordcount"),
        raw_order=_boolean(root, "useraworderby"),
    )
    if counter.links > MAX_LINKS:
        raise errors.invalid(
            errors.TOO_MANY_LINKS, "Number of link entities in query exceeded maximum limit."
        )
    if counter.links + counter.conditions > MAX_CONDITIONS:
        raise errors.invalid(
            errors.TOO_MANY_CONDITIONS, "Number of conditions in query exceeded maximum limit."
        )
    return fetch


def parse_cookie(text: str) -> ET.Element:
    """The ``<cookie page="1"><column last first/>...</cookie>`` a ``paging-cookie`` holds."""
    cookie = _xml(text)
    if cookie.tag != "cookie":
        raise errors.invalid(errors.INVALID_PAGING_COOKIE, "Invalid page number in paging cookie.")
    return cookie


# ---------------------------------------------------------------------------------------------
# Elements


class _Counter:
    def __init__(self) -> None:
        self.links = 0
        self.conditions = 0


def _xml(text: str) -> ET.Element:
    if _DECLARATION.search(text):
        raise errors.invalid(
            errors.INVALID_XML, "Invalid XML. A document type declaration is not allowed."
        )
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise errors.invalid(errors.INVALID_XML, f"Invalid XML. {exc}") from None


def _node(element: ET.Element, counter: _Counter, *, link: bool) -> Node:
    if link:
        counter.links += 1
        _check_attributes(element, _LINK, {})
    else:
        _check_attributes(element, {"name"}, {})
    node = Node(name=_required(element, "name"))
    if link:
        node.from_ = element.get("from")
        node.to = element.get("to")
        if node.from_ is None or node.to is None:
            raise errors.refused(
                "A link-entity without both from and to (the relationship worked out by Dataverse)"
            )
        node.alias = element.get("alias")
        node.link_type = _link_type(element.get("link-type", "inner"))
        _boolean(element, "intersect")  # checked, no visible effect (see above)
    allowed = {"attribute", "all-attributes", "order", "link-entity", "filter"}
    for child in _children(element, allowed):
        if child.tag == "attribute":
            node.attributes.append(_attribute(child))
        elif child.tag == "all-attributes":
            _check_attributes(child, set(), {})
            _children(child, set())
            node.all_attributes = True
        elif child.tag == "order":
            node.orders.append(_order(child))
        elif child.tag == "link-entity":
            node.links.append(_node(child, counter, link=True))
        else:
            node.filters.append(_filter(child, counter))
    return node


def _link_type(value: str) -> LinkType:
    if value == "inner":
        return "inner"
    if value == "outer":
        return "outer"
    if value in _REFUSED_LINK_TYPES:
        raise errors.refused(f"The link-type '{value}'")
    raise errors.invalid(
        errors.INVALID_LINK_TYPE,
        "The only valid values for link-type attribute are 'natural', 'inner','in','exists',"
        "'matchfirstrowusingcrossapply' and 'outer'.",
    )


def _attribute(element: ET.Element) -> Attribute:
    _check_attributes(element, _ATTRIBUTE, _REFUSED_ATTRIBUTE)
    _children(element, set())
    aggregate = element.get("aggregate")
    if aggregate is not None and aggregate not in _AGGREGATES:
        raise errors.invalid(
            errors.INVALID_AGGREGATE,
            f"An error occurred while processing Aggregates in Query: '{aggregate}' is not an "
            "aggregate function (count, countcolumn, sum, avg, min, max).",
        )
    grouping = element.get("dategrouping")
    if grouping in ("fiscal-period", "fiscal-year"):
        raise errors.refused(f"Grouping by {grouping} (the organization's fiscal year settings)")
    if grouping is not None and grouping not in _DATE_GROUPINGS:
        raise errors.invalid(
            errors.INVALID_DATE_GROUPING, "An invalid value was specified for dategrouping."
        )
    _boolean(element, "usertimezone")  # checked, no visible effect (see above)
    return Attribute(
        name=_required(element, "name"),
        alias=element.get("alias"),
        aggregate=aggregate,
        groupby=_boolean(element, "groupby"),
        dategrouping=grouping,
        distinct=_boolean(element, "distinct"),
    )


def _order(element: ET.Element) -> Order:
    _check_attributes(element, _ORDER, {})
    _children(element, set())
    return Order(
        attribute=element.get("attribute"),
        alias=element.get("alias"),
        descending=_boolean(element, "descending"),
        entityname=element.get("entityname"),
    )


def _filter(element: ET.Element, counter: _Counter) -> Filter:
    _check_attributes(element, _FILTER, _REFUSED_FILTER)
    kind = element.get("type", "and")
    if kind not in ("and", "or"):
        raise errors.invalid(
            errors.INVALID_FILTER_TYPE, "Unsupported filter type. Valid values are 'and', or 'or'."
        )
    result = Filter("and" if kind == "and" else "or")
    for child in _children(element, {"condition", "filter", "link-entity"}):
        if child.tag == "link-entity":
            raise errors.refused(
                "Filtering on related records (a link-entity inside a filter, link-type any, "
                "not any, all, not all)"
            )
        if child.tag == "filter":
            result.items.append(_filter(child, counter))
        else:
            counter.conditions += 1
            result.items.append(_condition(child))
    return result


def _condition(element: ET.Element) -> Condition:
    _check_attributes(element, _CONDITION, _REFUSED_CONDITION)
    operator = _required(element, "operator")
    if operator in NOT_IMPLEMENTED:
        raise errors.refused(f"The condition operator '{operator}' ({NOT_IMPLEMENTED[operator]})")
    if operator not in OPERATORS:
        raise errors.invalid(
            errors.INVALID_CONDITION_OPERATOR, f"Unsupported condition operator: '{operator}'."
        )
    values = []
    for child in _children(element, {"value"}):
        _check_attributes(child, {"uiname", "uitype"}, {})
        _children(child, set())
        values.append(child.text or "")
    if "value" in element.attrib:
        if values:
            raise errors.invalid(
                errors.BAD_CONDITION,
                "Incorrect filter condition or conditions: a condition has both a value "
                "attribute and value elements.",
            )
        values.append(element.attrib["value"])
    return Condition(
        attribute=_required(element, "attribute"),
        operator=operator,
        values=values,
        entityname=element.get("entityname"),
    )


# ---------------------------------------------------------------------------------------------
# Attribute values


def _invalid_node(detail: str) -> Fault:
    return errors.invalid(errors.INVALID_NODE, f"The element node encountered is invalid. {detail}")


def _children(element: ET.Element, allowed: set[str]) -> list[ET.Element]:
    """The child elements (each one allowed); text other than white space is invalid."""
    if element.tag != "value" and (element.text or "").strip():
        raise _invalid_node(f"<{element.tag}> holds text.")
    found = []
    for child in element:
        if child.tag not in allowed:
            raise _invalid_node(f"<{child.tag}> is not valid inside <{element.tag}>.")
        if (child.tail or "").strip():
            raise _invalid_node(f"<{element.tag}> holds text.")
        found.append(child)
    return found


def _check_attributes(element: ET.Element, known: set[str], refused: dict[str, str]) -> None:
    for name in element.attrib:
        if name in refused:
            raise errors.refused(refused[name])
        if name not in known:
            raise _invalid_node(f"The '{name}' attribute is not declared on <{element.tag}>.")


def _required(element: ET.Element, name: str) -> str:
    value = element.get(name)
    if value is None or not value.strip():
        raise errors.invalid(
            errors.ATTRIBUTE_NOT_FOUND,
            f"A required attribute was not specified: <{element.tag}> needs '{name}'.",
        )
    return value.strip()


def _boolean(element: ET.Element, name: str) -> bool:
    value = element.get(name)
    if value is None:
        return False
    if value.strip().lower() in ("true", "1"):
        return True
    if value.strip().lower() in ("false", "0"):
        return False
    code = errors.BOOLEAN_CODES.get(name)
    message = f"The only valid values for {name} attribute are 'true', 'false', '1', and '0'."
    raise errors.invalid(code, message) if code else errors.argument(message)


def _positive(element: ET.Element, name: str) -> int | None:
    value = element.get(name)
    if value is None or value.strip() == "":
        return None
    if not re.fullmatch(r"\s*\d+\s*", value) or int(value) <= 0:
        raise errors.invalid(
            errors.GREATER_THAN_ZERO,
            f"A value greater than zero must be specified: {name}='{value}' is not a whole "
            "number greater than zero.",
        )
    return int(value)


__all__ = ["MAX_CONDITIONS", "MAX_LINKS", "parse_cookie", "parse_fetch"]
