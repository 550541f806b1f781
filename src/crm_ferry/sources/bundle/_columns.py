"""Header resolution: which field, custom property or extra each column of a file feeds.

For each column of a file (first match wins):

1. the file's column map from ``ferry.toml`` (header as written -> canonical field);
2. a canonical field name of the object (case, spaces, ``_`` and ``-`` ignored);
3. an alias from the contract (``Email Address``, ``DOB``, ``Zip``...);
4. ``custom:<key>`` -> :attr:`Client.custom` (clients only);
5. anything else, and a second column resolving to a field already taken, goes to
   :attr:`Record.extra` under its header as written. A header written twice keeps both
   columns: the second becomes ``<header>_2`` (and so on), never overwriting the first.

A :class:`Plan` is the result for one CSV header line or one set of JSON keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from crm_ferry.errors import ConfigError
from crm_ferry.sources import schema
from crm_ferry.sources.values import Converter

Target = tuple[Literal["field", "custom", "extra"], str]
"""("field", name) | ("custom", key) | ("extra", header)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Where the cells of one file's rows go, by cell index."""

    fields: list[tuple[int, str, Converter, str]]
    """(cell index, canonical field, converter, header as written)."""
    custom: list[tuple[int, str]]
    """(cell index, custom property key); key ``""`` is a nested JSON ``custom`` object."""
    extra: list[tuple[int, str]]
    """(cell index, header as written)."""


def resolve_header(obj: str, header: str, cmap: Mapping[str, str]) -> Target:
    """Where the column ``header`` of an ``obj`` file goes, ``cmap`` being its column map."""
    target = cmap.get(header)
    if target is None:
        norm = schema.normalise_header(header)
        for written, field_name in cmap.items():
            if schema.normalise_header(written) == norm:
                target = field_name
                break
    if target is not None:
        if target.startswith(schema.CUSTOM_PREFIX):
            return "custom", target[len(schema.CUSTOM_PREFIX) :].strip()
        return "field", target
    norm = schema.normalise_header(header)
    name = schema.CANONICAL[obj].get(norm) or schema.ALIASES[obj].get(norm)
    if name is not None:
        return "field", name
    if obj == "clients" and header.lower().startswith(schema.CUSTOM_PREFIX):
        key = header[len(schema.CUSTOM_PREFIX) :].strip()
        if key:
            return "custom", key
    return "extra", header


def plan_for_headers(
    obj: str, headers: list[str], cmap: Mapping[str, str], converters: Mapping[str, Converter]
) -> Plan:
    """The plan of a CSV file with these headers (a header written twice: see above)."""
    fields: list[tuple[int, str, Converter, str]] = []
    custom: list[tuple[int, str]] = []
    extra: list[tuple[int, str]] = []
    taken: set[str] = set()
    seen: dict[str, int] = {}
    for idx, written in enumerate(headers):
        norm = schema.normalise_header(written)
        seen[norm] = seen.get(norm, 0) + 1
        header = written if seen[norm] == 1 else f"{written}_{seen[norm]}"
        kind, name = resolve_header(obj, written, cmap) if seen[norm] == 1 else ("extra", header)
        if kind == "field" and name not in taken:
            taken.add(name)
            fields.append((idx, name, converters[name], header))
        elif kind == "custom":
            custom.append((idx, name))
        else:
            extra.append((idx, header))
    return Plan(fields, custom, extra)


def plan_for_keys(
    obj: str, keys: tuple[str, ...], cmap: Mapping[str, str], converters: Mapping[str, Converter]
) -> Plan:
    """The plan of JSON objects with these keys, in this order (a client's ``custom``
    object holds its custom properties)."""
    fields: list[tuple[int, str, Converter, str]] = []
    custom: list[tuple[int, str]] = []
    extra: list[tuple[int, str]] = []
    taken: set[str] = set()
    for idx, key in enumerate(keys):
        kind, name = resolve_header(obj, key, cmap)
        if kind == "field" and name not in taken:
            taken.add(name)
            fields.append((idx, name, converters[name], key))
        elif kind == "custom":
            custom.append((idx, name))
        elif key == "custom" and obj == "clients":
            custom.append((idx, ""))
        else:
            extra.append((idx, key))
    return Plan(fields, custom, extra)


def check_column_map(cmap: Mapping[str, Mapping[str, str]]) -> None:
    """Raise :class:`ConfigError` unless every object and target field of ``cmap`` exists."""
    for obj, columns in cmap.items():
        if obj not in schema.FIELDS:
            raise ConfigError(
                f"ferry.toml [source.columns.{obj}]: {obj!r} is not an object of the bundle",
                hint="objects: " + ", ".join(schema.READ_ORDER),
            )
        for header, target in columns.items():
            if target.startswith(schema.CUSTOM_PREFIX) and obj == "clients":
                continue
            if target not in schema.FIELDS[obj]:
                raise ConfigError(
                    f"ferry.toml [source.columns.{obj}] {header!r} = {target!r}: "
                    f"{obj} has no field {target!r}",
                    hint="fields: " + ", ".join(schema.FIELDS[obj]),
                )
