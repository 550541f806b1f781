"""Files into SharePoint: the ``file`` operations of a run, uploaded through Microsoft Graph.

Each operation names the site, the library (the table's logical name), the record's folder,
the file's name, its path in the bundle, size and SHA-256 (see
:mod:`crm_ferry.transform.roles.sharepoint`). The library is created when the site lacks it,
the folder when the library lacks it; the file goes in with conflict behaviour ``replace``, so
sending it again replaces it and never leaves a second copy. A large file goes in an upload
session whose URL is journaled before its first byte: a run resumed after a crash asks the
session how far it got and sends the rest (a session that expired is started again).

Rollback deletes a file only while it is what crm-ferry put there (same size); one changed
since is left and reported. Verify reads every file back and compares its size and SHA-256.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from crm_ferry.journal import Journal, JournalOp
from crm_ferry.sharepoint import Drive, DriveItem, SharePointClient, Site

__all__ = ["FileTarget", "SharePointSender", "target_of"]

OpenFile = Callable[[str], BinaryIO]
"""A file of the bundle by its path, opened for reading."""


@dataclass(frozen=True, slots=True)
class FileTarget:
    site: str
    library: str
    folder: str
    name: str
    path: str
    size: int
    sha256: str

    @property
    def where(self) -> str:
        return f"{self.library}/{self.folder}/{self.name}"


def target_of(payload: Mapping[str, Any] | None) -> FileTarget:
    p = payload or {}
    return FileTarget(
        str(p["site"]),
        str(p["library"]),
        str(p["folder"]),
        str(p["name"]),
        str(p["path"]),
        int(p["size"]),
        str(p["sha256"]),
    )


class SharePointSender:
    """Uploads, reads back and deletes the files of ``file`` operations (sites, libraries
    and folders looked up once each)."""

    def __init__(self, client: SharePointClient, journal: Journal | None = None) -> None:
        self.client = client
        self.journal = journal
        self._sites: dict[str, Site] = {}
        self._drives: dict[tuple[str, str], Drive] = {}
        self._folders: dict[tuple[str, str], DriveItem] = {}
        self._lock = threading.Lock()

    def _site(self, url: str) -> Site:
        if url not in self._sites:
            self._sites[url] = self.client.site(url)
        return self._sites[url]

    def drive(self, t: FileTarget, *, create: bool = True) -> Drive | None:
        key = (t.site, t.library)
        with self._lock:
            if key not in self._drives:
                site = self._site(t.site)
                if create:
                    self._drives[key] = self.client.ensure_library(site, t.library)[0]
                else:
                    found = self.client.drive(site, t.library)
                    if found is None:
                        return None
                    self._drives[key] = found
            return self._drives[key]

    def _folder(self, drive: Drive, name: str) -> DriveItem:
        key = (drive.id, name)
        with self._lock:
            if key not in self._folders:
                self._folders[key] = self.client.ensure_folder(drive, name)
            return self._folders[key]

    def upload(self, op: JournalOp, open_file: OpenFile) -> DriveItem:
        """Put the file of ``op`` in place (continuing a journaled upload session)."""
        t = target_of(op.payload)
        drive = self.drive(t)
        assert drive is not None
        folder = self._folder(drive, t.folder)
        journal = self.journal
        resume = journal.upload_url(op.op_key) if journal is not None else None

        def keep(url: str) -> None:
            if journal is not None:
                journal.note_upload(op.op_key, url)

        item = self.client.upload(
            drive,
            folder,
            t.name,
            lambda: open_file(t.path),
            t.size,
            on_session=keep,
            resume_url=resume,
        )
        if journal is not None:
            journal.forget_upload(op.op_key)
        return item

    def item(self, payload: Mapping[str, Any] | None) -> DriveItem | None:
        """The file where the operation put it (None: not there)."""
        t = target_of(payload)
        drive = self.drive(t, create=False)
        if drive is None:
            return None
        return self.client.item_by_path(drive, [t.folder, t.name])

    def holds(self, payload: Mapping[str, Any] | None) -> bool:
        """Whether the file is in place with the size it was sent with."""
        found = self.item(payload)
        return found is not None and found.size == target_of(payload).size

    def remove(self, payload: Mapping[str, Any] | None) -> Literal["deleted", "gone", "changed"]:
        """Delete the file crm-ferry put there; ``changed``: another file is there now (a
        person replaced it), left as it is; then its folder, once empty."""
        t = target_of(payload)
        found = self.item(payload)
        if found is None:
            return "gone"
        if found.size != t.size or self.client.sha256(found) != t.sha256:
            return "changed"
        self.client.delete(found)
        drive = self.drive(t, create=False)
        if drive is not None:
            folder = self.client.item_by_path(drive, [t.folder])
            if folder is not None and not any(True for _ in self.client.children(folder)):
                self.client.delete(folder)
        return "deleted"

    def read_back(self, payload: Mapping[str, Any] | None) -> tuple[int, str] | None:
        """(size, SHA-256) of the file as SharePoint holds it (None: it is not there)."""
        found = self.item(payload)
        if found is None:
            return None
        return found.size, self.client.sha256(found)
