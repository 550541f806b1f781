"""The snapshot file: its versioned format, its deterministic text, and what it counts.

A snapshot is one JSON document::

    {"format": "crm-ferry/tenant-snapshot", "version": 1,
     "environment_url": …, "taken_at": …, "crm_ferry_version": …,
     "map_tables": [...], "tables": {logical name: definition}, "global_option_sets": {...},
     "users": [...], "teams": [...], "business_units": [...], "currencies": [...],
     "price_lists": [...], "products": [...], "units": [...], "organization": {...},
     "publishers": [...], "solutions": [...], "absent": [...]}

Keys are sorted and every list is in a fixed order (by logical name, schema name, id or
value), so two snapshots of one tenant are the same bytes apart from ``taken_at``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

__all__ = [
    "FORMAT",
    "SNAPSHOT_FILE",
    "VERSION",
    "counts",
    "dumps",
    "snapshot_document",
    "write_snapshot",
]

FORMAT: Final = "crm-ferry/tenant-snapshot"
VERSION: Final = 1
SNAPSHOT_FILE: Final = "tenant-snapshot.json"


def snapshot_document(
    *,
    environment_url: str,
    taken_at: str,
    crm_ferry_version: str,
    map_tables: Sequence[str],
    tables: Mapping[str, Any],
    global_option_sets: Mapping[str, Any],
    directory: Mapping[str, Any],
) -> dict[str, Any]:
    """The whole document, from what was read."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "environment_url": environment_url.rstrip("/"),
        "taken_at": taken_at,
        "crm_ferry_version": crm_ferry_version,
        "map_tables": sorted(set(map_tables)),
        "tables": dict(tables),
        "global_option_sets": dict(global_option_sets),
        **directory,
    }


def dumps(document: Mapping[str, Any]) -> str:
    """The document's text: sorted keys, two-space indent, UTF-8 kept, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_snapshot(document: Mapping[str, Any], path: Path) -> Path:
    """Write the document to ``path`` (through a temporary file beside it: a reader never
    sees half a snapshot)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(dumps(document), encoding="utf-8")
    partial.replace(path)
    return path


def counts(document: Mapping[str, Any]) -> dict[str, int]:
    """What the snapshot holds, counted: the rows of its summary."""
    tables = list(document["tables"].values())
    columns = [c for t in tables for c in t["Attributes"]]
    one_to_many = {r["SchemaName"] for t in tables for r in t["OneToManyRelationships"]}
    many_to_one = {r["SchemaName"] for t in tables for r in t["ManyToOneRelationships"]}
    return {
        "map tables": len(document["map_tables"]),
        "tables": len(tables),
        "custom tables": sum(1 for t in tables if t.get("IsCustomEntity")),
        "columns": len(columns),
        "custom columns": sum(1 for c in columns if c.get("IsCustomAttribute")),
        "choice columns": sum(1 for c in columns if "OptionSet" in c),
        "global option sets": len(document["global_option_sets"]),
        "relationships (1:N, N:1)": len(one_to_many | many_to_one),
        "relationships (N:N)": len(
            {r["SchemaName"] for t in tables for r in t["ManyToManyRelationships"]}
        ),
        "alternate keys": sum(len(t["Keys"]) for t in tables),
        "users": len(document["users"]),
        "teams": len(document["teams"]),
        "business units": len(document["business_units"]),
        "currencies": len(document["currencies"]),
        "price lists": len(document["price_lists"]),
        "products": len(document["products"]),
        "units": len(document["units"]),
        "publishers": len(document["publishers"]),
        "solutions": len(document["solutions"]),
    }
