"""An operation explained for a person: what kind of write it is, where each lookup points,
what each choice value means, and which columns the tenant does not have yet.

The review page's preview and ``crm-ferry preview`` show the operations a record becomes
(:class:`~crm_ferry.transform.ops.Operation`, exactly as the load journals and sends them)
with these explanations beside them. Pure: the snapshot says which table an entity set is,
what a navigation property binds and what a choice value's label is; who a row is (a source
record, a coach's user, a currency) comes from the ``name`` function the caller passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from crm_ferry.transform.ops import DOCUMENT, PHASE_LINKS, Operation
from crm_ferry.transform.schema import TargetSchema

__all__ = [
    "BIND_SUFFIX",
    "CHOICE_TYPES",
    "Bound",
    "Choice",
    "Explained",
    "Named",
    "explain",
    "kind_of",
]

BIND_SUFFIX: Final = "@odata.bind"
CHOICE_TYPES: Final = frozenset({"Picklist", "MultiSelectPicklist", "State", "Status"})
"""Column types whose values are options with labels."""
LONG_TEXT: Final = 400
"""Longer text values (a note's Base64 document) are shown by their length only."""

Named = Callable[[str, str], tuple[str, str | None]]
"""``name(table, row id) -> (what to call the row, the source record's "object/id" or
None)``: ``("Grace Nelson", "clients/cli_000001")``; ``("", None)`` when unknown."""

_KINDS: Final[Mapping[str, str]] = {
    "upsert": "upsert",
    "state": "state",
    "close": "close",
    "action": "action",
    "file": "file",
}

_HOW: Final[Mapping[str, str]] = {
    "upsert": "written by its id (UpsertMultiple where the table takes it, else $batch)",
    "link": "written after every row exists: a link that would otherwise be circular",
    "document": "a note whose file goes up in blocks after the row is written",
    "state": "its state and status set once the row and its children exist",
    "close": "marked completed once the row exists",
    "action": "an action called once every row it names exists",
    "file": "a file put into SharePoint through Microsoft Graph",
}


def kind_of(op: Operation) -> str:
    """``upsert``, ``link`` (the second pass), ``document`` (a note in blocks), ``state``,
    ``close``, ``action`` or ``file``."""
    if op.kind == "upsert" and DOCUMENT in op.payload:
        return "document"
    if op.kind == "upsert" and op.phase == PHASE_LINKS:
        return "link"
    return _KINDS.get(op.kind, op.kind)


@dataclass(frozen=True, slots=True)
class Bound:
    """One ``@odata.bind`` of a payload, resolved."""

    path: str
    """Where in the payload: ``parentcustomerid_account@odata.bind``, or inside a
    collection, ``phonecall_activity_parties[0].partyid_contact@odata.bind``."""
    column: str | None
    """The lookup column (``parentcustomerid``), when the snapshot knows the property."""
    table: str | None
    """The table of the row it points to."""
    row_id: str
    name: str
    """What that row is (a client's name, a coach's user), '' when unknown."""
    source: str | None
    """``object/id`` of the source record that row is made from, if it is one."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "column": self.column,
            "table": self.table,
            "id": self.row_id,
            "name": self.name,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Choice:
    """A choice value of a payload and its labels in the tenant."""

    column: str
    value: Any
    labels: tuple[tuple[int, str | None], ...]
    """Each option of the value and its label (None: the tenant has no such option)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "value": self.value,
            "labels": [{"value": v, "label": label} for v, label in self.labels],
        }


@dataclass(frozen=True, slots=True)
class Explained:
    op: Operation
    kind: str
    how: str
    lookups: tuple[Bound, ...]
    choices: tuple[Choice, ...]
    missing: tuple[str, ...]
    """Payload columns the tenant does not have (yet: ``provision`` creates mapped ones)."""
    shown: Mapping[str, Any]
    """The payload as shown: long texts replaced by their length."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.op.table,
            "id": self.op.id,
            "role": self.op.role,
            "kind": self.kind,
            "how": self.how,
            "phase": self.op.phase,
            "action": self.op.action,
            "payload": dict(self.shown),
            "lookups": [b.as_dict() for b in self.lookups],
            "choices": [c.as_dict() for c in self.choices],
            "missing_columns": list(self.missing),
        }


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LONG_TEXT:
        return f"<{len(value):,} characters>"
    if isinstance(value, Mapping):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shown(v) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return value if isinstance(value, str) else str(value)


def _binds(
    table: str, payload: Mapping[str, Any], schema: TargetSchema
) -> Iterator[tuple[str, str, str, Any]]:
    """``(path, table of the payload, navigation property, reference)`` of every bind,
    those inside collection-valued properties too (an activity's parties)."""
    info = schema.table(table)
    children = {nav: child for child, nav in info.collections.items()} if info else {}
    for key, value in payload.items():
        if key.endswith(BIND_SUFFIX):
            yield key, table, key.removesuffix(BIND_SUFFIX), value
        elif isinstance(value, Mapping):  # an action's entity parameter (OpportunityClose)
            for path, where, nav, ref in _binds(key.lower(), value, schema):
                yield f"{key}.{path}", where, nav, ref
        elif isinstance(value, list):
            child = children.get(key) or "activityparty"
            for n, item in enumerate(value):
                if isinstance(item, Mapping):
                    for path, where, nav, ref in _binds(child, item, schema):
                        yield f"{key}[{n}].{path}", where, nav, ref


def _entity_tables(schema: TargetSchema) -> dict[str, str]:
    out = {entity_set: name for name, entity_set in schema.entity_sets.items()}
    out.update({t.entity_set: name for name, t in schema.tables.items()})
    return out


def _bound(path: str, table: str, nav: str, ref: Any, schema: TargetSchema, name: Named) -> Bound:
    text = str(ref)
    entity_set, _, rest = text.lstrip("/").partition("(")
    row_id = rest.rstrip(")")
    target = _entity_tables(schema).get(entity_set)
    info = schema.table(table)
    column = None
    if info is not None:
        for (col, to), prop in info.navigation.items():
            if prop == nav:
                column, target = col, target or to
                break
    called, source = name(target, row_id) if target else ("", None)
    return Bound(path, column, target, row_id, called, source)


def _choices(op: Operation, schema: TargetSchema) -> Iterator[Choice]:
    info = schema.table(op.table)
    if info is None:
        return
    for key, value in op.payload.items():
        col = info.column(key)
        if col is None or col.type not in CHOICE_TYPES or value is None:
            continue
        parts = str(value).split(",") if col.type == "MultiSelectPicklist" else [value]
        labels: list[tuple[int, str | None]] = []
        for part in parts:
            try:
                number = int(part)
            except (TypeError, ValueError):
                continue
            labels.append((number, col.options.get(number)))
        yield Choice(key, value, tuple(labels))


def _missing(op: Operation, schema: TargetSchema) -> tuple[str, ...]:
    info = schema.table(op.table)
    if info is None or op.kind == "action":
        return ()
    return tuple(
        key
        for key, value in op.payload.items()
        if not key.startswith("@")
        and "@" not in key
        and not isinstance(value, list)
        and info.column(key) is None
    )


def explain(op: Operation, schema: TargetSchema, name: Named) -> Explained:
    """``op`` with its kind, its lookups resolved, its choices labelled and the columns the
    tenant lacks."""
    kind = kind_of(op)
    return Explained(
        op=op,
        kind=kind,
        how=_HOW.get(kind, kind),
        lookups=tuple(
            _bound(path, table, nav, ref, schema, name)
            for path, table, nav, ref in _binds(op.table, op.payload, schema)
        ),
        choices=tuple(_choices(op, schema)),
        missing=_missing(op, schema),
        shown=_shown(op.payload),
    )
