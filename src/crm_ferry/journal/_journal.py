"""The project's journal: runs, intended writes and their outcomes, the id map, rejects,
watermarks, samples, matches, and (through :attr:`Journal.schema`) the schema operations.

An operation is written here (``pending``) before the request that carries it is sent, and
marked ``done`` or ``failed`` after the answer. A resumed run re-sends what is still pending
(writes are upserts to deterministic ids, so a re-send after a lost answer changes nothing)
and skips what is done.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

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
    IdMapEntry,
    JournalOp,
    MatchRow,
    OpState,
    RunInfo,
    RunKind,
    RunState,
    SampleInfo,
)
from crm_ferry.model import Reject
from crm_ferry.transform.ops import Operation

_OP_COLUMNS = (
    "run_id, seq, op_key, role, tbl, row_id, kind, phase, rank, source_object, source_id, "
    "hash, payload, existed, prev_hash, prev_payload, state, error, create_only, action"
)
_FIRST_WRITE = "op_key LIKE '%/upsert/0'"
"""The id-map entry of a row's own first write (one per row crm-ferry wrote)."""


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
        payload_text=row[12],
    )


def _payload_text(op: JournalOp) -> str:
    """``dumps(op.payload)``: the journaled text when the op was read from the journal
    (it is that encoding, and decoding then encoding it again gives the same text)."""
    if op.payload_text is not None:
        return op.payload_text
    return dumps(op.payload)


class Journal:
    """The project's journal. Not shared between threads: the engine writes from one."""

    def __init__(self, path: Path) -> None:
        self._c = Connection(path)
        self.path = path
        self._db = self._c.db
        self.schema = SchemaLog(self._c)
        """The schema operations provisioning applied, on the same connection."""

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
                "note) VALUES (?, ?, 'running', ?, ?, ?, ?)",
                (rid, kind, now(), source, map_fingerprint, note),
            )
        return rid

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
        """Every data run, oldest first."""
        ids = [r[0] for r in self._db.execute("SELECT run_id FROM runs ORDER BY rowid")]
        return [self.run(i) for i in ids]

    def unfinished(self, kinds: Iterable[RunKind]) -> RunInfo | None:
        """The latest run of these kinds that did not finish (to resume)."""
        kinds = tuple(kinds)
        marks = ",".join("?" * len(kinds))
        row = self._db.execute(
            f"SELECT run_id FROM runs WHERE state = 'running' AND kind IN ({marks}) "
            "ORDER BY rowid DESC LIMIT 1",
            kinds,
        ).fetchone()
        return None if row is None else self.run(row[0])

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
                "INSERT OR IGNORE INTO ops (run_id, seq, op_key, role, tbl, row_id, kind, phase, "
                "rank, source_object, source_id, hash, payload, existed, prev_hash, "
                "prev_payload, create_only, action) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        sql = f"SELECT {_OP_COLUMNS} FROM ops WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if state:
            sql += " AND state = ?"
            args += (state,)
        return [_op(r) for r in self._db.execute(sql + " ORDER BY phase, rank, seq", args)]

    def mark_done(self, run_id: str, ops: Sequence[JournalOp]) -> None:
        at = now()
        with self._c.tx() as db:
            db.executemany(
                "UPDATE ops SET state = 'done', done_at = ?, error = NULL "
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

    def mark_failed(self, run_id: str, failures: Sequence[tuple[JournalOp, str]]) -> None:
        with self._c.tx() as db:
            db.executemany(
                "UPDATE ops SET state = 'failed', error = ?, done_at = ? "
                "WHERE run_id = ? AND op_key = ?",
                [(err, now(), run_id, o.op_key) for o, err in failures],
            )

    def restore(self, op: JournalOp) -> None:
        """Put the id map back to what it was before ``op`` (after rolling it back)."""
        with self._c.tx() as db:
            if op.prev_hash is None:
                db.execute("DELETE FROM idmap WHERE op_key = ?", (op.op_key,))
            else:
                db.execute(
                    "UPDATE idmap SET hash = ?, payload = ? WHERE op_key = ?",
                    (
                        op.prev_hash,
                        None if op.prev_payload is None else dumps(op.prev_payload),
                        op.op_key,
                    ),
                )

    def forget_row(self, table: str, row_id: str) -> None:
        """The row is gone from the tenant: every id-map entry of it (state, links) goes."""
        with self._c.tx() as db:
            db.execute("DELETE FROM idmap WHERE tbl = ? AND row_id = ?", (table, row_id))

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

    def source_outcomes(
        self, run_id: str, *, except_role: str | None = None
    ) -> dict[str, tuple[int, int]]:
        """Per source object: ``(records with a failed operation, records touched)`` by
        the run (records behind rows of ``except_role`` left out)."""
        out: dict[str, tuple[int, int]] = {}
        for obj, failed, total in self._db.execute(
            "SELECT source_object, SUM(has_failed), COUNT(*) FROM ("
            "  SELECT source_object, source_id, MAX(state = 'failed') AS has_failed FROM ops"
            "  WHERE run_id = ? AND role IS NOT ? GROUP BY source_object, source_id"
            ") GROUP BY source_object",
            (run_id, except_role),
        ):
            out[obj] = (int(failed or 0), int(total))
        return out

    def record_outcomes(self, run_id: str, source_object: str) -> dict[str, bool]:
        """Source id → whether any operation of that record failed in the run."""
        return {
            str(sid): bool(failed)
            for sid, failed in self._db.execute(
                "SELECT source_id, MAX(state = 'failed') FROM ops WHERE run_id = ? AND "
                "source_object = ? GROUP BY source_id",
                (run_id, source_object),
            )
        }

    def role_outcome(self, run_id: str, role: str, kind: str) -> tuple[int, int]:
        """``(operations, failed)`` of one role and kind in a run."""
        row = self._db.execute(
            "SELECT COUNT(*), SUM(state = 'failed') FROM ops WHERE run_id = ? AND role = ? "
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
        for obj, sid in self._db.execute(
            f"SELECT DISTINCT source_object, source_id FROM idmap WHERE {_FIRST_WRITE} "
            "AND role IS NOT ?",
            (except_role,),
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
                "INSERT OR IGNORE INTO idmap (op_key, tbl, row_id, role, source_object, "
                "source_id, hash, payload, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                "INSERT OR IGNORE INTO matches VALUES (?, ?, ?, ?)",
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
                "SET updated_at = MAX(updated_at, excluded.updated_at), run_id = excluded.run_id",
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
        self._db.execute("VACUUM")
        return n
