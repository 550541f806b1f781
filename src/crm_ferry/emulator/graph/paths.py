"""Graph's URL syntax as the emulator reads it: path segments, path-based addressing
(``root:/Folder/File.pdf:``), and the query options each request honours.

"The ``: :`` around ``/Documents/MyFile.xlsx`` represents a switch to the path-based
addressing syntax. Everything between the two colons is treated as a path relative to the
item before the path" (https://learn.microsoft.com/onedrive/developer/rest-api/concepts/addressing-driveitems,
OneDrive/onedrive-api-docs commit 10601d4dda9443a5287c43b8dcefc6b11faec1a6). Segments are
percent-decoded one by one (an encoded ``/`` or ``:`` stays in the name, where the name
rules refuse it). The closing colon may be left out when nothing follows the path.

Query options: Graph v1.0 takes them with or without the ``$``; the emulator honours
``$select``, ``$top`` and ``$skipToken`` where the article says the request supports them,
refuses the other OData options it knows with 501, and refuses any other parameter too
(it never ignores one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

import httpx

from crm_ferry.emulator.graph.errors import GraphProblem, invalid, not_implemented

ODATA_OPTIONS = frozenset(
    {
        "select",
        "expand",
        "filter",
        "orderby",
        "top",
        "skip",
        "skiptoken",
        "search",
        "count",
        "format",
        "apply",
        "compute",
        "levels",
    }
)
CONFLICT = "@microsoft.graph.conflictBehavior"
CONFLICT_BEHAVIOURS = ("fail", "replace", "rename")


def segments(raw_path: str, prefix: str) -> list[str]:
    """The raw (still encoded) segments of ``raw_path`` after ``prefix``."""
    rest = raw_path[len(prefix) :].split("?", 1)[0]
    parts = rest.split("/")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def decode(segment: str) -> str:
    return unquote(segment, encoding="utf-8", errors="strict")


@dataclass(frozen=True, slots=True)
class PathAddress:
    """``names`` (decoded) relative to an item, then the ``rest`` of the URL after the path."""

    names: tuple[str, ...]
    rest: tuple[str, ...]


def path_address(after_marker: list[str]) -> PathAddress:
    """The segments that follow ``root:`` (or ``{item-id}:``): names until one ends with
    ``:`` (the closing colon), then the rest."""
    names: list[str] = []
    for index, raw in enumerate(after_marker):
        closing = raw.endswith(":")
        name = raw[:-1] if closing else raw
        if name:
            names.append(decode(name))
        elif not closing:
            raise invalid("The path has an empty segment", detail="invalidPath")
        if closing:
            return PathAddress(tuple(names), tuple(after_marker[index + 1 :]))
    return PathAddress(tuple(names), ())


@dataclass(frozen=True, slots=True)
class Query:
    """The query options of a request, with the ``$`` put back where it was left out."""

    options: dict[str, str]
    others: dict[str, str]

    @classmethod
    def of(cls, request: httpx.Request) -> Query:
        options: dict[str, str] = {}
        others: dict[str, str] = {}
        for key, value in request.url.params.multi_items():
            bare = key[1:] if key.startswith("$") else key
            if bare.lower() in ODATA_OPTIONS:
                name = bare.lower()
                if name in options:
                    raise invalid(f"The query option ${name} is given twice")
                options[name] = value
            elif key.startswith("$"):
                raise invalid(
                    f"Query option '{key}' is not a known query option", detail="invalidQueryOption"
                )
            else:
                others[key] = value
        return cls(options, others)

    def allow(self, options: Iterable[str] = (), parameters: Iterable[str] = ()) -> None:
        """Refuse every option or parameter not in those the request honours."""
        honoured = set(options)
        for name in self.options:
            if name not in honoured:
                raise not_implemented(f"The query option ${name} on this request")
        allowed = set(parameters)
        for name in self.others:
            if name not in allowed:
                raise not_implemented(f"The query parameter '{name}' on this request")

    def selected(self) -> list[str] | None:
        text = self.options.get("select")
        if text is None:
            return None
        names = [n.strip() for n in text.split(",") if n.strip()]
        if not names:
            raise invalid("$select names no property", detail="invalidQueryOption")
        return names

    def top(self) -> int | None:
        text = self.options.get("top")
        if text is None:
            return None
        if not text.isdigit() or int(text) < 1:
            raise invalid(
                f"$top must be a positive whole number, not {text!r}", detail="invalidQueryOption"
            )
        return int(text)


def conflict_behaviour(value: object, default: str) -> str:
    """``@microsoft.graph.conflictBehavior``: fail, replace or rename."""
    if value is None:
        return default
    if not isinstance(value, str) or value not in CONFLICT_BEHAVIOURS:
        raise GraphProblem(
            400,
            "invalidRequest",
            f"{CONFLICT} must be one of {', '.join(CONFLICT_BEHAVIOURS)}, not {value!r}",
        )
    return value
