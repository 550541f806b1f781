"""OData expression syntax: tokens, literal values, the ``$filter`` expression tree, its parser
and its formatter, and splitting text at top level (outside quotes and parentheses).

The grammar is OData v4's as Dataverse accepts it (see
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows):
comparison ``eq ne gt ge lt le``, logical ``and or not``, grouping ``( )``, the string
functions ``contains startswith endswith``, Dataverse query functions
``Microsoft.Dynamics.CRM.<Name>(PropertyName=...,PropertyValues=[...])`` and the lambda
operators ``any``/``all`` on collection-valued navigation properties.

Precedence follows the OData URL conventions (and Microsoft.OData.Core's parser): ``not`` is a
unary operator and binds tighter than the comparisons, which bind tighter than ``and``, which
binds tighter than ``or``. So ``not contains(name,'x')`` is the usual form and
``not name eq 'x'`` means ``(not name) eq 'x'``; write ``not (name eq 'x')``.

Error messages reuse the texts of Microsoft.OData.Core, which Dataverse passes through, e.g.
``Syntax error: character '&' is not valid at position 70 in '...'.`` and
``Expression expected at position 15 in 'name eq 'x' and'.``. Positions are 0-based offsets
into the option's (already percent-decoded) text.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal as TypingLiteral
from typing import TypeAlias

from crm_ferry.emulator.conditions import FUNCTIONS, NOT_IMPLEMENTED_FUNCTIONS, function_parameters

Value: TypeAlias = (
    "str | int | Decimal | float | bool | uuid.UUID | date | datetime | tuple[Value, ...] | None"
)
"""A literal's Python value. ``date``/``datetime`` are distinct (a ``datetime`` is aware)."""

DATAVERSE_NAMESPACE = "Microsoft.Dynamics.CRM"
COMPARISON_OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")
STRING_FUNCTIONS = ("contains", "startswith", "endswith")


class ODataError(Exception):
    """A request the OData layer rejects; ``status`` is the HTTP status (400 unless noted).

    ``message`` is the Dataverse-like text for the error body, ``position`` the 0-based offset
    in ``text`` where parsing failed (when known) and ``detail`` a more specific reason where the
    message is generic (path syntax errors).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str = "0x0",
        position: int | None = None,
        text: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.position = position
        self.text = text
        self.detail = detail


# --------------------------------------------------------------------------------------------
# Tokens

TokenKind = TypingLiteral["literal", "ident", "alias", "punct", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    pos: int
    value: Value = None
    """For ``literal`` tokens: the parsed value."""


_TAIL = r"(?![0-9A-Za-z_.])"
_GUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}" + _TAIL
)
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?" + _TAIL
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}" + _TAIL)
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?P<suffix>[mMdDfFlL])?" + _TAIL)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_ALIAS_RE = re.compile(r"@[A-Za-z_][A-Za-z0-9_]*")
_PUNCT = "(),/:=[]"
"""A double-quoted string: what a query function's ``PropertyValues`` may hold, so that a value
may contain ``'`` ("Manage single quotes",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows)."""
_KEYWORDS: dict[str, Value] = {
    "true": True,
    "false": False,
    "null": None,
    "INF": float("inf"),
    "-INF": float("-inf"),
    "NaN": float("nan"),
}


def _syntax(template: str, pos: int, text: str) -> ODataError:
    return ODataError(f"{template} at position {pos} in '{text}'.", position=pos, text=text)


def _unrecognized(edm: str, literal: str, pos: int, text: str) -> ODataError:
    return ODataError(
        f"Unrecognized '{edm}' literal '{literal}' at '{pos}' in '{text}'.", position=pos, text=text
    )


def parse_datetime_text(text: str) -> datetime:
    """Parse an ISO 8601 date-time; ``Z`` or no offset means UTC. Raises ``ValueError``."""
    result = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    return result if result.tzinfo is not None else result.replace(tzinfo=UTC)


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; the last one is always ``end``.

    Literals: ``'strings'`` (``''`` is a quote), integers, decimals (``1.5``, ``1.5M``), doubles
    (``1e3``, ``1.5d``), unquoted GUIDs, dates (``2024-03-05``), date-times with optional
    offset (``2024-03-05T10:00:00Z``; none means UTC), ``true false null INF NaN``. Inside a
    collection (``[...]``) a string may also be written as in JSON, ``"text"`` with ``\\``
    escapes: OData's collection literals are JSON arrays, and the documentation of the query
    functions writes ``PropertyValues=["value1","value2"]``
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/in), as
    Microsoft's Python SDK does.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    depth = 0
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch == '"' and depth > 0:
            end = _json_string_end(text, i)
            try:
                string: Value = json.loads(text[i : end + 1])
            except ValueError:
                raise _syntax("There is an invalid JSON string literal", i, text) from None
            tokens.append(Token("literal", text[i : end + 1], i, string))
            i = end + 1
            continue
        if ch == "'":
            start, i, parts = i, i + 1, []
            while True:
                end = text.find("'", i)
                if end < 0:
                    # at the end of the text, where the lexer stopped: "There is an
                    # unterminated literal at position 21 in 'lastname eq 'O'Bryan''."
                    # (Filter rows, "Manage single quotes")
                    raise _syntax("There is an unterminated string literal", n, text)
                parts.append(text[i:end])
                if end + 1 < n and text[end + 1] == "'":
                    parts.append("'")
                    i = end + 2
                    continue
                i = end + 1
                break
            tokens.append(Token("literal", text[start:i], start, "".join(parts)))
            continue
        if ch in _PUNCT:
            depth += {"[": 1, "]": -1}.get(ch, 0)
            tokens.append(Token("punct", ch, i))
            i += 1
            continue
        if m := _GUID_RE.match(text, i):
            tokens.append(Token("literal", m.group(), i, uuid.UUID(m.group())))
            i = m.end()
            continue
        if m := _DATETIME_RE.match(text, i):
            try:
                value: Value = parse_datetime_text(m.group())
            except ValueError:
                raise _unrecognized("Edm.DateTimeOffset", m.group(), i, text) from None
            tokens.append(Token("literal", m.group(), i, value))
            i = m.end()
            continue
        if m := _DATE_RE.match(text, i):
            try:
                value = date.fromisoformat(m.group())
            except ValueError:
                raise _unrecognized("Edm.Date", m.group(), i, text) from None
            tokens.append(Token("literal", m.group(), i, value))
            i = m.end()
            continue
        if text.startswith("-INF", i) and not _IDENT_RE.match(text, i + 4):
            tokens.append(Token("literal", "-INF", i, float("-inf")))
            i += 4
            continue
        if m := _NUMBER_RE.match(text, i):
            tokens.append(Token("literal", m.group(), i, _number(m.group(), m["suffix"], i, text)))
            i = m.end()
            continue
        if ch.isdigit() or (ch == "-" and text[i + 1 : i + 2].isdigit()):
            # digits running into letters, e.g. ``12ab``
            m = re.compile(r"-?[0-9A-Za-z_.]+").match(text, i)
            assert m is not None
            raise _unrecognized("Edm.Decimal", m.group(), i, text)
        if m := _IDENT_RE.match(text, i):
            word = m.group()
            if word in _KEYWORDS:
                tokens.append(Token("literal", word, i, _KEYWORDS[word]))
            else:
                tokens.append(Token("ident", word, i))
            i = m.end()
            continue
        if m := _ALIAS_RE.match(text, i):
            tokens.append(Token("alias", m.group(), i))
            i = m.end()
            continue
        raise ODataError(
            f"Syntax error: character '{ch}' is not valid at position {i} in '{text}'.",
            position=i,
            text=text,
        )
    tokens.append(Token("end", "", n))
    return tokens


def _json_string_end(text: str, start: int) -> int:
    """The offset of the ``"`` closing the JSON string opened at ``start``."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    raise _syntax("There is an unterminated string literal", start, text)


def _number(raw: str, suffix: str | None, pos: int, text: str) -> Value:
    body = raw[:-1] if suffix else raw
    kind = (suffix or "").lower()
    try:
        if kind == "l":
            if "." in body or "e" in body.lower():
                raise ValueError(raw)
            return int(body)
        if kind in ("d", "f") or (not kind and "e" in body.lower()):
            return float(body)
        if kind == "m" or "." in body:
            return Decimal(body)
        return int(body)
    except (ValueError, InvalidOperation):
        raise _unrecognized("Edm.Decimal", raw, pos, text) from None


# --------------------------------------------------------------------------------------------
# Expression tree


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value


@dataclass(frozen=True, slots=True)
class Property:
    """A property path: ``("name",)``, ``("parentcustomerid_account", "name")``, or inside a
    lambda ``("o", "fullname")`` where ``o`` is the range variable."""

    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return "/".join(self.path)


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # one of COMPARISON_OPERATORS
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Logical:
    op: TypingLiteral["and", "or"]
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


@dataclass(frozen=True, slots=True)
class Call:
    """``contains(a,b)``, ``startswith(a,b)``, ``endswith(a,b)``."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class QueryFunction:
    """``Microsoft.Dynamics.CRM.<name>(P=v,...)``; ``name`` is without the namespace."""

    name: str
    params: tuple[tuple[str, Value], ...]

    def param(self, key: str) -> Value:
        return dict(self.params).get(key)

    @property
    def property_name(self) -> str | None:
        value = self.param("PropertyName")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Lambda:
    """``path/any(var:body)``, ``path/all(var:body)``, ``path/any()`` (``var``/``body`` None)."""

    path: tuple[str, ...]
    op: TypingLiteral["any", "all"]
    var: str | None
    body: Expr | None


Expr: TypeAlias = "Literal | Property | Compare | Logical | Not | Call | QueryFunction | Lambda"


# --------------------------------------------------------------------------------------------
# Parser


class Parser:
    """A recursive-descent parser over the tokens of ``text`` (filters, values, key and
    parameter lists, ``$select`` and ``$orderby``)."""

    def __init__(
        self, text: str, aliases: dict[str, str] | None, *, aliases_refused: str | None = None
    ) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.aliases = aliases or {}
        self.aliases_refused = aliases_refused
        """Where parameter aliases may not be used: the message of the error an alias gets."""
        self.scopes: list[str] = []

    # token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def is_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == ch

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text in words

    def error(self, template: str, pos: int | None = None) -> ODataError:
        return _syntax(template, self.tok.pos if pos is None else pos, self.text)

    def at_end(self) -> bool:
        return self.tok.kind == "end"

    def expect_end(self) -> None:
        if not self.at_end():
            raise self.error("')' or operator expected")

    def identifier(self) -> Token:
        """Consume and return the next token, which must be an identifier without dots."""
        tok = self.tok
        if tok.kind != "ident" or "." in tok.text:
            raise self.error("An identifier was expected")
        self.advance()
        return tok

    # grammar
    def parse_or(self) -> Expr:
        left = self.parse_and()
        while self.is_word("or"):
            self.advance()
            left = Logical("or", left, self.parse_and())
        return left

    def parse_and(self) -> Expr:
        left = self.parse_compare()
        while self.is_word("and"):
            self.advance()
            left = Logical("and", left, self.parse_compare())
        return left

    def parse_compare(self) -> Expr:
        left = self.parse_unary()
        while self.is_word(*COMPARISON_OPERATORS):
            op = self.advance().text
            left = Compare(op, left, self.parse_unary())
        return left

    def parse_unary(self) -> Expr:
        if self.is_word("not"):
            self.advance()
            return Not(self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "literal":
            self.refuse_double_quotes(tok)
            self.advance()
            return Literal(tok.value)
        if tok.kind == "alias":
            self.advance()
            return self.alias_expression(tok)
        if self.is_punct("("):
            self.advance()
            inner = self.parse_or()
            if not self.is_punct(")"):
                raise self.error("')' or operator expected")
            self.advance()
            return inner
        if tok.kind == "ident":
            if "." in tok.text:
                return self.parse_query_function()
            self.advance()
            if self.is_punct("("):
                return self.parse_call(tok)
            return self.parse_member(tok)
        raise self.error("Expression expected")

    def parse_call(self, name_tok: Token) -> Expr:
        if name_tok.text not in STRING_FUNCTIONS:
            raise ODataError(
                f"An unknown function with name '{name_tok.text}' was found.",
                position=name_tok.pos,
                text=self.text,
            )
        self.advance()  # (
        args: list[Expr] = [self.parse_or()]
        while self.is_punct(","):
            self.advance()
            args.append(self.parse_or())
        if not self.is_punct(")"):
            raise self.error("')' or ',' expected")
        self.advance()
        if len(args) != 2:
            raise ODataError(
                f"No function signature for the function with name '{name_tok.text}' matches "
                "the specified arguments. The function signatures considered are: "
                f"{name_tok.text}(Edm.String Nullable=true, Edm.String Nullable=true).",
                position=name_tok.pos,
                text=self.text,
            )
        return Call(name_tok.text, tuple(args))

    def parse_member(self, first: Token) -> Expr:
        path = [first.text]
        while self.is_punct("/"):
            self.advance()
            tok = self.identifier()
            if tok.text in ("any", "all") and self.is_punct("("):
                return self.parse_lambda(tuple(path), tok)
            path.append(tok.text)
        return Property(tuple(path))

    def parse_lambda(self, path: tuple[str, ...], op_tok: Token) -> Expr:
        op: TypingLiteral["any", "all"] = "any" if op_tok.text == "any" else "all"
        self.advance()  # (
        if self.is_punct(")"):
            if op == "all":
                raise self.error("Expression expected")
            self.advance()
            return Lambda(path, op, None, None)
        var_tok = self.identifier()
        if not self.is_punct(":"):
            raise self.error("':' expected")
        self.advance()
        self.scopes.append(var_tok.text)
        body = self.parse_or()
        self.scopes.pop()
        if not self.is_punct(")"):
            raise self.error("')' or operator expected")
        self.advance()
        return Lambda(path, op, var_tok.text, body)

    def parse_query_function(self) -> Expr:
        tok = self.advance()
        namespace, _, name = tok.text.rpartition(".")
        known = name in FUNCTIONS or name in NOT_IMPLEMENTED_FUNCTIONS
        if namespace != DATAVERSE_NAMESPACE or not self.is_punct("(") or not known:
            raise ODataError(
                f"An unknown function with name '{tok.text}' was found.",
                position=tok.pos,
                text=self.text,
            )
        params = self.parse_named_values(allow_empty=True)
        fn = QueryFunction(name, params)
        op = FUNCTIONS.get(name)
        if op is None:
            return fn  # documented, not implemented: refused when evaluated (501)
        accepted = function_parameters(op)
        for key, _ in params:
            if key not in accepted:
                raise ODataError(
                    f"The parameter '{key}' is not a parameter of the function '{tok.text}'; "
                    f"it takes {', '.join(accepted)}.",
                    position=tok.pos,
                    text=self.text,
                )
        names = {key for key, _ in params}
        for key in accepted:
            if key not in names:
                raise ODataError(
                    f"Service operation '{tok.text}' is missing the required parameter '{key}'.",
                    position=tok.pos,
                    text=self.text,
                )
        if not isinstance(fn.param("PropertyName"), str):
            raise ODataError(
                f"The parameter 'PropertyName' for '{tok.text}' must be a string literal.",
                position=tok.pos,
                text=self.text,
            )
        if "PropertyValues" in accepted and not isinstance(fn.param("PropertyValues"), tuple):
            raise ODataError(
                f"The parameter 'PropertyValues' for '{tok.text}' must be a collection "
                "such as ['a','b'].",
                position=tok.pos,
                text=self.text,
            )
        return fn

    def parse_named_values(self, *, allow_empty: bool) -> tuple[tuple[str, Value], ...]:
        """``(Name=value,...)`` starting at ``(``; duplicates are an error."""
        self.advance()  # (
        result: list[tuple[str, Value]] = []
        if self.is_punct(")") and allow_empty:
            self.advance()
            return ()
        while True:
            name = self.identifier()
            if not self.is_punct("="):
                raise self.error("'=' expected")
            self.advance()
            if any(key == name.text for key, _ in result):
                raise ODataError(
                    f"A key property '{name.text}' was found twice in a key lookup. Each key "
                    "property can be specified just once in a key lookup.",
                    position=name.pos,
                    text=self.text,
                )
            result.append((name.text, self.parse_value()))
            if self.is_punct(","):
                self.advance()
                continue
            if not self.is_punct(")"):
                raise self.error("')' or ',' expected")
            self.advance()
            return tuple(result)

    def refuse_double_quotes(self, tok: Token) -> None:
        """A ``"string"`` is only a value inside a collection ``[...]``."""
        if tok.text.startswith('"'):
            raise ODataError(
                f"Syntax error: character '\"' is not valid at position {tok.pos} in "
                f"'{self.text}'.",
                position=tok.pos,
                text=self.text,
            )

    def parse_value(self, *, in_collection: bool = False) -> Value:
        """A literal, an alias, or a collection ``[literal,...]`` (whose items may also be
        ``"double-quoted"``)."""
        tok = self.tok
        if tok.kind == "literal":
            if not in_collection:
                self.refuse_double_quotes(tok)
            self.advance()
            return tok.value
        if tok.kind == "alias":
            self.advance()
            return self.alias_value(tok)
        if self.is_punct("["):
            self.advance()
            items: list[Value] = []
            if self.is_punct("]"):
                self.advance()
                return ()
            while True:
                items.append(self.parse_value(in_collection=True))
                if self.is_punct(","):
                    self.advance()
                    continue
                if not self.is_punct("]"):
                    raise self.error("']' or ',' expected")
                self.advance()
                return tuple(items)
        raise self.error("Expression expected")

    def alias_value(self, tok: Token) -> Value:
        """An alias's value (a function parameter) is parsed as a value; an alias given no
        value is null (OData URL conventions, "Parameter Aliases")."""
        self.check_alias_allowed(tok)
        if tok.text not in self.aliases:
            return None
        return parse_value_text(self.aliases[tok.text])

    def alias_expression(self, tok: Token) -> Expr:
        """An alias in an expression stands for its value's text, which may be a literal or a
        property path: ``$filter=@p1 ne @p3&@p1=revenue`` is ``revenue ne null`` (an alias
        given no value is null; Query data, "Use parameter aliases with query options",
        https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/overview).
        """
        self.check_alias_allowed(tok)
        text = self.aliases.get(tok.text)
        if text is None:
            return Literal(None)
        if text.lstrip().startswith("["):
            return Literal(parse_value_text(text))
        sub = Parser(text, None, aliases_refused=ALIAS_IN_ALIAS)
        sub.scopes = list(self.scopes)
        if sub.at_end():
            raise sub.error("Expression expected")
        expr = sub.parse_or()
        sub.expect_end()
        return expr

    def check_alias_allowed(self, tok: Token) -> None:
        if self.aliases_refused is not None:
            raise ODataError(
                f"{self.aliases_refused} ('{tok.text}' at position {tok.pos} in '{self.text}').",
                position=tok.pos,
                text=self.text,
            )


ALIAS_IN_ALIAS = "The value of a parameter alias can't use another parameter alias"
ALIAS_IN_EXPAND = (
    "Parameter aliases can be used in $filter and $orderby, but not inside the $expand option"
)


def parse_value_text(text: str) -> Value:
    """Parse one literal or collection (``'a'``, ``5``, ``['a','b']``, a GUID, ...)."""
    parser = Parser(text, None)
    value = parser.parse_value()
    parser.expect_end()
    return value


def parse_filter(
    text: str, aliases: dict[str, str] | None = None, *, aliases_refused: str | None = None
) -> Expr:
    """Parse a ``$filter`` expression (already percent-decoded).

    ``aliases`` maps ``@name`` to its text, e.g. ``{"@p1": "'Contoso'"}`` or
    ``{"@p1": "revenue"}``; ``aliases_refused`` is the error an alias gets where none may be
    used (inside ``$expand``).

    >>> parse_filter("name eq 'x'")
    Compare(op='eq', left=Property(path=('name',)), right=Literal(value='x'))
    """
    parser = Parser(text, aliases, aliases_refused=aliases_refused)
    if parser.tok.kind == "end":
        raise parser.error("Expression expected")
    expr = parser.parse_or()
    parser.expect_end()
    return expr


def negated_query_function(expr: Expr, negated: bool = False) -> QueryFunction | None:
    """The first Dataverse query function ``not`` applies to, else None: Dataverse refuses
    those ("you cannot use the not operator to negate query functions", Use Web API
    functions,
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-functions)."""
    match expr:
        case QueryFunction() if negated:
            return expr
        case Not(operand):
            return negated_query_function(operand, True)
        case Logical(_, left, right) | Compare(_, left, right):
            return negated_query_function(left, negated) or negated_query_function(right, negated)
        case Lambda(_, _, _, body) if body is not None:
            return negated_query_function(body, negated)
        case _:
            return None


# --------------------------------------------------------------------------------------------
# Splitting at top level


class Unbalanced(Exception):
    """What :func:`split_top_level` found wrong: ``kind`` is ``")"`` (a ``)`` without its
    ``(`` at ``position``), ``"'"`` (a string literal left open; ``position`` is the last
    quote) or ``"("`` (a ``(`` never closed; ``position`` is the end of the text)."""

    def __init__(self, kind: TypingLiteral[")", "'", "("], position: int) -> None:
        super().__init__(kind, position)
        self.kind = kind
        self.position = position


def split_top_level(text: str, sep: str) -> list[tuple[int, str]]:
    """Split on ``sep`` outside quotes and parentheses; each part with its start offset
    (``''`` inside a literal toggles twice, so it stays quoted). Raises :class:`Unbalanced`."""
    parts: list[tuple[int, str]] = []
    depth, quoted, start = 0, False, 0
    brackets, json_quoted, escaped = 0, False, False
    for i, ch in enumerate(text):
        if json_quoted:  # a JSON string in a collection: "..." with backslash escapes
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                json_quoted = False
            continue
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == '"' and brackets > 0:
            json_quoted = True
        elif ch in "[]":
            brackets += 1 if ch == "[" else -1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise Unbalanced(")", i)
        elif ch == sep and depth == 0:
            parts.append((start, text[start:i]))
            start = i + 1
    if quoted:
        raise Unbalanced("'", text.rfind("'"))
    if depth:
        raise Unbalanced("(", len(text))
    parts.append((start, text[start:]))
    return parts


# --------------------------------------------------------------------------------------------
# Formatter


def format_value(value: Value) -> str:
    """Render a literal so that :func:`tokenize` reads back an equal value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text if "." in text else text + ".0"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "INF" if value > 0 else "-INF"
        text = repr(value)
        return text if "e" in text else text + "e0"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date):
        return value.isoformat()
    return "[" + ",".join(format_value(item) for item in value) + "]"


_PREC_OR, _PREC_AND, _PREC_CMP, _PREC_UNARY = 1, 2, 3, 4


def format_filter(expr: Expr) -> str:
    """Render an expression tree as ``$filter`` text, with only the parentheses it needs.

    ``parse_filter(format_filter(e)) == e`` for every tree :func:`parse_filter` produces.
    """
    return _fmt(expr, 0)


def _fmt(expr: Expr, min_prec: int) -> str:
    match expr:
        case Literal(value):
            return format_value(value)
        case Property(path):
            return "/".join(path)
        case Compare(op, left, right):
            text, prec = f"{_fmt(left, _PREC_CMP)} {op} {_fmt(right, _PREC_UNARY)}", _PREC_CMP
        case Logical(op, left, right):
            prec = _PREC_OR if op == "or" else _PREC_AND
            text = f"{_fmt(left, prec)} {op} {_fmt(right, prec + 1)}"
        case Not(operand):
            text, prec = f"not {_fmt(operand, _PREC_UNARY)}", _PREC_UNARY
        case Call(name, args):
            return f"{name}({','.join(_fmt(arg, 0) for arg in args)})"
        case QueryFunction(name, params):
            inner = ",".join(f"{key}={format_value(value)}" for key, value in params)
            return f"{DATAVERSE_NAMESPACE}.{name}({inner})"
        case Lambda(path, op, var, body):
            inner = "" if var is None or body is None else f"{var}:{_fmt(body, 0)}"
            return f"{'/'.join(path)}/{op}({inner})"
    return text if prec >= min_prec else f"({text})"
