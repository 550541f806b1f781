"""The transform context of a load, from a first pass over the bundle's parent objects.

Transform looks records up across objects (a note's session, an invoice's client); this
pass collects what it needs (:class:`~crm_ferry.transform.context.ContextBuilder`), kept on
disk in a run's scratch store when one is given, so memory stays flat in the bundle's size.

It also matches the bundle's linked files (no path in the bundle) to the downloads folder
(:func:`~crm_ferry.sources.downloads.match_linked`), and gives transform one reader of
documents (:class:`Documents`): a path of the bundle from the bundle, a matched download,
by its key (``downloads:<path>``), from the downloads folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from crm_ferry.errors import SourceError
from crm_ferry.journal.scratch import RefStore
from crm_ferry.model import Record
from crm_ferry.sources.bundle import Bundle
from crm_ferry.sources.downloads import DOWNLOADS_PREFIX, Downloads, match_linked, read_linked
from crm_ferry.transform.context import ContextBuilder, TransformContext

__all__ = ["Documents", "build_context"]


class Documents:
    """Reads an attachment by its key: a path inside the bundle (``files/ab12.pdf``), or a
    matched download (``downloads:contracts/a.pdf``) from the downloads folder. Its size is
    known before it is read; it is read whole only within the bundle's limit."""

    def __init__(self, bundle: Bundle, downloads: Downloads | None = None) -> None:
        self.bundle = bundle
        self.downloads = downloads

    def _download(self, key: str) -> tuple[Downloads, str] | None:
        if not key.startswith(DOWNLOADS_PREFIX):
            return None
        if self.downloads is None:
            raise SourceError(f"{key}: no downloads folder was given to read it from")
        return self.downloads, key.removeprefix(DOWNLOADS_PREFIX)

    def read(self, key: str) -> bytes:
        found = self._download(key)
        if found is None:
            return self.bundle.read_attachment(key)  # its size checked before it is read
        downloads, path = found
        return downloads.read(path)

    def size(self, key: str) -> int | None:
        found = self._download(key)
        if found is None:
            return self.bundle.attachment_size(key)
        downloads, path = found
        return downloads.size(path)

    def open(self, key: str) -> BinaryIO:
        """The file, opened for reading (whole files: a SharePoint upload)."""
        found = self._download(key)
        if found is None:
            return self.bundle.open_attachment(key)
        downloads, path = found
        return downloads.open(path)

    def chunks(self, key: str, size: int = 1 << 20) -> Iterator[bytes]:
        """The file, ``size`` bytes at a time (a note's document in blocks)."""
        with self.open(key) as fh:
            while chunk := fh.read(size):
                yield chunk

    def sha256(self, key: str) -> str:
        """The file's SHA-256 (hex), read piece by piece."""
        found = self._download(key)
        if found is not None:
            downloads, path = found
            return downloads.sha256(path)
        return self.bundle.attachment_sha256(key)


def build_context(
    bundle: Bundle, store: RefStore | None = None, downloads: Downloads | None = None
) -> TransformContext:
    """The cross-record facts transform needs, from a first pass over the parent objects
    (kept in ``store``, on disk, when one is given), and where each linked file is among
    ``downloads`` (None: no folder, so none is found)."""
    builder = ContextBuilder(store.table if store is not None else None)
    for obj in ContextBuilder.OBJECTS:
        if obj in bundle.objects:
            for item in bundle.read(obj):
                if isinstance(item, Record):
                    builder.add(item)
    documents = Documents(bundle, downloads)
    return builder.build(
        read_attachment=documents.read,
        default_currency=bundle.manifest.currency,
        attachment_size=documents.size,
        attachment_sha256=documents.sha256,
        linked=match_linked(read_linked(bundle), downloads),
    )
