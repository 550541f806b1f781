"""The ``owners:`` section of a map document: written from a resolution, changing only what
differs (comments and positions stay), re-resolved against the tenant's users, and its
problems placed at their lines in ``mapping.yaml``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from crm_ferry.mapping.merge import plain_value
from crm_ferry.mapping.owners import (
    OwnerResolution,
    SystemUser,
    coaches_from_section,
    resolve_owners,
)
from crm_ferry.mapping.spec import MapDocument, Problem, locate

__all__ = ["apply_owners", "dedupe", "owner_problems", "refresh_owners"]


def owner_problems(doc: MapDocument, resolution: OwnerResolution) -> list[Problem]:
    """The resolution's issues as problems at their place in ``doc``."""
    out: list[Problem] = []
    for issue in resolution.issues:
        line, col = locate(doc.data, list(issue.path))
        out.append(Problem(".".join(issue.path), issue.message, line, col))
    return out


def apply_owners(doc: MapDocument, section: Mapping[str, Any]) -> bool:
    """Write a resolved ``owners:`` section into ``doc``, changing only what differs.

    True when anything changed."""
    data = doc.data
    node = data.get("owners")
    if not isinstance(node, CommentedMap):
        styled = MapDocument.from_plain({"owners": dict(section)}).data["owners"]
        if "owners" in data:
            data["owners"] = styled
        else:
            keys = list(data)
            pos = keys.index("value_maps") if "value_maps" in keys else len(keys)
            data.insert(pos, "owners", styled)
        return True
    changed = False
    for pos, key in enumerate(("fallback", "fallback_id")):
        if key not in node:
            node.insert(pos, key, section.get(key))
            changed = True
        elif plain_value(node[key]) != section.get(key):
            node[key] = section.get(key)
            changed = True
    coaches = node.get("coaches")
    if not isinstance(coaches, CommentedMap):
        node["coaches"] = MapDocument.from_plain({"c": dict(section["coaches"])}).data["c"]
        return True
    for cid, entry in section["coaches"].items():
        current = coaches.get(cid)
        if not isinstance(current, CommentedMap):
            coaches[cid] = MapDocument.from_plain({"c": dict(entry)}).data["c"]
            changed = True
            continue
        for key, value in entry.items():
            if key not in current or plain_value(current[key]) != value:
                current[key] = value
                changed = True
    return changed


def refresh_owners(
    doc: MapDocument, users: list[SystemUser]
) -> tuple[MapDocument, OwnerResolution, list[Problem]]:
    """Re-resolve the owners listed in ``doc`` against the tenant's users (the person may
    have named users by hand since the last proposal)."""
    current = plain_value(doc.data.get("owners")) or {}
    resolution = resolve_owners(coaches_from_section(current), users, current=current)
    apply_owners(doc, resolution.section)  # values change in place: positions stay right
    return doc, resolution, owner_problems(doc, resolution)


def dedupe(problems: Iterable[Problem]) -> list[Problem]:
    """Each (place, message) once, in the order first found."""
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out
