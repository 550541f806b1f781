"""How a metadata URL addresses definitions: its segments and their keys.

``EntityDefinitions(LogicalName='x')`` or ``EntityDefinitions(<MetadataId>)``,
``Attributes(LogicalName='x')``, ``RelationshipDefinitions(SchemaName='x')``,
``GlobalOptionSetDefinitions(Name='x')``
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import httpx

from crm_ferry.emulator.metadata.errors import NOT_FOUND, ODATA_ERROR, bad
from crm_ferry.emulator.schema import EntityDef, Schema

NOT_EMULATED_SETS = ("ManagedPropertyDefinitions",)
"""Metadata sets the Web API has ("For internal use only",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-metadata) and
the emulator answers with 501."""
METADATA_SETS = (
    "EntityDefinitions",
    "RelationshipDefinitions",
    "GlobalOptionSetDefinitions",
    *NOT_EMULATED_SETS,
)
"""The paths the metadata API answers (the rest of ``/api/data/<version>/`` is records)."""

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z][\w.]*)(?:\((?P<key>.*)\))?$")
_GUID = re.compile(
    r"^'?(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})'?$"
)
_ALT = re.compile(r"^(?P<prop>\w+)\s*=\s*'(?P<value>(?:[^']|'')*)'$")


class Segment:
    """One path segment: ``name`` and the raw text of its ``(key)``, if any."""

    __slots__ = ("key", "name")

    def __init__(self, name: str, key: str | None) -> None:
        self.name = name
        self.key = key


def segments(path: str) -> list[Segment]:
    """The segments of ``path`` (the part after ``/api/data/v9.2/``, percent-decoded here)."""
    out: list[Segment] = []
    for raw in unquote(path.split("?", 1)[0]).strip("/").split("/"):
        m = _SEGMENT.match(raw)
        if m is None:
            raise bad(f"Resource not found for the segment '{raw}'.", code=ODATA_ERROR, status=404)
        out.append(Segment(m.group("name"), m.group("key")))
    return out


def _key_lookup(key: str, alt_property: str) -> tuple[str | None, str | None]:
    """``(metadata_id, alternate key value)`` of a key segment."""
    g = _GUID.match(key.strip())
    if g:
        return g.group("id").lower(), None
    a = _ALT.match(key.strip())
    if a and a.group("prop") == alt_property:
        return None, a.group("value").replace("''", "'")
    raise bad(
        f"The key '{key}' is not valid: use ({alt_property}='...') or (<MetadataId>).",
        code=ODATA_ERROR,
    )


ALWAYS_TOUCHED = ("annotation", "fileattachment")
"""Tables a metadata change may alter without naming them: a table with notes becomes a
target of ``annotation.objectid``, a file column's table one of ``fileattachment.objectid``."""
_WORD = re.compile(r"[0-9A-Za-z_]+(?:-[0-9A-Fa-f]+){4}|[A-Za-z_][0-9A-Za-z_]*")


def tables_named(schema: Schema, request: httpx.Request) -> set[str]:
    """The tables a metadata request names, in its path or anywhere in its body (by logical
    name or MetadataId, in any case), and :data:`ALWAYS_TOUCHED`: what a change made by the
    request can alter."""
    words = {w.lower() for w in _WORD.findall(request.url.path)}
    words.update(w.lower() for w in _WORD.findall(request.content.decode("utf-8", "replace")))
    by_id = {e.metadata_id.lower(): name for name, e in schema.entities.items()}
    named = {by_id.get(w, w) for w in words}
    return {n for n in named if n in schema.entities} | set(ALWAYS_TOUCHED)


def find_entity(schema: Schema, key: str) -> EntityDef:
    mid, name = _key_lookup(key, "LogicalName")
    for entity in schema.entities.values():
        if entity.logical_name == name or entity.metadata_id.lower() == mid:
            return entity
    shown = name if name is not None else mid
    raise bad(
        f"Could not find an entity with the key '{shown}'.",
        code=NOT_FOUND,
        status=404,
    )


def find(items: Iterable[Any], key: str, alt: str, attr: str, kind: str) -> Any:
    mid, name = _key_lookup(key, alt)
    for item in items:
        if getattr(item, attr) == name or str(item.metadata_id).lower() == mid:
            return item
    raise bad(
        f"Could not find the {kind} '{name if name is not None else mid}'.",
        code=NOT_FOUND,
        status=404,
    )


__all__ = [
    "ALWAYS_TOUCHED",
    "METADATA_SETS",
    "NOT_EMULATED_SETS",
    "Segment",
    "find",
    "find_entity",
    "segments",
    "tables_named",
]
