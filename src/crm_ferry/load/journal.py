"""The audit journal: every run, every intended write and its outcome, the id map.

One SQLite file per migration project (``journal.sqlite``, owner-only). It is the only
state that matters after a crash: an operation is written here (``pending``) before the
request that carries it is sent, and marked ``done`` or ``failed`` after the answer. A
resumed run re-sends what is still pending (writes are upserts to deterministic ids, so a
re-send after a lost answer changes nothing) and skips what is done.

Tables:

``runs``       one row per run: kind (migrate, delta, sample, rollback), state, counts.
``ops``        one row per intended write of a run, in the order it will be sent, with
               the payload (client data; removed by ``purge``) and the state of the row
               before the write (``prev_hash``/``prev_payload``; ``existed``), which is
               what rollback restores.
``idmap``      (table, id) → the source record it holds and the hash and payload last
               written: how a later run knows a record is unchanged.
``rejects``    every record a run could not read or transform, with its reason.
``watermarks`` per source object, the latest ``updated_at`` a run has loaded.
``meta``       the project's id namespace (uuid5 keys) and the journal version.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from crm_ferry.errors import FerryError
from crm_ferry.model import Reject
from crm_ferry.transform.ops import Operation

JOURNAL_FILE = "journal.sqlite"
VERSION = 1
_IN_CHUNK = 500
"""Values per ``IN (...)`` query (well under SQLite's limit on bound parameters)."""

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
    purged_at TEXT
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
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _default(value: Any) -> Any:
    # Numbers stay numbers, exactly as the client sends them (Decimal -> JSON number).
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default)


def _payload_text(op: JournalOp) -> str:
    """``_dumps(op.payload)``: the journaled text when the op was read from the journal
    (it is that encoding, and decoding then encoding it again gives the same text)."""
    if op.payload_text is not None:
        return op.payload_text
    return _dumps(op.payload)


class JournalError(FerryError):
    """The journal is missing, from another version, or in a state that forbids the step."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    kind: str
    state: str
    started_at: str
    finished_at: str | None
    source: str | None
    map_fingerprint: str | None
    note: str | None
    counts: dict[str, Any]
    rolled_back_by: str | None
    purged_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "source": self.source,
            "map_fingerprint": self.map_fingerprint,
            "note": self.note,
            "counts": self.counts,
            "rolled_back_by": self.rolled_back_by,
            "purged_at": self.purged_at,
        }


@dataclass(frozen=True, slots=True)
class JournalOp:
    """An operation as the journal holds it (payloads decoded on demand)."""

    run_id: str
    seq: int
    op_key: str
    role: str
    table: str
    row_id: str
    kind: str
    phase: int
    rank: int
    source_object: str
    source_id: str
    hash: str
    payload: dict[str, Any] | None
    existed: bool
    prev_hash: str | None
    prev_payload: dict[str, Any] | None
    state: str
    error: str | None
    create_only: tuple[str, ...] = ()
    action: str | None = None
    payload_text: str | None = field(default=None, compare=False, repr=False)
    """The payload as journaled (canonical JSON), so that it is not encoded again."""


_OP_COLUMNS = (
    "run_id, seq, op_key, role, tbl, row_id, kind, phase, rank, source_object, source_id, "
    "hash, payload, existed, prev_hash, prev_payload, state, error, create_only, action"
)


def _op(row: Sequence[Any]) -> JournalOp:
    return JournalOp(
        run_id=row[0],
        seq=row[1],
        op_key=row[2],
        role=row[3],
        table=row[4],
        row_id=row[5],
        kind=row[6],
        phase=row[7],
        rank=row[8],
        source_object=row[9],
        source_id=row[10],
        hash=row[11],
        payload=None if row[12] is None else json.loads(row[12]),
        existed=bool(row[13]),
        prev_hash=row[14],
        prev_payload=None if row[15] is None else json.loads(row[15]),
        state=row[16],
        error=row[17],
        create_only=tuple(json.loads(row[18])) if row[18] else (),
        action=row[19],
        payload_text=row[12],
    )


def secure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) owner-only (0700): run folders hold client data."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def secure_file(path: Path) -> Path:
    """Make sure ``path`` exists and is owner-only (0600)."""
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)
    return path


class Journal:
    """The project's journal. Not shared between threads: the engine writes from one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        secure_dir(path.parent)
        secure_file(path)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            if side.exists():
                os.chmod(side, 0o600)
        row = self.db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        if row is None:
            with self.tx():
                self.db.execute("INSERT INTO meta VALUES ('version', ?)", (str(VERSION),))
                self.db.execute("INSERT INTO meta VALUES ('namespace', ?)", (str(uuid.uuid4()),))
        elif int(row[0]) != VERSION:
            raise JournalError(
                f"{path} is a journal of version {row[0]}; this crm-ferry writes {VERSION}"
            )

    @classmethod
    def for_project(cls, project_dir: Path) -> Journal:
        return cls(project_dir / JOURNAL_FILE)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def tx(self) -> Iterator[None]:
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @property
    def namespace(self) -> uuid.UUID:
        row = self.db.execute("SELECT value FROM meta WHERE key='namespace'").fetchone()
        return uuid.UUID(row[0])

    # -- runs -----------------------------------------------------------------

    def start_run(
        self,
        kind: str,
        *,
        source: str | None = None,
        map_fingerprint: str | None = None,
        note: str | None = None,
        run_id: str | None = None,
    ) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        rid = run_id or f"{stamp}-{kind}-{uuid.uuid4().hex[:6]}"
        with self.tx():
            self.db.execute(
                "INSERT INTO runs (run_id, kind, state, started_at, source, map_fingerprint, "
                "note) VALUES (?, ?, 'running', ?, ?, ?, ?)",
                (rid, kind, _now(), source, map_fingerprint, note),
            )
        return rid

    def set_run(self, run_id: str, **fields: Any) -> None:
        allowed = {"state", "finished_at", "counts", "note", "rolled_back_by", "purged_at"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown run fields {bad}")
        values = {k: (_dumps(v) if k == "counts" else v) for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.tx():
            self.db.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", (*values.values(), run_id))

    def finish_run(self, run_id: str, state: str, counts: Mapping[str, Any]) -> None:
        self.set_run(run_id, state=state, finished_at=_now(), counts=dict(counts))

    def run(self, run_id: str) -> RunInfo:
        row = self.db.execute(
            "SELECT run_id, kind, state, started_at, finished_at, source, map_fingerprint, "
            "note, counts, rolled_back_by, purged_at FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise JournalError(
                f"no run {run_id!r} in {self.path.name}", hint="list runs with `crm-ferry runs`"
            )
        return RunInfo(
            run_id=row[0],
            kind=row[1],
            state=row[2],
            started_at=row[3],
            finished_at=row[4],
            source=row[5],
            map_fingerprint=row[6],
            note=row[7],
            counts=json.loads(row[8]) if row[8] else {},
            rolled_back_by=row[9],
            purged_at=row[10],
        )

    def runs(self) -> list[RunInfo]:
        ids = [r[0] for r in self.db.execute("SELECT run_id FROM runs ORDER BY rowid")]
        return [self.run(i) for i in ids]

    def unfinished(self, kinds: Iterable[str]) -> RunInfo | None:
        """The latest run of these kinds that did not finish (to resume)."""
        kinds = tuple(kinds)
        marks = ",".join("?" * len(kinds))
        row = self.db.execute(
            f"SELECT run_id FROM runs WHERE state = 'running' AND kind IN ({marks}) "
            "ORDER BY rowid DESC LIMIT 1",
            kinds,
        ).fetchone()
        return None if row is None else self.run(row[0])

    # -- operations -----------------------------------------------------------

    def known_hash(self, op_key: str) -> tuple[str, str | None] | None:
        """``(hash, payload)`` last written for this op, or None if it was never written."""
        row = self.db.execute(
            "SELECT hash, payload FROM idmap WHERE op_key = ?", (op_key,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def known_hashes(self, op_keys: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """:meth:`known_hash` of many ops in a few queries: op key → ``(hash, payload)`` of
        those that were written before (the others are absent)."""
        wanted = list(dict.fromkeys(op_keys))
        out: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, hash_, payload in self.db.execute(
                f"SELECT op_key, hash, payload FROM idmap WHERE op_key IN ({marks})", chunk
            ):
                out[key] = (hash_, payload)
        return out

    def add_ops(
        self,
        run_id: str,
        ops: Sequence[tuple[Operation, int]],
        start_seq: int,
        *,
        known: Mapping[str, tuple[str, str | None]] | None = None,
    ) -> int:
        """Journal intended operations (``pending``) with their rank; return the next seq.

        An op already journaled for this run (a resumed transform) is left as it is.
        ``known``: :meth:`known_hashes` of (at least) these ops, when the caller has it."""
        if known is None:
            known = self.known_hashes(op.op_key for op, _ in ops)
        rows = []
        seq = start_seq
        for op, rank in ops:
            prev = known.get(op.op_key)
            rows.append(
                (
                    run_id,
                    seq,
                    op.op_key,
                    op.role,
                    op.table,
                    op.id,
                    op.kind,
                    op.phase,
                    rank,
                    op.source.object,
                    op.source.id,
                    op.hash,
                    op.text if op.text is not None else _dumps(op.payload),
                    int(prev is not None),
                    None if prev is None else prev[0],
                    None if prev is None else prev[1],
                    json.dumps(list(op.create_only)) if op.create_only else None,
                    op.action,
                )
            )
            seq += 1
        with self.tx():
            self.db.executemany(
                "INSERT OR IGNORE INTO ops (run_id, seq, op_key, role, tbl, row_id, kind, phase, "
                "rank, source_object, source_id, hash, payload, existed, prev_hash, "
                "prev_payload, create_only, action) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return seq

    def next_seq(self, run_id: str) -> int:
        row = self.db.execute("SELECT MAX(seq) FROM ops WHERE run_id = ?", (run_id,)).fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def pending(self, run_id: str) -> Iterator[JournalOp]:
        """Pending operations in send order: phase, then load rank, then journal order."""
        # Read in pages by key, with no cursor left open while the sender marks rows done
        # (the rows being read would otherwise move in the index under the cursor).
        last = (-1, -1, -1)
        while True:
            rows = self.db.execute(
                f"SELECT {_OP_COLUMNS} FROM ops WHERE run_id = ? AND state = 'pending' "
                "AND (phase, rank, seq) > (?, ?, ?) ORDER BY phase, rank, seq LIMIT 2000",
                (run_id, *last),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _op(row)
            last = (rows[-1][7], rows[-1][8], rows[-1][1])

    def ops(self, run_id: str, *, state: str | None = None) -> list[JournalOp]:
        sql = f"SELECT {_OP_COLUMNS} FROM ops WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if state:
            sql += " AND state = ?"
            args += (state,)
        return [_op(r) for r in self.db.execute(sql + " ORDER BY phase, rank, seq", args)]

    def mark_done(self, run_id: str, ops: Sequence[JournalOp]) -> None:
        now = _now()
        with self.tx():
            self.db.executemany(
                "UPDATE ops SET state = 'done', done_at = ?, error = NULL "
                "WHERE run_id = ? AND op_key = ?",
                [(now, run_id, o.op_key) for o in ops],
            )
            self.db.executemany(
                "INSERT INTO idmap (op_key, tbl, row_id, role, source_object, source_id, hash, "
                "payload, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(op_key) DO UPDATE SET hash = excluded.hash, "
                "payload = excluded.payload, run_id = excluded.run_id",
                [
                    (
                        o.op_key,
                        o.table,
                        o.row_id,
                        o.role,
                        o.source_object,
                        o.source_id,
                        o.hash,
                        None if o.payload is None else _payload_text(o),
                        run_id,
                    )
                    for o in ops
                ],
            )

    def mark_failed(self, run_id: str, failures: Sequence[tuple[JournalOp, str]]) -> None:
        with self.tx():
            self.db.executemany(
                "UPDATE ops SET state = 'failed', error = ?, done_at = ? "
                "WHERE run_id = ? AND op_key = ?",
                [(err, _now(), run_id, o.op_key) for o, err in failures],
            )

    def mark_state(self, run_id: str, op_keys: Sequence[str], state: str) -> None:
        with self.tx():
            self.db.executemany(
                "UPDATE ops SET state = ?, done_at = ? WHERE run_id = ? AND op_key = ?",
                [(state, _now(), run_id, k) for k in op_keys],
            )

    def forget(self, op_keys: Sequence[str]) -> None:
        with self.tx():
            self.db.executemany("DELETE FROM idmap WHERE op_key = ?", [(k,) for k in op_keys])

    def restore(self, op: JournalOp) -> None:
        """Put the id map back to what it was before ``op`` (after rolling it back)."""
        with self.tx():
            if op.prev_hash is None:
                self.db.execute("DELETE FROM idmap WHERE op_key = ?", (op.op_key,))
            else:
                self.db.execute(
                    "UPDATE idmap SET hash = ?, payload = ? WHERE op_key = ?",
                    (
                        op.prev_hash,
                        None if op.prev_payload is None else _dumps(op.prev_payload),
                        op.op_key,
                    ),
                )

    def state_counts(self, run_id: str) -> dict[str, int]:
        return dict(
            self.db.execute(
                "SELECT state, COUNT(*) FROM ops WHERE run_id = ? GROUP BY state", (run_id,)
            ).fetchall()
        )

    def idmap_sources(self, source_object: str) -> dict[str, list[tuple[str, str, str]]]:
        """Source id → ``[(role, table, row id)]`` of every row written from that object."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        for sid, role, tbl, rid in self.db.execute(
            "SELECT source_id, role, tbl, row_id FROM idmap WHERE source_object = ? "
            "AND op_key LIKE '%/upsert/0'",
            (source_object,),
        ):
            out.setdefault(sid, []).append((role, tbl, rid))
        return out

    def row_ids(self, table: str) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT row_id FROM idmap WHERE tbl = ? AND op_key LIKE '%/upsert/0'",
                (table,),
            )
        ]

    # -- rejects and watermarks ---------------------------------------------------

    def add_rejects(self, run_id: str, rejects: Iterable[Reject]) -> None:
        rows = [
            (run_id, r.object, r.file, r.line, r.column, r.value, r.reason, r.source_id)
            for r in rejects
        ]
        if rows:
            with self.tx():
                self.db.executemany("INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def clear_rejects(self, run_id: str) -> None:
        with self.tx():
            self.db.execute("DELETE FROM rejects WHERE run_id = ?", (run_id,))

    def rejects(self, run_id: str) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT object, file, line, column_name, value, reason, source_id FROM rejects "
            "WHERE run_id = ?",
            (run_id,),
        )
        keys = ("object", "file", "line", "column", "value", "reason", "source_id")
        return [dict(zip(keys, row, strict=True)) for row in cur]

    def watermark(self, source_object: str) -> str | None:
        row = self.db.execute(
            "SELECT updated_at FROM watermarks WHERE source_object = ?", (source_object,)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_watermarks(self, run_id: str, marks: Mapping[str, str]) -> None:
        with self.tx():
            self.db.executemany(
                "INSERT INTO watermarks VALUES (?, ?, ?) ON CONFLICT(source_object) DO UPDATE "
                "SET updated_at = MAX(updated_at, excluded.updated_at), run_id = excluded.run_id",
                [(obj, ts, run_id) for obj, ts in marks.items()],
            )

    # -- samples and their acceptance ------------------------------------------------------

    def record_sample(
        self, run_id: str, map_digest: str, report: str, verdicts: Mapping[str, int]
    ) -> None:
        with self.tx():
            self.db.execute(
                "INSERT INTO samples (run_id, map_digest, report, verdicts) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(run_id) DO UPDATE SET map_digest = excluded.map_digest, "
                "report = excluded.report, verdicts = excluded.verdicts",
                (run_id, map_digest, report, _dumps(dict(verdicts))),
            )

    def latest_sample(self) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT run_id, map_digest, report, verdicts, accepted_by, accepted_at FROM samples "
            "ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        keys = ("run_id", "map_digest", "report", "verdicts", "accepted_by", "accepted_at")
        out = dict(zip(keys, row, strict=True))
        out["verdicts"] = json.loads(out["verdicts"]) if out["verdicts"] else {}
        return out

    def accept_sample(self, run_id: str, by: str) -> None:
        with self.tx():
            self.db.execute(
                "UPDATE samples SET accepted_by = ?, accepted_at = ? WHERE run_id = ?",
                (by, _now(), run_id),
            )

    def accepted_sample(self, map_digest: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT run_id, accepted_by, accepted_at FROM samples WHERE map_digest = ? "
            "AND accepted_at IS NOT NULL ORDER BY rowid DESC LIMIT 1",
            (map_digest,),
        ).fetchone()
        if row is None:
            return None
        return {"run_id": row[0], "accepted_by": row[1], "accepted_at": row[2]}

    # -- local data protection ---------------------------------------------------------

    def purge(self, run_id: str | None) -> int:
        """Remove record contents (payloads, rejected values) of one run or all runs.

        Ids, operations, states, counts and timestamps stay: the audit trail survives."""
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id else ("", ())
        with self.tx():
            n = self.db.execute(
                f"UPDATE ops SET payload = NULL, prev_payload = NULL {where}", args
            ).rowcount
            self.db.execute(f"UPDATE idmap SET payload = NULL {where}", args)
            self.db.execute(f"UPDATE rejects SET value = NULL {where}", args)
            self.db.execute(f"UPDATE runs SET purged_at = ? {where}", (_now(), *args))
        self.db.execute("VACUUM")
        return n
