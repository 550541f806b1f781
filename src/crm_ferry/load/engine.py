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

After a crash (even ``kill -9``) or Ctrl-C the next ``migrate`` finds the unfinished run
(``running`` with its process gone, or ``interrupted``), plans again (already journaled
operations are kept as they are; unchanged ones are not added) and sends what is still
pending. Writes are upserts to deterministic ids, so re-sending an operation changes
nothing; still, an operation whose answer was lost is not guessed at: it stays pending
until a read of the tenant settles it (written as sent: done; not: sent again). Before it
sends anything, a resumed run reads the rows of the pending writes that were handed to the
service (:data:`LOOKUP_PAGE` ids a request, shown as :data:`READING`); a pending write the
journal says was never sent is settled from the journal: its row is not there.

Progress: a task per table (``load contact``), advanced by each request's rows.

At the end, for every source object, ``read = written + unchanged + rejected + failed`` is
checked (a defect if not); a record, or an aggregate row, with an operation that failed or
could not be settled counts as failed, and a run with any is ``failed``. So are the records
an aggregate takes (the completed, paid sessions of the opportunities): each adds to one or
is skipped with its reason (:attr:`LoadResult.skips`), ``taken = added + skipped``. A record
the map leaves out on purpose (a linked file missing from the downloads under
``documents.linked: skip``) counts as ``skipped``, with its reason (:attr:`LoadResult.left_out`).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

from crm_ferry.dataverse.batch import MAX_BATCH_OPERATIONS, BatchOperation
from crm_ferry.dataverse.bulk import WriteReport, answer_lost, write_many
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.errors import CheckFailed, Incomplete, SourceError, Transient
from crm_ferry.journal import Journal, JournalError, JournalOp, RunKind, RunState, SliceInfo
from crm_ferry.load.context import Documents
from crm_ferry.load.documents import ReadChunks, document_of, send_documents
from crm_ferry.load.planner import LoadPlan
from crm_ferry.load.removal import AGGREGATED_OBJECT, Removal, RemovalReport, RemovedPolicy
from crm_ferry.load.sharepoint import OpenFile, SharePointSender
from crm_ferry.load.workers import WorkerPlan, coordinate
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.model import ClientProperty, Record, RecordKey, Reject
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.classify import is_duplicate
from crm_ferry.reconcile.diff import compare_row
from crm_ferry.reconcile.source_values import add_property, with_properties
from crm_ferry.reconcile.thresholds import Breach
from crm_ferry.sharepoint import SharePointError
from crm_ferry.sources.bundle import Bundle, open_bundle
from crm_ferry.sources.csvrows import LINE_LIMIT
from crm_ferry.sources.schema import READ_ORDER
from crm_ferry.transform.ops import Operation
from crm_ferry.transform.roles.opportunities import Skipped
from crm_ferry.transform.roles.sharepoint import ROLES as SHAREPOINT_ROLES
from crm_ferry.transform.row import Truncation

SEND_CHUNK = 5000
"""Operations read back from the journal and handed to the client at a time."""
GROUPS_IN_FLIGHT = 2
"""Groups of :data:`SEND_CHUNK` operations of one partition sent at once: the next group is
read and sent while the answers of the one before are still coming."""
PLAN_FLUSH = 2000
"""Operations journaled per transaction while planning."""
AGGREGATE_ROLES = frozenset({"opportunity"})
"""Roles whose rows are built from many records (counted apart from the records read)."""
LOST_ROUNDS = 3
"""Times the operations of a partition whose answer was lost are read back and, if the
tenant does not hold them, sent again, before the load moves on (they stay pending)."""
URL_LIMIT = 32_768
"""The longest GET URL Dataverse takes (characters); longer reads go in ``$batch``."""
LOOKUP_PAGE = 600
"""Ids read per request when the tenant is looked up for pending operations: each id costs
45 characters of the URL (36, its quotes and comma percent-encoded), so 600 take 27,000 of
:data:`URL_LIMIT` and leave room for the rest of it; and they stay under the 2,100 query
parameters SQL Server (behind Dataverse) takes."""
READING = "reading pending operations"
"""The progress task of a resumed run's reads of the tenant, before it sends anything."""


class TransformerLike(Protocol):
    def transform(
        self, record: Record
    ) -> Sequence[Operation] | Sequence[Reject] | Sequence[Skipped]: ...

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
    send_seconds: float = 0.0
    """Of :attr:`seconds`, the time spent sending (from the first slice cut, with workers)."""
    workers: int = 0
    """Worker processes this machine started to send the run (0: it sent itself)."""
    resumed: bool = False
    order: list[str] = field(default_factory=list)
    disappeared: dict[str, list[str]] = field(default_factory=dict)
    """Per object, the ids of its records gone from the source (a delta; opportunities
    under ``opportunities``, by their aggregate id ``client/service type/currency``)."""
    failures: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per object: records ``changed`` (an operation whose content differs from what the
    id map says was last written), ``added`` (no row in the id map yet), ``unchanged``
    and ``removed`` from the source; aggregates under ``opportunities``."""
    removal: RemovalReport | None = None
    """A delta's records gone from the source, and what its policy did with their rows."""
    over_threshold: list[Breach] = field(default_factory=list)
    """The objects with more rejected records than their reject threshold allows (set by
    the command that ran the load): the run loaded what it could, yet is incomplete."""
    aggregated: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per aggregate role (``opportunity``): the records it took (``sessions``), those
    ``added`` to an aggregate and those ``skipped``; taken = added + skipped."""
    skips: list[Skipped] = field(default_factory=list)
    """Every record an aggregate took that added nothing to it, with the reason."""
    truncations: list[Truncation] = field(default_factory=list)
    """Every value cut to its column's length under ``truncate: true``, by record."""
    left_out: list[Skipped] = field(default_factory=list)
    """Every record the map left out on purpose, with the reason (each counted in its
    object's ``skipped``; an aggregate's skips are not among them)."""

    @property
    def left_out_counts(self) -> dict[str, int]:
        """Per object, the records the map left out on purpose (:attr:`left_out`)."""
        return dict(Counter(s.object for s in self.left_out))

    @property
    def truncated(self) -> dict[str, int]:
        """Per ``table.column``: values cut to the column's length (``truncate: true``)."""
        return dict(Counter(t.where for t in self.truncations))

    @property
    def ok(self) -> bool:
        return (
            self.state == "done"
            and all(c.balanced for c in self.objects.values())
            and all(aggregate_balanced(t) for t in self.aggregated.values())
        )

    @property
    def records(self) -> int:
        return sum(c.read for c in self.objects.values())

    def incomplete(self) -> Incomplete | None:
        """What to do when the run left something undone (state ``failed``): operations
        that failed, or whose answer was lost and that reading the tenant could not settle;
        or when more of an object's records were rejected than its threshold allows."""
        if self.state == "done":
            return self._too_many_rejects()
        failed, unsettled = undone_ops(self.tables)
        parts = []
        if failed:
            parts.append(f"{failed:,} operation(s) failed")
        if unsettled:
            parts.append(f"{unsettled:,} operation(s) got no answer and are not settled")
        again = {
            "delta": "`crm-ferry delta --source BUNDLE` again (the same bundle)",
            "sample": "`crm-ferry sample` again",
        }.get(self.kind, "`crm-ferry migrate` again")
        over = "".join(f"\n  {b}" for b in self.over_threshold)
        return Incomplete(
            f"run {self.run_id}: {' and '.join(parts) or 'not everything was written'}; "
            f"see runs/{self.run_id}/load.json"
            + (f"\nand too many records were rejected:{over}" if over else ""),
            hint=f"each failure is listed with its Dataverse error: fix the cause and run "
            f"{again} to resend them (what is already written is not sent again)",
        )

    def _too_many_rejects(self) -> Incomplete | None:
        if not self.over_threshold:
            return None
        again = (
            "`crm-ferry delta --source BUNDLE`" if self.kind == "delta" else "`crm-ferry migrate`"
        )
        return Incomplete(
            f"run {self.run_id} loaded what it could, but rejected more records than the "
            "reject threshold allows:"
            + "".join(f"\n  {b}" for b in self.over_threshold)
            + f"\nevery reject, with its file, line and reason: runs/{self.run_id}/rejects.jsonl",
            hint=f"fix the map or the export where the reasons point and run {again} again "
            "(what is written is not sent again); if so many rejects are known and agreed, "
            "raise the threshold in ferry.toml: [load] reject_threshold, or the object's under "
            "[load.reject_thresholds]",
        )

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
            "send_seconds": round(self.send_seconds, 3),
            "workers": self.workers,
            "records_per_second": round(self.records / self.seconds, 1) if self.seconds else None,
            "disappeared": self.disappeared,
            "changes": self.changes,
            "removal": None if self.removal is None else self.removal.as_dict(),
            "failures": self.failures[:100],
            "over_reject_threshold": [b.as_dict() for b in self.over_threshold],
            "aggregated": self.aggregated,
            "skips": [s.as_dict() for s in self.skips[:1000]],
            "left_out": [s.as_dict() for s in self.left_out[:1000]],
            "truncated": self.truncated,
        }


def aggregate_balanced(tally: Mapping[str, int]) -> bool:
    """Whether an aggregate's records add up: taken = added + skipped."""
    return tally.get("sessions", 0) == tally.get("added", 0) + tally.get("skipped", 0)


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
    sharepoint: SharePointSender | None = None
    """Where the files the map sends to SharePoint go (None: the map sends none)."""
    documents: Documents | None = None
    """The files of the bundle and the downloads folder, by key (None: the bundle's only)."""
    workers: WorkerPlan | None = None
    """Send with worker processes (:mod:`crm_ferry.load.workers`): this process plans and
    waits; None: it sends itself."""


def _objects_for(spec: MappingSpec) -> list[str]:
    sources = {t.source for t in spec.targets.values() if t.enabled}
    return [o for o in READ_ORDER if o in sources]


def _read_properties(
    bundle: Bundle, rejects: list[Reject], rows: dict[str, int]
) -> tuple[dict[str, dict[str, str]], int]:
    """Long-form custom properties by client; ``rows`` counts accepted rows per client."""
    props: dict[str, dict[str, str]] = {}
    n = 0
    if "client_properties" not in bundle.objects:
        return props, 0
    for item in bundle.read("client_properties"):
        n += 1
        if isinstance(item, Reject):
            rejects.append(item)
        elif isinstance(item, ClientProperty):
            rows[item.client_id] = rows.get(item.client_id, 0) + 1
            add_property(props, item)
    return props, n


def transformer_mark(transformer: TransformerLike, key: RecordKey) -> None:
    mark = getattr(transformer, "mark_rejected", None)
    if mark is not None:
        mark(key)


def _partition(op: JournalOp) -> tuple[int, int, str, str]:
    """Operations of one partition are independent of each other and sent together."""
    return (op.phase, op.rank, op.table, op.kind)


def undone_ops(tables: Mapping[str, Mapping[str, int]]) -> tuple[int, int]:
    """``(failed, unsettled)`` operations of a run, from its per-table state counts (an
    operation still pending once the run has sent everything was left unsettled)."""
    failed = sum(int(t.get("failed", 0)) for t in tables.values())
    pending = sum(int(t.get("pending", 0)) for t in tables.values())
    return failed, pending


def _holds_state(op: JournalOp, row: Mapping[str, Any]) -> bool:
    """Whether ``row`` has the statecode/statuscode the state operation ``op`` sets."""
    wanted = {k: v for k, v in (op.payload or {}).items() if k in ("statecode", "statuscode")}
    return bool(wanted) and all(row.get(k) == v for k, v in wanted.items())


def load_task(table: str) -> str:
    """The progress task of the writes to ``table``: ``load contact``."""
    return f"load {table}"


class _TableLoad:
    """The progress :func:`write_many` reports (``write <table>``, per request), shown as the
    table's task of the whole load (:func:`load_task`): the load starts and finishes it."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def start(self, task: str, total: int | None = None) -> None:
        pass

    def advance(self, task: str, amount: int = 1) -> None:
        self._progress.advance(load_task(task.removeprefix("write ")), amount)

    def finish(self, task: str) -> None:
        pass


class Loader:
    def __init__(self, ctx: LoadContext) -> None:
        self.ctx = ctx
        self.j = ctx.journal
        self.resumed = False
        self._prop_rows: dict[str, int] = {}
        self._rejected_clients: set[str] = set()
        self._seen_clients: set[str] = set()
        self._track_all = False
        self._lost: list[JournalOp] = []
        """Operations of the partition being sent whose answer was lost."""
        self._present: set[str] = set()
        self._read: set[tuple[str, str]] = set()
        """Rows (lower-case ids) a resumed run found in the tenant, and (table, id) of every
        row it read, before sending (:meth:`_read_pending`)."""
        self._reading = False
        self._aggregates_seen: dict[str, set[str]] = {}
        """Aggregate role → the ids of the aggregates the plan built."""
        self._aggregated: dict[str, dict[str, int]] = {}
        self._skips: list[Skipped] = []
        self._left_out: list[Skipped] = []
        """Records the map left out on purpose (see :attr:`LoadResult.left_out`)."""
        self._truncations: list[Truncation] = []
        """Values the plan's transform cut under ``truncate: true``."""
        self._chunks: ReadChunks | None = None
        """The bundle's files, piece by piece: the documents that go in blocks."""
        self._open: OpenFile | None = None
        """The bundle's files, opened: the files that go to SharePoint."""
        """What the plan's aggregates took, added and skipped (see :class:`LoadResult`)."""

    def ready_to_send(self, documents: Documents) -> None:
        """Read the run's documents and files from ``documents`` (what :meth:`run` does
        before it plans): a worker sends slices it did not plan."""
        self._chunks = documents.chunks
        self._open = documents.open

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
        take_cuts = getattr(transformer, "take_truncations", None)
        self._truncations = []
        self.j.clear_rejects(run_id)
        seq = self.j.next_seq(run_id)
        buffer: list[tuple[Operation, int]] = []
        rank = {role: ctx.plan.rank(role) for role in (*ctx.plan.roles, *SHAREPOINT_ROLES)}
        prop_rejects: list[Reject] = []
        self._left_out = []
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
            if self._track_all:
                seen.setdefault(obj, set())  # an object with no record left is compared too
            ctx.progress.start(f"plan {obj}")
            rejects: list[Reject] = []
            for item in bundle.read(obj):
                c.read += 1
                if isinstance(item, Reject):
                    c.rejected += 1
                    rejects.append(item)
                    if item.source_id and self._track_all:
                        seen[obj].add(item.source_id)  # still in the source: not removed
                    if item.source_id and not is_duplicate(item):
                        # a duplicate's id is its first row's: loaded, or rejected (and
                        # marked) already; its children are that row's
                        transformer_mark(transformer, RecordKey(obj, item.source_id))
                        if obj == "clients":
                            self._rejected_clients.add(item.source_id)
                    continue
                if include is not None and not include(item):
                    c.skipped += 1
                    if self._track_all:
                        seen[obj].add(item.id)
                    continue
                record = with_properties(item, props)
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
                elif out and isinstance(out[0], Skipped):  # the map leaves it out
                    c.skipped += 1
                    self._left_out.append(out[0])
                else:
                    queue([o for o in out if isinstance(o, Operation)])
                    if take_cuts is not None:
                        self._truncations.extend(take_cuts())
                if len(rejects) >= 500:
                    self.j.add_rejects(run_id, rejects)
                    rejects.clear()
                if c.read % 1000 == 0:
                    ctx.progress.advance(f"plan {obj}", 1000)
            self.j.add_rejects(run_id, rejects)
            ctx.progress.finish(f"plan {obj}")
        self._aggregates_seen = {}
        for op in transformer.finish():
            if op.role in AGGREGATE_ROLES:
                self._aggregates_seen.setdefault(op.role, set()).add(op.source.id)
            queue((op,))
        if buffer:
            flush()
        tally = getattr(transformer, "aggregated", None)
        self._aggregated = dict(tally()) if tally is not None else {}
        self._skips = list(getattr(transformer, "skips", ()))
        return counts, seen, marks

    # -- sending --------------------------------------------------------------------------

    def send(self, run_id: str) -> list[dict[str, Any]]:
        """Send every pending operation of the run in order; return the failures (those
        left unsettled included).

        Groups of one (phase, rank, table, kind) do not depend on each other, so while one
        group is in flight the next is read and handed to the client (at most
        :data:`GROUPS_IN_FLIGHT`); outcomes are journaled here, in this thread, in order.
        A new rank or phase waits for everything before it: its rows may point at them.

        An operation whose answer was lost stays pending (``JournalOp.lost``). Before the
        next partition starts, the tenant is read to settle it: written (it holds what was
        sent) is done, not written is sent again, at most :data:`LOST_ROUNDS` times. Lost
        operations an earlier attempt left (or an earlier run, unfinished) are read first."""
        self._lost = []
        self.j.carry_lost(run_id)
        self._read_pending(run_id)
        pending = {
            table: n
            for table, c in self.j.table_state_counts(run_id).items()
            if (n := c.get("pending", 0))
        }
        failures = self._send_ops(run_id, self.j.pending(run_id), pending)
        failures.extend(
            self._failure(op, f"not settled: {op.error or 'the answer was lost'}")
            for op in self.j.lost_ops(run_id)
        )
        return failures

    def send_slice(self, sl: SliceInfo) -> list[dict[str, Any]]:
        """Send the pending operations of one slice a worker leased, as :meth:`send` sends
        a run's (their lost answers read back before the slice ends); the failures.

        A slice claimed before (its worker's lease ran out) may have been sent in part:
        what that worker handed to the service without settling it is read from the tenant
        first (:meth:`Journal.mark_slice_unsure`). The pending operations are read again,
        page by page, as they are sent: what another worker settled meanwhile is left."""
        run_id = sl.run_id
        self._lost = []
        if sl.claims > 1:
            self.j.mark_slice_unsure(sl)
        self._read_pending(run_id, within=sl)
        failures = self._send_ops(run_id, self.j.slice_pending(sl), {sl.table: sl.ops})
        failures.extend(
            self._failure(op, f"not settled: {op.error or 'the answer was lost'}")
            for op in self.j.lost_ops(run_id, within=sl)
        )
        return failures

    def _send_ops(
        self, run_id: str, ops: Iterable[JournalOp], pending: Mapping[str, int]
    ) -> list[dict[str, Any]]:
        """Send ``ops`` (pending, in send order) group by group, journaling each outcome;
        the failures (not those left unsettled: they stay pending, flagged)."""
        failures: list[dict[str, Any]] = []
        progress = self.ctx.progress
        started: list[str] = []
        inflight: deque[tuple[list[JournalOp], Future[WriteReport]]] = deque()

        def settle_one() -> None:
            ops, future = inflight.popleft()
            failures.extend(self._settle_group(run_id, ops, future.result()))

        def drain() -> None:
            while inflight:
                settle_one()
            failures.extend(self._resolve_lost(run_id))

        last: list[tuple[int, int, str, str]] = []

        def flush(group: list[JournalOp]) -> None:
            part = _partition(group[0])
            if last and last[0] != part:
                drain()  # the next partition may point at this one's rows: all settled first
            last[:] = [part]
            while len(inflight) >= GROUPS_IN_FLIGHT:
                settle_one()
            table = group[0].table
            if table not in started:
                started.append(table)
                progress.start(load_task(table), total=pending.get(table, len(group)))
            if group[0].kind == "action":
                self.j.mark_sent(run_id, group)  # written before the requests that carry them
                failures.extend(self._send_actions(run_id, group, progress=progress))
                return
            if group[0].kind == "file":
                self.j.mark_sent(run_id, group)
                failures.extend(self._send_files(run_id, group, progress))
                return
            if group[0].kind == "upsert" and any(document_of(o.payload) for o in group):
                docs = [o for o in group if document_of(o.payload)]
                self.j.mark_sent(run_id, docs)
                failures.extend(self._send_documents(run_id, docs, progress))
                group = [o for o in group if not document_of(o.payload)]
                if not group:
                    return
            prepared = self._rows(group)
            self.j.mark_sent(run_id, group)
            inflight.append((group, pool.submit(self._write_group, prepared, progress)))

        pool = ThreadPoolExecutor(max_workers=GROUPS_IN_FLIGHT, thread_name_prefix="send")
        stopped = False
        try:
            group: list[JournalOp] = []
            for op in ops:
                if group and (_partition(op) != _partition(group[0]) or len(group) >= SEND_CHUNK):
                    flush(group)
                    group = []
                group.append(op)
            if group:
                flush(group)
            drain()
        except KeyboardInterrupt:
            stopped = True
            raise
        finally:
            # a failure stops the run: what is still in flight finishes, unjournaled
            # (pending, re-sent on resume), before the error goes up; Ctrl-C does not wait
            for _, future in inflight:
                future.cancel()
            pool.shutdown(wait=not stopped, cancel_futures=True)
        for table in started:
            progress.finish(load_task(table))
        return failures

    # -- answers that were lost -------------------------------------------------------------

    def _resolve_lost(self, run_id: str) -> list[dict[str, Any]]:
        """Settle the operations whose answer was lost in the partition just sent: read the
        tenant, mark done what it holds, send the rest again (and read again what is lost
        again), at most :data:`LOST_ROUNDS` times; what is still unknown stays pending."""
        failures: list[dict[str, Any]] = []
        for _ in range(LOST_ROUNDS):
            lost, self._lost = self._lost, []
            if not lost:
                break
            again = self._settle_lost(run_id, lost)
            for start in range(0, len(again), SEND_CHUNK):
                group = again[start : start + SEND_CHUNK]
                docs = [o for o in group if document_of(o.payload)]
                rest = [o for o in group if not document_of(o.payload)]
                if docs:
                    failures.extend(self._send_documents(run_id, docs, NO_PROGRESS))
                if not rest:
                    continue
                if rest[0].kind == "action":
                    failures.extend(self._send_actions(run_id, rest))
                elif rest[0].kind == "file":
                    failures.extend(self._send_files(run_id, rest, NO_PROGRESS))
                else:
                    report = self._write_group(self._rows(rest))
                    failures.extend(self._settle_group(run_id, rest, report))
        if self._lost:
            self._settle_lost(run_id, self._lost)
            self._lost = []
        return failures

    def _settle_lost(self, run_id: str, lost: Sequence[JournalOp]) -> list[JournalOp]:
        """Read the rows of operations whose answer was lost: those the tenant holds as
        they were sent are marked done; the others are returned (still pending), to send
        again. Operations of one partition come in together."""
        again: list[JournalOp] = []
        groups: dict[tuple[str, str], list[JournalOp]] = {}
        for op in lost:
            groups.setdefault((op.table, op.kind), []).append(op)
        for (table, kind), ops in groups.items():
            written = self._written_in_tenant(table, kind, ops)
            done = [o for o in ops if o.row_id.lower() in written]
            if done:
                self.j.mark_done(run_id, done)
            again.extend(o for o in ops if o.row_id.lower() not in written)
        return again

    def _written_in_tenant(self, table: str, kind: str, ops: Sequence[JournalOp]) -> set[str]:
        """Ids (lower case) among ``ops`` whose row the tenant holds as the op would leave
        it: the columns written (a create or an upsert, links), the state (``state``,
        ``close``), closed (an action), gone (a delete)."""
        client = self.ctx.clients[0]
        ids = [o.row_id for o in ops]
        if kind == "file":
            sender = self.ctx.sharepoint
            return {o.row_id.lower() for o in ops if sender is not None and sender.holds(o.payload)}
        if kind == "action":
            rows = self._lookup(table, ids, select=["statecode"])
            return {i for i, row in rows.items() if row.get("statecode") not in (None, 0)}
        if kind == "delete":
            rows = self._lookup(table, ids, select=[self._primary_id(table)])
            return {o.row_id.lower() for o in ops} - set(rows)
        if kind in ("state", "close"):
            rows = self._lookup(table, ids, select=["statecode", "statuscode"])
            return {
                o.row_id.lower()
                for o in ops
                if (row := rows.get(o.row_id.lower())) is not None and _holds_state(o, row)
            }
        rows = self._lookup(table, ids)
        columns = client.metadata.columns(table)
        navigation = {
            r.navigation_property: r.referencing_attribute
            for r in client.metadata.relationships(table)
        }
        out: set[str] = set()
        for o in ops:
            row = rows.get(o.row_id.lower())
            if row is None or o.payload is None:
                continue
            doc = document_of(o.payload)
            if doc is not None and row.get("filesize") != doc.get("size"):
                continue  # the note is there, its document is not (or an older one)
            sent = {k: v for k, v in o.payload.items() if k not in o.create_only}
            diffs = compare_row(
                table, sent, row, columns=columns, source_values={}, navigation=navigation
            )
            if all(d.verdict == "match" for d in diffs):
                out.add(o.row_id.lower())
        return out

    def _lookup(
        self, table: str, ids: Sequence[str], select: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Rows of ``table`` by id (lower case), read :data:`LOOKUP_PAGE` ids a request;
        while a resumed run reads the tenant (:data:`READING`), each request advances it."""
        client = self.ctx.clients[0]
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), LOOKUP_PAGE):
            page = ids[start : start + LOOKUP_PAGE]
            out.update(client.retrieve_many(table, page, select=select, chunk=LOOKUP_PAGE))
            if self._reading:
                self.ctx.progress.advance(READING, len(page))
        return out

    def _primary_id(self, table: str) -> str:
        return (
            self.ctx.primary_ids.get(table) or self.ctx.clients[0].metadata.table(table).primary_id
        )

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

    def _write_group(
        self, prepared: tuple[str, str, list[dict[str, Any]]], progress: Progress = NO_PROGRESS
    ) -> WriteReport:
        """Write one group; each request's rows advance ``progress``'s task of the table."""
        table, kind, rows = prepared
        return write_many(
            self.ctx.clients,
            table,
            rows,
            op="upsert" if kind == "upsert" else "delete" if kind == "delete" else "update",
            progress=_TableLoad(progress),
        )

    def _send_files(
        self, run_id: str, ops: list[JournalOp], progress: Progress
    ) -> list[dict[str, Any]]:
        """Files into SharePoint (:mod:`crm_ferry.load.sharepoint`), one after the other,
        each outcome journaled; the failures."""
        sender, opener = self.ctx.sharepoint, self._open
        if sender is None or opener is None:
            raise CheckFailed(
                "this run has files for SharePoint but no SharePoint site to send them to",
                hint="set [sharepoint] site in ferry.toml, or set documents.files to dataverse "
                "in mapping.yaml and run again",
            )
        failures: list[dict[str, Any]] = []
        task = load_task("sharepoint")
        for op in ops:
            try:
                sender.upload(op, opener)
            except SharePointError as exc:
                if isinstance(exc, Transient):
                    self._note_lost(run_id, [(op, str(exc))])
                else:
                    self.j.mark_failed(run_id, [(op, str(exc))])
                    failures.append(self._failure(op, str(exc)))
            except (OSError, SourceError) as exc:
                why = f"the file {op.payload and op.payload.get('path')} cannot be read: {exc}"
                self.j.mark_failed(run_id, [(op, why)])
                failures.append(self._failure(op, why))
            else:
                self.j.mark_done(run_id, [op])
            progress.advance(task, 1)
        return failures

    def _send_documents(
        self, run_id: str, ops: list[JournalOp], progress: Progress
    ) -> list[dict[str, Any]]:
        """Notes whose document goes in blocks (:mod:`crm_ferry.load.documents`), each
        outcome journaled; the failures."""
        if self._chunks is None:
            raise CheckFailed("the documents of this run were planned without a bundle to read")
        table = ops[0].table
        pid = self._primary_id(table)
        task = load_task(table)
        outcomes = send_documents(
            self.ctx.clients,
            ops,
            primary_id=pid,
            existing=self._existing(table, pid, ops),
            read=self._chunks,
            advance=lambda n: progress.advance(task, n),
        )
        done = [o.op for o in outcomes if o.error is None]
        failed = [(o.op, o.error) for o in outcomes if o.error is not None and not o.lost]
        lost = [(o.op, o.error) for o in outcomes if o.error is not None and o.lost]
        if done:
            self.j.mark_done(run_id, done)
        if failed:
            self.j.mark_failed(run_id, failed)
        if lost:
            self._note_lost(run_id, lost)
        return [self._failure(op, err) for op, err in failed]

    def _settle_group(
        self, run_id: str, ops: list[JournalOp], report: WriteReport
    ) -> list[dict[str, Any]]:
        """Journal the outcome of one group; the failures."""
        kind = ops[0].kind
        table = ops[0].table
        done: list[JournalOp] = []
        failed: list[tuple[JournalOp, str]] = []
        lost: list[tuple[JournalOp, str]] = []
        for op, res in zip(ops, report.results, strict=True):
            if res.ok:
                done.append(op)
            elif res.unsettled:
                # no answer (or a create found the row there): read before anything else
                lost.append((op, str(res.error) if res.error else "the answer was lost"))
            elif kind in ("state", "close") and self._in_state(table, op):
                # re-sent after a crash: the row is already in that state (and read-only)
                done.append(op)
            else:
                failed.append((op, str(res.error) if res.error else "rejected by Dataverse"))
        if done:
            self.j.mark_done(run_id, done)
        if failed:
            self.j.mark_failed(run_id, failed)
        if lost:
            self._note_lost(run_id, lost)
        return [self._failure(op, err) for op, err in failed]

    def _note_lost(self, run_id: str, lost: Sequence[tuple[JournalOp, str]]) -> None:
        """Operations whose answer was lost: pending, flagged, and read before the next
        partition (:meth:`_resolve_lost`)."""
        self.j.mark_lost(run_id, lost)
        self._lost.extend(replace(op, lost=True, error=err) for op, err in lost)
        self._read -= {(op.table, op.row_id.lower()) for op, _ in lost}  # to be read again

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

        A row an earlier run wrote is known from the journal. A pending write handed to the
        service before a crash may have reached it (a resumed run read those rows before
        sending anything: :meth:`_read_pending`), and a write whose answer was lost may have
        been carried out: that row is looked up. A pending write never sent is known (from
        the journal) to have left nothing in the tenant."""
        out = {o.row_id for o in ops if o.existed and o.create_only}
        out |= {o.row_id for o in ops if o.create_only and o.row_id.lower() in self._present}
        unsure = [
            o.row_id
            for o in ops
            if o.create_only
            and not o.existed
            and o.row_id.lower() not in self._present
            and (o.lost or o.sent)
            and (o.table, o.row_id.lower()) not in self._read
        ]
        if unsure:
            found = self._lookup(table, unsure, select=[pid])
            out |= {i for i in unsure if i.lower() in found}
        return out

    def _read_pending(self, run_id: str, *, within: SliceInfo | None = None) -> None:
        """Before a resumed run sends anything (:data:`READING`): settle the operations an
        earlier attempt left with their answer lost, then look up the rows of the pending
        writes with create-only columns that were handed to the service, :data:`LOOKUP_PAGE`
        ids a request. Those found are :attr:`_present`; a pending write never sent needs no
        read (see :meth:`_existing`)."""
        lost = self.j.lost_ops(run_id, within=within)
        creates = self.j.sent_creates(run_id, within=within)
        if not lost and not creates:
            return
        progress = self.ctx.progress
        progress.start(READING, total=len(lost) + len(creates))
        self._reading = True
        try:
            self._settle_lost(run_id, lost)
            left = self.j.sent_creates(run_id, within=within)  # settled as written: done
            progress.advance(READING, len(creates) - len(left))
            by_table: dict[str, list[str]] = {}
            for table, row_id in left:
                by_table.setdefault(table, []).append(row_id)
            for table, ids in by_table.items():
                found = self._lookup(table, ids, select=[self._primary_id(table)])
                self._present |= {i.lower() for i in ids if i.lower() in found}
                self._read |= {(table, i.lower()) for i in ids}
        finally:
            self._reading = False
        progress.finish(READING)

    def _send_actions(
        self, run_id: str, ops: list[JournalOp], *, progress: Progress = NO_PROGRESS
    ) -> list[dict[str, Any]]:
        """Actions go in ``$batch`` requests (continue on error), as many per request as
        the client's batch size; an action whose part did not succeed, or a batch that
        failed as a whole, is sent again on its own (the single-request path decides).
        Each batch advances ``progress``'s task of the table by its actions."""
        client = self.ctx.clients[0]
        size = max(1, min(client.options.batch_size, MAX_BATCH_OPERATIONS))
        failures: list[dict[str, Any]] = []
        task = load_task(ops[0].table) if ops else ""
        for start in range(0, len(ops), size):
            chunk = ops[start : start + size]
            progress.advance(task, len(chunk))
            if len(chunk) == 1:
                failures.extend(self._send_actions_one_by_one(run_id, chunk))
                continue
            items = [
                BatchOperation("POST", op.action or "WinOpportunity", dict(op.payload or {}))
                for op in chunk
            ]
            try:
                answers = client.execute_batch(items, continue_on_error=True)
            except DataverseError as exc:
                if answer_lost(exc):
                    # the batch may have run: read the rows' state before sending again
                    self._note_lost(run_id, [(op, str(exc)) for op in chunk])
                    continue
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
                if answer_lost(exc):
                    self._note_lost(run_id, [(op, str(exc))])
                    continue
                applied = self._already_applied(client, op)
                if applied == "stale":
                    try:
                        self._close_again(client, op, name, body)
                    except DataverseError as again:
                        self.j.mark_failed(run_id, [(op, str(again))])
                        failures.append(self._failure(op, str(again)))
                        continue
                    applied = "yes"
                if applied == "yes":
                    self.j.mark_done(run_id, [op])
                    continue
                self.j.mark_failed(run_id, [(op, str(exc))])
                failures.append(self._failure(op, str(exc)))
                continue
            self.j.mark_done(run_id, [op])
        return failures

    @staticmethod
    def _already_applied(client: DataverseClient, op: JournalOp) -> Literal["yes", "no", "stale"]:
        """Whether a refused action had been carried out already: ``yes`` (re-sent after a
        lost answer: the row is in its closed state), ``no``, or ``stale`` (a won
        opportunity whose latest close holds another revenue than this action's: a delta
        changed its total, and it must be closed again)."""
        try:
            row = client.retrieve(op.table, op.row_id, select=["statecode"])
        except DataverseError:
            return "no"
        if row.get("statecode") in (None, 0):
            return "no"
        close = (op.payload or {}).get("OpportunityClose")
        if op.table != "opportunity" or not isinstance(close, dict):
            return "yes"
        wanted = close.get("actualrevenue")
        latest = next(
            client.query(
                "opportunityclose",
                select=["actualrevenue", "createdon"],
                filter=f"_opportunityid_value eq {op.row_id}",
                orderby="createdon desc",
                top=1,
            ),
            None,
        )
        if wanted is None or latest is None:
            return "yes"
        had = latest.get("actualrevenue")
        same = had is not None and Decimal(str(had)) == Decimal(str(wanted))
        return "yes" if same else "stale"

    @staticmethod
    def _close_again(
        client: DataverseClient, op: JournalOp, name: str, body: Mapping[str, Any]
    ) -> None:
        """Reopen a closed opportunity and close it with this action's close: Dataverse
        takes no second close of a closed opportunity (the earlier close stays, as it does
        when a person reopens and wins it again)."""
        client.update(op.table, op.row_id, {"statecode": 0})
        client.call(name, dict(body), idempotent=False)

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
        """Fill written/failed/unchanged per object from the journal; per-table op counts.

        A record (or an aggregate row) with an operation that failed or was left unsettled
        counts as failed, whatever the role of that operation."""
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
        # every row of the role the run touched (its write, its state, its WinOpportunity):
        # failed when any of its operations failed or was left unsettled
        aggregated, agg_failed = self.j.role_rows(run_id, "opportunity")
        if aggregated:
            counts["opportunities (aggregated)"] = ObjectCounts(
                read=aggregated, written=aggregated - agg_failed, failed=agg_failed
            )
        return tables

    def _journaled_failures(self, run_id: str) -> list[dict[str, Any]]:
        """The run's failed operations and those left unsettled, as the journal holds them
        (what the workers that sent the run found)."""
        failed = [
            self._failure(op, op.error or "rejected by Dataverse")
            for op in self.j.ops(run_id, state="failed")
        ]
        return failed + [
            self._failure(op, f"not settled: {op.error or 'the answer was lost'}")
            for op in self.j.lost_ops(run_id)
        ]

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
        removed: RemovedPolicy = "report",
    ) -> LoadResult:
        """Plan and send one run of ``kind`` (resuming the unfinished one of that kind).

        A delta also finds the records gone from the source and journals what ``removed``
        does with their rows (:mod:`crm_ferry.load.removal`) before sending anything."""
        started = time.perf_counter()
        before = sum(c.stats.requests for c in self.ctx.clients)
        resumed = None if fresh else self.j.unfinished([kind])
        if (
            resumed is not None
            and kind == "delta"
            and source is not None
            and resumed.source not in (None, source)
        ):
            # its pending writes are the older export's: sent now, they would undo this one's
            raise JournalError(
                f"delta run {resumed.run_id} of {resumed.source} did not finish; a delta of "
                f"{source} cannot start before it is finished or undone",
                hint=f"finish it with `crm-ferry delta --source {resumed.source}`, or undo it "
                f"with `crm-ferry rollback {resumed.run_id}`, then run this delta again",
            )
        self.resumed = resumed is not None
        run_id = (
            self.j.take_over(resumed).run_id  # this process's now (refused if another's)
            if resumed is not None
            else self.j.start_run(
                kind, source=source, map_fingerprint=self.ctx.spec.fingerprint.source, note=note
            )
        )
        self._track_all = kind == "delta"
        documents = self.ctx.documents or Documents(bundle)
        self._chunks = documents.chunks
        self._open = documents.open
        counts, seen, marks = self.plan(run_id, bundle, include=include)
        self._seen_clients = seen.get("clients", set())
        disappeared: dict[str, list[str]] = {}
        removal: Removal | None = None
        if kind == "delta":
            removal = Removal(
                self.j,
                self.ctx.clients[0],
                policy=removed,
                ranks={role: self.ctx.plan.rank(role) for role in self.ctx.plan.roles},
                aggregates={
                    role: t.source
                    for role, t in self.ctx.spec.targets.items()
                    if t.enabled and role in AGGREGATE_ROLES
                },
            )
            disappeared = self._disappeared(seen, removal, run_id)
            removal.plan(run_id)  # journaled before anything is sent
        changes = self._changes(run_id, counts, disappeared)
        send_started = time.perf_counter()
        if self.ctx.workers is not None:
            plan = self.ctx.workers
            coordinate(
                self.j,
                run_id,
                plan.launcher,
                slice_ops=plan.slice_ops,
                lease_s=plan.lease_s,
                progress=self.ctx.progress,
                task=load_task,
            )
            failures = self._journaled_failures(run_id)
        else:
            failures = self.send(run_id)
        send_seconds = time.perf_counter() - send_started
        report: RemovalReport | None = None
        if removal is not None:
            self.j.forget_deleted(run_id)
            report = removal.settle(run_id)
        tables = self.settle(run_id, counts)
        balanced = all(c.balanced for c in counts.values()) and all(
            aggregate_balanced(t) for t in self._aggregated.values()
        )
        # anything failed or left unsettled (whatever its role): the run did not do its work
        state: RunState = "done" if balanced and not any(undone_ops(tables)) else "failed"
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
            send_seconds=send_seconds,
            workers=0 if self.ctx.workers is None else self.ctx.workers.launcher.count,
            resumed=resumed is not None,
            order=list(self.ctx.plan.roles),
            disappeared=disappeared,
            failures=failures,
            changes=changes,
            removal=report,
            aggregated=self._aggregated,
            skips=self._skips,
            truncations=self._truncations,
            left_out=self._left_out,
        )
        summary: dict[str, Any] = {
            "objects": {k: v.as_dict() for k, v in counts.items()},
            "tables": tables,
            "requests": result.requests,
            "disappeared": {k: len(v) for k, v in disappeared.items()},
            "changes": changes,
            "aggregated": self._aggregated,
            "skips": [s.as_dict() for s in self._skips[:1000]],
            "left_out": [s.as_dict() for s in self._left_out[:1000]],
            "truncated": result.truncated,
        }
        if report is not None:
            summary["removal"] = {
                "policy": report.policy,
                "objects": {k: v.as_dict() for k, v in report.objects.items()},
            }
        self.j.finish_run(run_id, state, summary)
        if not balanced:
            unbalanced = [k for k, c in counts.items() if not c.balanced]
            unbalanced += [
                f"{role} (aggregated records)"
                for role, t in self._aggregated.items()
                if not aggregate_balanced(t)
            ]
            raise CheckFailed(
                f"run {run_id}: counts do not add up for {', '.join(unbalanced)}",
                hint="this is a defect in crm-ferry; the journal holds every operation",
            )
        return result

    def _disappeared(
        self, seen: Mapping[str, set[str]], removal: Removal, run_id: str
    ) -> dict[str, list[str]]:
        """Per object, the ids of the records the id map knows that the source no longer
        holds: a session by its own id, an opportunity (an aggregate of sessions) only when
        the plan built it no more."""
        return removal.find(seen, self._aggregates_seen, run_id)

    def _changes(
        self, run_id: str, counts: Mapping[str, ObjectCounts], removed: Mapping[str, list[str]]
    ) -> dict[str, dict[str, int]]:
        """Per object: records changed, added, unchanged (the rest of those accepted) and
        removed from the source; the aggregates (opportunities) as their own object."""
        touched = self.j.record_changes(
            run_id, aggregate_roles=sorted(AGGREGATE_ROLES), aggregate_object=AGGREGATED_OBJECT
        )
        totals = {
            obj: c.read - c.rejected - c.skipped
            for obj, c in counts.items()
            if obj != "client_properties"  # merged into their clients: no rows of their own
        }
        if any(t.enabled and r in AGGREGATE_ROLES for r, t in self.ctx.spec.targets.items()):
            totals[AGGREGATED_OBJECT] = sum(len(ids) for ids in self._aggregates_seen.values())
        out: dict[str, dict[str, int]] = {}
        for obj, total in totals.items():
            changed, written = touched.get(obj, (0, 0))
            out[obj] = {
                "changed": changed,
                "added": written - changed,
                "unchanged": max(0, total - written),
                "removed": len(removed.get(obj, ())),
            }
        return out


def open_for_load(
    path: Path,
    spec: MappingSpec,
    columns: Mapping[str, Mapping[str, str]],
    line_limit: int = LINE_LIMIT,
) -> Bundle:
    """The bundle with the map's header names (and ferry.toml's column map) applied;
    ``line_limit``: the longest line read, in bytes."""
    merged: dict[str, dict[str, str]] = {k: dict(v) for k, v in columns.items()}
    for obj, headers in spec.header_map().items():
        merged.setdefault(obj, {}).update(headers)
    return open_bundle(path, column_map=merged, line_limit=line_limit)
