"""The load engine: bundle → transform → journal → Dataverse, resumable at any point.

A run has two stages, both re-entrant:

1. **Plan.** Every record of the bundle is read (client properties merged into their
   client), transformed into operations, and each operation whose content differs from
   what the id map says was last written is journaled as ``pending`` with its load rank.
   Nothing is held in memory per record: the journal is the buffer, so memory stays flat
   in the size of the bundle.
2. **Send.** Pending operations are read back in (phase, rank, journal) order, grouped by
   table and kind, and written through the client (bulk messages or ``$batch``); each
   outcome is journaled as it arrives.

After a crash (even ``kill -9``) the next ``migrate`` finds the unfinished run, plans
again (already journaled operations are kept as they are; unchanged ones are not added)
and sends what is still pending. Writes are upserts to deterministic ids, so re-sending an
operation whose answer was lost changes nothing.

At the end, for every source object, ``read = written + unchanged + rejected + failed`` is
checked; a run whose counts do not add up is marked ``failed``.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from crm_ferry.dataverse.batch import MAX_BATCH_OPERATIONS, BatchOperation
from crm_ferry.dataverse.bulk import WriteReport, write_many
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.errors import CheckFailed
from crm_ferry.journal import Journal, JournalOp, RunKind, RunState
from crm_ferry.load.planner import LoadPlan
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.model import Client, ClientProperty, Record, RecordKey, Reject
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.sources.bundle import Bundle, open_bundle
from crm_ferry.sources.schema import READ_ORDER
from crm_ferry.transform.ops import Operation

SEND_CHUNK = 5000
"""Operations read back from the journal and handed to the client at a time."""
GROUPS_IN_FLIGHT = 2
"""Groups of :data:`SEND_CHUNK` operations of one partition sent at once: the next group is
read and sent while the answers of the one before are still coming."""
PLAN_FLUSH = 2000
"""Operations journaled per transaction while planning."""
AGGREGATE_ROLES = frozenset({"opportunity"})
"""Roles whose rows are built from many records (counted apart from the records read)."""


class TransformerLike(Protocol):
    def transform(self, record: Record) -> Sequence[Operation] | Sequence[Reject]: ...

    def finish(self) -> Iterable[Operation]: ...


@dataclass(slots=True)
class ObjectCounts:
    read: int = 0
    written: int = 0
    unchanged: int = 0
    rejected: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def balanced(self) -> bool:
        total = self.written + self.unchanged + self.rejected + self.failed + self.skipped
        return self.read == total

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "written": self.written,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "failed": self.failed,
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class LoadResult:
    run_id: str
    kind: RunKind
    state: RunState
    objects: dict[str, ObjectCounts]
    tables: dict[str, dict[str, int]]
    """Per table: operations done and failed."""
    requests: int
    seconds: float
    resumed: bool = False
    order: list[str] = field(default_factory=list)
    disappeared: dict[str, list[str]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "done" and all(c.balanced for c in self.objects.values())

    @property
    def records(self) -> int:
        return sum(c.read for c in self.objects.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "state": self.state,
            "resumed": self.resumed,
            "order": self.order,
            "objects": {k: v.as_dict() for k, v in self.objects.items()},
            "tables": self.tables,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds, 1) if self.seconds else None,
            "disappeared": self.disappeared,
            "failures": self.failures[:100],
        }


@dataclass
class LoadContext:
    """Everything a run needs, built by the command layer."""

    spec: MappingSpec
    plan: LoadPlan
    journal: Journal
    clients: Sequence[DataverseClient]
    make_transformer: Callable[[], TransformerLike]
    progress: Progress = NO_PROGRESS
    primary_ids: Mapping[str, str] = field(default_factory=dict)
    """Table → primary id column (from metadata)."""


def _objects_for(spec: MappingSpec) -> list[str]:
    sources = {t.source for t in spec.targets.values() if t.enabled}
    return [o for o in READ_ORDER if o in sources]


def _read_properties(
    bundle: Bundle, rejects: list[Reject], rows: dict[str, int]
) -> tuple[dict[str, dict[str, str]], int]:
    """Long-form custom properties by client; ``rows`` counts accepted rows per client."""
    props: dict[str, dict[str, str]] = defaultdict(dict)
    n = 0
    if "client_properties" not in bundle.objects:
        return props, 0
    for item in bundle.read("client_properties"):
        n += 1
        if isinstance(item, Reject):
            rejects.append(item)
        elif isinstance(item, ClientProperty):
            rows[item.client_id] = rows.get(item.client_id, 0) + 1
            if item.value is not None:
                props[item.client_id][item.key_name] = item.value
    return props, n


def transformer_mark(transformer: TransformerLike, key: RecordKey) -> None:
    mark = getattr(transformer, "mark_rejected", None)
    if mark is not None:
        mark(key)


def _partition(op: JournalOp) -> tuple[int, int, str, str]:
    """Operations of one partition are independent of each other and sent together."""
    return (op.phase, op.rank, op.table, op.kind)


def _with_properties(record: Record, props: Mapping[str, Mapping[str, str]]) -> Record:
    if isinstance(record, Client):
        extra = props.get(record.id)
        if extra:
            return replace(record, custom={**extra, **record.custom})
    return record


class Loader:
    def __init__(self, ctx: LoadContext) -> None:
        self.ctx = ctx
        self.j = ctx.journal
        self.resumed = False
        self._prop_rows: dict[str, int] = {}
        self._rejected_clients: set[str] = set()
        self._seen_clients: set[str] = set()
        self._track_all = False

    # -- planning -------------------------------------------------------------------

    def plan(
        self,
        run_id: str,
        bundle: Bundle,
        *,
        include: Callable[[Record], bool] | None = None,
    ) -> tuple[dict[str, ObjectCounts], dict[str, set[str]], dict[str, str]]:
        """Transform the bundle into journaled operations; return counts, ids seen, watermarks."""
        ctx = self.ctx
        counts: dict[str, ObjectCounts] = {}
        seen: dict[str, set[str]] = defaultdict(set)
        marks: dict[str, str] = {}
        transformer = ctx.make_transformer()
        self.j.clear_rejects(run_id)
        seq = self.j.next_seq(run_id)
        buffer: list[tuple[Operation, int]] = []
        rank = {role: ctx.plan.rank(role) for role in ctx.plan.roles}
        prop_rejects: list[Reject] = []
        self._prop_rows = {}
        self._rejected_clients = set()
        props, nprops = _read_properties(bundle, prop_rejects, self._prop_rows)
        if nprops:
            pc = counts.setdefault("client_properties", ObjectCounts())
            pc.read = nprops
            pc.rejected = len(prop_rejects)
            pc.skipped = 0
            self.j.add_rejects(run_id, prop_rejects)

        def flush() -> None:
            # what the id map says was last written, for the buffered ops in one query:
            # an op whose content is unchanged is not journaled again
            nonlocal seq
            known = self.j.known_hashes(op.op_key for op, _ in buffer)
            changed = []
            for op, op_rank in buffer:
                last = known.get(op.op_key)
                if last is not None and last[0] == op.hash:
                    continue
                changed.append((op, op_rank))
            buffer.clear()
            if changed:
                seq = self.j.add_ops(run_id, changed, seq, known=known)

        def queue(ops: Sequence[Operation]) -> None:
            for op in ops:
                buffer.append((op, rank.get(op.role, len(rank))))
            if len(buffer) >= PLAN_FLUSH:
                flush()

        for obj in _objects_for(ctx.spec):
            if obj not in bundle.objects:
                continue
            c = counts.setdefault(obj, ObjectCounts())
            ctx.progress.start(f"plan {obj}")
            rejects: list[Reject] = []
            for item in bundle.read(obj):
                c.read += 1
                if isinstance(item, Reject):
                    c.rejected += 1
                    rejects.append(item)
                    if item.source_id:
                        transformer_mark(transformer, RecordKey(obj, item.source_id))
                        if obj == "clients":
                            self._rejected_clients.add(item.source_id)
                    continue
                if include is not None and not include(item):
                    c.skipped += 1
                    continue
                record = _with_properties(item, props)
                if self._track_all or obj == "clients":
                    seen[obj].add(record.id)  # every id only when a delta looks for gaps
                stamp = getattr(record, "updated_at", None)
                if stamp is not None:
                    iso = stamp.isoformat()
                    if iso > marks.get(obj, ""):
                        marks[obj] = iso
                out = transformer.transform(record)
                if out and isinstance(out[0], Reject):
                    c.rejected += 1
                    if obj == "clients":
                        self._rejected_clients.add(record.id)
                    rejects.extend(r for r in out if isinstance(r, Reject))
                else:
                    queue([o for o in out if isinstance(o, Operation)])
                if len(rejects) >= 500:
                    self.j.add_rejects(run_id, rejects)
                    rejects.clear()
                if c.read % 1000 == 0:
                    ctx.progress.advance(f"plan {obj}", 1000)
            self.j.add_rejects(run_id, rejects)
            ctx.progress.finish(f"plan {obj}")
        for op in transformer.finish():
            queue((op,))
        if buffer:
            flush()
        return counts, seen, marks

    # -- sending --------------------------------------------------------------------------

    def send(self, run_id: str) -> list[dict[str, Any]]:
        """Send every pending operation of the run in order; return the failures.

        Groups of one (phase, rank, table, kind) do not depend on each other, so while one
        group is in flight the next is read and handed to the client (at most
        :data:`GROUPS_IN_FLIGHT`); outcomes are journaled here, in this thread, in order.
        A new rank or phase waits for everything before it: its rows may point at them."""
        failures: list[dict[str, Any]] = []
        total = self.j.state_counts(run_id).get("pending", 0)
        progress = self.ctx.progress
        progress.start("load", total=total)
        inflight: deque[tuple[list[JournalOp], Future[WriteReport]]] = deque()

        def settle_one() -> None:
            ops, future = inflight.popleft()
            failures.extend(self._settle_group(run_id, ops, future.result()))
            progress.advance("load", len(ops))

        def flush(group: list[JournalOp]) -> None:
            while inflight and (
                _partition(inflight[0][0][0]) != _partition(group[0])
                or len(inflight) >= GROUPS_IN_FLIGHT
            ):
                settle_one()
            if group[0].kind == "action":
                failures.extend(self._send_actions(run_id, group))
                progress.advance("load", len(group))
                return
            inflight.append((group, pool.submit(self._write_group, self._rows(group))))

        with ThreadPoolExecutor(max_workers=GROUPS_IN_FLIGHT, thread_name_prefix="send") as pool:
            try:
                group: list[JournalOp] = []
                for op in self.j.pending(run_id):
                    if group and (
                        _partition(op) != _partition(group[0]) or len(group) >= SEND_CHUNK
                    ):
                        flush(group)
                        group = []
                    group.append(op)
                if group:
                    flush(group)
                while inflight:
                    settle_one()
            finally:
                # a failure stops the run: what is still in flight finishes, unjournaled
                # (pending, re-sent on resume), before the error goes up
                for _, future in inflight:
                    future.cancel()
        progress.finish("load")
        return failures

    def _rows(self, ops: list[JournalOp]) -> tuple[str, str, list[dict[str, Any]]]:
        """(table, kind, payloads) of one group, ready for :func:`write_many`."""
        kind = ops[0].kind
        table = ops[0].table
        pid = (
            self.ctx.primary_ids.get(table) or self.ctx.clients[0].metadata.table(table).primary_id
        )
        existing = self._existing(table, pid, ops) if kind == "upsert" else set()
        rows = []
        for o in ops:
            payload = dict(o.payload or {})
            if o.row_id in existing:
                # the row is there already (an earlier run, or a write whose answer was
                # lost): columns the service takes only on create stay out of the update
                for key in o.create_only:
                    payload.pop(key, None)
            payload[pid] = o.row_id
            rows.append(payload)
        return table, kind, rows

    def _write_group(self, prepared: tuple[str, str, list[dict[str, Any]]]) -> WriteReport:
        table, kind, rows = prepared
        return write_many(
            self.ctx.clients, table, rows, op="upsert" if kind == "upsert" else "update"
        )

    def _settle_group(
        self, run_id: str, ops: list[JournalOp], report: WriteReport
    ) -> list[dict[str, Any]]:
        """Journal the outcome of one group; the failures."""
        kind = ops[0].kind
        table = ops[0].table
        done: list[JournalOp] = []
        failed: list[tuple[JournalOp, str]] = []
        for op, res in zip(ops, report.results, strict=True):
            if res.ok:
                done.append(op)
            elif kind in ("state", "close") and self._in_state(table, op):
                # re-sent after a crash: the row is already in that state (and read-only)
                done.append(op)
            else:
                failed.append((op, str(res.error) if res.error else "rejected by Dataverse"))
        if done:
            self.j.mark_done(run_id, done)
        if failed:
            self.j.mark_failed(run_id, failed)
        return [self._failure(op, err) for op, err in failed]

    def _in_state(self, table: str, op: JournalOp) -> bool:
        wanted = {k: v for k, v in (op.payload or {}).items() if k in ("statecode", "statuscode")}
        if not wanted:
            return False
        try:
            row = self.ctx.clients[0].retrieve(table, op.row_id, select=sorted(wanted))
        except DataverseError:
            return False
        return all(row.get(k) == v for k, v in wanted.items())

    def _existing(self, table: str, pid: str, ops: Sequence[JournalOp]) -> set[str]:
        """Ids among ``ops`` whose row may already exist and that carry create-only columns.

        A row an earlier run wrote is known from the journal. In a resumed run a pending
        write may have reached the service before the crash: those rows are looked up."""
        out = {o.row_id for o in ops if o.existed and o.create_only}
        unsure = [o.row_id for o in ops if o.create_only and not o.existed]
        if unsure and self.resumed:
            found = self.ctx.clients[0].retrieve_many(table, unsure, select=[pid])
            out |= {i for i in unsure if i.lower() in found}
        return out

    def _send_actions(self, run_id: str, ops: list[JournalOp]) -> list[dict[str, Any]]:
        """Actions go in ``$batch`` requests (continue on error), as many per request as
        the client's batch size; an action whose part did not succeed, or a batch that
        failed as a whole, is sent again on its own (the single-request path decides)."""
        client = self.ctx.clients[0]
        size = max(1, min(client.options.batch_size, MAX_BATCH_OPERATIONS))
        failures: list[dict[str, Any]] = []
        for start in range(0, len(ops), size):
            chunk = ops[start : start + size]
            if len(chunk) == 1:
                failures.extend(self._send_actions_one_by_one(run_id, chunk))
                continue
            items = [
                BatchOperation("POST", op.action or "WinOpportunity", dict(op.payload or {}))
                for op in chunk
            ]
            try:
                answers = client.execute_batch(items, continue_on_error=True)
            except DataverseError:
                failures.extend(self._send_actions_one_by_one(run_id, chunk))
                continue
            done = [op for op, a in zip(chunk, answers, strict=True) if a is not None and a.ok]
            if done:
                self.j.mark_done(run_id, done)
            rest = [op for op, a in zip(chunk, answers, strict=True) if a is None or not a.ok]
            failures.extend(self._send_actions_one_by_one(run_id, rest))
        return failures

    def _send_actions_one_by_one(self, run_id: str, ops: list[JournalOp]) -> list[dict[str, Any]]:
        failures: list[dict[str, Any]] = []
        client = self.ctx.clients[0]
        for op in ops:
            body = dict(op.payload or {})
            name = op.action or "WinOpportunity"
            try:
                client.call(name, body, idempotent=False)
            except DataverseError as exc:
                if self._already_applied(client, op):
                    self.j.mark_done(run_id, [op])
                    continue
                self.j.mark_failed(run_id, [(op, str(exc))])
                failures.append(self._failure(op, str(exc)))
                continue
            self.j.mark_done(run_id, [op])
        return failures

    @staticmethod
    def _already_applied(client: DataverseClient, op: JournalOp) -> bool:
        """An action re-sent after a lost answer: the row is already in its closed state."""
        try:
            row = client.retrieve(op.table, op.row_id, select=["statecode"])
        except DataverseError:
            return False
        return row.get("statecode") not in (None, 0)

    @staticmethod
    def _failure(op: JournalOp, error: str) -> dict[str, Any]:
        return {
            "table": op.table,
            "id": op.row_id,
            "kind": op.kind,
            "source": f"{op.source_object}/{op.source_id}",
            "error": error,
        }

    # -- counting ---------------------------------------------------------------------------

    def settle(self, run_id: str, counts: dict[str, ObjectCounts]) -> dict[str, dict[str, int]]:
        """Fill written/failed/unchanged per object from the journal; per-table op counts."""
        per_source = self.j.source_outcomes(run_id, except_role="opportunity")
        clients_state = self._client_states(run_id)
        for obj, c in counts.items():
            if obj == "client_properties":
                # merged into their client: each accepted row shares its client's outcome
                for cid, n in self._prop_rows.items():
                    state = clients_state.get(cid)
                    if state == "failed":
                        c.failed += n
                    elif state == "written":
                        c.written += n
                    elif cid in self._rejected_clients:
                        c.rejected += n
                    elif cid in self._seen_clients:
                        c.unchanged += n
                    else:
                        c.skipped += n  # no such client (a dangling reference, reported)
                continue
            failed, touched = per_source.get(obj, (0, 0))
            c.failed = failed
            c.written = touched - failed
            c.unchanged = c.read - c.rejected - c.skipped - touched
        tables = self.j.table_state_counts(run_id)
        aggregated, agg_failed = self.j.role_outcome(run_id, "opportunity", "upsert")
        if aggregated:
            counts["opportunities (aggregated)"] = ObjectCounts(
                read=aggregated, written=aggregated - agg_failed, failed=agg_failed
            )
        return tables

    def _client_states(self, run_id: str) -> dict[str, str]:
        return {
            sid: "failed" if failed else "written"
            for sid, failed in self.j.record_outcomes(run_id, "clients").items()
        }

    # -- the whole run ------------------------------------------------------------------------

    def run(
        self,
        bundle: Bundle,
        *,
        kind: RunKind = "migrate",
        source: str | None = None,
        include: Callable[[Record], bool] | None = None,
        note: str | None = None,
        fresh: bool = False,
    ) -> LoadResult:
        started = time.perf_counter()
        before = sum(c.stats.requests for c in self.ctx.clients)
        resumed = None if fresh else self.j.unfinished([kind])
        self.resumed = resumed is not None
        run_id = (
            resumed.run_id
            if resumed is not None
            else self.j.start_run(
                kind, source=source, map_fingerprint=self.ctx.spec.fingerprint.source, note=note
            )
        )
        self._track_all = kind == "delta"
        counts, seen, marks = self.plan(run_id, bundle, include=include)
        self._seen_clients = seen.get("clients", set())
        disappeared: dict[str, list[str]] = {}
        if kind == "delta":
            disappeared = self._disappeared(seen)
        failures = self.send(run_id)
        tables = self.settle(run_id, counts)
        state: RunState = "done" if all(c.balanced for c in counts.values()) else "failed"
        if state == "done":
            self.j.set_watermarks(run_id, marks)
        result = LoadResult(
            run_id=run_id,
            kind=kind,
            state=state,
            objects=counts,
            tables=tables,
            requests=sum(c.stats.requests for c in self.ctx.clients) - before,
            seconds=time.perf_counter() - started,
            resumed=resumed is not None,
            order=list(self.ctx.plan.roles),
            disappeared=disappeared,
            failures=failures,
        )
        self.j.finish_run(
            run_id,
            state,
            {
                "objects": {k: v.as_dict() for k, v in counts.items()},
                "tables": tables,
                "requests": result.requests,
                "disappeared": {k: len(v) for k, v in disappeared.items()},
            },
        )
        if state != "done":
            unbalanced = [k for k, c in counts.items() if not c.balanced]
            raise CheckFailed(
                f"run {run_id}: counts do not add up for {', '.join(unbalanced)}",
                hint="this is a defect in crm-ferry; the journal holds every operation",
            )
        return result

    def _disappeared(self, seen: Mapping[str, set[str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for obj in seen:
            known = self.j.idmap_sources(obj)
            gone = sorted(set(known) - seen[obj])
            if gone:
                out[obj] = gone
        return out


def open_for_load(
    path: Path, spec: MappingSpec, columns: Mapping[str, Mapping[str, str]]
) -> Bundle:
    """The bundle with the map's header names (and ferry.toml's column map) applied."""
    merged: dict[str, dict[str, str]] = {k: dict(v) for k, v in columns.items()}
    for obj, headers in spec.header_map().items():
        merged.setdefault(obj, {}).update(headers)
    return open_bundle(path, column_map=merged)
