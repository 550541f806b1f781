"""Notes whose document is too large for one body: uploaded in blocks, a few at a time.

Transform leaves such a document out of the note's payload and names the file under
:data:`~crm_ferry.transform.ops.DOCUMENT` (path, size, SHA-256). Here each of those notes is
written by :func:`~crm_ferry.dataverse.files.upload_note_document`: the note's columns as
the upload's ``Target`` and the file read from the bundle piece by piece, so a document never
sits in memory whole. The bytes sent are hashed on the way; a file whose digest is no longer
the one planned (changed in the bundle since) fails with that reason rather than loading
something nobody planned.

Documents go :data:`DOCUMENTS_IN_FLIGHT` at a time, each on the next application user; a
document whose answer was lost is reported as such (the engine reads the note before it
sends it again: the commit writes the note by its id, so a second upload replaces the first
and never adds a note).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from crm_ferry.dataverse.bulk import answer_lost
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.dataverse.files import upload_note_document
from crm_ferry.journal import JournalOp
from crm_ferry.transform.ops import DOCUMENT

__all__ = ["DOCUMENTS_IN_FLIGHT", "DocumentOutcome", "document_of", "send_documents"]

DOCUMENTS_IN_FLIGHT = 4
"""Documents uploaded at the same time (each a sequence of block requests)."""

ReadChunks = Callable[[str], Iterable[bytes]]
"""The file at a bundle path, piece by piece."""


@dataclass(frozen=True, slots=True)
class DocumentOutcome:
    op: JournalOp
    error: str | None = None
    lost: bool = False
    """No answer came: the note may have been written."""


def document_of(payload: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The file a note's payload names for a block upload, or None."""
    if not payload:
        return None
    doc = payload.get(DOCUMENT)
    return doc if isinstance(doc, Mapping) else None


def send_documents(
    clients: Sequence[DataverseClient],
    ops: Sequence[JournalOp],
    *,
    primary_id: str,
    existing: set[str],
    read: ReadChunks,
    advance: Callable[[int], None] = lambda n: None,
) -> list[DocumentOutcome]:
    """Upload the document of every op (its note written with it); outcomes in ``ops``'
    order. ``existing``: ids whose note is there already (their create-only columns stay
    out)."""

    def one(index: int) -> DocumentOutcome:
        op = ops[index]
        client = clients[index % len(clients)]
        doc = document_of(op.payload)
        assert doc is not None
        note = {k: v for k, v in (op.payload or {}).items() if k != DOCUMENT}
        if op.row_id in existing:
            for key in op.create_only:
                note.pop(key, None)
        note[primary_id] = op.row_id
        try:
            sent = upload_note_document(client, note, read(str(doc["path"])))
        except DataverseError as exc:
            return DocumentOutcome(op, str(exc), lost=answer_lost(exc))
        except OSError as exc:
            return DocumentOutcome(
                op, f"the file {doc['path']} could not be read ({exc}); put it back and resume"
            )
        finally:
            advance(1)
        if sent.sha256 != doc.get("sha256") or sent.size != doc.get("size"):
            return DocumentOutcome(
                op,
                f"the file {doc['path']} changed after the run was planned ({sent.size} bytes, "
                f"SHA-256 {sent.sha256[:12]}…, planned {doc.get('size')} bytes); the note holds "
                "the new content: run `crm-ferry migrate` again to plan it",
            )
        return DocumentOutcome(op)

    if len(ops) == 1:
        return [one(0)]
    with ThreadPoolExecutor(
        max_workers=min(DOCUMENTS_IN_FLIGHT, len(ops)), thread_name_prefix="document"
    ) as pool:
        return list(pool.map(one, range(len(ops))))
