"""Query options of the Dataverse Web API: ``$select``, ``$filter``, ``$orderby``, ``$top``,
``$count``, ``$expand`` (with nested options), ``$apply`` (:mod:`.apply`), ``$skiptoken``,
``@p`` parameter aliases (in ``$filter`` and ``$orderby``, not inside ``$expand``; an alias
stands for a value or a property path: ``$orderby=@p1 asc&@p1=revenue``) and ``fetchXml`` (a
FetchXML query, evaluated by :mod:`crm_ferry.emulator.fetchxml`). Everything else is refused
(``$deltatoken`` and other non-``$`` parameters with 501).

Sources (Microsoft Learn, Dataverse Web API):
select-columns https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns,
filter-rows https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows,
order-rows https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/order-rows,
page-results https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results
(``$skiptoken`` is an opaque paging cookie; there is no ``$skip``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from crm_ferry.emulator.odata.apply import Apply, parse_apply
from crm_ferry.emulator.odata.syntax import (
    ALIAS_IN_ALIAS,
    ALIAS_IN_EXPAND,
    Expr,
    ODataError,
    Parser,
    Unbalanced,
    negated_query_function,
    parse_filter,
    split_top_level,
)


@dataclass(slots=True)
class ExpandSpec:
    """One ``$expand`` item: ``nav``, ``nav($select=a,b;$filter=...;$orderby=...;$top=n)``
    or ``nav/$ref`` (``ref``: references instead of rows)."""

    nav: str
    select: list[str] | None = None
    filter: Expr | None = None
    top: int | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    expand: list[ExpandSpec] = field(default_factory=list)
    ref: bool = False
    options: list[tuple[str, str]] = field(default_factory=list, compare=False, repr=False)
    """The nested options as written (``[("$select", "a,b"), ...]``, names lower-cased): what
    a ``<nav>@odata.nextLink`` repeats."""


@dataclass(slots=True)
class QueryOptions:
    """The parsed query string. ``orderby`` is ``[(name, descending)]``; ``aliases`` holds
    ``@p`` parameters (already substituted into ``filter``)."""

    select: list[str] | None = None
    filter: Expr | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None
    count: bool = False
    expand: list[ExpandSpec] = field(default_factory=list)
    skiptoken: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    apply: Apply | None = None
    fetchxml: str | None = None
    """A FetchXML query (``fetchXml=``), with ``$count`` the only other option it takes."""
    ref_id: str | None = None
    """``$id``: the reference a ``DELETE …/<collection>/$ref`` removes (only there)."""


_PARAMETERS = {
    "savedquery": "Running a saved query (savedQuery)",
    "userquery": "Running a user query (userQuery)",
    "sql": "Querying with SQL (sql)",
}
"""Query parameters Dataverse documents besides the ``$`` options and ``fetchXml`` (Retrieve
and execute predefined queries; Query data with SQL). Real environments without the SQL
capability answer ``sql query parameter is not supported.``"""


def _fetchxml(params: Mapping[str, str]) -> str | None:
    """The ``fetchXml`` parameter (Use FetchXml with Web API,
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-fetchxml-web-api),
    which the documented requests pair with ``$count=true`` only; any other option beside it
    is refused, not ignored."""
    found = [key for key in params if key.lower() == "fetchxml"]
    if not found:
        return None
    for key in params:
        if key.lower() not in ("fetchxml", "$count"):
            raise ODataError(
                f"The query option '{key}' together with fetchXml is not implemented by the "
                "emulator.",
                status=501,
            )
    return params[found[0]]


def _not_implemented_parameter(name: str) -> ODataError:
    """A parameter that is neither a ``$`` option nor an ``@`` alias: never ignored."""
    feature = _PARAMETERS.get(name.lower(), f"The query parameter '{name}'")
    return ODataError(f"{feature} is not implemented by the emulator.", status=501)


def _filter(
    text: str, aliases: dict[str, str] | None, *, aliases_refused: str | None = None
) -> Expr:
    """A ``$filter``, refused when ``not`` negates a Dataverse query function (the error the
    documentation quotes, Use Web API functions,
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-functions)."""
    expr = parse_filter(text, aliases, aliases_refused=aliases_refused)
    if negated_query_function(expr) is not None:
        raise ODataError(
            "Not operator along with the Custom Named Condition operators is not allowed",
            code="0x80040203",
        )
    return expr


def _not_supported_option(name: str) -> ODataError:
    return ODataError(f"The query parameter {name} is not supported")


def _parse_select(text: str) -> list[str]:
    parser = Parser(text, None)
    names: list[str] = []
    while True:
        names.append(parser.identifier().text)
        if parser.tok.kind == "end":
            return names
        if not parser.is_punct(","):
            raise parser.error("',' expected")
        parser.advance()


def _property_path(parser: Parser) -> str:
    name = [parser.identifier().text]
    while parser.is_punct("/"):
        parser.advance()
        name.append(parser.identifier().text)
    return "/".join(name)


def _orderby_alias(alias: str, aliases: Mapping[str, str], text: str, pos: int) -> str:
    """The property path an ``$orderby`` alias stands for (``$orderby=@p1 asc&@p1=revenue``).
    The direction stays outside the alias, as the documented example writes it; an alias
    given no value would order by null, which names no column."""
    value = aliases.get(alias)
    if value is None:
        raise ODataError(
            f"The parameter alias '{alias}' in $orderby at position {pos} in '{text}' has no "
            "value; $orderby takes a property, so give it one (for example "
            f"{alias}=name).",
            position=pos,
            text=text,
        )
    inner = Parser(value, None, aliases_refused=ALIAS_IN_ALIAS)
    path = _property_path(inner)
    if not inner.at_end():
        raise inner.error("')' or operator expected")
    return path


def _parse_orderby(text: str, aliases: Mapping[str, str] | None = None) -> list[tuple[str, bool]]:
    parser = Parser(text, None, aliases_refused=None if aliases is not None else ALIAS_IN_EXPAND)
    result: list[tuple[str, bool]] = []
    while True:
        tok = parser.tok
        if tok.kind == "alias":
            parser.check_alias_allowed(tok)
            parser.advance()
            name = _orderby_alias(tok.text, aliases or {}, text, tok.pos)
        else:
            name = _property_path(parser)
        descending = False
        if parser.is_word("asc", "desc"):
            descending = parser.advance().text == "desc"
        result.append((name, descending))
        if parser.tok.kind == "end":
            return result
        if not parser.is_punct(","):
            raise parser.error("',' expected")
        parser.advance()


def _parse_top(text: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise ODataError(
            f"Invalid value '{text}' for $top query option found. The $top query option "
            "requires a non-negative integer value."
        )
    return int(text)


def _parse_count(text: str) -> bool:
    if text not in ("true", "false"):
        raise ODataError(
            f"Invalid value '{text}' for $count query option found. Valid values are "
            "'true', 'false'."
        )
    return text == "true"


def _split_top_level(text: str, sep: str) -> list[tuple[int, str]]:
    """Split on ``sep`` outside quotes and parentheses; each part with its start offset."""
    try:
        return split_top_level(text, sep)
    except Unbalanced as exc:
        at = exc.position
        if exc.kind == ")":
            message = f"Syntax error at position {at} in '{text}'."
        elif exc.kind == "'":
            message = f"There is an unterminated string literal at position {at} in '{text}'."
        else:
            message = f"')' or operator expected at position {at} in '{text}'."
        raise ODataError(message, position=at, text=text) from None


_EXPAND_ITEM_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)(/\$ref)?\s*(?:\((.*)\))?\s*", re.DOTALL)


def _parse_expand(text: str, aliases: dict[str, str]) -> list[ExpandSpec]:
    specs: list[ExpandSpec] = []
    for start, item in _split_top_level(text, ","):
        match = _EXPAND_ITEM_RE.fullmatch(item)
        if match is None:
            pos = start + len(item) - len(item.lstrip())
            raise ODataError(
                f"Syntax error at position {pos} in '{text}'.", position=pos, text=text
            )
        spec = ExpandSpec(match[1], ref=match[2] is not None)
        if match[3] is not None and spec.ref:
            pos = start + match.start(3) - 1
            raise ODataError(
                f"Syntax error at position {pos} in '{text}'.", position=pos, text=text
            )
        if match[3] is not None and match[3].strip():
            for _, option in _split_top_level(match[3], ";"):
                name, eq, value = option.partition("=")
                name = name.strip().lower()
                if not eq:
                    raise ODataError(
                        f"Syntax error at position {start} in '{text}'.", position=start, text=text
                    )
                spec.options.append((name, value.strip()))
                if name == "$select":
                    spec.select = _parse_select(value)
                elif name == "$filter":
                    spec.filter = _filter(value, None, aliases_refused=ALIAS_IN_EXPAND)
                elif name == "$orderby":
                    spec.orderby = _parse_orderby(value)
                elif name == "$top":
                    spec.top = _parse_top(value)
                elif name == "$expand":
                    spec.expand = _parse_expand(value, aliases)
                else:
                    raise ODataError(
                        f"The query parameter {name} is not supported inside $expand "
                        f"('{spec.nav}')."
                    )
        specs.append(spec)
    return specs


def parse_query(params: Mapping[str, str]) -> QueryOptions:
    """Parse query parameters whose names and values are already percent-decoded.

    System options are matched case-insensitively. ``$skip``, ``$search`` and unknown ``$``
    options are errors; ``@p`` aliases are substituted into ``$filter`` (an alias with no value
    is null, as the OData URL conventions say) and ``$orderby`` (where one with no value is an
    error: it would order by null).

    >>> parse_query({"$top": "5", "$orderby": "name desc"}).orderby
    [('name', True)]
    """
    options = QueryOptions()
    options.aliases = {k: v for k, v in params.items() if k.startswith("@")}
    options.fetchxml = _fetchxml(params)
    for key in params:
        if not key.startswith(("@", "$")) and key.lower() != "fetchxml":
            raise _not_implemented_parameter(key)
    for key, value in params.items():
        if not key.startswith("$"):
            continue
        name = key.lower()
        if name == "$select":
            options.select = _parse_select(value)
        elif name == "$filter":
            options.filter = _filter(value, options.aliases)
        elif name == "$orderby":
            options.orderby = _parse_orderby(value, options.aliases)
        elif name == "$top":
            options.top = _parse_top(value)
        elif name == "$count":
            options.count = _parse_count(value)
        elif name == "$expand":
            options.expand = _parse_expand(value, options.aliases)
        elif name == "$skiptoken":
            options.skiptoken = value
        elif name == "$id":
            options.ref_id = value
        elif name == "$deltatoken":
            raise ODataError(
                "Change tracking ($deltatoken) is not implemented by the emulator.", status=501
            )
        elif name == "$apply":
            options.apply = parse_apply(value)
        else:
            raise _not_supported_option(key)
    return options


def parse_query_string(query: str) -> QueryOptions:
    """Parse a raw query string (``a=1&b=2``, a leading ``?`` allowed); ``+`` is a space, so
    clients must send ``%2B``. A ``$`` option given twice is an error."""
    seen: dict[str, str] = {}
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        folded = key.lower() if key.startswith("$") else key
        if folded in {k.lower() if k.startswith("$") else k for k in seen}:
            raise ODataError(
                f"Query option '{key}' was specified more than once, but it must be "
                "specified at most once."
            )
        seen[key] = value
    return parse_query(seen)
