"""A note's document moved in blocks: upload and download of ``annotation.documentbody``.

A document too large for one request body goes up in blocks ("Use file data with Attachment
and Note records", https://learn.microsoft.com/power-apps/developer/data-platform/attachment-annotation-files):
``InitializeAnnotationBlocksUpload`` with the note as ``Target`` (``annotationid`` set: the
commit creates the note with that id, or updates it when it exists) answers a
``FileContinuationToken``; ``UploadBlock`` sends each block (at most 4 MB; ``BlockId`` the
Base64 of an id of the same length for every block); ``CommitAnnotationBlocksUpload`` joins
the blocks in ``BlockList`` order. Nothing is kept between the calls but the token, and the
service has no message that tells which blocks it holds, so an upload cut off is sent again
from the first block; the note's id makes the second commit update the first, never a second
note. ``InitializeAnnotationBlocksDownload`` / ``DownloadBlock`` read it back in blocks.

The blocks come from an iterator of bytes (a file read piece by piece), so a document never
sits in memory whole, and each block's bytes are hashed as they go.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["BLOCK_SIZE", "DocumentUpload", "download_note_document", "upload_note_document"]

BLOCK_SIZE = 4 * 1024 * 1024
"""The largest block ``UploadBlock`` and ``DownloadBlock`` take (4 MB)."""


class _Caller(Protocol):
    def call(
        self, name: str, body: Mapping[str, Any] | None = None, *, idempotent: bool | None = None
    ) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class DocumentUpload:
    """What a committed upload sent: its size, SHA-256 and number of blocks."""

    annotation_id: str
    size: int
    sha256: str
    blocks: int


def _blocks(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``chunks`` re-cut into blocks of exactly ``size`` bytes (the last shorter)."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


def upload_note_document(
    client: _Caller,
    note: Mapping[str, Any],
    chunks: Iterable[bytes],
    *,
    block_size: int = BLOCK_SIZE,
) -> DocumentUpload:
    """Create (or update) the note ``note`` (its columns and binds, ``annotationid`` set,
    no ``documentbody``) with the document read from ``chunks``, in blocks."""
    if "annotationid" not in note:
        raise ValueError("the note's annotationid must be given: the commit writes that note")
    if not 0 < block_size <= BLOCK_SIZE:
        raise ValueError(f"a block is 1 to {BLOCK_SIZE} bytes, not {block_size}")
    target = {"@odata.type": "Microsoft.Dynamics.CRM.annotation", **note}
    # a token whose answer was lost is abandoned: asking again is harmless
    started = (
        client.call("InitializeAnnotationBlocksUpload", {"Target": target}, idempotent=True) or {}
    )
    token = started.get("FileContinuationToken")
    if not isinstance(token, str):
        raise ValueError("InitializeAnnotationBlocksUpload answered no FileContinuationToken")
    digest = hashlib.sha256()
    ids: list[str] = []
    size = 0
    for block in _blocks(chunks, block_size):
        digest.update(block)
        size += len(block)
        ids.append(base64.b64encode(f"block-{len(ids):08d}".encode()).decode("ascii"))
        client.call(
            "UploadBlock",
            {
                "BlockId": ids[-1],
                "BlockData": base64.b64encode(block).decode("ascii"),
                "FileContinuationToken": token,
            },
            idempotent=True,  # the same block under the same id: sending it twice is harmless
        )
    if not ids:
        raise ValueError("an empty document has no blocks: send it in the note's documentbody")
    client.call(
        "CommitAnnotationBlocksUpload",
        {"Target": target, "BlockList": ids, "FileContinuationToken": token},
        idempotent=True,  # it writes the note by its id: committed twice, still one note
    )
    return DocumentUpload(str(note["annotationid"]), size, digest.hexdigest(), len(ids))


def download_note_document(
    client: _Caller, annotation_id: str, *, block_size: int = BLOCK_SIZE
) -> Iterator[bytes]:
    """The document of note ``annotation_id``, block by block."""
    target = {"@odata.type": "Microsoft.Dynamics.CRM.annotation", "annotationid": annotation_id}
    started = (
        client.call("InitializeAnnotationBlocksDownload", {"Target": target}, idempotent=True) or {}
    )
    token = started.get("FileContinuationToken")
    size = started.get("FileSizeInBytes")
    if not isinstance(token, str) or not isinstance(size, int):
        raise ValueError("InitializeAnnotationBlocksDownload answered no token or size")
    offset = 0
    while offset < size:
        got = client.call(
            "DownloadBlock",
            {"Offset": offset, "BlockLength": block_size, "FileContinuationToken": token},
            idempotent=True,
        )
        data = base64.b64decode(str((got or {}).get("Data") or ""))
        if not data:
            raise ValueError(f"DownloadBlock gave no bytes at offset {offset} of {size}")
        offset += len(data)
        yield data
