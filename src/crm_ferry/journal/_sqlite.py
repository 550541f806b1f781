"""The journal's SQLite file: one connection, one schema, one version.

The file and its folder are owner-only (it holds client data). Write-ahead logging with
``synchronous=NORMAL``: a commit survives a crash of the process without waiting for the disk
each time. The connection is in autocommit mode with explicit transactions (``BEGIN
IMMEDIATE``, so that a writer waits for another instead of failing on upgrade): each step is
durable on its own, and a crash never loses a written intent.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from crm_ferry.errors import FerryError
from crm_ferry.journal._ddl import BASE, MIGRATIONS, VERSION, schema_text
from crm_ferry.owner_only import FILE_MODE, secure_dir, secure_file

JOURNAL_FILE = "journal.sqlite"
IN_CHUNK = 500
"""Values per ``IN (...)`` query (well under SQLite's limit on bound parameters)."""
SENT_UNKNOWN = "unknown"
"""``ops.sent_at`` of the operations an older journal left pending: it did not record
whether they were sent, so they count as sent (their rows are looked up, not assumed
absent)."""

_BACKFILL = {
    ("ops", "sent_at"): f"UPDATE ops SET sent_at = '{SENT_UNKNOWN}' WHERE state = 'pending'",
}
"""What an added column holds in the rows an older journal has, when not NULL."""


class JournalError(FerryError):
    """The journal is missing, from another version, or in a state that forbids the step."""

    exit_code = 2


def now(*, precise: bool = False) -> str:
    """UTC time to the second, as the journal writes it (``2026-11-20T09:00:00Z``); to the
    millisecond when ``precise`` (``2026-11-20T09:00:00.123Z``: when an operation's outcome
    was written, which workers taking over each other's slices are checked against)."""
    spec = "milliseconds" if precise else "seconds"
    return datetime.now(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def stamp() -> str:
    """UTC time as it begins a run id (``20261120T090000``)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S")


def _default(value: Any) -> Any:
    # Numbers stay numbers, exactly as the client sends them (Decimal -> JSON number).
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return str(value)


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces): equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Connection:
    """The journal file, opened: the schema created or brought to :data:`VERSION`."""

    dialect = "sqlite"
    clock = "((julianday('now') - 2440587.5) * 86400.0)"
    """SQL for this machine's clock, in seconds since 1970 (what leases are timed by)."""
    lock = ""
    """What a claim's SELECT ends with: nothing here (``BEGIN IMMEDIATE`` serialises
    writers; PostgreSQL's is ``FOR UPDATE SKIP LOCKED``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = path.name
        """How messages name the journal."""
        secure_dir(path.parent)
        secure_file(path)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._add_missing_columns()
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            if side.exists():
                os.chmod(side, FILE_MODE)
        has_meta = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        row = None
        if has_meta is not None:
            row = self.db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        if row is None:
            self.db.executescript(schema_text())
            with self.tx():
                self.db.execute("INSERT INTO meta VALUES ('version', ?)", (str(VERSION),))
                self.db.execute("INSERT INTO meta VALUES ('namespace', ?)", (str(uuid.uuid4()),))
            return
        version = int(row[0])
        if version > VERSION:
            self.db.close()
            raise JournalError(
                f"{path} is a journal of version {version}; this crm-ferry reads up to {VERSION}",
                hint="use the crm-ferry version that wrote it (or a newer one), or start a new "
                "project folder",
            )
        self.db.executescript(BASE)
        if version < VERSION:
            with self.tx() as db:
                again = int(db.execute("SELECT value FROM meta WHERE key='version'").fetchone()[0])
                for step in range(again + 1, VERSION + 1):
                    _script(db, MIGRATIONS[step])
                db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(VERSION),))

    def close(self) -> None:
        self.db.close()

    def vacuum(self) -> None:
        self.db.execute("VACUUM")

    def _add_missing_columns(self) -> None:
        """Give the tables of an older journal the columns added to the schema
        (:data:`~crm_ferry.journal._ddl.BASE`) since it was written (``ALTER TABLE … ADD
        COLUMN``), so that it keeps opening; a table it does not have yet is created whole
        afterwards. A journal of a newer version is left as it is (it is refused once
        opened)."""
        has_meta = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if has_meta is not None:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is not None and int(row[0]) > VERSION:
                return
        expected = sqlite3.connect(":memory:")
        try:
            expected.executescript(schema_text())
            tables = [
                str(r[0])
                for r in expected.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            wanted = {t: expected.execute(f"PRAGMA table_info({t})").fetchall() for t in tables}
        finally:
            expected.close()
        if not self._missing_columns(wanted):
            return
        with self.tx() as db:
            # looked at again inside the write lock: another process may have added them
            for table, columns in self._missing_columns(wanted).items():
                for _cid, name, decl, notnull, default, _pk in columns:
                    clause = f"{name} {decl}".rstrip()
                    if default is not None:
                        clause += f" DEFAULT {default}"
                    if notnull and default is not None:
                        clause += " NOT NULL"
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {clause}")
                    backfill = _BACKFILL.get((table, name))
                    if backfill is not None:
                        db.execute(backfill)

    def _missing_columns(
        self, wanted: dict[str, list[tuple[Any, ...]]]
    ) -> dict[str, list[tuple[Any, ...]]]:
        """Per existing table, the expected columns it lacks (tables it lacks are left out)."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table, columns in wanted.items():
            have = {str(r[1]) for r in self.db.execute(f"PRAGMA table_info({table})")}
            missing = [c for c in columns if have and str(c[1]) not in have]
            if missing:
                out[table] = missing
        return out

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        if self.db.in_transaction:  # a step of a transaction already open
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def meta(self, key: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])


def _script(db: sqlite3.Connection, text: str) -> None:
    """Statements of ``text`` one by one, inside the open transaction (``executescript``
    would commit it first)."""
    for statement in text.split(";"):
        if statement.strip():
            db.execute(statement)
