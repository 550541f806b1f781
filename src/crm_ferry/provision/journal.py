"""The schema part of the project journal (``journal.sqlite``): what provisioning changed.

Two tables of their own, next to the data journal's (``crm_ferry.load.journal``) in the same
database file::

    schema_runs(run_id, kind, environment, solution, started_at, finished_at, state, error)
    schema_ops(run_id, seq, kind, table_name, name, op, reverse, metadata_id,
               recorded_at, applied_at, state, error, reversed_at, reversed_by, outcome)

An operation is written as ``pending`` *before* its request and marked ``applied`` (with the
metadata id the service answered) after it, so a crash between the two leaves a ``pending``
row that rollback still reverses (a reverse of something that is not there is ``absent``).
``op`` and ``reverse`` are the JSON of :class:`~crm_ferry.provision.plan.SchemaOp` and its
:class:`~crm_ferry.provision.plan.Reverse`: rollback needs nothing but this journal.

The file is created owner-only (0600): it names the environment and its schema. A journal
created here uses write-ahead logging (``journal_mode=WAL``, ``synchronous=NORMAL``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from crm_ferry.provision.plan import Reverse, SchemaOp

JOURNAL_FILE = "journal.sqlite"

_DDL = (
    """CREATE TABLE IF NOT EXISTS schema_runs (
        run_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        environment TEXT NOT NULL,
        solution TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        state TEXT NOT NULL,
        error TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS schema_ops (
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
    )""",
    "CREATE INDEX IF NOT EXISTS schema_ops_open ON schema_ops(state, reversed_at)",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_run_id(kind: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"schema-{kind}-{stamp}-{uuid.uuid4().hex[:6]}"


def create_private(path: Path) -> bool:
    """Create ``path`` owner-only (0600) if it does not exist yet; whether it was created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    os.chmod(path, 0o600)
    return True


@dataclass(frozen=True, slots=True)
class JournalOp:
    """One recorded schema operation."""

    run_id: str
    seq: int
    op: SchemaOp
    metadata_id: str | None
    state: str
    """``pending`` (intent written), ``applied`` or ``failed``."""
    applied_at: str | None
    reversed_at: str | None = None
    outcome: str | None = None

    @property
    def reverse(self) -> Reverse:
        return self.op.reverse

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "op": self.op.as_dict(),
            "metadata_id": self.metadata_id,
            "state": self.state,
            "applied_at": self.applied_at,
            "reversed_at": self.reversed_at,
            "outcome": self.outcome,
        }


class SchemaJournal:
    """``schema_runs`` and ``schema_ops`` in the project's ``journal.sqlite``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        created = create_private(path)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if created:
            # A journal is written often and read rarely: write-ahead logging, so a commit
            # survives a crash of the process without waiting for the disk each time.
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._tx():
            for ddl in _DDL:
                self._db.execute(ddl)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SchemaJournal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _tx(self) -> _Tx:
        # Autocommit connection (isolation_level=None) with explicit transactions: each
        # step is durable on its own, and a crash never loses a written intent.
        self._db.execute("BEGIN IMMEDIATE")
        return _Tx(self._db)

    # -- runs ------------------------------------------------------------------------

    def start_run(self, kind: str, *, environment: str, solution: str | None) -> str:
        run_id = new_run_id(kind)
        with self._tx():
            self._db.execute(
                "INSERT INTO schema_runs(run_id, kind, environment, solution, started_at, state) "
                "VALUES (?, ?, ?, ?, ?, 'running')",
                (run_id, kind, environment, solution, _now()),
            )
        return run_id

    def finish_run(self, run_id: str, state: str, error: str | None = None) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE schema_runs SET state = ?, finished_at = ?, error = ? WHERE run_id = ?",
                (state, _now(), error, run_id),
            )

    def runs(self) -> list[dict[str, Any]]:
        with closing(self._db.execute("SELECT * FROM schema_runs ORDER BY started_at")) as cur:
            return [dict(r) for r in cur.fetchall()]

    # -- operations ------------------------------------------------------------------

    def record(self, run_id: str, seq: int, op: SchemaOp) -> None:
        """Write the intent, before the request is sent."""
        with self._tx():
            self._db.execute(
                "INSERT INTO schema_ops(run_id, seq, kind, table_name, name, op, reverse, "
                "recorded_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                (
                    run_id,
                    seq,
                    op.kind,
                    op.table,
                    op.name,
                    json.dumps(op.as_dict(), sort_keys=True),
                    json.dumps(op.reverse.as_dict(), sort_keys=True),
                    _now(),
                ),
            )

    def applied(self, run_id: str, seq: int, metadata_id: str | None) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE schema_ops SET state = 'applied', applied_at = ?, metadata_id = ? "
                "WHERE run_id = ? AND seq = ?",
                (_now(), metadata_id, run_id, seq),
            )

    def failed(self, run_id: str, seq: int, error: str) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE schema_ops SET state = 'failed', error = ? WHERE run_id = ? AND seq = ?",
                (error, run_id, seq),
            )

    def reversed(self, op: JournalOp, *, by: str, outcome: str) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE schema_ops SET reversed_at = ?, reversed_by = ?, outcome = ? "
                "WHERE run_id = ? AND seq = ?",
                (_now(), by, outcome, op.run_id, op.seq),
            )

    def open_ops(self, *, environment: str, run_id: str | None = None) -> list[JournalOp]:
        """Applied (or possibly applied) operations not reversed yet, oldest first."""
        sql = (
            "SELECT o.* FROM schema_ops o JOIN schema_runs r ON r.run_id = o.run_id "
            "WHERE r.kind = 'provision' AND r.environment = ? "
            "AND o.state IN ('applied', 'pending') AND o.reversed_at IS NULL"
        )
        args: list[Any] = [environment]
        if run_id is not None:
            sql += " AND o.run_id = ?"
            args.append(run_id)
        sql += " ORDER BY r.started_at, o.run_id, o.seq"
        with closing(self._db.execute(sql, args)) as cur:
            return [_op_of(row) for row in cur.fetchall()]

    def ops(self, run_id: str | None = None) -> list[JournalOp]:
        sql = "SELECT o.* FROM schema_ops o"
        args: list[Any] = []
        if run_id is not None:
            sql += " WHERE o.run_id = ?"
            args.append(run_id)
        sql += " ORDER BY o.recorded_at, o.seq"
        with closing(self._db.execute(sql, args)) as cur:
            return [_op_of(row) for row in cur.fetchall()]


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        return self._db

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _op_of(row: sqlite3.Row) -> JournalOp:
    return JournalOp(
        run_id=str(row["run_id"]),
        seq=int(row["seq"]),
        op=SchemaOp.from_dict(json.loads(row["op"])),
        metadata_id=row["metadata_id"],
        state=str(row["state"]),
        applied_at=row["applied_at"],
        reversed_at=row["reversed_at"],
        outcome=row["outcome"],
    )
