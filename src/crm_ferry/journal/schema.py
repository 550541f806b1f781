"""The schema part of the journal: what provisioning changed in the tenant's metadata.

Two tables beside the data runs' (same file, same connection)::

    schema_runs(run_id, kind, environment, solution, started_at, finished_at, state, error)
    schema_ops(run_id, seq, kind, table_name, name, op, reverse, metadata_id,
               recorded_at, applied_at, state, error, reversed_at, reversed_by, outcome)

An operation is written as ``pending`` *before* its request and marked ``applied`` (with the
metadata id the service answered) after it, so a crash between the two leaves a ``pending``
row that rollback still reverses (a reverse of something that is not there is ``absent``).
A run whose process was killed stays ``running``: the next provision or rollback finds it
(:meth:`SchemaLog.unfinished`, :meth:`SchemaLog.is_live`), closes it ``interrupted``
(:meth:`SchemaLog.close_interrupted`) and settles its ``pending`` operations from what the
tenant holds (:meth:`SchemaLog.pending`, :meth:`SchemaLog.settle`).
``op`` is the JSON of the operation with its reverse: rollback needs nothing but this journal.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from crm_ferry.journal._postgres import PgConnection
from crm_ferry.journal._process import pid_alive, this_host
from crm_ferry.journal._sqlite import Connection
from crm_ferry.journal.types import (
    SchemaEntry,
    SchemaOpOutcome,
    SchemaRunInfo,
    SchemaRunKind,
    SchemaRunState,
)

_COLUMNS = "o.run_id, o.seq, o.op, o.metadata_id, o.state, o.applied_at, o.reversed_at, o.outcome"


def _now() -> str:
    # to the microsecond: schema runs and operations are ordered by the time they were written
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _entry(row: Sequence[Any]) -> SchemaEntry:
    return SchemaEntry(
        run_id=str(row[0]),
        seq=int(row[1]),
        op=json.loads(row[2]),
        metadata_id=row[3],
        state=row[4],
        applied_at=row[5],
        reversed_at=row[6],
        outcome=row[7],
    )


class SchemaLog:
    """``schema_runs`` and ``schema_ops``: reached as :attr:`Journal.schema`."""

    def __init__(self, connection: Connection | PgConnection) -> None:
        self._c = connection

    # -- runs ------------------------------------------------------------------------

    def start_run(self, kind: SchemaRunKind, *, environment: str, solution: str | None) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        run_id = f"schema-{kind}-{stamp}-{uuid.uuid4().hex[:6]}"
        with self._c.tx() as db:
            db.execute(
                "INSERT INTO schema_runs(run_id, kind, environment, solution, started_at, state, "
                "pid, host) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (run_id, kind, environment, solution, _now(), os.getpid(), this_host()),
            )
        return run_id

    def interrupt_own_runs(self) -> list[str]:
        """Mark the schema runs this process started and still has ``running``
        ``interrupted`` (stopped by Ctrl-C); their ids. Provisioning again continues: it
        plans from the tenant, and a ``pending`` operation is still reversed by rollback."""
        with self._c.tx() as db:
            ids = [
                str(r[0])
                for r in db.execute(
                    "SELECT run_id FROM schema_runs WHERE state = 'running' AND pid = ? "
                    "AND host = ? ORDER BY started_at",
                    (os.getpid(), this_host()),
                )
            ]
            db.executemany(
                "UPDATE schema_runs SET state = 'interrupted', finished_at = ? WHERE run_id = ?",
                [(_now(), i) for i in ids],
            )
        return ids

    def unfinished(self) -> list[SchemaRunInfo]:
        """The schema runs still marked ``running`` (live, or their process is gone), oldest
        first."""
        rows = self._c.db.execute(
            "SELECT run_id, kind, environment, state, started_at, pid, host FROM schema_runs "
            "WHERE state = 'running' ORDER BY started_at, run_id"
        ).fetchall()
        return [
            SchemaRunInfo(
                run_id=str(r[0]),
                kind=r[1],
                environment=str(r[2]),
                state=r[3],
                started_at=str(r[4]),
                pid=None if r[5] is None else int(r[5]),
                host=r[6],
            )
            for r in rows
        ]

    def is_live(self, run: SchemaRunInfo) -> bool:
        """Whether another process is still writing ``run``: it is ``running`` and the process
        that started it, not this one, is alive on this host. One whose process is gone
        (killed, crashed; or on another host, which cannot be told) is not."""
        if run.state != "running" or run.pid is None or run.host != this_host():
            return False
        return run.pid != os.getpid() and pid_alive(run.pid)

    def close_interrupted(self, run_id: str, error: str) -> bool:
        """Mark a ``running`` run ``interrupted`` with the reason; whether it was running."""
        with self._c.tx() as db:
            changed = db.execute(
                "UPDATE schema_runs SET state = 'interrupted', finished_at = ?, error = ? "
                "WHERE run_id = ? AND state = 'running'",
                (_now(), error, run_id),
            ).rowcount
        return bool(changed)

    def pending(self, *, environment: str) -> list[SchemaEntry]:
        """Operations of this environment's provision runs that were sent (or about to be)
        and never answered, of runs no longer ``running``; oldest first."""
        sql = (
            f"SELECT {_COLUMNS} FROM schema_ops o JOIN schema_runs r ON r.run_id = o.run_id "
            "WHERE r.kind = 'provision' AND r.environment = ? AND r.state <> 'running' "
            "AND o.state = 'pending' AND o.reversed_at IS NULL "
            "ORDER BY r.started_at, o.run_id, o.seq"
        )
        return [_entry(row) for row in self._c.db.execute(sql, (environment,)).fetchall()]

    def settle(self, entry: SchemaEntry, *, applied: bool, note: str) -> None:
        """Settle a ``pending`` operation from what the tenant holds: ``applied`` (rollback
        reverses it) or ``failed`` with ``note`` (it never took effect)."""
        with self._c.tx() as db:
            if applied:
                db.execute(
                    "UPDATE schema_ops SET state = 'applied', applied_at = ?, error = ? "
                    "WHERE run_id = ? AND seq = ? AND state = 'pending'",
                    (_now(), note, entry.run_id, entry.seq),
                )
            else:
                db.execute(
                    "UPDATE schema_ops SET state = 'failed', error = ? "
                    "WHERE run_id = ? AND seq = ? AND state = 'pending'",
                    (note, entry.run_id, entry.seq),
                )

    def finish_run(self, run_id: str, state: SchemaRunState, error: str | None = None) -> None:
        with self._c.tx() as db:
            db.execute(
                "UPDATE schema_runs SET state = ?, finished_at = ?, error = ? WHERE run_id = ?",
                (state, _now(), error, run_id),
            )

    # -- operations ------------------------------------------------------------------

    def record(
        self,
        run_id: str,
        seq: int,
        *,
        kind: str,
        table: str,
        name: str,
        op: Mapping[str, Any],
        reverse: Mapping[str, Any],
    ) -> None:
        """Write the intent, before the request is sent."""
        with self._c.tx() as db:
            db.execute(
                "INSERT INTO schema_ops(run_id, seq, kind, table_name, name, op, reverse, "
                "recorded_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                (
                    run_id,
                    seq,
                    kind,
                    table,
                    name,
                    json.dumps(dict(op), sort_keys=True),
                    json.dumps(dict(reverse), sort_keys=True),
                    _now(),
                ),
            )

    def applied(self, run_id: str, seq: int, metadata_id: str | None) -> None:
        with self._c.tx() as db:
            db.execute(
                "UPDATE schema_ops SET state = 'applied', applied_at = ?, metadata_id = ? "
                "WHERE run_id = ? AND seq = ?",
                (_now(), metadata_id, run_id, seq),
            )

    def failed(self, run_id: str, seq: int, error: str) -> None:
        with self._c.tx() as db:
            db.execute(
                "UPDATE schema_ops SET state = 'failed', error = ? WHERE run_id = ? AND seq = ?",
                (error, run_id, seq),
            )

    def reversed(self, entry: SchemaEntry, *, by: str, outcome: SchemaOpOutcome) -> None:
        with self._c.tx() as db:
            db.execute(
                "UPDATE schema_ops SET reversed_at = ?, reversed_by = ?, outcome = ? "
                "WHERE run_id = ? AND seq = ?",
                (_now(), by, outcome, entry.run_id, entry.seq),
            )

    def open_ops(self, *, environment: str, run_id: str | None = None) -> list[SchemaEntry]:
        """Applied (or possibly applied) operations not reversed yet, oldest first."""
        sql = (
            f"SELECT {_COLUMNS} FROM schema_ops o JOIN schema_runs r ON r.run_id = o.run_id "
            "WHERE r.kind = 'provision' AND r.environment = ? "
            "AND o.state IN ('applied', 'pending') AND o.reversed_at IS NULL"
        )
        args: list[Any] = [environment]
        if run_id is not None:
            sql += " AND o.run_id = ?"
            args.append(run_id)
        sql += " ORDER BY r.started_at, o.run_id, o.seq"
        return [_entry(row) for row in self._c.db.execute(sql, args).fetchall()]
