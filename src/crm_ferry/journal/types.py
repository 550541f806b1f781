"""What the journal hands out: typed rows and the vocabularies of runs and operations.

Every result of the journal's API is one of these frozen dataclasses (or a plain mapping
of ids and counts); payloads are the JSON objects crm-ferry sent, decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = [
    "OP_STATES",
    "RUN_KINDS",
    "RUN_STATES",
    "IdMapEntry",
    "JournalOp",
    "MatchRow",
    "OpState",
    "RunInfo",
    "RunKind",
    "RunState",
    "SampleInfo",
    "SchemaEntry",
    "SchemaOpOutcome",
    "SchemaOpState",
    "SchemaRunKind",
    "SchemaRunState",
]

RunKind = Literal["migrate", "delta", "sample", "rollback"]
"""What a data run did: a full load, a cutover delta, a sample, or the rollback of a run."""
RunState = Literal["running", "done", "failed", "rolled_back", "partly_rolled_back"]
"""``running`` until it ends (a crashed run stays ``running`` and is resumed)."""
OpState = Literal["pending", "done", "failed"]
"""``pending``: journaled before its request; ``done``/``failed``: after the answer."""

SchemaRunKind = Literal["provision", "rollback"]
SchemaRunState = Literal["running", "done", "failed"]
SchemaOpState = Literal["pending", "applied", "failed"]
SchemaOpOutcome = Literal["reversed", "absent"]
"""How a schema operation was reversed: undone, or already gone when rollback came."""

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
