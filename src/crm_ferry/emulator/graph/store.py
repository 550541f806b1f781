"""Storage of the emulated SharePoint: sites, libraries, drive items and upload sessions in
SQLite, file content in files.

Without a data folder, the database is in memory and the files live in a private temporary
folder removed on :meth:`GraphStore.close`; with one, both are under ``<data_dir>/graph/``
(``graph.sqlite`` and ``files/``, owner-only: they hold the migrated documents), so an
emulator restarted on the same folder serves the same documents.

File content never sits on the Python heap longer than one request body: a simple upload
is written to its file, an upload session's fragments are written in place into the
session's part file, and committing the session renames that file to the item's (no copy).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from crm_ferry.owner_only import secure_dir, secure_file

DB_NAME = "graph.sqlite"
FILES = "files"

_DDL = """
CREATE TABLE IF NOT EXISTS sites (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS libraries (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    drive_id TEXT NOT NULL UNIQUE,
    name_key TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (site_id, name_key)
);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    drive_id TEXT NOT NULL,
    parent_id TEXT,
    name_key TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (drive_id, parent_id, name_key)
);
CREATE INDEX IF NOT EXISTS items_by_parent ON items (parent_id, name_key);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    hostname: str
    path: str
    """Server-relative, without slashes at either end (``sites/crm``)."""
    display_name: str
    created: str

    @property
    def web_url(self) -> str:
        return f"https://{self.hostname}/{self.path}"


@dataclass(frozen=True, slots=True)
class Library:
    """A document library: a list with the ``documentLibrary`` template, and its drive."""

    id: str
    site_id: str
    drive_id: str
    display_name: str
    url_name: str
    created: str
    root_id: str


@dataclass(frozen=True, slots=True)
class Item:
    """A drive item: the root, a folder or a file."""

    id: str
    drive_id: str
    parent_id: str | None
    name: str
    folder: bool
    created: str
    modified: str
    tag: str
    """The GUID the eTag and cTag are made of."""
    version: int = 1
    content_version: int = 1
    size: int = 0
    mime_type: str | None = None
    quick_xor: str | None = None
    sha256: str | None = None
    created_by: str | None = None
    modified_by: str | None = None
    """The application (client id) that created or last changed it."""


@dataclass(frozen=True, slots=True)
class Session:
    """An upload session: where the file goes, and the bytes received so far."""

    id: str
    secret: str
    drive_id: str
    parent_id: str
    name: str
    conflict: str
    defer_commit: bool
    expires_at: float
    """On the emulator's (monotonic) clock."""
    received: int = 0
    total: int | None = None
    """Fixed by the first fragment (``Content-Range: bytes a-b/<total>``)."""
    file_size: int | None = None
    """``item.fileSize`` as the session was created with it."""
    item_id: str | None = None
    """The existing file the session replaces (``items/{id}/createUploadSession``)."""
    created_by: str | None = None


def _key(name: str) -> str:
    """SharePoint compares names without case."""
    return name.casefold()


class GraphStore:
    """One SQLite connection and a folder of files (the caller holds the lock)."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.persistent = data_dir is not None
        self._temporary: Path | None = None
        if data_dir is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="crm-ferry-graph-"))
            self.files = self._temporary
            target = ":memory:"
        else:
            folder = secure_dir(data_dir / "graph")
            self.files = secure_dir(folder / FILES)
            target = str(secure_file(folder / DB_NAME))
        self.conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        if data_dir is not None:
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.executescript(_DDL)
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing (nestable)."""
        name = f"sp{self._depth}"
        self._depth += 1
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        else:
            self.conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    # -- sites and libraries -----------------------------------------------------------

    def put_site(self, site: Site) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO sites VALUES (?, ?)", (site.id, json.dumps(asdict(site)))
        )

    def sites(self) -> list[Site]:
        return [Site(**json.loads(d)) for (d,) in self.conn.execute("SELECT data FROM sites")]

    def put_library(self, library: Library) -> None:
        self.conn.execute(
            "INSERT INTO libraries VALUES (?, ?, ?, ?, ?)",
            (
                library.id,
                library.site_id,
                library.drive_id,
                _key(library.display_name),
                json.dumps(asdict(library)),
            ),
        )

    def libraries(self, site_id: str) -> list[Library]:
        rows = self.conn.execute(
            "SELECT data FROM libraries WHERE site_id = ? ORDER BY name_key", (site_id,)
        )
        return [Library(**json.loads(d)) for (d,) in rows]

    def library_named(self, site_id: str, name: str) -> Library | None:
        row = self.conn.execute(
            "SELECT data FROM libraries WHERE site_id = ? AND name_key = ?",
            (site_id, _key(name)),
        ).fetchone()
        return Library(**json.loads(row[0])) if row else None

    def library(self, *, list_id: str | None = None, drive_id: str | None = None) -> Library | None:
        column, value = ("id", list_id) if list_id is not None else ("drive_id", drive_id)
        row = self.conn.execute(
            f"SELECT data FROM libraries WHERE {column} = ?", (value,)
        ).fetchone()
        return Library(**json.loads(row[0])) if row else None

    # -- items -------------------------------------------------------------------------

    def put_item(self, item: Item) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)",
            (item.id, item.drive_id, item.parent_id, _key(item.name), json.dumps(asdict(item))),
        )

    def item(self, item_id: str) -> Item | None:
        row = self.conn.execute("SELECT data FROM items WHERE id = ?", (item_id,)).fetchone()
        return Item(**json.loads(row[0])) if row else None

    def child(self, parent_id: str, name: str) -> Item | None:
        row = self.conn.execute(
            "SELECT data FROM items WHERE parent_id = ? AND name_key = ?", (parent_id, _key(name))
        ).fetchone()
        return Item(**json.loads(row[0])) if row else None

    def children(self, parent_id: str, *, after: str | None = None, limit: int = -1) -> list[Item]:
        """Children by name (without case), those after the name key ``after``."""
        rows = self.conn.execute(
            "SELECT data FROM items WHERE parent_id = ? AND name_key > ? ORDER BY name_key LIMIT ?",
            (parent_id, after if after is not None else "", limit),
        )
        return [Item(**json.loads(d)) for (d,) in rows]

    def child_count(self, parent_id: str) -> int:
        (n,) = self.conn.execute(
            "SELECT COUNT(*) FROM items WHERE parent_id = ?", (parent_id,)
        ).fetchone()
        return int(n)

    def drive_items(self, drive_id: str) -> list[Item]:
        rows = self.conn.execute("SELECT data FROM items WHERE drive_id = ?", (drive_id,))
        return [Item(**json.loads(d)) for (d,) in rows]

    def used(self, drive_id: str) -> int:
        return sum(i.size for i in self.drive_items(drive_id) if not i.folder)

    def delete_tree(self, item: Item) -> list[str]:
        """Delete ``item`` and everything under it; the ids of the files removed."""
        removed: list[str] = []
        stack = [item]
        while stack:
            current = stack.pop()
            if current.folder:
                stack.extend(self.children(current.id))
            else:
                removed.append(current.id)
            self.conn.execute("DELETE FROM items WHERE id = ?", (current.id,))
        return removed

    # -- content -----------------------------------------------------------------------

    def content_path(self, item_id: str) -> Path:
        return self.files / item_id

    def part_path(self, session_id: str) -> Path:
        return self.files / f"upload-{session_id}"

    def write_content(self, item_id: str, data: bytes) -> None:
        """The file of ``item_id``, written whole (a temporary file renamed into place)."""
        target = self.content_path(item_id)
        temporary = target.with_name(f"{target.name}.writing")
        with open(secure_file(temporary), "wb") as out:
            out.write(data)
        os.replace(temporary, target)

    def adopt_part(self, session_id: str, item_id: str) -> None:
        """The session's part file becomes the item's content (a rename, not a copy)."""
        os.replace(self.part_path(session_id), self.content_path(item_id))

    def remove_files(self, names: list[str]) -> None:
        for name in names:
            (self.files / name).unlink(missing_ok=True)

    # -- upload sessions ---------------------------------------------------------------

    def put_session(self, session: Session) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?)",
            (session.id, json.dumps(asdict(session))),
        )

    def session(self, session_id: str) -> Session | None:
        row = self.conn.execute("SELECT data FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return Session(**json.loads(row[0])) if row else None

    def sessions(self) -> list[Session]:
        return [Session(**json.loads(d)) for (d,) in self.conn.execute("SELECT data FROM sessions")]

    def delete_session(self, session_id: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        self.part_path(session_id).unlink(missing_ok=True)

    def close(self) -> None:
        self.conn.close()
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)


def changed(item: Item, **changes: Any) -> Item:
    """``item`` with ``changes`` and one more version (its eTag changes)."""
    return replace(item, version=item.version + 1, **changes)
