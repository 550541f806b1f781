"""What a rollback must do to each row a run touched, worked out from the journal alone.

Every operation the run journaled counts, whatever its state: a ``pending`` or ``failed``
write may have reached the service (its answer lost, or the process killed while it was in
flight), so the tenant is read before anything is decided (:mod:`.runner`). Per row:

- **delete** — the run made the row (its own first write found no earlier one);
- **restore** — the row was there before (an earlier run, or a row a person made that a
  client was matched to): every column the run wrote gets back its value from before the
  run (its *before-image*; a column the image does not hold was empty, and is cleared), and
  a state the run changed goes back to the state before;
- **recreate** — the run deleted the row (a delta's removal policy): it is written again
  from the id-map entries the delete kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_ferry.journal import JournalOp, UndoAction
from crm_ferry.load.images import STATE

STATE_KINDS = frozenset({"state", "close"})
"""Operations that only change a row's state (statecode and statuscode)."""
WRITE_KINDS = frozenset({"upsert", "update"})
CREATING_KINDS = frozenset({"upsert", "file"})
"""Operations that make what they write when it is not there (a row, a file in SharePoint)."""
OPEN = {"statecode": 0}
"""The open state every table with a state has; its default status comes with it."""


@dataclass
class UndoRow:
    """One row of a run and what undoing the run does to it."""

    table: str
    row_id: str
    action: UndoAction
    order: tuple[int, int, int]
    """(phase, rank, seq) of the row's first operation: its place in the load order."""
    ops: list[JournalOp] = field(default_factory=list)
    written: dict[str, Any] = field(default_factory=dict)
    """Every column the run's writes set (lookups as binds), create-only columns left out."""
    before: dict[str, Any] = field(default_factory=dict)
    """Per written column, its value before the run (``None``: it was empty)."""
    image: dict[str, Any] | None = None
    """The whole before-image of a row crm-ferry did not make (every updatable column)."""
    state_written: dict[str, Any] | None = None
    state_before: dict[str, Any] | None = None
    """The state to go back to, when the run changed the row's state."""
    won: bool = False
    """The run closed the row through an action (WinOpportunity)."""
    close_before: dict[str, Any] | None = None
    """The close the row had before the run closed it again (a delta that changed a won
    opportunity's total): what closing it back the way it was sends."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    """For ``recreate``: the id-map entries of the row as the delete kept them."""
    purged: bool = False
    """A write of the run changed the row, and its before-image was purged since."""

    @property
    def settled(self) -> bool:
        """Whether every operation of the row has a known outcome of ``done``."""
        return all(o.state == "done" for o in self.ops)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.table, self.row_id, self.action)


def _create_only(ops: Iterable[JournalOp]) -> set[str]:
    out = {"overriddencreatedon"}
    for op in ops:
        out.update(op.create_only)
    return out


def _state_of(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (payload or {}).items() if k in STATE}


def undo_row(ops: Sequence[JournalOp]) -> UndoRow:
    """What undoing these operations (all of one row, in load order) does to the row."""
    first = ops[0]
    order = (first.phase, first.rank, first.seq)
    removal = next((o for o in ops if o.kind == "delete"), None)
    if removal is not None:
        entries = (removal.prev_payload or {}).get("entries") or []
        return UndoRow(
            first.table, first.row_id, "recreate", order, list(ops), entries=list(entries)
        )
    created = any(o.kind in CREATING_KINDS and o.phase == 0 and not o.existed for o in ops)
    row = UndoRow(first.table, first.row_id, "delete" if created else "restore", order, list(ops))
    skip = _create_only(ops)
    for op in ops:
        if op.kind in WRITE_KINDS:
            prev = op.prev_payload if op.existed else None
            if op.existed and prev is None and op.prev_hash is not None:
                row.purged = True
            if op.phase == 0 and prev is not None and row.image is None:
                row.image = dict(prev)
            for key, value in (op.payload or {}).items():
                if key in skip or ("@" in key and not key.endswith("@odata.bind")):
                    continue
                row.written[key] = value
                if key not in row.before:
                    row.before[key] = (prev or {}).get(key)
        elif op.kind in STATE_KINDS:
            row.state_written = _state_of(op.payload)
            if row.state_before is None:
                row.state_before = (
                    _state_of(op.prev_payload) if op.existed and op.prev_payload else dict(OPEN)
                )
        elif op.kind == "action" and not op.existed:
            row.won = True
            row.state_written = {"statecode": 1}
            if row.state_before is None:
                row.state_before = dict(OPEN)
        elif op.kind == "action" and op.prev_payload and op.prev_payload != op.payload:
            # closed again with another close: back to the close it had
            row.won = True
            row.state_written = {"statecode": 1}
            before = op.prev_payload
            close = before.get("OpportunityClose")
            row.close_before = dict(close) if isinstance(close, dict) else None
            if row.state_before is None:
                status = before.get("Status")
                row.state_before = {"statecode": 1, **({"statuscode": status} if status else {})}
    return row


def plan_rows(ops: Sequence[JournalOp]) -> list[UndoRow]:
    """The rows of a run's operations (given in load order), each with what undoing it does."""
    groups: dict[tuple[str, str], list[JournalOp]] = {}
    for op in ops:
        groups.setdefault((op.table, op.row_id.lower()), []).append(op)
    return [undo_row(group) for group in groups.values()]


def planned_counts(rows: Iterable[UndoRow]) -> dict[str, dict[str, int]]:
    """Per table: rows to delete, restore and recreate."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        per = out.setdefault(row.table, {"delete": 0, "restore": 0, "recreate": 0})
        per[row.action] += 1
    return out
