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
from functools import lru_cache
from typing import Any, Literal

from crm_ferry.model import RecordKey

OpKind = Literal["upsert", "state", "action", "close", "file"]
"""``upsert``: write the row by its primary key; ``state``: set statecode/statuscode after
the row and its children exist (invoices); ``action``: an unbound action such as
WinOpportunity (payload is the action body); ``close``: mark an activity completed; ``file``:
a file put into SharePoint through Microsoft Graph (payload: site, library, folder, name, the
file's bundle path, size and SHA-256)."""

DOCUMENT = "@crm-ferry.document"
"""The payload key of a note whose document goes in blocks rather than in its
``documentbody``: ``{"path": <the file in the bundle>, "size": <bytes>, "sha256": <hex>}``.
It is crm-ferry's own instruction to the engine, never sent: the engine reads the file and
uploads it in blocks with the rest of the payload as the note."""

INLINE_DOCUMENT_LIMIT = 3 * 1024 * 1024
"""The largest document (raw bytes) sent in its note's ``documentbody`` (4 MB of Base64: one
block); a larger one goes in blocks, and is not read into the payload."""

PHASE_ROWS = 0
"""Rows in load order."""
PHASE_LINKS = 1
"""Second pass: links that would otherwise be circular (account.primarycontactid)."""
PHASE_STATE = 2
"""State changes and actions, after every row they touch is written."""


@lru_cache(maxsize=8192)
def target_id(namespace: uuid.UUID, role: str, source_id: str) -> str:
    """The deterministic primary key of the row a source record becomes in ``role``.

    Cached (bounded): a parent's id is asked for by each of its children. The text is
    ``str(uuid.uuid5(namespace, f"{role}/{source_id}"))``, formatted without the UUID
    object."""
    digest = bytearray(hashlib.sha1(namespace.bytes + f"{role}/{source_id}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""``json.dumps(value, sort_keys=True, separators=(",", ":"))`` without an encoder per call."""
_CANONICAL_STR = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def canonical_json(payload: Mapping[str, Any]) -> str | None:
    """The payload's canonical JSON text when it holds only JSON's own types, else None.

    For such a payload every canonical encoding (whatever its ``default``) gives this text,
    so the hash and the journal can share it."""
    try:
        return _CANONICAL.encode(payload)
    except TypeError:
        return None


def _hash_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def content_hash(payload: Mapping[str, Any]) -> str:
    return _hash_text(_CANONICAL_STR.encode(payload))


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
    text: str | None = field(default=None, compare=False, repr=False)
    """The payload's canonical JSON when it has only JSON types (see :func:`canonical_json`),
    computed with the hash so that the journal does not encode the payload again."""

    def __post_init__(self) -> None:
        if not self.hash:
            text = canonical_json(self.payload)
            if text is None:
                object.__setattr__(self, "hash", content_hash(self.payload))
            else:
                object.__setattr__(self, "text", text)
                object.__setattr__(self, "hash", _hash_text(text))

    @property
    def op_key(self) -> str:
        """Unique per intended write: a row is written once per kind and phase."""
        return f"{self.table}/{self.id}/{self.kind}/{self.phase}"
