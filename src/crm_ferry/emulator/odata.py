"""The Dataverse Web API's URL syntax: resource paths, query options and ``$filter``.

A pure module: no I/O and no knowledge of tables. The emulator parses a request with it, then
checks names against its schema itself (:func:`referenced_properties` lists what a filter
reads, so the caller can answer "Could not find a property named 'x' on type
'Microsoft.Dynamics.CRM.contact'.").

Sources (Microsoft Learn, Power Apps developer documentation, Dataverse Web API):

* query-data-web-api: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-data-web-api
* select-columns: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns
* filter-rows: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows
  (operators, grouping, string functions, Dataverse query functions, lambdas, case-insensitive
  string filters, URL-encoding special characters, wildcards)
* order-rows: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/order-rows
* page-results: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results
  (``$skiptoken`` is an opaque paging cookie; there is no ``$skip``)
* alternate keys in URLs: https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity
* query functions: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/in
  (``In``, ``Between``, ``Null``, ``NotNull`` ... take ``PropertyName`` and ``PropertyValues``)

Example::

    segments = parse_resource_path("contacts(firstname='Joe',emailaddress1='a@b.c')/fullname")
    # [EntitySetSegment('contacts', Key(named=(('firstname', 'Joe'), ('emailaddress1', 'a@b.c')))),
    #  PropertySegment('fullname')]
    options = parse_query({"$select": "fullname", "$filter": "lastname eq @p1", "@p1": "'Ng'"})
    matching = [row for row in rows if evaluate(options.filter, row)] if options.filter else rows
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral
from typing import TypeAlias
from urllib.parse import parse_qsl, unquote

from crm_ferry.emulator._odata_eval import (
    compare_values,
    edm_type_name,
    evaluate,
    referenced_properties,
    sort_rows,
)
from crm_ferry.emulator._odata_syntax import (
    DATAVERSE_NAMESPACE,
    Call,
    Compare,
    Expr,
    Lambda,
    Literal,
    Logical,
    Not,
    ODataError,
    Property,
    QueryFunction,
    Token,
    Value,
    _Parser,
    format_filter,
    format_value,
    parse_filter,
    parse_value_text,
    tokenize,
)

__all__ = [
    "DATAVERSE_NAMESPACE",
    "DEFAULT_UNBOUND_OPERATIONS",
    "Alias",
    "Call",
    "CastSegment",
    "Compare",
    "EntitySetSegment",
    "ExpandSpec",
    "Expr",
    "Key",
    "Lambda",
    "Literal",
    "Logical",
    "Not",
    "ODataError",
    "OperationSegment",
    "Property",
    "PropertySegment",
    "QueryFunction",
    "QueryOptions",
    "Segment",
    "SystemSegment",
    "Token",
    "Value",
    "compare_values",
    "edm_type_name",
    "evaluate",
    "format_filter",
    "format_value",
    "parse_filter",
    "parse_query",
    "parse_query_string",
    "parse_resource_path",
    "parse_value_text",
    "referenced_properties",
    "sort_rows",
    "tokenize",
]

PATH_SYNTAX_ERROR = "Bad Request - Error in query syntax."

DEFAULT_UNBOUND_OPERATIONS: frozenset[str] = frozenset(
    {
        "WhoAmI",
        "RetrieveVersion",
        "RetrieveCurrentOrganization",
        "RetrieveTotalRecordCount",
        "PublishXml",
        "PublishAllXml",
        "InitializeFrom",
        "WinOpportunity",
        "LoseOpportunity",
        "InsertOptionValue",
        "DeleteOptionValue",
    }
)
"""First-segment names read as unbound functions/actions rather than entity sets.

A bare ``name`` or ``name(A=1)`` is syntactically both an entity set (with an alternate key)
and an unbound operation; only the service's metadata can tell. Pass your own set to
:func:`parse_resource_path` to change the choice. ``name()`` is always an operation."""


# --------------------------------------------------------------------------------------------
# Resource path


@dataclass(frozen=True, slots=True)
class Alias:
    """A parameter alias in a path (``Target=@tid``) whose value is not a plain literal (e.g.
    JSON), or that the query string does not define. ``text`` is the alias's raw value."""

    name: str
    text: str | None


ParamValue: TypeAlias = "Value | Alias"


@dataclass(frozen=True, slots=True)
class Key:
    """A key segment: ``(<guid>)`` sets ``value``; ``(a=1,b='x')`` sets ``named``.

    GUIDs are ``uuid.UUID``; ``str(key.value)`` is the lower-case form. Lookup keys keep the
    lookup property name (``_primarycontactid_value``).
    """

    value: Value = None
    named: tuple[tuple[str, Value], ...] = ()

    @property
    def is_named(self) -> bool:
        return bool(self.named)

    def as_dict(self) -> dict[str, Value]:
        return dict(self.named)


@dataclass(frozen=True, slots=True)
class EntitySetSegment:
    """The first segment: ``accounts``, ``accounts(<guid>)``,
    ``EntityDefinitions(LogicalName='x')``."""

    name: str
    key: Key | None = None


@dataclass(frozen=True, slots=True)
class PropertySegment:
    """A later plain segment: a property (``/name``), navigation property or metadata
    collection (``/Attributes(LogicalName='x')``), with an optional key."""

    name: str
    key: Key | None = None


@dataclass(frozen=True, slots=True)
class OperationSegment:
    """A function or action: ``WhoAmI``, ``WhoAmI()``, ``Microsoft.Dynamics.CRM.UpsertMultiple``.

    ``parameters`` is None when the segment has no parentheses (action style) and a tuple of
    ``(name, value)`` otherwise. ``bound`` is True when it follows another segment.
    """

    name: str
    namespace: str | None = None
    parameters: tuple[tuple[str, ParamValue], ...] | None = None
    bound: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class CastSegment:
    """A type cast, e.g. ``Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata``.

    A qualified name without parentheses after another segment is a cast when its last part
    ends with ``Metadata`` and a (bound) action otherwise.
    """

    type_name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class SystemSegment:
    """``$batch``, ``$metadata`` (first segment only), ``$value``, ``$ref``, ``$count``."""

    name: TypingLiteral["$batch", "$metadata", "$value", "$ref", "$count"]


Segment: TypeAlias = (
    "EntitySetSegment | PropertySegment | OperationSegment | CastSegment | SystemSegment"
)

_API_PREFIX_RE = re.compile(r"^/?api/data/v\d+(?:\.\d+)?/")
_SEGMENT_RE = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:\((?P<args>.*)\))?",
    re.DOTALL,
)


def _path_error(detail: str, path: str) -> ODataError:
    return ODataError(PATH_SYNTAX_ERROR, text=path, detail=detail)


def _split_path(path: str) -> list[str]:
    """Split on ``/`` outside quotes and parentheses."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(path):
        if ch == "'":
            quoted = not quoted  # '' toggles twice: still right
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _path_error(f"unbalanced ')' at position {i}", path)
        elif ch == "/" and depth == 0:
            parts.append(path[start:i])
            start = i + 1
    if quoted:
        raise _path_error("unterminated string literal", path)
    if depth:
        raise _path_error("missing ')'", path)
    parts.append(path[start:])
    return parts


def _path_value(parser: _Parser, aliases: Mapping[str, str] | None) -> ParamValue:
    tok = parser.tok
    if tok.kind == "alias":
        parser.advance()
        text = None if aliases is None else aliases.get(tok.text)
        if text is None:
            return Alias(tok.text, None)
        try:
            return parse_value_text(text)
        except ODataError:
            return Alias(tok.text, text)
    return parser.parse_value()


def _parse_parens(
    args: str, aliases: Mapping[str, str] | None, *, keyed: bool
) -> tuple[Value, tuple[tuple[str, ParamValue], ...]]:
    """``(literal)`` or ``(a=v,b=w)``; returns (unnamed value, named pairs)."""
    parser = _Parser(args, None)
    if parser.tok.kind == "end":
        return None, ()
    is_named = parser.tok.kind == "ident" and parser.tokens[parser.i + 1].text == "="
    if not is_named:
        value = _path_value(parser, aliases)
        parser.expect_end()
        if isinstance(value, Alias) or (keyed and isinstance(value, tuple)):
            raise ODataError(PATH_SYNTAX_ERROR, detail=f"key value '{args}' is not a literal")
        return value, ()
    named: list[tuple[str, ParamValue]] = []
    while True:
        name = parser.advance()
        parser.advance()  # =
        if any(key == name.text for key, _ in named):
            raise ODataError(
                f"A key property '{name.text}' was found twice in a key lookup. Each key "
                "property can be specified just once in a key lookup."
            )
        named.append((name.text, _path_value(parser, aliases)))
        if parser.at_end():
            return None, tuple(named)
        if not parser.is_punct(","):
            raise parser.error("')' or ',' expected")
        parser.advance()
        if not (parser.tok.kind == "ident" and parser.tokens[parser.i + 1].text == "="):
            raise parser.error("An identifier was expected")


def _key(args: str | None, aliases: Mapping[str, str] | None, raw: str, path: str) -> Key | None:
    if args is None:
        return None
    if not args.strip():
        raise _path_error(f"empty key in segment '{raw}'", path)
    value, named = _parse_parens(args, aliases, keyed=True)
    pairs: list[tuple[str, Value]] = []
    for name, item in named:
        if isinstance(item, Alias | tuple):
            raise _path_error(f"key property '{name}' needs a literal value", path)
        pairs.append((name, item))
    return Key(value=value, named=tuple(pairs))


def parse_resource_path(
    path: str,
    *,
    aliases: Mapping[str, str] | None = None,
    unbound_operations: Collection[str] = DEFAULT_UNBOUND_OPERATIONS,
) -> list[Segment]:
    """Parse the part of a URL after ``/api/data/v9.2/`` (that prefix is also accepted).

    Each segment is percent-decoded after splitting, so ``'a%2Fb'`` is a key value with a
    slash (Dataverse itself cannot address keys containing ``/ < > * % & : \\ ? +``; see
    https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity).
    ``aliases`` supplies ``@p`` values from the query string for operation parameters.
    Anything after ``?`` is ignored. Errors: ODataError "Bad Request - Error in query syntax."
    with the reason in ``detail``, or a positional message for a bad literal inside ``( )``.

    >>> parse_resource_path("accounts(accountnumber='A''1')/name")  # doctest: +NORMALIZE_WHITESPACE
    [EntitySetSegment(name='accounts', key=Key(value=None, named=(('accountnumber', "A'1"),))),
     PropertySegment(name='name', key=None)]
    """
    original = path
    path = _API_PREFIX_RE.sub("", path.split("?", 1)[0]).lstrip("/")
    if not path:
        return []
    raw_segments = _split_path(path)
    if raw_segments[-1] == "":
        raw_segments.pop()
    segments: list[Segment] = []
    for index, raw in enumerate(raw_segments):
        text = unquote(raw)
        if not text:
            raise _path_error("empty segment", original)
        if text.startswith("$"):
            allowed = ("$batch", "$metadata") if index == 0 else ("$value", "$ref", "$count")
            if text not in allowed:
                raise _path_error(f"segment '{text}' is not valid here", original)
            segments.append(SystemSegment(text))  # type: ignore[arg-type]
            continue
        if segments and isinstance(segments[-1], SystemSegment):
            raise _path_error(f"no segment may follow '{segments[-1].name}'", original)
        match = _SEGMENT_RE.fullmatch(text)
        if match is None:
            raise _path_error(f"segment '{text}' is not valid", original)
        try:
            segments.append(
                _segment(match["name"], match["args"], index, aliases, unbound_operations, original)
            )
        except ODataError as exc:
            if exc.position is None:
                raise
            raise _path_error(f"segment '{text}': {exc.message}", original) from None
    return segments


def _segment(
    name: str,
    args: str | None,
    index: int,
    aliases: Mapping[str, str] | None,
    unbound_operations: Collection[str],
    original: str,
) -> Segment:
    namespace, _, short = name.rpartition(".")
    if namespace:
        if args is not None:
            _, params = _parse_parens(args, aliases, keyed=False)
            if args.strip() and not params:
                raise _path_error(f"operation '{name}' takes named parameters", original)
            return OperationSegment(short, namespace, params, bound=index > 0)
        if index > 0 and short.endswith("Metadata"):
            return CastSegment(short, namespace)
        return OperationSegment(short, namespace, None, bound=index > 0)
    if index == 0 and (name in unbound_operations or (args is not None and not args.strip())):
        params_or_none: tuple[tuple[str, ParamValue], ...] | None = None
        if args is not None:
            value, params_or_none = _parse_parens(args, aliases, keyed=False)
            if value is not None:
                raise _path_error(f"operation '{name}' takes named parameters", original)
        return OperationSegment(name, None, params_or_none, bound=False)
    key = _key(args, aliases, name, original)
    return EntitySetSegment(name, key) if index == 0 else PropertySegment(name, key)


# --------------------------------------------------------------------------------------------
# Query options


@dataclass(slots=True)
class ExpandSpec:
    """One ``$expand`` item: ``nav`` or ``nav($select=a,b;$filter=...;$orderby=...;$top=n)``."""

    nav: str
    select: list[str] | None = None
    filter: Expr | None = None
    top: int | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    expand: list[ExpandSpec] = field(default_factory=list)


@dataclass(slots=True)
class QueryOptions:
    """The parsed query string. ``orderby`` is ``[(name, descending)]``; ``aliases`` holds
    ``@p`` parameters (already substituted into ``filter``); ``extra`` the other non-``$``
    parameters (``fetchXml``, ``savedQuery``, ...)."""

    select: list[str] | None = None
    filter: Expr | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None
    count: bool = False
    expand: list[ExpandSpec] = field(default_factory=list)
    skiptoken: str | None = None
    deltatoken: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


def _not_supported_option(name: str) -> ODataError:
    return ODataError(f"The query parameter {name} is not supported")


def _parse_select(text: str) -> list[str]:
    parser = _Parser(text, None)
    names: list[str] = []
    while True:
        tok = parser.tok
        if tok.kind != "ident" or "." in tok.text:
            raise parser.error("An identifier was expected")
        parser.advance()
        names.append(tok.text)
        if parser.tok.kind == "end":
            return names
        if not parser.is_punct(","):
            raise parser.error("',' expected")
        parser.advance()


def _parse_orderby(text: str) -> list[tuple[str, bool]]:
    parser = _Parser(text, None)
    result: list[tuple[str, bool]] = []
    while True:
        tok = parser.tok
        if tok.kind != "ident" or "." in tok.text:
            raise parser.error("An identifier was expected")
        parser.advance()
        name = [tok.text]
        while parser.is_punct("/"):
            parser.advance()
            part = parser.tok
            if part.kind != "ident" or "." in part.text:
                raise parser.error("An identifier was expected")
            parser.advance()
            name.append(part.text)
        descending = False
        if parser.is_word("asc", "desc"):
            descending = parser.advance().text == "desc"
        result.append(("/".join(name), descending))
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
    parts: list[tuple[int, str]] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ODataError(
                    f"Syntax error at position {i} in '{text}'.", position=i, text=text
                )
        elif ch == sep and depth == 0:
            parts.append((start, text[start:i]))
            start = i + 1
    if quoted:
        raise ODataError(
            f"There is an unterminated string literal at position {text.rfind(chr(39))} in "
            f"'{text}'.",
            position=text.rfind("'"),
            text=text,
        )
    if depth:
        raise ODataError(
            f"')' or operator expected at position {len(text)} in '{text}'.",
            position=len(text),
            text=text,
        )
    parts.append((start, text[start:]))
    return parts


_EXPAND_ITEM_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*", re.DOTALL)


def _parse_expand(text: str, aliases: dict[str, str]) -> list[ExpandSpec]:
    specs: list[ExpandSpec] = []
    for start, item in _split_top_level(text, ","):
        match = _EXPAND_ITEM_RE.fullmatch(item)
        if match is None:
            pos = start + len(item) - len(item.lstrip())
            raise ODataError(
                f"Syntax error at position {pos} in '{text}'.", position=pos, text=text
            )
        spec = ExpandSpec(match[1])
        if match[2] is not None and match[2].strip():
            for _, option in _split_top_level(match[2], ";"):
                name, eq, value = option.partition("=")
                name = name.strip().lower()
                if not eq:
                    raise ODataError(
                        f"Syntax error at position {start} in '{text}'.", position=start, text=text
                    )
                if name == "$select":
                    spec.select = _parse_select(value)
                elif name == "$filter":
                    spec.filter = parse_filter(value, aliases)
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

    System options are matched case-insensitively. ``$apply``, ``$skip``, ``$search`` and
    unknown ``$`` options are errors; ``@p`` aliases are substituted into ``$filter`` (an alias
    with no value is null, as the OData URL conventions say).

    >>> parse_query({"$top": "5", "$orderby": "name desc"}).orderby
    [('name', True)]
    """
    options = QueryOptions()
    options.aliases = {k: v for k, v in params.items() if k.startswith("@")}
    options.extra = {k: v for k, v in params.items() if not k.startswith(("@", "$"))}
    for key, value in params.items():
        if not key.startswith("$"):
            continue
        name = key.lower()
        if name == "$select":
            options.select = _parse_select(value)
        elif name == "$filter":
            options.filter = parse_filter(value, options.aliases)
        elif name == "$orderby":
            options.orderby = _parse_orderby(value)
        elif name == "$top":
            options.top = _parse_top(value)
        elif name == "$count":
            options.count = _parse_count(value)
        elif name == "$expand":
            options.expand = _parse_expand(value, options.aliases)
        elif name == "$skiptoken":
            options.skiptoken = value
        elif name == "$deltatoken":
            options.deltatoken = value
        elif name == "$apply":
            raise ODataError(
                "The query parameter $apply is not supported by the emulator "
                "(aggregation is not emulated).",
                status=501,
            )
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
