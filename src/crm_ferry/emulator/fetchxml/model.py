"""A FetchXML query as read from its XML, before it is checked against the tables: the
``fetch`` element's options, and a tree of ``entity`` / ``link-entity`` nodes holding their
``attribute``, ``order``, ``filter`` and ``condition`` elements.

Element reference: https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/reference/
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FilterType = Literal["and", "or"]
LinkType = Literal["inner", "outer"]


@dataclass(slots=True)
class Attribute:
    """``<attribute name alias aggregate groupby dategrouping distinct usertimezone/>``."""

    name: str
    alias: str | None = None
    aggregate: str | None = None
    groupby: bool = False
    dategrouping: str | None = None
    distinct: bool = False


@dataclass(slots=True)
class Order:
    """``<order attribute alias descending entityname/>``."""

    attribute: str | None = None
    alias: str | None = None
    descending: bool = False
    entityname: str | None = None


@dataclass(slots=True)
class Condition:
    """``<condition attribute operator value entityname>`` with its ``<value>`` children
    (``values`` holds the ``value`` attribute or the children, as text)."""

    attribute: str
    operator: str
    values: list[str] = field(default_factory=list)
    entityname: str | None = None


@dataclass(slots=True)
class Filter:
    """``<filter type>``: conditions and nested filters, all (``and``) or any (``or``)."""

    type: FilterType = "and"
    items: list[Condition | Filter] = field(default_factory=list)


@dataclass(slots=True)
class Node:
    """An ``entity`` (the root: no ``link`` part) or a ``link-entity``."""

    name: str
    attributes: list[Attribute] = field(default_factory=list)
    all_attributes: bool = False
    orders: list[Order] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    links: list[Node] = field(default_factory=list)
    from_: str | None = None
    """``link-entity``: the column of this table matched with ``to``."""
    to: str | None = None
    """``link-entity``: the column of the parent matched with ``from``."""
    alias: str | None = None
    link_type: LinkType = "inner"


@dataclass(slots=True)
class Fetch:
    """``<fetch>`` and its one ``entity``."""

    entity: Node
    top: int | None = None
    count: int | None = None
    page: int | None = None
    paging_cookie: str | None = None
    distinct: bool = False
    aggregate: bool = False
    aggregate_limit: int | None = None
    total_count: bool = False
    """``returntotalrecordcount``."""
    raw_order: bool = False
    """``useraworderby``: choices sort by value, not label."""


__all__ = ["Attribute", "Condition", "Fetch", "Filter", "FilterType", "LinkType", "Node", "Order"]
