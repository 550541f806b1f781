"""The schema operations provisioning runs, each with the operation that undoes it.

A :class:`SchemaOp` is one change to the tenant's metadata: create a table, create a column,
add option values to a choice, create a lookup (a relationship) or create an alternate key
(:data:`OP_KINDS`). It carries the ``params`` that make it, a sentence a person can review,
and its :class:`Reverse`: delete the table, column, option, relationship or key
(:data:`REVERSE_KINDS`). Both round-trip through ``as_dict`` / ``from_dict``: the journal
stores them as JSON, so a rollback needs nothing but the journal.

:mod:`crm_ferry.provision.plan` decides which operations a map needs;
:mod:`crm_ferry.provision.apply` runs them and their reverses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["OP_KINDS", "REVERSE_KINDS", "OpKind", "Reverse", "ReverseKind", "SchemaOp"]

OpKind = Literal["create_table", "create_column", "add_option", "create_lookup", "create_key"]
ReverseKind = Literal[
    "delete_table", "delete_column", "delete_option", "delete_relationship", "delete_key"
]
OP_KINDS: tuple[OpKind, ...] = (
    "create_table",
    "create_column",
    "add_option",
    "create_lookup",
    "create_key",
)
REVERSE_KINDS: tuple[ReverseKind, ...] = (
    "delete_table",
    "delete_column",
    "delete_option",
    "delete_relationship",
    "delete_key",
)


@dataclass(frozen=True, slots=True)
class Reverse:
    """How to undo one :class:`SchemaOp`."""

    kind: ReverseKind
    table: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "name": self.name,
            "params": dict(self.params),
            "description": self.description,
        }

    @property
    def what(self) -> str:
        """What this reverse takes away, in words: ``column contact.new_tags and its values``."""
        p = self.params
        if self.kind == "delete_table":
            return f"table {self.table} and every row in it"
        if self.kind == "delete_column":
            return f"column {self.table}.{p.get('column') or self.name} and its values"
        if self.kind == "delete_option":
            return f"option {p.get('value')} from {self.table}.{p.get('column')}"
        if self.kind == "delete_relationship":
            column = p.get("column")
            tail = f" and its lookup column {self.table}.{column}" if column else ""
            return f"relationship {p.get('schema_name') or self.name}{tail}"
        return f"alternate key {self.name} on {self.table}"

    def done(self, outcome: Literal["reversed", "absent"]) -> str:
        """What running it did, in the past tense, for a person reading a rollback: "deleted
        column contact.new_tags and its values", "removed option 7 from contact.gendercode",
        or "already gone, nothing to delete: ..." (never "undone", which reads as restored)."""
        if outcome == "absent":
            return f"already gone, nothing to delete: {self.what}"
        verb = "removed" if self.kind == "delete_option" else "deleted"
        return f"{verb} {self.what}"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Reverse:
        kind = str(d["kind"])
        if kind not in REVERSE_KINDS:
            raise ValueError(f"unknown reverse operation {kind!r}")
        return cls(
            kind=kind,
            table=str(d["table"]),
            name=str(d["name"]),
            params=dict(d.get("params") or {}),
            description=str(d.get("description") or ""),
        )


@dataclass(frozen=True, slots=True)
class SchemaOp:
    """One schema change: what it makes, how to make it (``params``) and how to undo it."""

    kind: OpKind
    table: str
    name: str
    """Logical name of what is made: table, column, ``column=value`` for an option, key."""
    params: Mapping[str, Any]
    description: str
    reverse: Reverse

    @property
    def details(self) -> str:
        """A short summary of ``params`` for a table cell."""
        p = self.params
        if self.kind == "create_table":
            return f"{p['display_name']} / {p['plural_name']}; primary name {p['primary_name']}"
        if self.kind == "create_column":
            parts = [str(p["kind"])]
            if p.get("max_length"):
                parts.append(f"max {p['max_length']}")
            if p.get("precision") is not None:
                parts.append(f"precision {p['precision']}")
            if p.get("datetime_behavior"):
                parts.append(f"{p['datetime_behavior']} ({p.get('format')})")
            if p.get("options"):
                parts.append(f"{len(p['options'])} options")
            elif "options" in p:
                parts.append("no options yet")
            return ", ".join(parts)
        if self.kind == "add_option":
            return f"{p['value']} {p['label']!r}"
        if self.kind == "create_lookup":
            return f"-> {p['target_table']} (relationship {p['relationship']})"
        return f"({', '.join(p['columns'])})"

    def schema_names(self) -> tuple[str, ...]:
        """Every schema name the operation makes (what a person types back into the map or
        looks up in the tenant): the table's, column's or key's, and a lookup's relationship."""
        names = [str(self.params[k]) for k in ("schema_name", "relationship") if self.params.get(k)]
        return tuple(names)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "name": self.name,
            "params": _jsonable(self.params),
            "description": self.description,
            "details": self.details,
            "reverse": self.reverse.as_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SchemaOp:
        kind = str(d["kind"])
        if kind not in OP_KINDS:
            raise ValueError(f"unknown schema operation {kind!r}")
        return cls(
            kind=kind,
            table=str(d["table"]),
            name=str(d["name"]),
            params=dict(d.get("params") or {}),
            description=str(d.get("description") or ""),
            reverse=Reverse.from_dict(d["reverse"]),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
