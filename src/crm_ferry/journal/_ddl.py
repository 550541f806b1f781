"""The journal's tables, as one text both backends create (SQLite and PostgreSQL), and
the steps that bring an older journal to :data:`VERSION`.

The text is SQLite's; :func:`postgres_ddl` gives PostgreSQL's: the same tables, each with a
``rowid`` (``BIGSERIAL``, last) that keeps the order rows were written in, as SQLite's own
rowid does (the journal orders runs, samples and reconciliations by it).
"""

from __future__ import annotations

import re

VERSION = 2
"""The journal's schema version. 1: the tables of one process. 2: ``slices`` and
``workers``, for a run sent by several worker processes."""

BASE = """
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

MIGRATIONS: dict[int, str] = {
    2: """
CREATE TABLE IF NOT EXISTS slices (
    run_id TEXT NOT NULL,
    slice INTEGER NOT NULL,
    step INTEGER NOT NULL,
    phase INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    tbl TEXT NOT NULL,
    kind TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    ops INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    worker TEXT,
    lease_until DOUBLE PRECISION,
    claims INTEGER NOT NULL DEFAULT 0,
    done_at TEXT,
    PRIMARY KEY (run_id, slice)
);
CREATE INDEX IF NOT EXISTS slices_open ON slices (run_id, state, step);
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    users TEXT NOT NULL,
    started_at TEXT NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL,
    slice INTEGER,
    tbl TEXT,
    ops_done INTEGER NOT NULL DEFAULT 0,
    ops_failed INTEGER NOT NULL DEFAULT 0,
    slices_done INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX IF NOT EXISTS workers_run ON workers (run_id);
""",
}
"""Version → what brings a journal of the version before it there (applied in order, in
one transaction with the new version number)."""


def schema_text() -> str:
    """Every table of :data:`VERSION` (what a new journal is created with)."""
    return BASE + "".join(MIGRATIONS[v] for v in sorted(MIGRATIONS))


_TABLE_END = re.compile(r"(CREATE TABLE IF NOT EXISTS \w+ \((?:.|\n)*?)\n?\);")
"""A table's definition up to its closing ``);`` (on a line of its own, or on its one line,
as ``meta``'s)."""


def postgres_ddl(text: str) -> list[str]:
    """``text`` (SQLite's DDL) as PostgreSQL statements: each table gets a ``rowid``, and
    each text column the "C" collation (ids and op keys order as SQLite orders them)."""
    with_rowid = _TABLE_END.sub(lambda m: m.group(1) + ",\n    rowid BIGSERIAL\n);", text)
    # text sorts byte by byte, as in SQLite, whatever the database's own collation
    with_rowid = re.sub(r" TEXT\b", ' TEXT COLLATE "C"', with_rowid)
    return [s.strip() for s in with_rowid.split(";") if s.strip()]
