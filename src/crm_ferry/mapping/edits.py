"""The edits a person makes to ``mapping.yaml`` from a user interface (the review page; the
CLI could offer the same), each a pure function on a round-trip :class:`MapDocument`.

Every edit changes only the keys it is about, in place, so comments, key order and the
one-line (flow) style of a field entry stay as they were; it answers an :class:`Edit`
saying what changed. An edit of a confirmed map sets it back to ``proposed`` (the
confirmation was of the map before the edit). What the edit does not know (whether a
column or an option fits) is left to :func:`~crm_ferry.mapping.check.check_map`, run after
it: an edit never refuses what the check would report at its line.

* :func:`set_column` — a field's target column, or none (not migrated);
* :func:`set_value` — a value map's entry: a source value → an option (or none yet);
* :func:`set_policy` — a value map's unknown-value policy, with its default option or
  text column;
* :func:`set_coach_user` and :func:`set_fallback` — who owns the records of a coach, and
  of coaches without a usable user; the ``owners:`` section is re-resolved against the
  tenant's users at once, so the file says which system user that is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.errors import MapError
from crm_ferry.mapping.merge import plain_value
from crm_ferry.mapping.owners import SystemUser
from crm_ferry.mapping.owners_section import refresh_owners
from crm_ferry.mapping.spec import COLUMN_KINDS, POLICIES, MapDocument

__all__ = [
    "CHOSEN",
    "Edit",
    "set_coach_user",
    "set_column",
    "set_fallback",
    "set_policy",
    "set_value",
]

CHOSEN = "chosen by a person in the review"
"""The reason of a field line a person set (its confidence becomes 1)."""
_CHOICE_TYPES = frozenset({"Picklist", "MultiSelectPicklist", "Virtual", "Status", "State"})
_HINT = "reload the map page (mapping.yaml may have changed since), or run `crm-ferry map show`"

Option = int | Sequence[int] | None
"""An option value, a ``[state, status]`` pair, or None (no option yet)."""


@dataclass(frozen=True, slots=True)
class Edit:
    """What an edit changed: the place, the value before and after."""

    path: str
    before: Any
    after: Any
    reopened: bool = False
    """The map was confirmed and is ``proposed`` again."""

    def __str__(self) -> str:
        return f"{self.path}: {_shown(self.before)} → {_shown(self.after)}"


def _shown(value: Any) -> str:
    return "(none)" if value is None or value == "" else str(value)


def _reopen(doc: MapDocument) -> bool:
    if doc.data.get("status") != "confirmed":
        return False
    doc.set_status("proposed")
    return True


def _node(parent: Any, key: str, what: str) -> CommentedMap:
    node = parent.get(key) if isinstance(parent, CommentedMap) else None
    if not isinstance(node, CommentedMap):
        raise MapError(f"mapping.yaml has no {what}", hint=_HINT)
    return node


def _flow(values: dict[str, Any]) -> CommentedMap:
    entry = CommentedMap(values)
    entry.fa.set_flow_style()
    return entry


# ---------------------------------------------------------------------------
# Field lines


def set_column(
    doc: MapDocument, role: str, field: str, column: str | None, *, info: ColumnInfo | None = None
) -> Edit:
    """``targets.<role>.fields.<field>`` now goes to ``column`` (None: not migrated).

    ``info`` (the tenant's column) gives the line its type; the line's ``create:`` (the
    column the provisioner was to add for it) goes, being for another column, and so does a
    value map when the new column is no choice. The line becomes a person's decision:
    confidence 1, reason :data:`CHOSEN`. A field the map did not list gets a line."""
    target = _node(_node(doc.data, "targets", "targets"), role, f"target {role!r}")
    fields = target.get("fields")
    if not isinstance(fields, CommentedMap):
        fields = CommentedMap()
        target["fields"] = fields
    entry = fields.get(field)
    before = entry.get("column") if isinstance(entry, CommentedMap) else entry
    if not isinstance(entry, CommentedMap):
        entry = _flow({"column": None})
        fields[field] = entry
    column = column or None
    entry["column"] = column
    kind = info.type if info is not None else None
    if column is None or kind is None or kind not in COLUMN_KINDS:
        entry.pop("type", None)
    elif "type" in entry:
        entry["type"] = kind
    else:
        entry.insert(1, "type", kind)
    if before != column:
        entry.pop("create", None)
    if column is None or (kind is not None and kind not in _CHOICE_TYPES):
        entry.pop("value_map", None)
    if column is None or kind not in ("String", "Memo"):
        entry.pop("truncate", None)
    entry["confidence"] = 1.0
    entry["reason"] = CHOSEN if column else f"not migrated ({CHOSEN})"
    path = f"targets.{role}.fields.{field}.column"
    return Edit(path, before, column, _reopen(doc))


# ---------------------------------------------------------------------------
# Value maps


def _value_map(doc: MapDocument, name: str) -> CommentedMap:
    return _node(_node(doc.data, "value_maps", "value_maps"), name, f"value map {name!r}")


def set_value(doc: MapDocument, value_map: str, source_value: str, option: Option) -> Edit:
    """``value_maps.<value_map>.values.<source value>`` is now ``option`` (an entry listed
    under another case of the same value is the one changed)."""
    node = _value_map(doc, value_map)
    values = node.get("values")
    if not isinstance(values, CommentedMap):
        values = CommentedMap()
        node["values"] = values
    wanted = source_value.strip().lower()
    key = next((k for k in values if str(k).strip().lower() == wanted), source_value)
    before = plain_value(values.get(key))
    if option is None or isinstance(option, int):
        values[key] = option
    else:
        pair = CommentedSeq(int(v) for v in option)
        pair.fa.set_flow_style()
        values[key] = pair
    path = f"value_maps.{value_map}.values.{key}"
    return Edit(path, before, plain_value(values[key]), _reopen(doc))


def set_policy(
    doc: MapDocument,
    value_map: str,
    policy: str,
    *,
    default: Option = None,
    text_column: str | None = None,
) -> Edit:
    """What a source value ``value_map`` lacks does: ``fail`` (the row is rejected),
    ``default`` (``default`` is written instead) or ``keep_text`` (the text is kept in
    ``text_column``, ``table.column``)."""
    if policy not in POLICIES:
        raise MapError(
            f"unknown policy {policy!r} for value map {value_map!r}",
            hint=f"pick one of {', '.join(POLICIES)}",
        )
    node = _value_map(doc, value_map)
    before = node.get("policy", "fail")
    node["policy"] = policy
    if policy == "default":
        node["default"] = (
            default
            if default is None or isinstance(default, int)
            else CommentedSeq(int(v) for v in default)
        )
    if policy == "keep_text":
        node["text_column"] = text_column or None
    after = policy
    if policy == "default":
        after = f"default {_shown(plain_value(node['default']))}"
    elif policy == "keep_text":
        after = f"keep_text in {_shown(node['text_column'])}"
    return Edit(f"value_maps.{value_map}.policy", before, after, _reopen(doc))


# ---------------------------------------------------------------------------
# Owners


def _owners(doc: MapDocument) -> CommentedMap:
    return _node(doc.data, "owners", "owners section")


def set_coach_user(
    doc: MapDocument, coach_id: str, user: str | None, users: list[SystemUser]
) -> Edit:
    """The records of coach ``coach_id`` are owned by ``user`` (e-mail or UPN of a system
    user); None: matched by the coach's e-mail again, else owned by the fallback."""
    coaches = _node(_owners(doc), "coaches", "owners.coaches")
    entry = _node(coaches, coach_id, f"coach {coach_id!r} under owners.coaches")
    before = entry.get("user")
    user = (user or "").strip() or None
    entry["user"] = user
    if user is not None:
        entry["status"] = "explicit"
    elif entry.get("status") == "explicit":
        entry["status"] = "unmatched"  # resolved anew from the coach's e-mail
    reopened = _reopen(doc)
    refresh_owners(doc, users)
    return Edit(f"owners.coaches.{coach_id}.user", before, user, reopened)


def set_fallback(doc: MapDocument, user: str | None, users: list[SystemUser]) -> Edit:
    """The records of coaches without a usable user are owned by ``user`` (None: nobody,
    and migrate rejects them)."""
    owners = _owners(doc)
    before = owners.get("fallback")
    user = (user or "").strip() or None
    owners["fallback"] = user
    reopened = _reopen(doc)
    refresh_owners(doc, users)
    return Edit("owners.fallback", before, user, reopened)
