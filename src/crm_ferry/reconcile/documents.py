"""Documents read back: every note's file, its size and SHA-256 against what was sent.

A note's document is not compared as a column: a ``documentbody`` of 40 MB is 53 MB of
Base64 in every read of the row. Instead the rows are read without it, and each document is
downloaded on its own (``InitializeAnnotationBlocksDownload`` / ``DownloadBlock``), hashed as
its blocks arrive, and compared with what crm-ferry sent — the Base64 body of a small note
(decoded), or the size and digest of a file sent in blocks (:data:`DOCUMENT`). A document
that differs, or that the note no longer holds, is one difference of the field
``documentbody``, shown as ``<bytes> bytes, SHA-256 <first 16 hex digits>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import NotFound
from crm_ferry.dataverse.files import download_note_document
from crm_ferry.errors import ConfigError, FerryError
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.diff import BIND_SUFFIX as BIND
from crm_ferry.reconcile.diff import DiffRow, Verdict
from crm_ferry.transform.ops import DOCUMENT
from crm_ferry.transform.roles.sharepoint import FILE_TABLE

__all__ = [
    "DOCUMENT_COLUMNS",
    "Document",
    "check_documents",
    "check_files",
    "read_document",
    "select_without_document",
    "take_document",
]

DOCUMENT_COLUMNS: Mapping[str, str] = {"annotation": "documentbody"}
"""Tables whose document is checked apart, and its column (left out of the rows read)."""

ALWAYS_READ: tuple[str, ...] = (
    "createdon",
    "modifiedon",
    "overriddencreatedon",
    "filesize",
    "_ownerid_value",
    "_objectid_value",
)
"""Read of every note besides the columns crm-ferry wrote: its times (the original time is
checked), its size, and the lookups every note has (checked for orphans)."""


@dataclass(frozen=True, slots=True)
class Document:
    size: int
    sha256: str

    def shown(self) -> str:
        return f"{self.size} bytes, SHA-256 {self.sha256[:16]}"


def take_document(table: str, payload: MutableMapping[str, Any]) -> Document | None:
    """The document ``payload`` sent (taken out of it: it is not compared as a column)."""
    column = DOCUMENT_COLUMNS.get(table)
    if column is None:
        return None
    named = payload.pop(DOCUMENT, None)
    body = payload.pop(column, None)
    if isinstance(named, Mapping):
        return Document(int(named["size"]), str(named["sha256"]))
    if isinstance(body, str) and body:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return Document(-1, "not Base64")
        return Document(len(raw), hashlib.sha256(raw).hexdigest())
    return None


def select_without_document(
    payloads: Iterable[Mapping[str, Any]],
    columns: Mapping[str, Any],
    navigation: Mapping[str, str],
) -> list[str]:
    """The ``$select`` of a document table's rows: every column the payloads wrote (a bind
    as its lookup's ``_<column>_value``) and :data:`ALWAYS_READ`, but never the document,
    which is read apart."""
    out: set[str] = set()
    for payload in payloads:
        for key in payload:
            if key.endswith(BIND):
                nav = key[: -len(BIND)]
                out.add(f"_{navigation.get(nav, nav)}_value")
            elif "@" not in key and key in columns and key not in DOCUMENT_COLUMNS.values():
                out.add(key)
    out.update(c for c in ALWAYS_READ if c.removeprefix("_").removesuffix("_value") in columns)
    return sorted(out)


def read_document(client: DataverseClient, row_id: str) -> Document | None:
    """The document note ``row_id`` holds (None: it holds none, or is gone)."""
    digest = hashlib.sha256()
    size = 0
    try:
        for block in download_note_document(client, row_id):
            digest.update(block)
            size += len(block)
    except NotFound:
        return None
    return Document(size, digest.hexdigest())


class FileReader(Protocol):
    """Reads a file back from SharePoint (``load.sharepoint.SharePointSender``)."""

    def read_back(self, payload: Mapping[str, Any] | None) -> tuple[int, str] | None: ...


ReadBack = Callable[[], "Document | None"]


def _compared(
    table: str, row_id: str, source_key: str, field: str, sent: Document, read: ReadBack
) -> DiffRow:
    """What ``read`` finds against ``sent``: match, mismatch, or missing (not there, or it
    could not be read: the error is the actual side)."""
    try:
        held = read()
    except FerryError as exc:
        return DiffRow(table, row_id, source_key, field, None, sent.shown(), str(exc), "missing")
    verdict: Verdict = "match" if held == sent else "missing" if held is None else "mismatch"
    shown = held.shown() if held is not None else None
    return DiffRow(table, row_id, source_key, field, None, sent.shown(), shown, verdict)


def _checked(
    task: str,
    items: Sequence[tuple[str, str, str, Document, ReadBack]],
    table: str,
    progress: Progress,
) -> list[DiffRow]:
    if not items:
        return []
    progress.start(task, total=len(items))
    out = []
    for row_id, source_key, field, sent, read in items:
        out.append(_compared(table, row_id, source_key, field, sent, read))
        progress.advance(task)
    progress.finish(task)
    return out


def check_files(
    reader: FileReader | None,
    entries: Iterable[tuple[str, str, Mapping[str, Any]]],
    *,
    progress: Progress = NO_PROGRESS,
) -> list[DiffRow]:
    """One ``content`` row per file put in SharePoint ((record id, source key, payload) of
    its ``file`` operation): its size and SHA-256 as read back against what was sent."""

    def read(payload: Mapping[str, Any]) -> ReadBack:
        def back() -> Document | None:
            if reader is None:
                raise ConfigError("not read: no SharePoint site is set ([sharepoint] site)")
            got = reader.read_back(payload)
            return Document(*got) if got is not None else None

        return back

    items = [
        (
            row_id,
            source_key,
            f"{payload['library']}/{payload['folder']}/{payload['name']}",
            Document(int(payload["size"]), str(payload["sha256"])),
            read(payload),
        )
        for row_id, source_key, payload in entries
    ]
    return _checked("verify SharePoint files", items, FILE_TABLE, progress)


def check_documents(
    client: DataverseClient,
    table: str,
    expected: Iterable[tuple[str, str, Document]],
    *,
    progress: Progress = NO_PROGRESS,
) -> list[DiffRow]:
    """One ``documentbody`` row per (record id, source key, document sent)."""
    column = DOCUMENT_COLUMNS.get(table)
    if column is None:
        return []  # a table without documents
    items = [
        (row_id, source_key, column, sent, partial(read_document, client, row_id))
        for row_id, source_key, sent in expected
    ]
    return _checked(f"verify {table} documents", items, table, progress)
