"""Fingerprints: what the map was proposed against, so a changed source or tenant is noticed.

* The **source** fingerprint is the digest of the profile's schema signature (objects,
  fields, inferred types, ... — whatever :meth:`SourceProfile.schema_signature` holds).
* The **target** fingerprint is the digest of the tenant metadata the map depends on: for
  every table of the map whether it exists, and for every mapped column its type, maximum
  length and option values. Tables the map itself creates (``create:``), all their columns,
  and columns with a ``create:`` spec are recorded as *managed* whatever their state, so
  provisioning them does not make the map stale; ``map check`` compares them with their
  ``create:`` spec instead.

A map whose fingerprints differ from the current ones is stale: it was confirmed against
something else, so nothing loads from it until it is proposed and confirmed again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.mapping.spec import MappingSpec, digest


class HasSchemaSignature(Protocol):
    def schema_signature(self) -> Any: ...


class MetadataReader(Protocol):
    """What the map reads from the tenant: ``client.metadata`` fits."""

    def has_table(self, logical_name: str) -> bool: ...

    def columns(self, table: str) -> Mapping[str, ColumnInfo]: ...


def source_fingerprint(profile: HasSchemaSignature) -> str:
    return digest(profile.schema_signature())


def _plain_targets(document: Mapping[str, Any]) -> dict[str, tuple[bool, dict[str, bool]]]:
    out: dict[str, tuple[bool, dict[str, bool]]] = {}
    targets = document.get("targets") or {}
    if not isinstance(targets, Mapping):
        return out
    for tnode in targets.values():
        if not isinstance(tnode, Mapping) or not tnode.get("table"):
            continue
        if tnode.get("enabled", True) is False:
            continue
        table = str(tnode["table"])
        managed, columns = out.get(table, (False, {}))
        managed = managed or bool(tnode.get("create"))
        fields = tnode.get("fields") or {}
        if isinstance(fields, Mapping):
            for fnode in fields.values():
                column: Any = fnode
                created = False
                if isinstance(fnode, Mapping):
                    column = fnode.get("column")
                    created = bool(fnode.get("create"))
                if isinstance(column, str) and column:
                    columns[column] = columns.get(column, False) or created
        out[table] = (managed, columns)
    return out


def _spec_targets(spec: MappingSpec) -> dict[str, tuple[bool, dict[str, bool]]]:
    out: dict[str, tuple[bool, dict[str, bool]]] = {}
    for t in spec.targets.values():
        if not t.enabled:
            continue
        managed, columns = out.get(t.table, (False, {}))
        managed = managed or t.create is not None
        for fm in t.mapped():
            assert fm.column is not None
            columns[fm.column] = columns.get(fm.column, False) or fm.create is not None
        out[t.table] = (managed, columns)
    return out


def target_signature(
    mapping: MappingSpec | Mapping[str, Any], metadata: MetadataReader
) -> dict[str, Any]:
    """The metadata ``mapping`` depends on (a parsed map or a plain map document)."""
    tables = _spec_targets(mapping) if isinstance(mapping, MappingSpec) else _plain_targets(mapping)
    out: dict[str, Any] = {}
    for table in sorted(tables):
        managed, columns = tables[table]
        exists = metadata.has_table(table)
        present = dict(metadata.columns(table)) if exists else {}
        cols: dict[str, Any] = {}
        for column in sorted(columns):
            if columns[column] or managed:
                cols[column] = "managed"
                continue
            info = present.get(column)
            cols[column] = None if info is None else column_signature(info)
        out[table] = {"exists": "managed" if managed else exists, "columns": cols}
    return out


def column_signature(info: ColumnInfo) -> dict[str, Any]:
    return {
        "type": info.type,
        "max_length": info.max_length,
        "options": sorted([value, label] for value, label in info.options.items()),
    }


def target_fingerprint(mapping: MappingSpec | Mapping[str, Any], metadata: MetadataReader) -> str:
    return digest(target_signature(mapping, metadata))


def map_digest(spec: MappingSpec) -> str:
    """What a sample is accepted for: every decision of the map, not its status lines."""
    data = dataclasses.asdict(spec)
    for key in ("status", "confirmed_by", "confirmed_at"):
        data.pop(key, None)
    return digest(data)
