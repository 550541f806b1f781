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
from crm_ferry.owner_only import FILE_MODE, secure_dir, secure_file

JOURNAL_FILE = "journal.sqlite"
VERSION = 1
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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    source TEXT,
    map_fingerprint TEXT,
    note TEXT,
    counts TEXT,
    rolled_back_by TEXT,
    purged_at TEXT,
    pid INTEGER,
    host TEXT
);
CREATE TABLE IF NOT EXISTS ops (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    op_key TEXT NOT NULL,
    role TEXT NOT NULL,
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    phase INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    source_object TEXT NOT NULL,
    source_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    payload TEXT,
    create_only TEXT,
    action TEXT,
    existed INTEGER NOT NULL DEFAULT 0,
    prev_hash TEXT,
    prev_payload TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    error TEXT,
    done_at TEXT,
    lost_at TEXT,
    sent_at TEXT,
    PRIMARY KEY (run_id, op_key)
);
CREATE INDEX IF NOT EXISTS ops_order ON ops (run_id, state, phase, rank, seq);
CREATE TABLE IF NOT EXISTS idmap (
    op_key TEXT PRIMARY KEY,
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    role TEXT NOT NULL,
    source_object TEXT NOT NULL,
    source_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    payload TEXT,
    run_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idmap_source ON idmap (source_object, source_id);
CREATE TABLE IF NOT EXISTS rejects (
    run_id TEXT NOT NULL,
    object TEXT NOT NULL,
    file TEXT,
    line INTEGER,
    column_name TEXT,
    value TEXT,
    reason TEXT NOT NULL,
    source_id TEXT
);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT PRIMARY KEY,
    map_digest TEXT NOT NULL,
    report TEXT,
    verdicts TEXT,
    accepted_by TEXT,
    accepted_at TEXT
);
CREATE TABLE IF NOT EXISTS watermarks (
    source_object TEXT PRIMARY KEY,
    updated_at TEXT NOT NULL,
    run_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS matches (
    role TEXT NOT NULL,
    source_id TEXT NOT NULL,
    row_id TEXT NOT NULL,
    how TEXT NOT NULL,
    PRIMARY KEY (role, source_id)
);
CREATE TABLE IF NOT EXISTS schema_runs (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    environment TEXT NOT NULL,
    solution TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    state TEXT NOT NULL,
    error TEXT,
    pid INTEGER,
    host TEXT
);
CREATE TABLE IF NOT EXISTS schema_ops (
    run_id TEXT NOT NULL REFERENCES schema_runs(run_id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    table_name TEXT NOT NULL,
    name TEXT NOT NULL,
    op TEXT NOT NULL,
    reverse TEXT NOT NULL,
    metadata_id TEXT,
    recorded_at TEXT NOT NULL,
    applied_at TEXT,
    state TEXT NOT NULL,
    error TEXT,
    reversed_at TEXT,
    reversed_by TEXT,
    outcome TEXT,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS schema_ops_open ON schema_ops(state, reversed_at);
CREATE TABLE IF NOT EXISTS undo_steps (
    run_id TEXT NOT NULL,
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    rollback_id TEXT NOT NULL,
    detail TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (run_id, tbl, row_id, action)
);
CREATE INDEX IF NOT EXISTS idmap_row ON idmap (tbl, row_id);
CREATE INDEX IF NOT EXISTS idmap_row_lower ON idmap (lower(row_id));
CREATE TABLE IF NOT EXISTS uploads (
    op_key TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reconciliations (
    recon_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    made_at TEXT NOT NULL,
    report TEXT,
    differences TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accepted_differences (
    scope TEXT NOT NULL,
    diff_id TEXT NOT NULL,
    classification TEXT NOT NULL,
    table_name TEXT NOT NULL,
    record TEXT NOT NULL,
    column_name TEXT NOT NULL,
    what TEXT NOT NULL,
    accepted_by TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    recon_id TEXT,
    PRIMARY KEY (scope, diff_id)
);
"""


class JournalError(FerryError):
    """The journal is missing, from another version, or in a state that forbids the step."""

    exit_code = 2


def now() -> str:
    """UTC time to the second, as the journal writes it (``2026-11-20T09:00:00Z``)."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    """The journal file, opened: the schema created, the version checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        secure_dir(path.parent)
        secure_file(path)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._add_missing_columns()
        self.db.executescript(_SCHEMA)
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            if side.exists():
                os.chmod(side, FILE_MODE)
        row = self.db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        if row is None:
            with self.tx():
                self.db.execute("INSERT INTO meta VALUES ('version', ?)", (str(VERSION),))
                self.db.execute("INSERT INTO meta VALUES ('namespace', ?)", (str(uuid.uuid4()),))
        elif int(row[0]) != VERSION:
            self.db.close()
            raise JournalError(
                f"{path} is a journal of version {row[0]}; this crm-ferry writes {VERSION}",
                hint="use the crm-ferry version that wrote it, or start a new project folder",
            )

    def close(self) -> None:
        self.db.close()

    def _add_missing_columns(self) -> None:
        """Give the tables of an older journal the columns added to :data:`_SCHEMA` since it
        was written (``ALTER TABLE … ADD COLUMN``), so that it keeps opening; a table it does
        not have yet is created whole by the schema afterwards. A journal of another version
        is left as it is (it is refused once opened)."""
        has_meta = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if has_meta is not None:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is not None and str(row[0]) != str(VERSION):
                return
        expected = sqlite3.connect(":memory:")
        try:
            expected.executescript(_SCHEMA)
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
