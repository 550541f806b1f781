"""What transform produces and the load consumes: one intended write per target row.

An :class:`Operation` is pure data: the table, the deterministic primary key, the payload
exactly as it goes on the wire (lookups already as ``nav@odata.bind`` references), the
source record it came from, and the phase it belongs to. The engine journals it before
sending it and records its outcome after.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from crm_ferry.model import RecordKey

OpKind = Literal["upsert", "state", "action", "close"]
"""``upsert``: write the row by its primary key; ``state``: set statecode/statuscode after
the row and its children exist (invoices); ``action``: an unbound action such as
WinOpportunity (payload is the action body); ``close``: mark an activity completed."""

PHASE_ROWS = 0
"""Rows in load order."""
PHASE_LINKS = 1
"""Second pass: links that would otherwise be circular (account.primarycontactid)."""
PHASE_STATE = 2
"""State changes and actions, after every row they touch is written."""


def target_id(namespace: uuid.UUID, role: str, source_id: str) -> str:
    """The deterministic primary key of the row a source record becomes in ``role``."""
    return str(uuid.uuid5(namespace, f"{role}/{source_id}"))


def content_hash(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Operation:
    role: str
    table: str
    id: str
    payload: Mapping[str, Any]
    source: RecordKey
    kind: OpKind = "upsert"
    phase: int = PHASE_ROWS
    depends: tuple[tuple[str, str], ...] = ()
    """``(table, id)`` of rows this write refers to (lookups), for ordering and checks."""
    hash: str = field(default="")
    create_only: tuple[str, ...] = ()
    """Payload keys the service accepts only when the row is created (``overriddencreatedon``,
    an activity's party collection): leave them out when the upsert meets an existing row."""
    action: str | None = None
    """For ``kind="action"``: the unbound action to call (``WinOpportunity``)."""

    def __post_init__(self) -> None:
        if not self.hash:
            object.__setattr__(self, "hash", content_hash(self.payload))

    @property
    def op_key(self) -> str:
        """Unique per intended write: a row is written once per kind and phase."""
        return f"{self.table}/{self.id}/{self.kind}/{self.phase}"
