"""A run's scratch tables: the transform context on disk, so that memory stays flat in the
size of the bundle. (Not the journal: a private file of its own, deleted when the run ends.)

Transform looks parents up by id (a note's session, an invoice's client). Held in
dictionaries, those references grow with the bundle (about 0.3 KB per session, invoice and
client with the allocator's overhead); here each kind is a table of a private SQLite file
instead once it holds more than :data:`SPILL_ABOVE` (below that, a dictionary: small
bundles never touch the file), written in batches by the first pass and read by id, with a
small cache in front for the runs of records that share a parent.

The file holds client names, so it lives in an owner-only folder (0700, the file 0600)
under the project's ``runs/`` and is deleted when the run ends. A folder left behind by a
process that was killed is removed by the next run (its process id is in its name).
"""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any

from crm_ferry.owner_only import secure_dir, secure_file

SPILL_ABOVE = 20_000
"""References of one kind kept in memory before the table goes to disk (a small bundle never
touches the file; above this, memory stays where it is)."""
WRITE_BATCH = 5000
"""References buffered before they are written, once on disk."""
CACHE_SIZE = 4096
"""References kept decoded; the cache is emptied when it is full (records come in runs)."""
PREFIX = "context-"


class RefStore:
    """A private SQLite file of reference tables; close it (or use ``with``) to delete it."""

    def __init__(self, folder: Path) -> None:
        secure_dir(folder)
        _remove_orphans(folder)
        self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=folder))
        path = secure_file(self.folder / "context.sqlite")
        self.db = sqlite3.connect(path, isolation_level=None)
        # a scratch file: nothing to recover after a crash, so no journal and no syncing
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-4096")
        self.tables: dict[str, SpilledRefs] = {}

    def table(self, name: str) -> SpilledRefs:
        if name not in self.tables:
            if not name.isidentifier():
                raise ValueError(f"not a table name: {name!r}")
            self.db.execute(f"CREATE TABLE {name} (k TEXT PRIMARY KEY, v BLOB NOT NULL)")
            self.tables[name] = SpilledRefs(self.db, name)
        return self.tables[name]

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RefStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SpilledRefs(MutableMapping[str, Any]):
    """One kind of reference by id: written in batches, read by key through a small cache.

    Values are pickled: they are this program's own frozen dataclasses, written and read by
    the same process in a file no one else can open."""

    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        self._db = db
        self._name = name
        self._pending: dict[str, Any] = {}
        self._cache: dict[str, Any] = {}
        self._spilled = False
        self._get = f"SELECT v FROM {name} WHERE k = ?"

    def flush(self) -> None:
        if self._spilled and self._pending:
            self._db.executemany(
                f"INSERT OR REPLACE INTO {self._name} (k, v) VALUES (?, ?)",
                [(k, pickle.dumps(v, protocol=5)) for k, v in self._pending.items()],
            )
            self._pending.clear()

    def __setitem__(self, key: str, value: Any) -> None:
        self._cache.pop(key, None)
        self._pending[key] = value
        if len(self._pending) >= (WRITE_BATCH if self._spilled else SPILL_ABOVE):
            self._spilled = True
            self.flush()

    def __getitem__(self, key: str) -> Any:
        if key in self._pending:
            return self._pending[key]
        if not self._spilled:
            raise KeyError(key)
        if key in self._cache:
            return self._cache[key]
        row = self._db.execute(self._get, (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        value = pickle.loads(row[0])
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __delitem__(self, key: str) -> None:
        if not self._spilled:
            del self._pending[key]
            return
        self.flush()
        self._cache.pop(key, None)
        if self._db.execute(f"DELETE FROM {self._name} WHERE k = ?", (key,)).rowcount == 0:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        if not self._spilled:
            yield from list(self._pending)
            return
        self.flush()
        for (key,) in self._db.execute(f"SELECT k FROM {self._name} ORDER BY rowid"):
            yield key

    def __len__(self) -> int:
        if not self._spilled:
            return len(self._pending)
        self.flush()
        return int(self._db.execute(f"SELECT count(*) FROM {self._name}").fetchone()[0])


def _remove_orphans(folder: Path) -> None:
    """Delete context folders whose process is gone (killed before it could clean up)."""
    for path in folder.glob(f"{PREFIX}*-*"):
        pid_text = path.name[len(PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
