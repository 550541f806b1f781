"""Resource paths of the Dataverse Web API: the part of a URL after ``/api/data/v9.2/``.

:func:`parse_resource_path` turns ``contacts(firstname='Joe',emailaddress1='a@b.c')/fullname``
into segments (:class:`EntitySetSegment` with its :class:`Key`, :class:`PropertySegment`,
:class:`OperationSegment`, :class:`CastSegment`, :class:`SystemSegment`). Alternate keys in
URLs: https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity.
A pure module: no I/O and no knowledge of tables; the caller checks names against its schema.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal as TypingLiteral
from typing import TypeAlias
from urllib.parse import unquote

from crm_ferry.emulator.odata.syntax import (
    ODataError,
    Parser,
    Unbalanced,
    Value,
    parse_value_text,
    split_top_level,
)

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
        "BulkDelete",
        "RetrieveMetadataChanges",
        "InitializeFileBlocksUpload",
        "UploadBlock",
        "CommitFileBlocksUpload",
        "InitializeFileBlocksDownload",
        "DownloadBlock",
        "DeleteFile",
        "InitializeAnnotationBlocksUpload",
        "CommitAnnotationBlocksUpload",
        "InitializeAnnotationBlocksDownload",
        "InitializeAttachmentBlocksUpload",
        "CommitAttachmentBlocksUpload",
        "InitializeAttachmentBlocksDownload",
    }
)
"""First-segment names read as unbound functions/actions rather than entity sets.

A bare ``name`` or ``name(A=1)`` is syntactically both an entity set (with an alternate key)
and an unbound operation; only the service's metadata can tell. Pass your own set to
:func:`parse_resource_path` to change the choice. ``name()`` is always an operation."""


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
    try:
        return [part for _, part in split_top_level(path, "/")]
    except Unbalanced as exc:
        if exc.kind == ")":
            raise _path_error(f"unbalanced ')' at position {exc.position}", path) from None
        if exc.kind == "'":
            raise _path_error("unterminated string literal", path) from None
        raise _path_error("missing ')'", path) from None


def _path_value(parser: Parser, aliases: Mapping[str, str] | None) -> ParamValue:
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
    parser = Parser(args, None)
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
