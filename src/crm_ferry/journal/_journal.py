"""The project's journal: runs, intended writes and their outcomes, the id map, rejects,
watermarks, samples, matches, and (through :attr:`Journal.schema`) the schema operations.

An operation is written here (``pending``) when it is planned, marked sent just before the
request that carries it (:meth:`Journal.mark_sent`), and marked ``done`` or ``failed`` after
the answer; when the answer is lost it stays ``pending``, flagged (:meth:`Journal.mark_lost`),
until a read of the tenant settles it. A resumed run re-sends what is still pending and skips
what is done; what was never sent it knows is not in the tenant.

Each run records the process (pid and host) that started or last resumed it:
:meth:`Journal.is_live` tells a run being written from one whose process is gone.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from crm_ferry.journal._ddl import VERSION, schema_text
from crm_ferry.journal._postgres import PgConnection, PostgresTarget
from crm_ferry.journal._process import pid_alive, this_host
from crm_ferry.journal._sqlite import (
    IN_CHUNK,
    JOURNAL_FILE,
    Connection,
    JournalError,
    dumps,
    loads,
    now,
    stamp,
)
from crm_ferry.journal.schema import SchemaLog
from crm_ferry.journal.types import (
    REMOVAL_MARK,
    AcceptedDifference,
    DifferenceScope,
    IdMapEntry,
    JournalOp,
    MatchRow,
    OpState,
    ReconciliationInfo,
    RecordedDifference,
    RowEntry,
    RunInfo,
    RunKind,
    RunState,
    SampleInfo,
    SliceInfo,
    UndoStep,
    WorkerInfo,
    WorkerState,
)
from crm_ferry.model import Reject
from crm_ferry.transform.ops import Operation

_OP_COLUMNS = (
    "run_id, seq, op_key, role, tbl, row_id, kind, phase, rank, source_object, source_id, "
    "hash, payload, existed, prev_hash, prev_payload, state, error, create_only, action, "
    "lost_at, sent_at"
)
_FIRST_WRITE = "op_key LIKE '%/upsert/0'"
"""The id-map entry of a row's own first write (one per row crm-ferry wrote)."""
_REMOVAL = f"op_key LIKE '%/{REMOVAL_MARK}'"
"""A delta's operation on a record gone from the source (not one of the record's writes)."""
_NOT_DONE = "CASE WHEN state <> 'done' THEN 1 ELSE 0 END"
"""1 for an operation not done (failed, or left unsettled), else 0."""


def _except_role(role: str | None) -> tuple[str, tuple[str, ...]]:
    """The condition (and its argument) leaving out the rows of ``role``, when given."""
    return ("", ()) if role is None else (" AND role <> ?", (role,))


def _role_filter(
    sql: str, args: tuple[str, ...], roles: Sequence[str] | None, except_roles: Sequence[str]
) -> tuple[str, tuple[str, ...]]:
    """``sql`` (a query of the id map) narrowed to rows of ``roles`` and not of
    ``except_roles``."""
    if roles is not None:
        sql += f" AND role IN ({','.join('?' * len(roles))})" if roles else " AND 1 = 0"
        args += tuple(roles)
    if except_roles:
        sql += f" AND role NOT IN ({','.join('?' * len(except_roles))})"
        args += tuple(except_roles)
    return sql, args


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
        payload=loads(row[12]),
        existed=bool(row[13]),
        prev_hash=row[14],
        prev_payload=loads(row[15]),
        state=row[16],
        error=row[17],
        create_only=tuple(json.loads(row[18])) if row[18] else (),
        action=row[19],
        lost=row[20] is not None,
        sent=row[21] is not None,
        payload_text=row[12],
    )


_SLICE_COLUMNS = (
    "run_id, slice, step, phase, rank, tbl, kind, first_seq, last_seq, ops, state, worker, claims"
)


def _slice(row: Sequence[Any]) -> SliceInfo:
    return SliceInfo(
        run_id=str(row[0]),
        slice=int(row[1]),
        step=int(row[2]),
        phase=int(row[3]),
        rank=int(row[4]),
        table=str(row[5]),
        kind=str(row[6]),
        first_seq=int(row[7]),
        last_seq=int(row[8]),
        ops=int(row[9]),
        state=row[10],
        worker=row[11],
        claims=int(row[12]),
    )


def _in_slice(sl: SliceInfo) -> tuple[str, tuple[Any, ...]]:
    """The condition (and its arguments) of the operations of slice ``sl``."""
    return (
        "phase = ? AND rank = ? AND tbl = ? AND kind = ? AND seq BETWEEN ? AND ?",
        (sl.phase, sl.rank, sl.table, sl.kind, sl.first_seq, sl.last_seq),
    )


def _epoch(stamp_text: str) -> float:
    """Seconds since 1970 of a time the journal wrote (``2026-11-20T09:00:00Z``)."""
    return datetime.fromisoformat(stamp_text.replace("Z", "+00:00")).timestamp()


def _payload_text(op: JournalOp) -> str:
    """``dumps(op.payload)``: the journaled text when the op was read from the journal
    (it is that encoding, and decoding then encoding it again gives the same text)."""
    if op.payload_text is not None:
        return op.payload_text
    return dumps(op.payload)


class Journal:
    """The project's journal. Not shared between threads: the engine writes from one."""

    def __init__(self, target: Path | PostgresTarget) -> None:
        self._c: Connection | PgConnection = (
            PgConnection(target.url, password=target.password)
            if isinstance(target, PostgresTarget)
            else Connection(target)
        )
        self.path: Path | None = None if isinstance(target, PostgresTarget) else target
        """The journal's file (None for one on a PostgreSQL server)."""
        self.where = self._c.where
        """How messages name the journal: its file's name, or its URL without a password."""
        self._db: Any = self._c.db
        self.schema = SchemaLog(self._c)
        """The schema operations provisioning applied, on the same connection."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._c.dialect

    @classmethod
    def for_project(cls, project_dir: Path) -> Journal:
        return cls(project_dir / JOURNAL_FILE)

    def close(self) -> None:
        self._c.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def namespace(self) -> uuid.UUID:
        """The project's id namespace: every target row id is uuid5 of it and the record."""
        return uuid.UUID(self._c.meta("namespace"))

    # -- runs -----------------------------------------------------------------

    def start_run(
        self,
        kind: RunKind,
        *,
        source: str | None = None,
        map_fingerprint: str | None = None,
        note: str | None = None,
        run_id: str | None = None,
    ) -> str:
        rid = run_id or f"{stamp()}-{kind}-{uuid.uuid4().hex[:6]}"
        with self._c.tx() as db:
            db.execute(
                "INSERT INTO runs (run_id, kind, state, started_at, source, map_fingerprint, "
                "note, pid, host) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (rid, kind, now(), source, map_fingerprint, note, os.getpid(), this_host()),
            )
        return rid

    def resume_run(self, run_id: str) -> RunInfo:
        """This process takes over an unfinished run: ``running`` again, with its pid and
        host (see :meth:`is_live`)."""
        with self._c.tx() as db:
            db.execute(
                "UPDATE runs SET state = 'running', finished_at = NULL, pid = ?, host = ? "
                "WHERE run_id = ?",
                (os.getpid(), this_host(), run_id),
            )
        return self.run(run_id)

    def interrupt_run(self, run_id: str) -> bool:
        """Mark a ``running`` run ``interrupted`` (stopped before its end, e.g. by Ctrl-C; the
        next run of its kind continues it). Whether it was running."""
        with self._c.tx() as db:
            changed = db.execute(
                "UPDATE runs SET state = 'interrupted' WHERE run_id = ? AND state = 'running'",
                (run_id,),
            ).rowcount
        return bool(changed)

    def interrupt_own_runs(self) -> list[str]:
        """Mark every run this process started or resumed and still has ``running`` (data
        runs and schema runs) ``interrupted``; their ids. What a command does when it is
        stopped (Ctrl-C) without knowing which runs it had open."""
        rows = self._db.execute(
            "SELECT run_id FROM runs WHERE state = 'running' AND pid = ? AND host = ? "
            "ORDER BY rowid",
            (os.getpid(), this_host()),
        ).fetchall()
        ids = [str(r[0]) for r in rows if self.interrupt_run(str(r[0]))]
        return ids + self.schema.interrupt_own_runs()

    def is_live(self, run: RunInfo) -> bool:
        """Whether a process is still writing ``run``: it is ``running`` and the process that
        started or resumed it is alive on this host. A ``running`` run whose process is gone
        (killed, crashed, or on another host, which cannot be told) is not live: it was
        interrupted, and the next run of its kind continues it."""
        if run.state != "running" or run.pid is None or run.host != this_host():
            return False
        return pid_alive(run.pid)

    def resolve_run(self, prefix: str) -> RunInfo:
        """The run whose id is ``prefix`` or starts with it (a run id as typed, shortened to
        any unique start). An unknown or ambiguous prefix is a :class:`JournalError` naming
        the candidates."""
        text = prefix.strip()
        hint = "list runs with `crm-ferry runs`"
        if not text:
            raise JournalError("no run id given", hint=f"pass a run id; {hint}")
        exact = self._db.execute("SELECT 1 FROM runs WHERE run_id = ?", (text,)).fetchone()
        if exact is not None:
            return self.run(text)
        found = [
            str(r[0])
            for r in self._db.execute(
                "SELECT run_id FROM runs WHERE substr(run_id, 1, CAST(? AS INTEGER)) = ? "
                "ORDER BY rowid",
                (len(text), text),
            )
        ]
        if len(found) == 1:
            return self.run(found[0])
        if found:
            shown = ", ".join(found[:10]) + (
                f" and {len(found) - 10} more" if len(found) > 10 else ""
            )
            raise JournalError(
                f"{text!r} is the start of {len(found)} run ids: {shown}",
                hint=f"type more of the id; {hint}",
            )
        latest = [
            str(r[0])
            for r in self._db.execute("SELECT run_id FROM runs ORDER BY rowid DESC LIMIT 5")
        ]
        known = f"; the latest: {', '.join(latest)}" if latest else "; it has no runs yet"
        raise JournalError(f"no run {text!r} in {self.where}{known}", hint=f"check the id; {hint}")

    def mark_rolled_back(self, run_id: str, *, state: RunState, by: str) -> None:
        """A run undone (``rolled_back``, or ``partly_rolled_back`` when rows edited since
        were kept) by the rollback run ``by``."""
        with self._c.tx() as db:
            db.execute(
                "UPDATE runs SET state = ?, rolled_back_by = ? WHERE run_id = ?",
                (state, by, run_id),
            )

    def finish_run(self, run_id: str, state: RunState, counts: Mapping[str, Any]) -> None:
        with self._c.tx() as db:
            db.execute(
                "UPDATE runs SET state = ?, finished_at = ?, counts = ? WHERE run_id = ?",
                (state, now(), dumps(dict(counts)), run_id),
            )

    def run(self, run_id: str) -> RunInfo:
        row = self._db.execute(
            "SELECT run_id, kind, state, started_at, finished_at, source, map_fingerprint, "
            "note, counts, rolled_back_by, purged_at, pid, host FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise JournalError(
                f"no run {run_id!r} in {self.where}", hint="list runs with `crm-ferry runs`"
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
            pid=row[11],
            host=row[12],
        )

    def runs(self) -> list[RunInfo]:
        """Every data run, oldest first."""
        ids = [r[0] for r in self._db.execute("SELECT run_id FROM runs ORDER BY rowid")]
        return [self.run(i) for i in ids]

    def unfinished(self, kinds: Iterable[RunKind]) -> RunInfo | None:
        """The latest run of these kinds that did not finish (``running`` or
        ``interrupted``), to resume. A run that a rollback has begun to undo is not one: its
        rows are being taken away, and continuing it would leave them missing."""
        kinds = tuple(kinds)
        marks = ",".join("?" * len(kinds))
        row = self._db.execute(
            "SELECT run_id FROM runs AS r WHERE state IN ('running', 'interrupted') "
            f"AND kind IN ({marks}) AND rolled_back_by IS NULL AND NOT EXISTS ("
            "  SELECT 1 FROM runs AS b WHERE b.kind = 'rollback' AND b.source = r.run_id"
            ") ORDER BY rowid DESC LIMIT 1",
            kinds,
        ).fetchone()
        return None if row is None else self.run(row[0])

    def take_over(self, run: RunInfo) -> RunInfo:
        """Continue ``run`` (an :meth:`unfinished` one) in this process
        (:meth:`resume_run`); a run another live process is still writing is refused."""
        if self.is_live(run) and run.pid != os.getpid():
            raise JournalError(
                f"run {run.run_id} is still being written by process {run.pid} on {run.host}",
                hint="wait for it to finish, or stop it (Ctrl-C) and run the command again to "
                "continue it",
            )
        return self.resume_run(run.run_id)

    # -- operations -----------------------------------------------------------

    def known_hash(self, op_key: str) -> tuple[str, str | None] | None:
        """``(hash, payload)`` last written for this op, or None if it was never written."""
        return self.known_hashes([op_key]).get(op_key)

    def known_hashes(self, op_keys: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """:meth:`known_hash` of many ops in a few queries: op key → ``(hash, payload)`` of
        those that were written before (the others are absent)."""
        wanted = list(dict.fromkeys(op_keys))
        out: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, hash_, payload in self._db.execute(
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
                    op.text if op.text is not None else dumps(op.payload),
                    int(prev is not None),
                    None if prev is None else prev[0],
                    None if prev is None else prev[1],
                    json.dumps(list(op.create_only)) if op.create_only else None,
                    op.action,
                )
            )
            seq += 1
        with self._c.tx() as db:
            db.executemany(
                "INSERT INTO ops (run_id, seq, op_key, role, tbl, row_id, kind, phase, "
                "rank, source_object, source_id, hash, payload, existed, prev_hash, "
                "prev_payload, create_only, action) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                rows,
            )
        return seq

    def next_seq(self, run_id: str) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM ops WHERE run_id = ?", (run_id,)).fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def pending(self, run_id: str) -> Iterator[JournalOp]:
        """Pending operations in send order: phase, then load rank, then journal order."""
        # Read in pages by key, with no cursor left open while the sender marks rows done
        # (the rows being read would otherwise move in the index under the cursor).
        last = (-1, -1, -1)
        while True:
            rows = self._db.execute(
                f"SELECT {_OP_COLUMNS} FROM ops WHERE run_id = ? AND state = 'pending' "
                "AND (phase, rank, seq) > (?, ?, ?) ORDER BY phase, rank, seq LIMIT 2000",
                (run_id, *last),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _op(row)
            last = (rows[-1][7], rows[-1][8], rows[-1][1])

    def ops(self, run_id: str, *, state: OpState | None = None) -> list[JournalOp]:
        """The run's operations (of one state, when given), in send order."""
        if state:
            return self._ops_where(run_id, "state = ?", (state,))
        return self._ops_where(run_id, "1 = 1", ())

    def _ops_where(self, run_id: str, condition: str, args: tuple[Any, ...]) -> list[JournalOp]:
        """The run's operations that meet an SQL ``condition``, in send order."""
        return [
            _op(r)
            for r in self._db.execute(
                f"SELECT {_OP_COLUMNS} FROM ops WHERE run_id = ? AND ({condition}) "
                "ORDER BY phase, rank, seq",
                (run_id, *args),
            )
        ]

    def mark_done(self, run_id: str, ops: Sequence[JournalOp]) -> None:
        at = now(precise=True)
        with self._c.tx() as db:
            db.executemany(
                # the first outcome's time stays: an operation done twice (sent again by a
                # worker that took over a slice) shows when its outcome was first known
                "UPDATE ops SET state = 'done', done_at = CASE WHEN state = 'done' "
                "AND done_at IS NOT NULL THEN done_at ELSE ? END, error = NULL, lost_at = NULL "
                "WHERE run_id = ? AND op_key = ?",
                [(at, run_id, o.op_key) for o in ops],
            )
            db.executemany(
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

    def mark_sent(self, run_id: str, ops: Sequence[JournalOp]) -> None:
        """These pending operations are about to be handed to the service (written before
        the request): after a crash, a pending operation not marked so was never sent, and
        its row is known not to be in the tenant because of it (``JournalOp.sent``)."""
        at = now()
        with self._c.tx() as db:
            db.executemany(
                "UPDATE ops SET sent_at = ? WHERE run_id = ? AND op_key = ? "
                "AND state = 'pending' AND sent_at IS NULL",
                [(at, run_id, o.op_key) for o in ops if not o.sent],
            )

    # -- uploads in progress ----------------------------------------------------------------

    def note_upload(self, op_key: str, url: str) -> None:
        """The upload session of a file operation, kept before its first byte is sent, so
        that a run resumed after a crash continues it rather than starting again."""
        with self._c.tx() as db:
            db.execute(
                "INSERT INTO uploads (op_key, url, started_at) VALUES (?, ?, ?) "
                "ON CONFLICT(op_key) DO UPDATE SET url = excluded.url, "
                "started_at = excluded.started_at",
                (op_key, url, now()),
            )

    def upload_url(self, op_key: str) -> str | None:
        row = self._db.execute("SELECT url FROM uploads WHERE op_key = ?", (op_key,)).fetchone()
        return None if row is None else str(row[0])

    def has_files(self) -> bool:
        """Whether any run journaled a file operation (a file put in SharePoint)."""
        row = self._db.execute("SELECT 1 FROM ops WHERE kind = 'file' LIMIT 1").fetchone()
        return row is not None

    def forget_upload(self, op_key: str) -> None:
        with self._c.tx() as db:
            db.execute("DELETE FROM uploads WHERE op_key = ?", (op_key,))

    def mark_failed(self, run_id: str, failures: Sequence[tuple[JournalOp, str]]) -> None:
        with self._c.tx() as db:
            db.executemany(
                "UPDATE ops SET state = 'failed', error = ?, done_at = ?, lost_at = NULL "
                "WHERE run_id = ? AND op_key = ?",
                [(err, now(precise=True), run_id, o.op_key) for o, err in failures],
            )

    def mark_lost(self, run_id: str, lost: Sequence[tuple[JournalOp, str]]) -> None:
        """The answer to the request that carried these operations was lost (or a create
        found its row there already): they stay ``pending``, flagged (``JournalOp.lost``)
        with why, until a read of the tenant settles them (:meth:`lost_ops`)."""
        with self._c.tx() as db:
            db.executemany(
                "UPDATE ops SET lost_at = ?, error = ? WHERE run_id = ? AND op_key = ? "
                "AND state = 'pending'",
                [(now(), err, run_id, o.op_key) for o, err in lost],
            )

    def sent_creates(
        self, run_id: str, *, within: SliceInfo | None = None
    ) -> list[tuple[str, str]]:
        """(table, row id) of the run's pending upserts with create-only columns, of rows no
        earlier run wrote, that were handed to the service (or whose answer was lost): the
        rows a resumed run must look for in the tenant before it sends them again (of one
        slice, when ``within`` is given)."""
        where, args = _in_slice(within) if within is not None else ("1 = 1", ())
        return [
            (str(t), str(r))
            for t, r in self._db.execute(
                "SELECT tbl, row_id FROM ops WHERE run_id = ? AND state = 'pending' "
                "AND kind = 'upsert' AND create_only IS NOT NULL AND existed = 0 "
                f"AND (sent_at IS NOT NULL OR lost_at IS NOT NULL) AND {where} "
                "ORDER BY phase, rank, seq",
                (run_id, *args),
            )
        ]

    def lost_ops(self, run_id: str, *, within: SliceInfo | None = None) -> list[JournalOp]:
        """The run's pending operations whose answer was lost, in send order (of one slice,
        when ``within`` is given)."""
        where, args = _in_slice(within) if within is not None else ("1 = 1", ())
        return self._ops_where(
            run_id, f"state = 'pending' AND lost_at IS NOT NULL AND {where}", args
        )

    def carry_lost(self, run_id: str) -> int:
        """Flag the run's pending operations that an earlier run, which did not finish
        them, left unsettled (sent, and its answer lost or never read): they may be in the
        tenant already, so they are read before they are sent again. Returns how many were
        flagged."""
        with self._c.tx() as db:
            return int(
                db.execute(
                    "UPDATE ops SET lost_at = ? WHERE run_id = ? AND state = 'pending' "
                    "AND lost_at IS NULL AND op_key IN ("
                    "  SELECT e.op_key FROM runs AS r JOIN ops AS e ON e.run_id = r.run_id"
                    "  WHERE r.run_id <> ? AND r.state IN ('running', 'interrupted', 'failed')"
                    "  AND e.state = 'pending' AND (e.lost_at IS NOT NULL OR e.sent_at IS NOT NULL)"
                    ")",
                    (now(), run_id, run_id),
                ).rowcount
            )

    # -- what runs did, counted --------------------------------------------------

    def state_counts(self, run_id: str) -> dict[str, int]:
        """Operations of a run per state."""
        return dict(
            self._db.execute(
                "SELECT state, COUNT(*) FROM ops WHERE run_id = ? GROUP BY state", (run_id,)
            ).fetchall()
        )

    def table_state_counts(self, run_id: str) -> dict[str, dict[str, int]]:
        """Operations of a run per table and state."""
        out: dict[str, dict[str, int]] = {}
        for tbl, state, n in self._db.execute(
            "SELECT tbl, state, COUNT(*) FROM ops WHERE run_id = ? GROUP BY tbl, state", (run_id,)
        ):
            out.setdefault(tbl, {})[state] = int(n)
        return out

    def table_progress(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Per table of a run: its operations per state, and when the first and the last of
        them was done (None before any is)."""
        out: dict[str, dict[str, Any]] = {}
        for tbl, state, n, first, last in self._db.execute(
            "SELECT tbl, state, COUNT(*), MIN(done_at), MAX(done_at) FROM ops WHERE run_id = ? "
            "GROUP BY tbl, state",
            (run_id,),
        ):
            per = out.setdefault(tbl, {"first_done": None, "last_done": None})
            per[state] = int(n)
            if state == "done":
                per["first_done"], per["last_done"] = first, last
        return out

    def source_outcomes(
        self, run_id: str, *, except_role: str | None = None
    ) -> dict[str, tuple[int, int]]:
        """Per source object: ``(records with an operation not done, records touched)`` by
        the run (not done: failed, or left unsettled; records behind rows of ``except_role``
        left out, and a delta's operations on records gone from the source)."""
        out: dict[str, tuple[int, int]] = {}
        but, butargs = _except_role(except_role)
        for obj, failed, total in self._db.execute(
            "SELECT source_object, SUM(has_failed), COUNT(*) FROM ("
            f"  SELECT source_object, source_id, MAX({_NOT_DONE}) AS has_failed FROM ops"
            f"  WHERE run_id = ?{but} AND NOT {_REMOVAL}"
            "  GROUP BY source_object, source_id"
            ") AS g GROUP BY source_object",
            (run_id, *butargs),
        ):
            out[obj] = (int(failed or 0), int(total))
        return out

    def record_outcomes(self, run_id: str, source_object: str) -> dict[str, bool]:
        """Source id → whether any operation of that record failed (or was left
        unsettled) in the run."""
        return {
            str(sid): bool(failed)
            for sid, failed in self._db.execute(
                f"SELECT source_id, MAX({_NOT_DONE}) FROM ops WHERE run_id = ? AND "
                f"source_object = ? AND NOT {_REMOVAL} GROUP BY source_id",
                (run_id, source_object),
            )
        }

    def role_rows(self, run_id: str, role: str) -> tuple[int, int]:
        """``(rows, rows not done)`` of one role in a run: the rows it touched with any
        operation (its write, links, state, actions), and those with one failed or left
        unsettled."""
        row = self._db.execute(
            "SELECT COUNT(*), SUM(bad) FROM ("
            f"  SELECT MAX({_NOT_DONE}) AS bad FROM ops WHERE run_id = ? AND role = ?"
            f"  AND NOT {_REMOVAL} GROUP BY tbl, row_id"
            ") AS g",
            (run_id, role),
        ).fetchone()
        return (int(row[0] or 0), int(row[1] or 0))

    def role_outcome(self, run_id: str, role: str, kind: str) -> tuple[int, int]:
        """``(operations, failed)`` of one role and kind in a run."""
        row = self._db.execute(
            "SELECT COUNT(*), SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) FROM ops "
            "WHERE run_id = ? AND role = ? "
            "AND kind = ?",
            (run_id, role, kind),
        ).fetchone()
        return (int(row[0] or 0), int(row[1] or 0))

    # -- the id map -------------------------------------------------------------

    def idmap_sources(self, source_object: str) -> dict[str, list[tuple[str, str, str]]]:
        """Source id → ``[(role, table, row id)]`` of every row written from that object."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        for sid, role, tbl, rid in self._db.execute(
            "SELECT source_id, role, tbl, row_id FROM idmap WHERE source_object = ? "
            f"AND {_FIRST_WRITE}",
            (source_object,),
        ):
            out.setdefault(sid, []).append((role, tbl, rid))
        return out

    def loaded_sources(self, *, except_role: str | None = None) -> dict[str, set[str]]:
        """Per source object, the ids of the records that have a row in the tenant (rows of
        ``except_role``, which stand for groups of records, left out)."""
        out: dict[str, set[str]] = {}
        but, butargs = _except_role(except_role)
        for obj, sid in self._db.execute(
            f"SELECT DISTINCT source_object, source_id FROM idmap WHERE {_FIRST_WRITE}{but}",
            butargs,
        ):
            out.setdefault(obj, set()).add(sid)
        return out

    def idmap(self, *, run_id: str | None = None) -> Iterator[IdMapEntry]:
        """The id map in op-key order: every row's writes as crm-ferry last made them (of
        the rows one run wrote, when ``run_id`` is given)."""
        where = ""
        args: tuple[str, ...] = ()
        if run_id is not None:
            where = (
                " WHERE (tbl, row_id) IN (SELECT tbl, row_id FROM ops WHERE run_id = ? "
                "AND state = 'done')"
            )
            args = (run_id,)
        for op_key, tbl, row_id, role, sobj, sid, payload in self._db.execute(
            "SELECT op_key, tbl, row_id, role, source_object, source_id, payload FROM idmap"
            + where
            + " ORDER BY op_key",
            args,
        ):
            yield IdMapEntry(op_key, tbl, row_id, role, sobj, sid, loads(payload))

    def seed_before_images(self, run_id: str, images: Iterable[tuple[MatchRow, str, Any]]) -> None:
        """Journal what existing rows hold before a load first writes them, as if an earlier
        run had written it: ``(match, table, values)`` each. The load then counts such a row
        as changed (not created), and a rollback restores these values instead of deleting
        a row crm-ferry did not create."""
        rows = [
            (
                f"{table}/{m.row_id}/upsert/0",
                table,
                m.row_id,
                m.role,
                "clients",
                m.source_id,
                "before:" + m.row_id,
                json.dumps(image),
                run_id,
            )
            for m, table, image in images
        ]
        if not rows:
            return
        with self._c.tx() as db:
            db.executemany(
                "INSERT INTO idmap (op_key, tbl, row_id, role, source_object, "
                "source_id, hash, payload, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                rows,
            )

    # -- matches with rows already in the tenant -----------------------------------

    def matches(self) -> list[MatchRow]:
        """Matches made by earlier runs: a matched row stays the client's row."""
        return [
            MatchRow(*row)
            for row in self._db.execute("SELECT role, source_id, row_id, how FROM matches")
        ]

    def save_matches(self, matches: Iterable[MatchRow]) -> None:
        with self._c.tx() as db:
            db.executemany(
                "INSERT INTO matches (role, source_id, row_id, how) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [(m.role, m.source_id, m.row_id, m.how) for m in matches],
            )

    # -- rejects and watermarks ---------------------------------------------------

    def add_rejects(self, run_id: str, rejects: Iterable[Reject]) -> None:
        rows = [
            (run_id, r.object, r.file, r.line, r.column, r.value, r.reason, r.source_id)
            for r in rejects
        ]
        if rows:
            with self._c.tx() as db:
                db.executemany("INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def clear_rejects(self, run_id: str) -> None:
        with self._c.tx() as db:
            db.execute("DELETE FROM rejects WHERE run_id = ?", (run_id,))

    def rejects(self, run_id: str) -> list[Reject]:
        return [
            Reject(*row)
            for row in self._db.execute(
                "SELECT object, file, line, column_name, value, reason, source_id FROM rejects "
                "WHERE run_id = ?",
                (run_id,),
            )
        ]

    def watermark(self, source_object: str) -> str | None:
        row = self._db.execute(
            "SELECT updated_at FROM watermarks WHERE source_object = ?", (source_object,)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_watermarks(self, run_id: str, marks: Mapping[str, str]) -> None:
        with self._c.tx() as db:
            db.executemany(
                "INSERT INTO watermarks VALUES (?, ?, ?) ON CONFLICT(source_object) DO UPDATE "
                "SET updated_at = CASE WHEN excluded.updated_at > watermarks.updated_at "
                "THEN excluded.updated_at ELSE watermarks.updated_at END, "
                "run_id = excluded.run_id",
                [(obj, ts, run_id) for obj, ts in marks.items()],
            )

    # -- samples and their acceptance ------------------------------------------------------

    def record_sample(
        self, run_id: str, map_digest: str, report: str, verdicts: Mapping[str, int]
    ) -> None:
        with self._c.tx() as db:
            db.execute(
                "INSERT INTO samples (run_id, map_digest, report, verdicts) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(run_id) DO UPDATE SET map_digest = excluded.map_digest, "
                "report = excluded.report, verdicts = excluded.verdicts",
                (run_id, map_digest, report, dumps(dict(verdicts))),
            )

    def _sample(self, where: str, args: tuple[str, ...]) -> SampleInfo | None:
        row = self._db.execute(
            "SELECT run_id, map_digest, report, verdicts, accepted_by, accepted_at FROM samples "
            f"{where} ORDER BY rowid DESC LIMIT 1",
            args,
        ).fetchone()
        if row is None:
            return None
        verdicts = cast(dict[str, int], loads(row[3]) or {})
        return SampleInfo(row[0], row[1], row[2], verdicts, row[4], row[5])

    def latest_sample(self) -> SampleInfo | None:
        return self._sample("", ())

    def accept_sample(self, run_id: str, by: str) -> None:
        with self._c.tx() as db:
            db.execute(
                "UPDATE samples SET accepted_by = ?, accepted_at = ? WHERE run_id = ?",
                (by, now(), run_id),
            )

    def accepted_sample(self, map_digest: str) -> SampleInfo | None:
        """The latest sample of this map that a person accepted."""
        return self._sample("WHERE map_digest = ? AND accepted_at IS NOT NULL", (map_digest,))

    # -- rollback: what was undone, row by row ------------------------------------------

    def undo_steps(self, run_id: str) -> dict[tuple[str, str, str], UndoStep]:
        """What rollbacks of ``run_id`` did so far: ``(table, row id, action)`` → step."""
        out: dict[tuple[str, str, str], UndoStep] = {}
        for tbl, rid, action, state, rb, detail in self._db.execute(
            "SELECT tbl, row_id, action, state, rollback_id, detail FROM undo_steps "
            "WHERE run_id = ?",
            (run_id,),
        ):
            out[(tbl, rid, action)] = UndoStep(run_id, tbl, rid, action, state, rb, loads(detail))
        return out

    def record_undo(
        self,
        steps: Iterable[UndoStep],
        *,
        forget: Iterable[tuple[str, str]] = (),
        restore: Iterable[JournalOp] = (),
    ) -> None:
        """Journal steps of a rollback (``pending`` before the request, the outcome after),
        in one transaction with what the outcome does to the id map: the rows ``forget``
        (``(table, row id)``, deleted) leave it, the operations ``restore`` are put back to
        what was there before them."""
        at = now()
        rows = [
            (
                s.run_id,
                s.table,
                s.row_id,
                s.action,
                s.state,
                s.rollback_id,
                None if s.detail is None else dumps(s.detail),
                at,
            )
            for s in steps
        ]
        gone = list(forget)
        back = list(restore)
        if not rows and not gone and not back:
            return
        with self._c.tx() as db:
            db.executemany(
                "INSERT INTO undo_steps (run_id, tbl, row_id, action, state, rollback_id, "
                "detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(run_id, tbl, row_id, action) DO UPDATE SET state = excluded.state, "
                "rollback_id = excluded.rollback_id, detail = excluded.detail, at = excluded.at",
                rows,
            )
            db.executemany("DELETE FROM idmap WHERE tbl = ? AND row_id = ?", gone)
            db.executemany(
                "DELETE FROM idmap WHERE op_key = ?",
                [(op.op_key,) for op in back if op.prev_hash is None],
            )
            db.executemany(
                "UPDATE idmap SET hash = ?, payload = ? WHERE op_key = ?",
                [
                    (
                        op.prev_hash,
                        None if op.prev_payload is None else dumps(op.prev_payload),
                        op.op_key,
                    )
                    for op in back
                    if op.prev_hash is not None
                ],
            )

    def written_rows(
        self, rows: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[IdMapEntry]]:
        """What crm-ferry last wrote to each ``(table, row id)``: its id-map entries in
        op-key order (the row's own write, its links, its state)."""
        by_table: dict[str, list[str]] = {}
        for tbl, row_id in dict.fromkeys(rows):
            by_table.setdefault(tbl, []).append(row_id)
        out: dict[tuple[str, str], list[IdMapEntry]] = {}
        found: list[tuple[Any, ...]] = []
        for tbl, ids in by_table.items():
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                # by table, then ids: the (tbl, row_id) index serves it (a row-value IN
                # over VALUES would scan the whole id map)
                found += self._db.execute(
                    "SELECT op_key, tbl, row_id, role, source_object, source_id, payload "
                    f"FROM idmap WHERE tbl = ? AND row_id IN ({marks})",
                    [tbl, *chunk],
                ).fetchall()
        for op_key, tbl, row_id, role, sobj, sid, payload in sorted(found):
            out.setdefault((tbl, row_id), []).append(
                IdMapEntry(op_key, tbl, row_id, role, sobj, sid, loads(payload))
            )
        return out

    def owners_of_rows(self, row_ids: Iterable[str]) -> dict[str, str]:
        """Row id (lower case) → the run that last wrote it, for the ids crm-ferry wrote."""
        wanted = list(dict.fromkeys(i.lower() for i in row_ids))
        out: dict[str, str] = {}
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for rid, run in self._db.execute(
                f"SELECT lower(row_id), run_id FROM idmap WHERE lower(row_id) IN ({marks})", chunk
            ):
                out[str(rid)] = str(run)
        return out

    def restore_entries(
        self, table: str, row_id: str, entries: Sequence[Mapping[str, Any]]
    ) -> None:
        """Put a row's id-map entries back (:meth:`RowEntry.as_dict` each, as a delete kept
        them) once rollback has written the row again."""
        rows = [
            (
                str(e["op_key"]),
                table,
                row_id,
                str(e.get("role") or ""),
                str(e.get("source_object") or ""),
                str(e.get("source_id") or ""),
                str(e.get("hash") or ""),
                None if e.get("payload") is None else dumps(e["payload"]),
                str(e.get("run_id") or ""),
            )
            for e in entries
        ]
        with self._c.tx() as db:
            db.executemany(
                "INSERT INTO idmap (op_key, tbl, row_id, role, source_object, source_id, hash, "
                "payload, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(op_key) DO "
                "UPDATE SET hash = excluded.hash, payload = excluded.payload, "
                "run_id = excluded.run_id",
                rows,
            )

    # -- local data protection ---------------------------------------------------------

    def purge(self, run_id: str | None) -> int:
        """Remove record contents (payloads, rejected values) of one run or all runs.

        Ids, operations, states, counts and timestamps stay: the audit trail survives."""
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id else ("", ())
        with self._c.tx() as db:
            n = db.execute(
                f"UPDATE ops SET payload = NULL, prev_payload = NULL {where}", args
            ).rowcount
            db.execute(f"UPDATE idmap SET payload = NULL {where}", args)
            db.execute(f"UPDATE rejects SET value = NULL {where}", args)
            db.execute(f"UPDATE runs SET purged_at = ? {where}", (now(), *args))
        self._c.vacuum()
        return n

    # -- delta: what changed, and records gone from the source -------------------------------
    # A delta's operations on the rows of a record no longer in the source end their op key
    # in ``/removed`` (:data:`~crm_ferry.journal.types.REMOVAL_MARK`): a deactivation
    # (kind ``state``) or a delete (kind ``delete``); they are not the record's own writes.

    def records_written(
        self,
        source_object: str,
        *,
        roles: Sequence[str] | None = None,
        except_roles: Sequence[str] = (),
    ) -> set[str]:
        """Ids of the records of ``source_object`` that have a row crm-ferry wrote (rows of
        ``roles`` only, when given; rows of ``except_roles`` left out)."""
        sql, args = _role_filter(
            f"SELECT DISTINCT source_id FROM idmap WHERE source_object = ? AND {_FIRST_WRITE}",
            (source_object,),
            roles,
            except_roles,
        )
        return {str(r[0]) for r in self._db.execute(sql, args)}

    def rows_of_records(
        self,
        source_object: str,
        source_ids: Iterable[str],
        *,
        roles: Sequence[str] | None = None,
        except_roles: Sequence[str] = (),
    ) -> list[tuple[str, str, str, str]]:
        """``(source id, role, table, row id)`` of every row written from these records
        (rows of ``roles`` only, when given; of ``except_roles`` left out), in op-key order."""
        wanted = list(dict.fromkeys(source_ids))
        out: list[tuple[str, str, str, str]] = []
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            sql, args = _role_filter(
                "SELECT source_id, role, tbl, row_id FROM idmap WHERE source_object = ? "
                f"AND source_id IN ({marks}) AND {_FIRST_WRITE}",
                (source_object, *chunk),
                roles,
                except_roles,
            )
            out.extend(
                (str(s), str(r), str(t), str(i))
                for s, r, t, i in self._db.execute(sql + " ORDER BY op_key", args)
            )
        return out

    def row_entries(self, table: str, row_ids: Iterable[str]) -> dict[str, list[RowEntry]]:
        """Row id → every id-map entry of that row of ``table``, in op-key order (an action
        entry with the action its last done operation called)."""
        wanted = list(dict.fromkeys(row_ids))
        out: dict[str, list[RowEntry]] = {}
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, rid, role, sobj, sid, hash_, payload, run in self._db.execute(
                "SELECT op_key, row_id, role, source_object, source_id, hash, payload, run_id "
                f"FROM idmap WHERE tbl = ? AND row_id IN ({marks}) ORDER BY op_key",
                (table, *chunk),
            ):
                out.setdefault(rid, []).append(
                    RowEntry(key, table, rid, role, sobj, sid, hash_, loads(payload), run, None)
                )
        actions = [e for entries in out.values() for e in entries if e.kind == "action"]
        for e in actions:
            # the run that last wrote the entry holds the operation (its primary key)
            row = self._db.execute(
                "SELECT action FROM ops WHERE run_id = ? AND op_key = ?", (e.run_id, e.op_key)
            ).fetchone()
            if row is not None and row[0]:
                entries = out[e.row_id]
                entries[entries.index(e)] = replace(e, action=str(row[0]))
        return out

    def rows_pointing_to(self, row_ids: Iterable[str]) -> list[tuple[str, str, str, str, str]]:
        """``(table, row id, source object, source id, target id)`` of the rows whose last
        writes refer to one of ``row_ids`` (a lookup, or a party of an activity): what a
        delete of the target takes with it or cuts loose, in that order (the same on both
        backends). Purged payloads are not read."""
        wanted = sorted({i.lower() for i in row_ids})
        if not wanted:
            return []
        if self._c.dialect == "postgresql":
            # every object in the payload (an activity's parties are objects in a list)
            ref = "lower(rtrim(substr(j.value, strpos(j.value, '(') + 1), ')'))"
            rows = self._db.execute(
                f"SELECT DISTINCT i.tbl, i.row_id, i.source_object, i.source_id, {ref} "
                "FROM idmap i, LATERAL jsonb_path_query(i.payload::jsonb, CAST(? AS jsonpath)) o,"
                " LATERAL jsonb_each_text(o) j WHERE i.payload IS NOT NULL "
                f"AND j.key LIKE '%@odata.bind' AND {ref} = ANY(?) ORDER BY i.tbl, i.row_id, 5",
                ('strict $.** ? (@.type() == "object")', wanted),
            )
            return [(str(t), str(r), str(o), str(s), str(x)) for t, r, o, s, x in rows]
        ref = "lower(rtrim(substr(j.value, instr(j.value, '(') + 1), ')'))"
        rows = self._db.execute(
            f"SELECT DISTINCT i.tbl, i.row_id, i.source_object, i.source_id, {ref} "
            "FROM idmap i, json_tree(i.payload) j WHERE i.payload IS NOT NULL "
            "AND j.type = 'text' AND j.key LIKE '%@odata.bind' "
            f"AND {ref} IN (SELECT value FROM json_each(?)) ORDER BY i.tbl, i.row_id, 5",
            (json.dumps(wanted),),
        )
        return [(str(t), str(r), str(o), str(s), str(x)) for t, r, o, s, x in rows]

    def add_planned_ops(self, ops: Sequence[JournalOp]) -> None:
        """Journal fully formed operations as ``pending``, each with the run, seq, phase,
        rank and before-state (``existed``, ``prev_hash``, ``prev_payload``) it carries; an
        op the run journaled already is left as it is."""
        rows = [
            (
                o.run_id,
                o.seq,
                o.op_key,
                o.role,
                o.table,
                o.row_id,
                o.kind,
                o.phase,
                o.rank,
                o.source_object,
                o.source_id,
                o.hash,
                None if o.payload is None else dumps(o.payload),
                int(o.existed),
                o.prev_hash,
                None if o.prev_payload is None else dumps(o.prev_payload),
                json.dumps(list(o.create_only)) if o.create_only else None,
                o.action,
            )
            for o in ops
        ]
        if not rows:
            return
        with self._c.tx() as db:
            db.executemany(
                "INSERT INTO ops (run_id, seq, op_key, role, tbl, row_id, kind, phase, "
                "rank, source_object, source_id, hash, payload, existed, prev_hash, "
                "prev_payload, create_only, action) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                rows,
            )

    def removal_entries(self, kind: str) -> list[RowEntry]:
        """The id-map entries a delta's removal operations of ``kind`` left (``state``: the
        rows a delta deactivated, or made active again), in op-key order."""
        return [
            RowEntry(key, tbl, rid, role, sobj, sid, hash_, loads(payload), run, None)
            for key, tbl, rid, role, sobj, sid, hash_, payload, run in self._db.execute(
                "SELECT op_key, tbl, row_id, role, source_object, source_id, hash, payload, "
                "run_id FROM idmap WHERE op_key LIKE ? ORDER BY op_key",
                (f"%/{kind}/{REMOVAL_MARK}",),
            )
        ]

    def removal_ops(self, run_id: str) -> list[JournalOp]:
        """The run's operations on records gone from the source, in send order."""
        return self._ops_where(run_id, _REMOVAL, ())

    def forget_deleted(self, run_id: str) -> int:
        """The rows the run's deletes removed leave the id map (every entry of each); done
        again (a resumed run), it changes nothing. Returns the entries removed."""
        with self._c.tx() as db:
            return int(
                db.execute(
                    "DELETE FROM idmap WHERE (tbl, row_id) IN (SELECT tbl, row_id FROM ops "
                    f"WHERE run_id = ? AND kind = 'delete' AND state = 'done' AND {_REMOVAL})",
                    (run_id,),
                ).rowcount
            )

    def record_changes(
        self, run_id: str, *, aggregate_roles: Sequence[str], aggregate_object: str
    ) -> dict[str, tuple[int, int]]:
        """Per source object (rows of ``aggregate_roles`` under ``aggregate_object``):
        ``(records changed, records touched)`` by the run's own writes. A touched record
        is *changed* when an id-map entry of it was there before the run (one of its
        operations found one, or another run wrote it), else *added*."""
        roles = list(aggregate_roles) or [""]
        marks = ",".join("?" * len(roles))
        out: dict[str, tuple[int, int]] = {}
        for obj, changed, total in self._db.execute(
            "SELECT obj, SUM(CASE WHEN known = 1 OR EXISTS (SELECT 1 FROM idmap i WHERE "
            "i.source_object = g.sobj AND i.source_id = g.sid AND i.run_id <> ?) "
            "THEN 1 ELSE 0 END), COUNT(*) FROM ("
            f"  SELECT CASE WHEN role IN ({marks}) THEN ? ELSE source_object END AS obj,"
            "   source_object AS sobj, source_id AS sid, MAX(existed) AS known FROM ops"
            f"  WHERE run_id = ? AND NOT {_REMOVAL} GROUP BY obj, sobj, sid"
            ") AS g GROUP BY obj",
            (run_id, *roles, aggregate_object, run_id),
        ):
            out[str(obj)] = (int(changed or 0), int(total))
        return out

    # -- reconciliations (verify, sample) and accepted differences -----------------------

    def runs_in_idmap(self) -> list[str]:
        """The runs that last wrote some row of the id map (the rows a verification
        compares), in no particular order."""
        return [str(r[0]) for r in self._db.execute("SELECT DISTINCT run_id FROM idmap")]

    def record_reconciliation(
        self,
        recon_id: str,
        kind: DifferenceScope,
        report: str | None,
        differences: Iterable[RecordedDifference],
    ) -> None:
        """What one verification (or a sample) found: ids and places, never values."""
        found = [d.as_dict() for d in differences]
        with self._c.tx() as db:
            db.execute(
                "INSERT INTO reconciliations (recon_id, kind, made_at, report, differences) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(recon_id) DO UPDATE SET "
                "kind = excluded.kind, made_at = excluded.made_at, report = excluded.report, "
                "differences = excluded.differences",
                (recon_id, kind, now(), report, dumps(found)),
            )

    def _reconciliation(self, where: str, args: tuple[str, ...]) -> ReconciliationInfo | None:
        row = self._db.execute(
            "SELECT recon_id, kind, made_at, report, differences FROM reconciliations "
            f"{where} ORDER BY rowid DESC LIMIT 1",
            args,
        ).fetchone()
        if row is None:
            return None
        found = tuple(
            RecordedDifference(
                str(d["id"]),
                str(d["classification"]),
                str(d["table"]),
                str(d["record"]),
                str(d["column"]),
                str(d["what"]),
            )
            for d in loads(row[4]) or []
        )
        return ReconciliationInfo(row[0], row[1], row[2], row[3], found)

    def latest_reconciliation(self, kind: DifferenceScope) -> ReconciliationInfo | None:
        """The latest verification (``verify``), or the latest sample's (``sample``)."""
        return self._reconciliation("WHERE kind = ?", (kind,))

    def reconciliation_ids(self, kind: DifferenceScope) -> list[tuple[str, str]]:
        """``(recon_id, made_at)`` of every verification (``verify``) or sample's
        reconciliation (``sample``), the latest first."""
        return [
            (str(r[0]), str(r[1]))
            for r in self._db.execute(
                "SELECT recon_id, made_at FROM reconciliations WHERE kind = ? ORDER BY rowid DESC",
                (kind,),
            )
        ]

    def reconciliation(self, recon_id: str) -> ReconciliationInfo | None:
        """One reconciliation by id (a sample's is its run id)."""
        return self._reconciliation("WHERE recon_id = ?", (recon_id,))

    def accept_differences(
        self,
        scope: DifferenceScope,
        differences: Iterable[RecordedDifference],
        *,
        by: str,
        reason: str,
        recon_id: str | None,
    ) -> str:
        """Record that ``by`` accepted these differences, and why; a difference accepted
        before keeps its first acceptance. Returns the time written."""
        at = now()
        rows = [
            (
                scope,
                d.diff_id,
                d.classification,
                d.table,
                d.record,
                d.column,
                d.what,
                by,
                at,
                reason,
                recon_id,
            )
            for d in differences
        ]
        with self._c.tx() as db:
            db.executemany(
                "INSERT INTO accepted_differences (scope, diff_id, classification, "
                "table_name, record, column_name, what, accepted_by, accepted_at, reason, "
                "recon_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                rows,
            )
        return at

    def accepted_differences(self, scope: DifferenceScope) -> dict[str, AcceptedDifference]:
        """Difference id → its acceptance, of every difference accepted in ``scope``."""
        return {
            str(row[1]): AcceptedDifference(
                scope,
                RecordedDifference(row[1], row[2], row[3], row[4], row[5], row[6]),
                row[7],
                row[8],
                row[9],
                row[10],
            )
            for row in self._db.execute(
                "SELECT scope, diff_id, classification, table_name, record, column_name, what, "
                "accepted_by, accepted_at, reason, recon_id FROM accepted_differences "
                "WHERE scope = ? ORDER BY rowid",
                (scope,),
            )
        }

    # -- slices and workers: one run sent by several processes ------------------------------
    # A run's pending operations are cut into slices (:meth:`make_slices`) that workers
    # lease one at a time (:meth:`claim_slice`), renew while they send (:meth:`renew_slice`)
    # and mark done (:meth:`finish_slice`). A lease is timed by the journal's clock (the
    # server's, on PostgreSQL), so workers on several machines agree on when one ran out.

    def make_slices(self, run_id: str, *, size: int) -> int:
        """Cut the run's pending operations into slices of at most ``size``, in send order:
        a new step where (phase, rank, table, kind) changes, as a run without workers
        drains everything before it starts the next. Slices cut before (a resumed run) are
        replaced; one a live worker holds refuses it. Returns the slices made."""
        clock = self._c.clock
        rows: list[tuple[Any, ...]] = []
        with self._c.tx() as db:
            held = db.execute(
                f"SELECT worker FROM slices WHERE run_id = ? AND state = 'leased' "
                f"AND lease_until > {clock}",
                (run_id,),
            ).fetchone()
            if held is not None:
                raise JournalError(
                    f"run {run_id} is being sent by worker {held[0]}",
                    hint="wait for its workers to finish (`crm-ferry runs --watch`), or stop "
                    "them and run the command again once their leases have run out",
                )
            db.execute("DELETE FROM slices WHERE run_id = ?", (run_id,))
            step = -1
            key: tuple[Any, ...] | None = None
            current: list[Any] = []
            for seq, phase, rank, tbl, kind in db.execute(
                "SELECT seq, phase, rank, tbl, kind FROM ops WHERE run_id = ? "
                "AND state = 'pending' ORDER BY phase, rank, seq",
                (run_id,),
            ).fetchall():
                here = (phase, rank, tbl, kind)
                if here != key or current[-1] >= size:
                    if current:
                        rows.append(tuple(current))
                    if here != key:
                        step += 1
                        key = here
                    current = [run_id, len(rows), step, phase, rank, tbl, kind, seq, seq, 0]
                current[8] = seq
                current[9] += 1
            if current:
                rows.append(tuple(current))
            db.executemany(
                "INSERT INTO slices (run_id, slice, step, phase, rank, tbl, kind, first_seq, "
                "last_seq, ops) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def slices(self, run_id: str) -> list[SliceInfo]:
        """The run's slices, in send order."""
        return [
            _slice(r)
            for r in self._db.execute(
                f"SELECT {_SLICE_COLUMNS} FROM slices WHERE run_id = ? ORDER BY slice", (run_id,)
            )
        ]

    def slices_left(self, run_id: str) -> tuple[int, int]:
        """``(slices not done, slices)`` of the run."""
        row = self._db.execute(
            "SELECT SUM(CASE WHEN state <> 'done' THEN 1 ELSE 0 END), COUNT(*) FROM slices "
            "WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return (int(row[0] or 0), int(row[1] or 0))

    def claim_slice(self, run_id: str, worker: str, *, lease_s: float) -> SliceInfo | None:
        """Lease the next slice this worker may send, for ``lease_s``: one of the lowest
        step not done, nobody's (or its lease ran out). None when there is none now (all
        done, or the ones left are leased or wait for a step before them:
        :meth:`slices_left` tells)."""
        clock = self._c.clock
        with self._c.tx() as db:
            low = db.execute(
                "SELECT MIN(step) FROM slices WHERE run_id = ? AND state <> 'done'", (run_id,)
            ).fetchone()
            if low is None or low[0] is None:
                return None
            row = db.execute(
                f"SELECT slice FROM slices WHERE run_id = ? AND step = ? AND (state = 'pending' "
                f"OR (state = 'leased' AND lease_until <= {clock})) ORDER BY slice LIMIT 1"
                + self._c.lock,
                (run_id, low[0]),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                f"UPDATE slices SET state = 'leased', worker = ?, lease_until = {clock} + ?, "
                "claims = claims + 1 WHERE run_id = ? AND slice = ?",
                (worker, float(lease_s), run_id, row[0]),
            )
            got = db.execute(
                f"SELECT {_SLICE_COLUMNS} FROM slices WHERE run_id = ? AND slice = ?",
                (run_id, row[0]),
            ).fetchone()
        assert got is not None  # claimed in this transaction
        return _slice(got)

    def renew_slice(self, sl: SliceInfo, worker: str, *, lease_s: float) -> bool:
        """Extend this worker's lease of ``sl``; False when it is no longer the worker's
        (its lease ran out and another worker took the slice over)."""
        with self._c.tx() as db:
            changed = db.execute(
                f"UPDATE slices SET lease_until = {self._c.clock} + ? WHERE run_id = ? "
                "AND slice = ? AND worker = ? AND state = 'leased'",
                (float(lease_s), sl.run_id, sl.slice, worker),
            ).rowcount
        return bool(changed)

    def finish_slice(self, sl: SliceInfo, worker: str) -> bool:
        """``sl`` is done (every operation in it settled, or left unsettled); False when it
        was no longer this worker's (the worker that took it over finishes it)."""
        with self._c.tx() as db:
            changed = db.execute(
                "UPDATE slices SET state = 'done', done_at = ?, lease_until = NULL "
                "WHERE run_id = ? AND slice = ? AND worker = ? AND state = 'leased'",
                (now(), sl.run_id, sl.slice, worker),
            ).rowcount
        return bool(changed)

    def release_slices(self, worker: str) -> int:
        """Give back the slices ``worker`` holds (it stops): pending again, for another."""
        with self._c.tx() as db:
            return int(
                db.execute(
                    "UPDATE slices SET state = 'pending', worker = NULL, lease_until = NULL "
                    "WHERE worker = ? AND state = 'leased'",
                    (worker,),
                ).rowcount
            )

    def slice_pending(self, sl: SliceInfo, *, page: int = 500) -> Iterator[JournalOp]:
        """The slice's operations still pending, in send order, read ``page`` at a time as
        they are taken (what another worker settled meanwhile is not handed out)."""
        where, args = _in_slice(sl)
        last = sl.first_seq - 1
        while True:
            rows = self._db.execute(
                f"SELECT {_OP_COLUMNS} FROM ops WHERE run_id = ? AND state = 'pending' "
                f"AND {where} AND seq > ? ORDER BY seq LIMIT ?",
                (sl.run_id, *args, last, page),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _op(row)
            last = int(rows[-1][1])

    def row_outcome_times(self, run_id: str) -> dict[tuple[str, str], str]:
        """(table, row id) → when the last outcome of the run's operations on that row was
        journaled (rows with an operation still pending left out)."""
        return {
            (str(t), str(r)): str(at)
            for t, r, at in self._db.execute(
                "SELECT tbl, row_id, MAX(done_at) FROM ops WHERE run_id = ? GROUP BY tbl, row_id "
                "HAVING SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) = 0",
                (run_id,),
            )
        }

    def slice_counts(self, sl: SliceInfo) -> dict[str, int]:
        """The slice's operations per state."""
        where, args = _in_slice(sl)
        return {
            str(state): int(n)
            for state, n in self._db.execute(
                f"SELECT state, COUNT(*) FROM ops WHERE run_id = ? AND {where} GROUP BY state",
                (sl.run_id, *args),
            )
        }

    def mark_slice_unsure(self, sl: SliceInfo) -> int:
        """Flag the slice's pending operations that an earlier worker handed to the service
        (its lease ran out before it settled them) as lost: they are read from the tenant
        before anything is sent again. Returns how many."""
        where, args = _in_slice(sl)
        with self._c.tx() as db:
            return int(
                db.execute(
                    "UPDATE ops SET lost_at = ?, error = ? WHERE run_id = ? AND state = 'pending' "
                    f"AND sent_at IS NOT NULL AND lost_at IS NULL AND {where}",
                    (now(), "sent by a worker that stopped", sl.run_id, *args),
                ).rowcount
            )

    def register_worker(self, worker: str, run_id: str, users: Sequence[str]) -> None:
        """A worker starts on ``run_id``, sending as ``users``."""
        with self._c.tx() as db:
            db.execute(
                "INSERT INTO workers (worker_id, run_id, host, pid, users, started_at, seen_at, "
                f"state) VALUES (?, ?, ?, ?, ?, ?, {self._c.clock}, 'waiting') "
                "ON CONFLICT (worker_id) DO UPDATE SET run_id = excluded.run_id, "
                "seen_at = excluded.seen_at, state = 'waiting'",
                (worker, run_id, this_host(), os.getpid(), json.dumps(list(users)), now()),
            )

    def report_worker(
        self,
        worker: str,
        *,
        state: WorkerState,
        sl: SliceInfo | None = None,
        done: int = 0,
        failed: int = 0,
        slices: int = 0,
        error: str | None = None,
    ) -> None:
        """What a worker does now and has done so far (it reports at least once a lease)."""
        with self._c.tx() as db:
            db.execute(
                f"UPDATE workers SET seen_at = {self._c.clock}, state = ?, slice = ?, tbl = ?, "
                "ops_done = ?, ops_failed = ?, slices_done = ?, error = ? WHERE worker_id = ?",
                (
                    state,
                    None if sl is None else sl.slice,
                    None if sl is None else sl.table,
                    done,
                    failed,
                    slices,
                    error,
                    worker,
                ),
            )

    def workers(self, run_id: str) -> list[WorkerInfo]:
        """The run's workers, in the order they started."""
        clock = self._c.clock
        rows = self._db.execute(
            "SELECT worker_id, run_id, host, pid, users, started_at, state, slice, tbl, "
            f"ops_done, ops_failed, slices_done, seen_at, {clock}, error FROM workers "
            "WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        ).fetchall()
        out = []
        for r in rows:
            started = _epoch(str(r[5]))
            out.append(
                WorkerInfo(
                    worker_id=str(r[0]),
                    run_id=str(r[1]),
                    host=str(r[2]),
                    pid=int(r[3]),
                    users=tuple(json.loads(r[4])),
                    started_at=str(r[5]),
                    state=r[6],
                    slice=r[7],
                    table=r[8],
                    ops_done=int(r[9]),
                    ops_failed=int(r[10]),
                    slices_done=int(r[11]),
                    seconds=max(0.0, float(r[12]) - started),
                    silent_s=max(0.0, float(r[13]) - float(r[12])),
                    error=r[14],
                )
            )
        return out


_TABLE_NAME = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \(")
COPY_CHUNK = 1000
"""Rows written per statement when a journal is copied."""


def journal_tables() -> list[str]:
    """Every table of the journal, in the order they are created."""
    return _TABLE_NAME.findall(schema_text())


def copy_journal(source: Journal, target: Journal) -> dict[str, int]:
    """Copy every row of ``source`` into ``target`` (an empty journal, on either backend),
    in one transaction, each table in the order its rows were written: ``target`` then holds
    the same runs, operations, id map and namespace. Returns the rows copied per table.

    A target that holds runs, operations, an id map or schema runs is refused."""
    holds = {
        t: n
        for t in ("runs", "ops", "idmap", "schema_runs")
        if (n := int(target._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]))
    }
    if holds:
        shown = ", ".join(f"{n} in {t}" for t, n in holds.items())
        raise JournalError(
            f"the journal at {target.where} is not empty ({shown})",
            hint="copy into a new, empty database, or drop and create this one again",
        )
    copied: dict[str, int] = {}
    with target._c.tx() as db:
        db.execute("DELETE FROM meta")
        for table in journal_tables():
            columns = _columns(source, table)
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"
            count = 0
            last = -1
            while True:
                rows = source._db.execute(
                    f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    (last, COPY_CHUNK),
                ).fetchall()
                if not rows:
                    break
                db.executemany(insert, [tuple(r[1:]) for r in rows])
                count += len(rows)
                last = int(rows[-1][0])
            copied[table] = count
        db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(VERSION),))
    return copied


def _columns(journal: Journal, table: str) -> list[str]:
    """The columns of ``table`` in ``journal`` (its own ``rowid`` left out)."""
    if journal.dialect == "postgresql":
        rows = journal._db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema() ORDER BY ordinal_position",
            (table,),
        )
    else:
        rows = [(r[1],) for r in journal._db.execute(f"PRAGMA table_info({table})")]
    return [str(r[0]) for r in rows if str(r[0]) != "rowid"]


def table_counts(journal: Journal) -> dict[str, int]:
    """The rows of every table of ``journal`` (:func:`journal_tables`): what a copy is
    checked by, and what an empty journal holds (nothing but ``meta``)."""
    return {
        t: int(journal._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
        for t in journal_tables()
    }
