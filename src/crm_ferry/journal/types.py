"""What the journal hands out: typed rows and the vocabularies of runs and operations.

Every result of the journal's API is one of these frozen dataclasses (or a plain mapping
of ids and counts); payloads are the JSON objects crm-ferry sent, decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = [
    "OP_STATES",
    "REMOVAL_MARK",
    "RUN_KINDS",
    "RUN_STATES",
    "AcceptedDifference",
    "DifferenceScope",
    "IdMapEntry",
    "JournalOp",
    "MatchRow",
    "OpState",
    "ReconciliationInfo",
    "RecordedDifference",
    "RowEntry",
    "RunInfo",
    "RunKind",
    "RunState",
    "SampleInfo",
    "SchemaEntry",
    "SchemaOpOutcome",
    "SchemaOpState",
    "SchemaRunInfo",
    "SchemaRunKind",
    "SchemaRunState",
    "SliceInfo",
    "SliceState",
    "UndoAction",
    "UndoState",
    "UndoStep",
    "WorkerInfo",
    "WorkerState",
]

RunKind = Literal["migrate", "delta", "sample", "rollback"]
"""What a data run did: a full load, a cutover delta, a sample, or the rollback of a run."""
RunState = Literal["running", "interrupted", "done", "failed", "rolled_back", "partly_rolled_back"]
"""``running`` while a process writes it (a run whose process died stays ``running``:
:meth:`~crm_ferry.journal.Journal.is_live` tells); ``interrupted`` when it was stopped
(Ctrl-C) before its end. Both are continued by the next run of their kind."""
OpState = Literal["pending", "done", "failed"]
"""``pending``: journaled before its request; ``done``/``failed``: after the answer."""

UndoAction = Literal["delete", "restore", "recreate"]
"""What rollback does to one row: delete it (the run created it), give it back its values
from before the run (the run changed it), or write it again (the run deleted it)."""
UndoState = Literal["pending", "done", "gone", "kept", "failed"]
"""``pending``: journaled before the request; ``done``: undone; ``gone``: nothing to undo
(the row was already gone, or already as before); ``kept``: left as it is (a conflict);
``failed``: the service refused."""

SchemaRunKind = Literal["provision", "rollback"]
SchemaRunState = Literal["running", "interrupted", "done", "failed"]
SchemaOpState = Literal["pending", "applied", "failed"]
SchemaOpOutcome = Literal["reversed", "absent"]
"""How a schema operation was reversed: undone, or already gone when rollback came."""

REMOVAL_MARK = "removed"
"""The last part of the op key of a delta's operation on a record gone from the source
(``<table>/<id>/state/removed``, ``<table>/<id>/delete/removed``)."""

RUN_KINDS: tuple[RunKind, ...] = get_args(RunKind)
RUN_STATES: tuple[RunState, ...] = get_args(RunState)
OP_STATES: tuple[OpState, ...] = get_args(OpState)


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    kind: RunKind
    state: RunState
    started_at: str
    finished_at: str | None
    source: str | None
    map_fingerprint: str | None
    note: str | None
    counts: dict[str, Any]
    """The run's summary as it finished (JSON: per object and per table counts, requests)."""
    rolled_back_by: str | None
    purged_at: str | None
    pid: int | None = None
    """The process that started (or last resumed) the run, on ``host``."""
    host: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "source": self.source,
            "map_fingerprint": self.map_fingerprint,
            "note": self.note,
            "counts": self.counts,
            "rolled_back_by": self.rolled_back_by,
            "purged_at": self.purged_at,
            "pid": self.pid,
            "host": self.host,
        }


@dataclass(frozen=True, slots=True)
class JournalOp:
    """An operation as the journal holds it (payloads decoded on demand)."""

    run_id: str
    seq: int
    op_key: str
    role: str
    table: str
    row_id: str
    kind: str
    phase: int
    rank: int
    source_object: str
    source_id: str
    hash: str
    payload: dict[str, Any] | None
    existed: bool
    prev_hash: str | None
    prev_payload: dict[str, Any] | None
    state: OpState
    error: str | None
    create_only: tuple[str, ...] = ()
    action: str | None = None
    lost: bool = False
    """Still ``pending`` because the answer to the request that carried it was lost (or a
    create met its row already there): whether the tenant holds it is to be read, not
    guessed, before it is sent again."""
    sent: bool = False
    """Handed to the service at least once (:meth:`Journal.mark_sent`); a pending operation
    never sent cannot have left its row in the tenant, so a resumed run need not look for
    it there."""
    payload_text: str | None = field(default=None, compare=False, repr=False)
    """The payload as journaled (canonical JSON), so that it is not encoded again."""


@dataclass(frozen=True, slots=True)
class IdMapEntry:
    """One write crm-ferry last made to a row: the id map's view of the tenant."""

    op_key: str
    table: str
    row_id: str
    role: str
    source_object: str
    source_id: str
    payload: dict[str, Any] | None
    """What was written (``None`` once purged)."""

    @property
    def kind(self) -> str:
        """``upsert``, ``link``, ``state``, ``action``… (the op key's third part)."""
        return self.op_key.split("/")[2]


@dataclass(frozen=True, slots=True)
class UndoStep:
    """What rollback did (or means to do) to one row of a run, as journaled."""

    run_id: str
    table: str
    row_id: str
    action: UndoAction
    state: UndoState
    rollback_id: str
    detail: dict[str, Any] | None = None
    """Why a row was kept (columns, who changed it, what points at it) or why it failed."""


@dataclass(frozen=True, slots=True)
class SampleInfo:
    """A sample run's report and who accepted it, for which version of the map."""

    run_id: str
    map_digest: str
    report: str | None
    verdicts: dict[str, int]
    accepted_by: str | None
    accepted_at: str | None


@dataclass(frozen=True, slots=True)
class MatchRow:
    """A client matched to a contact or account already in the tenant."""

    role: str
    source_id: str
    row_id: str
    how: str


@dataclass(frozen=True, slots=True)
class SchemaRunInfo:
    """One schema run (a provision or the rollback of one) and the process that wrote it."""

    run_id: str
    kind: SchemaRunKind
    environment: str
    state: SchemaRunState
    started_at: str
    pid: int | None
    host: str | None


@dataclass(frozen=True, slots=True)
class SchemaEntry:
    """One journaled schema operation: its JSON (``op``, with its ``reverse``) and state."""

    run_id: str
    seq: int
    op: dict[str, Any]
    """The operation as :meth:`crm_ferry.provision.ops.SchemaOp.as_dict` wrote it."""
    metadata_id: str | None
    state: SchemaOpState
    applied_at: str | None
    reversed_at: str | None = None
    outcome: SchemaOpOutcome | None = None


@dataclass(frozen=True, slots=True)
class RowEntry:
    """One id-map entry in full: what a delete must keep so that the row can be made again
    exactly as crm-ferry last wrote it, and the id map put back."""

    op_key: str
    table: str
    row_id: str
    role: str
    source_object: str
    source_id: str
    hash: str
    payload: dict[str, Any] | None
    run_id: str
    """The run that last wrote it."""
    action: str | None
    """For an ``action`` entry: the action that was called (``WinOpportunity``)."""

    @property
    def kind(self) -> str:
        return self.op_key.split("/")[2]

    def as_dict(self) -> dict[str, Any]:
        return {
            "op_key": self.op_key,
            "kind": self.kind,
            "payload": self.payload,
            "action": self.action,
            "hash": self.hash,
            "role": self.role,
            "source_object": self.source_object,
            "source_id": self.source_id,
            "run_id": self.run_id,
        }


# -- reconciliations (verify, sample) and the differences a person accepted -----------

DifferenceScope = Literal["verify", "sample"]
"""Where a difference was accepted: in a verification, or in a sample's report."""


@dataclass(frozen=True, slots=True)
class RecordedDifference:
    """A difference a reconciliation found, as the journal keeps it: its id and where it
    is, never the values (those are in the report, under ``runs/``)."""

    diff_id: str
    classification: str
    table: str
    record: str
    column: str
    what: str

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.diff_id,
            "classification": self.classification,
            "table": self.table,
            "record": self.record,
            "column": self.column,
            "what": self.what,
        }


@dataclass(frozen=True, slots=True)
class ReconciliationInfo:
    """One verification (or a sample's reconciliation) and the differences it found."""

    recon_id: str
    kind: DifferenceScope
    made_at: str
    report: str | None
    differences: tuple[RecordedDifference, ...]


@dataclass(frozen=True, slots=True)
class AcceptedDifference:
    """A difference a person accepted: who, when, why, and from which reconciliation."""

    scope: DifferenceScope
    difference: RecordedDifference
    accepted_by: str
    accepted_at: str
    reason: str
    recon_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.difference.as_dict(),
            "accepted_by": self.accepted_by,
            "accepted_at": self.accepted_at,
            "reason": self.reason,
            "accepted_in": self.recon_id,
        }


SliceState = Literal["pending", "leased", "done"]
"""``pending``: no worker has it; ``leased``: a worker sends it, while its lease lasts (one
that is past its time is taken over); ``done``: every operation in it was sent and settled
(or left unsettled, as a run without workers leaves them)."""
WorkerState = Literal["waiting", "sending", "stopped", "failed"]
"""What a worker last said it did: waiting for a slice it may start, sending one, stopped
(nothing left, or asked to stop), or failed (an error ended it)."""


@dataclass(frozen=True, slots=True)
class SliceInfo:
    """A slice of a run's pending operations: ops of one (phase, rank, table, kind), a
    run of journal order (``first_seq``..``last_seq``), sent by one worker at a time. A
    slice may start when every slice of a lower ``step`` is done (its rows may point at
    theirs)."""

    run_id: str
    slice: int
    step: int
    phase: int
    rank: int
    table: str
    kind: str
    first_seq: int
    last_seq: int
    ops: int
    state: SliceState
    worker: str | None
    claims: int
    """How many times a worker claimed it: more than one, and an earlier worker may have
    sent part of it before its lease ran out."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker process of a run, as it last reported itself."""

    worker_id: str
    run_id: str
    host: str
    pid: int
    users: tuple[str, ...]
    """The application users (client ids) it sends as."""
    started_at: str
    state: WorkerState
    slice: int | None
    table: str | None
    ops_done: int
    ops_failed: int
    slices_done: int
    seconds: float
    """From its start to its last report."""
    silent_s: float
    """Since its last report: a worker silent for longer than its lease is gone."""
    error: str | None = None

    @property
    def rate(self) -> float:
        """Operations settled per second, over its life so far."""
        return (self.ops_done + self.ops_failed) / self.seconds if self.seconds > 0 else 0.0
