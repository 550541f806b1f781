"""The rows of a FetchXML answer as the Web API returns them.

Use FetchXml with Web API
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-fetchxml-web-api)
and Page results using FetchXml show the shape:

* "data returned from FetchXML will not return properties with null values";
* the entity's columns come as the OData queries return them (lookups as ``_<column>_value``,
  the annotations ``Prefer: odata.include-annotations`` asks for), with ``@odata.etag`` and
  the primary key; a money column brings ``_transactioncurrencyid_value`` with it, as the
  articles' responses show; ``distinct`` rows have no primary key ("no primary key values
  are returned") and so no ETag;
* a link-entity's columns, and aliased columns, are returned under their names
  (``contact.fullname``, the alias), with the annotations of the column they hold and
  ``@OData.Community.Display.V1.AttributeName``, the column's logical name, when asked for;
* an aggregate row holds its aliases only.
"""

from __future__ import annotations

from typing import Any

from crm_ferry.emulator.fetchxml.aggregate import Group
from crm_ferry.emulator.fetchxml.engine import Tuple, primary_name
from crm_ferry.emulator.fetchxml.plan import BoundNode, Column, Plan
from crm_ferry.emulator.records.context import Ctx
from crm_ferry.emulator.records.reads import FORMATTED, ReadCache, property_name, represent
from crm_ferry.emulator.records.rows import LOOKUP_TYPES
from crm_ferry.emulator.state import TenantState

ATTRIBUTE_NAME = "@OData.Community.Display.V1.AttributeName"
LOOKUP = "@Microsoft.Dynamics.CRM.lookuplogicalname"


def wants(ctx: Ctx, annotation: str) -> bool:
    """Whether ``Prefer: odata.include-annotations`` asks for ``annotation`` (``*``, a
    namespace's ``.*``, the name itself; ``-name`` leaves it out)."""
    header = ctx.prefer.get("odata.include-annotations")
    if header is None:
        return False
    patterns = [p.strip() for p in header.split(",") if p.strip()]
    if f"-{annotation}" in patterns:
        return False
    return any(
        p in ("*", annotation) or (p.endswith(".*") and annotation.startswith(p[:-1]))
        for p in patterns
    )


def context_columns(plan: Plan) -> list[str]:
    """The entity's properties the ``@odata.context`` lists (none for every column)."""
    if plan.all_root_columns or plan.fetch.aggregate:
        return []
    root = plan.root
    names = [property_name(c.attr) for c in plan.columns if c.node is root and not c.renamed]
    names += _money_currency(plan)
    if not plan.fetch.distinct:
        names.append(root.entity.primary_id)
    return list(dict.fromkeys(names))


def _money_currency(plan: Plan) -> list[str]:
    root = plan.root
    money = any(c.attr.type == "Money" for c in plan.columns if c.node is root)
    currency = root.entity.attribute("transactioncurrencyid")
    return [property_name(currency)] if money and currency is not None else []


class Writer:
    """Writes the rows of one answer (one :class:`ReadCache` for all of them)."""

    def __init__(self, em: TenantState, ctx: Ctx, plan: Plan) -> None:
        self.em = em
        self.ctx = ctx
        self.plan = plan
        self.cache = ReadCache()
        self.names = wants(ctx, ATTRIBUTE_NAME[1:])
        root = plan.root
        self.root_columns = [c for c in plan.columns if c.node is root]
        select = [property_name(c.attr) for c in self.root_columns]
        select += _money_currency(plan)
        self.select: list[str] | None = None if plan.all_root_columns else select
        if self.select == []:
            self.select = [root.entity.primary_id]
        self.kept = None if self.select is None else set(context_columns(plan))
        self.links = [n for n in plan.links if any(c.node is n for c in plan.columns)]

    def row(self, t: Tuple) -> dict[str, Any]:
        """One row of a non-aggregate answer."""
        root = self.plan.root
        stored = t.get(root.alias) or {}
        rep = represent(self.em, self.ctx, root.entity, stored, self.select, [], self.cache)
        nulls = {k for k, v in rep.items() if v is None and "@" not in k}
        out: dict[str, Any] = {}
        for key, value in rep.items():
            prop = key.split("@", 1)[0]
            if prop in nulls or (prop and self.kept is not None and prop not in self.kept):
                continue
            if key == "@odata.etag" and self.plan.fetch.distinct:
                continue
            out[key] = value
        for column in self.root_columns:
            if column.renamed:
                self._copy(rep, column, out)
        for node in self.links:
            linked = t.get(node.alias)
            if linked is not None:
                self._link(node, linked, out)
        return out

    def _link(self, node: BoundNode, linked: dict[str, Any], out: dict[str, Any]) -> None:
        columns = [c for c in self.plan.columns if c.node is node]
        select = [property_name(c.attr) for c in columns]
        rep = represent(self.em, self.ctx, node.entity, linked, select, [], self.cache)
        for column in columns:
            self._copy(rep, column, out)

    def _copy(self, rep: dict[str, Any], column: Column, out: dict[str, Any]) -> None:
        """The column's value and annotations under its own name."""
        prop = property_name(column.attr)
        if rep.get(prop) is None:
            return
        for key, value in rep.items():
            if key.startswith(prop + "@"):
                out[column.key + key[len(prop) :]] = value
        if self.names:
            out[column.key + ATTRIBUTE_NAME] = column.attr.logical_name
        out[column.key] = rep[prop]

    def group(self, group: Group) -> dict[str, Any]:
        """One row of an aggregate answer."""
        out: dict[str, Any] = {}
        for column in self.plan.columns:
            if column.key not in group:
                continue
            value = group[column.key]
            if self.ctx.formatted_values:
                text = self._formatted(column, value)
                if text is not None:
                    out[column.key + FORMATTED] = text
            attr = column.attr
            if (
                self.ctx.lookup_annotations
                and column.groupby
                and attr.type in LOOKUP_TYPES
                and len(attr.targets) == 1
            ):
                out[column.key + LOOKUP] = attr.targets[0]
            if self.names:
                out[column.key + ATTRIBUTE_NAME] = attr.logical_name
            out[column.key] = value
        return out

    def _formatted(self, column: Column, value: Any) -> str | None:
        attr = column.attr
        if column.aggregate is None and column.dategrouping is None:
            if attr.type in LOOKUP_TYPES:
                table = attr.targets[0] if len(attr.targets) == 1 else ""
                return primary_name(self.em, table, str(value))
            if attr.option_set is not None and isinstance(value, int | bool):
                option = attr.option_set.option(int(value))
                return option.label if option is not None else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{value:,}"
        return None


__all__ = ["ATTRIBUTE_NAME", "Writer", "context_columns", "wants"]
