"""The ``$apply`` query option (OData data aggregation) as Dataverse accepts it.

Dataverse supports a subset of the OData extension for data aggregation
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data):
a sequence of ``filter(<expression>)`` transformations ending in one ``aggregate(...)`` or
``groupby((<paths>)[,aggregate(...)])``, where an aggregate is ``<path> with <method> as
<alias>`` (methods ``sum``, ``average``, ``min``, ``max``, ``countdistinct``) or ``$count as
<alias>``. Grouping paths are columns, lookup properties (``_primarycontactid_value``) or a
column of a single-valued navigation property (``primarycontactid/fullname``).

The rest of the OData grammar (``compute``, ``expand``, ``search``, ``topcount`` and the other
top/bottom transformations, ``concat``, ``identity``, custom aggregates, ``from``, a
transformation after the aggregation...) is refused with 501 naming it: Dataverse documents
only that it "supports only a subset", not the errors it answers. A pure module: names are
checked against the table by the caller.

>>> parse_apply("groupby((statuscode),aggregate($count as count))").aggregates
(AggregateItem(path=None, method='count', alias='count'),)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal as TypingLiteral

from crm_ferry.emulator.odata.syntax import (
    Expr,
    ODataError,
    Unbalanced,
    parse_filter,
    split_top_level,
)

Method = TypingLiteral["sum", "average", "min", "max", "countdistinct", "count"]
"""``count`` is ``$count as <alias>`` (how many rows); the others take a property."""

METHODS: tuple[Method, ...] = ("sum", "average", "min", "max", "countdistinct")
_METHOD: dict[str, Method] = {m: m for m in METHODS}

OTHER_TRANSFORMATIONS = frozenset(
    {
        "compute",
        "expand",
        "search",
        "topcount",
        "topsum",
        "toppercent",
        "bottomcount",
        "bottomsum",
        "bottompercent",
        "identity",
        "concat",
        "nest",
        "orderby",
        "skip",
        "top",
        "ancestors",
        "descendants",
        "traverse",
    }
)
"""Transformations of the OData aggregation extension (4.0 and 4.01) Dataverse does not
document: refused with 501."""

_ALIASES_REFUSED = "Parameter aliases can be used in $filter and $orderby, but not in $apply"


@dataclass(frozen=True, slots=True)
class AggregateItem:
    path: str | None
    """The property aggregated; None for ``$count``."""
    method: Method
    alias: str


@dataclass(frozen=True, slots=True)
class Apply:
    """A parsed ``$apply``: the rows the ``filters`` all match, grouped by ``groupby`` (when
    ``grouped``), with ``aggregates`` computed per group (or over all of them)."""

    filters: tuple[Expr, ...]
    groupby: tuple[str, ...]
    aggregates: tuple[AggregateItem, ...]
    grouped: bool

    @property
    def output_names(self) -> tuple[str, ...]:
        """The aggregate aliases (what ``$orderby`` may not sort by)."""
        return tuple(item.alias for item in self.aggregates)


def _not_implemented(what: str) -> ODataError:
    return ODataError(f"{what} is not implemented by the emulator.", status=501)


def _syntax(text: str, pos: int) -> ODataError:
    return ODataError(f"Syntax error at position {pos} in '{text}'.", position=pos, text=text)


def _split(text: str, sep: str, whole: str, offset: int) -> list[tuple[int, str]]:
    try:
        return [(offset + at, part) for at, part in split_top_level(text, sep)]
    except Unbalanced as exc:
        raise _syntax(whole, offset + exc.position) from None


_CALL_RE = re.compile(r"\s*([A-Za-z_$][A-Za-z0-9_.]*)\s*\((.*)\)\s*", re.DOTALL)
_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*"
_PATH_RE = re.compile(rf"\s*({_PATH})\s*")
_ALIAS = r"[A-Za-z_][A-Za-z0-9_]*"
_COUNT_RE = re.compile(rf"\s*\$count\s+as\s+({_ALIAS})\s*")
_WITH_RE = re.compile(
    rf"\s*({_PATH}(?:/\$count)?)\s+with\s+([A-Za-z_][A-Za-z0-9_.]*)"
    rf"(?:\s+from\s+(.+?))?\s+as\s+({_ALIAS})\s*",
    re.DOTALL,
)
_CUSTOM_RE = re.compile(rf"\s*({_PATH})\s+as\s+({_ALIAS})\s*")


def _call(part: str, whole: str, at: int) -> tuple[str, str, int]:
    """``name(args)``: the name, the text inside the parentheses and where it starts."""
    match = _CALL_RE.fullmatch(part)
    if match is None:
        raise _syntax(whole, at + len(part) - len(part.lstrip()))
    return match[1], match[2], at + match.start(2)


def _aggregate_items(text: str, whole: str, at: int) -> list[AggregateItem]:
    items: list[AggregateItem] = []
    for pos, part in _split(text, ",", whole, at):
        if match := _COUNT_RE.fullmatch(part):
            items.append(AggregateItem(None, "count", match[1]))
            continue
        if match := _WITH_RE.fullmatch(part):
            path, method, source, alias = match[1], match[2], match[3], match[4]
            if path.endswith("/$count"):
                raise _not_implemented(f"Counting a related collection in $apply ('{path}')")
            if source is not None:
                raise _not_implemented(f"The 'from' clause of an aggregate in $apply ('{alias}')")
            if "." in method:
                raise _not_implemented(f"The custom aggregation method '{method}' in $apply")
            if method not in _METHOD:
                raise ODataError(
                    f"'{method}' is not a valid aggregation method at position {pos} in "
                    f"'{whole}'; use one of {', '.join(METHODS)}.",
                    position=pos,
                    text=whole,
                )
            items.append(AggregateItem(path, _METHOD[method], alias))
            continue
        if _CUSTOM_RE.fullmatch(part):
            raise _not_implemented(f"A custom aggregate in $apply ('{part.strip()}')")
        raise _syntax(whole, pos + len(part) - len(part.lstrip()))
    return items


def _groupby(text: str, whole: str, at: int) -> tuple[tuple[str, ...], list[AggregateItem]]:
    parts = _split(text, ",", whole, at)
    pos, first = parts[0]
    inner = first.strip()
    if not (inner.startswith("(") and inner.endswith(")")):
        raise _syntax(whole, pos + len(first) - len(first.lstrip()))
    paths: list[str] = []
    start = pos + first.index("(") + 1
    for path_pos, item in _split(inner[1:-1], ",", whole, start):
        match = _PATH_RE.fullmatch(item)
        if match is None:
            raise _syntax(whole, path_pos + len(item) - len(item.lstrip()))
        paths.append(match[1])
    if len(parts) == 1:
        return tuple(paths), []
    if len(parts) > 2:
        raise _syntax(whole, parts[2][0])
    rest_pos, rest = parts[1]
    steps = _split(rest, "/", whole, rest_pos)
    if len(steps) != 1:
        raise _not_implemented("A sequence of transformations inside groupby in $apply")
    step_pos, step = steps[0]
    name, args, args_at = _call(step, whole, step_pos)
    if name != "aggregate":
        raise _not_implemented(f"The transformation '{name}' inside groupby in $apply")
    return tuple(paths), _aggregate_items(args, whole, args_at)


def _check_aliases(items: list[AggregateItem], paths: tuple[str, ...], whole: str) -> None:
    seen = set(paths)
    for item in items:
        if item.alias in seen:
            raise ODataError(
                f"The alias '{item.alias}' is used more than once in '{whole}'; every "
                "aggregate needs a name of its own."
            )
        seen.add(item.alias)


def parse_apply(text: str) -> Apply:
    """Parse a ``$apply`` value (already percent-decoded); see the module docstring."""
    if not text.strip():
        raise ODataError("The $apply query option must not be empty.")
    filters: list[Expr] = []
    steps = _split(text, "/", text, 0)
    for index, (pos, step) in enumerate(steps):
        name, args, at = _call(step, text, pos)
        last = index == len(steps) - 1
        if name == "filter":
            filters.append(parse_filter(args, aliases_refused=_ALIASES_REFUSED))
            if last:
                raise _not_implemented(
                    "$apply=filter(...) without groupby or aggregate (use $filter)"
                )
            continue
        if name in ("groupby", "aggregate"):
            if not last:
                raise _not_implemented(f"A transformation after {name} in $apply")
            if name == "aggregate":
                items = _aggregate_items(args, text, at)
                _check_aliases(items, (), text)
                return Apply(tuple(filters), (), tuple(items), grouped=False)
            paths, items = _groupby(args, text, at)
            _check_aliases(items, paths, text)
            return Apply(tuple(filters), paths, tuple(items), grouped=True)
        if name in OTHER_TRANSFORMATIONS or "." in name:
            raise _not_implemented(f"The $apply transformation '{name}'")
        raise ODataError(
            f"'{name}' is not a valid transformation at position {pos} in '{text}'.",
            position=pos,
            text=text,
        )
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["METHODS", "OTHER_TRANSFORMATIONS", "AggregateItem", "Apply", "Method", "parse_apply"]
