"""One run, many senders: a run's pending operations sent by several worker processes.

Planning stays single: the process that runs ``migrate`` (or ``delta``) transforms the
bundle and journals every operation, as it does alone. Then, instead of sending, it cuts the
pending operations into slices (:meth:`Journal.make_slices`) and starts its workers
(:class:`Launcher`); workers from other machines may join (``crm-ferry worker``). Each
worker (:func:`work`) leases one slice at a time, sends it through its own application
users with the load's own machinery (:meth:`Loader.send_slice`), and marks it done. A slice
may start only when every slice of the steps before it is done, on every worker: a run's
order (parents before children, links after rows) holds across workers as it does in one
process.

A worker renews its lease while it sends (:class:`LeaseKeeper`, a thread with its own
journal connection); one that dies stops renewing, its lease runs out and another worker
takes the slice over, reading from the tenant first what the dead one may have sent
without settling it. The deterministic ids keep the effect exactly-once: a row written twice
holds what was written once. An operation whose outcome is journaled is never handed out
again: a slice's pending operations are read page by page as they are sent.

The planner waits (:func:`coordinate`) until every slice is done, showing the progress of
all workers, then counts the run from the journal as a run without workers is counted.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from crm_ferry.errors import Incomplete
from crm_ferry.journal import Journal, JournalError, SliceInfo, WorkerState
from crm_ferry.progress import NO_PROGRESS, Progress

LEASE_S = 15.0
"""How long a worker's lease of a slice lasts unless renewed; a worker that dies holds its
slice this long at most."""
SLICE_OPS = 1000
"""Operations per slice: enough for bulk requests of a full batch, few enough that four
workers share even a small table."""
POLL_S = 0.1
"""How often a waiting worker asks for a slice, and the planner for progress."""

__all__ = [
    "LEASE_S",
    "POLL_S",
    "SLICE_OPS",
    "Launcher",
    "LeaseKeeper",
    "SliceSender",
    "WorkerOutcome",
    "WorkerPlan",
    "coordinate",
    "new_worker_id",
    "work",
]


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """A run sent by workers: who starts this machine's, and how slices are cut and held."""

    launcher: Launcher
    slice_ops: int = SLICE_OPS
    lease_s: float = LEASE_S


class SliceSender(Protocol):
    """What sends one slice (the load's :meth:`~crm_ferry.load.engine.Loader.send_slice`)."""

    def send_slice(self, sl: SliceInfo) -> list[dict[str, Any]]: ...


class Launcher(Protocol):
    """Starts and stops the worker processes of this machine (the command layer's)."""

    @property
    def count(self) -> int:
        """How many workers it starts."""

    def start(self, run_id: str) -> None:
        """Start the workers on ``run_id`` (its slices are cut)."""

    def running(self) -> int:
        """How many of them are still running."""

    def stop(self) -> None:
        """Stop those still running (they give their slices back) and wait for them."""


def new_worker_id() -> str:
    """A worker's id: its host, its process and a random part (``host-1234-3f2a``)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


@dataclass
class WorkerOutcome:
    """What one worker did."""

    worker_id: str
    run_id: str
    slices: int = 0
    done: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    state: WorkerState = "stopped"

    def as_dict(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "run_id": self.run_id,
            "state": self.state,
            "slices": self.slices,
            "done": self.done,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "failures": self.failures[:1000],
        }


class LeaseKeeper:
    """A worker's second thread: renews the lease of the slice it sends and reports what
    it does, every quarter of a lease, on a journal connection of its own. When a renewal
    fails (the lease ran out and another worker took the slice), :attr:`lost` is set."""

    def __init__(self, open_journal: Callable[[], Journal], worker: str, lease_s: float) -> None:
        self._open = open_journal
        self.worker = worker
        self.lease_s = lease_s
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._state: WorkerState = "waiting"
        self._slice: SliceInfo | None = None
        self._counts = (0, 0, 0)
        self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def now(self, state: WorkerState, sl: SliceInfo | None, counts: tuple[int, int, int]) -> None:
        """What the worker does now, and its (done, failed, slices) so far."""
        with self._lock:
            self._state, self._slice, self._counts = state, sl, counts
            self.lost.clear()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.lease_s)

    def _run(self) -> None:
        try:
            with self._open() as j:
                while not self._stop.wait(self.lease_s / 4):
                    with self._lock:
                        state, sl, (done, failed, slices) = self._state, self._slice, self._counts
                    if sl is not None and not j.renew_slice(sl, self.worker, lease_s=self.lease_s):
                        self.lost.set()
                    j.report_worker(
                        self.worker, state=state, sl=sl, done=done, failed=failed, slices=slices
                    )
        except BaseException as exc:  # the worker sees it and stops: a lease not renewed
            self.error = exc
            self.lost.set()


@contextmanager
def _keeping(keeper: LeaseKeeper) -> Iterator[LeaseKeeper]:
    keeper.start()
    try:
        yield keeper
    finally:
        keeper.stop()


def work(
    sender: SliceSender,
    journal: Journal,
    run_id: str,
    *,
    open_journal: Callable[[], Journal],
    users: Sequence[str],
    worker_id: str | None = None,
    lease_s: float = LEASE_S,
    poll_s: float = POLL_S,
    stop: threading.Event | None = None,
    progress: Progress = NO_PROGRESS,
) -> WorkerOutcome:
    """Send slices of ``run_id`` until none is left (or ``stop`` is set): claim the next one
    this worker may start, send it, mark it done; wait while the ones left are leased or
    wait for a step before them. The slices it holds when it stops go back."""
    worker = worker_id or new_worker_id()
    stop = stop or threading.Event()
    out = WorkerOutcome(worker, run_id)
    started = time.perf_counter()
    journal.register_worker(worker, run_id, users)
    keeper = LeaseKeeper(open_journal, worker, lease_s)
    state: WorkerState = "failed"
    error: str | None = None
    try:
        with _keeping(keeper):
            while not stop.is_set():
                if keeper.error is not None:
                    raise JournalError(
                        f"worker {worker} cannot renew its lease: {keeper.error}",
                        hint="check that the journal is reachable; its slices go to the other "
                        "workers once their lease runs out",
                    )
                sl = journal.claim_slice(run_id, worker, lease_s=lease_s)
                if sl is None:
                    left, _ = journal.slices_left(run_id)
                    if left == 0:
                        break
                    keeper.now("waiting", None, (out.done, out.failed, out.slices))
                    stop.wait(poll_s)
                    continue
                keeper.now("sending", sl, (out.done, out.failed, out.slices))
                progress.start(f"slice {sl.slice} {sl.table}", total=sl.ops)
                out.failures.extend(sender.send_slice(sl))
                counts = journal.slice_counts(sl)
                progress.finish(f"slice {sl.slice} {sl.table}")
                if journal.finish_slice(sl, worker):
                    out.slices += 1
                out.done += counts.get("done", 0)
                out.failed += counts.get("failed", 0)
                keeper.now("waiting", None, (out.done, out.failed, out.slices))
        state = "stopped"
    except KeyboardInterrupt:
        state = "stopped"
        raise
    except BaseException as exc:
        error = str(exc)
        raise
    finally:
        out.state = state
        out.seconds = time.perf_counter() - started
        journal.release_slices(worker)
        journal.report_worker(
            worker,
            state=state,
            done=out.done,
            failed=out.failed,
            slices=out.slices,
            error=error,
        )
    return out


def coordinate(
    journal: Journal,
    run_id: str,
    launcher: Launcher,
    *,
    slice_ops: int = SLICE_OPS,
    lease_s: float = LEASE_S,
    poll_s: float = POLL_S,
    progress: Progress = NO_PROGRESS,
    task: Callable[[str], str] = lambda table: f"load {table}",
) -> None:
    """The planner's part once the run is journaled: cut its pending operations into
    slices, start this machine's workers and wait until every slice is done, each table's
    progress advanced by what any worker settled. When this machine's workers have all
    stopped and no other worker has reported within a lease, the run cannot end: an
    :class:`~crm_ferry.errors.Incomplete` says what is left and how to go on."""
    journal.carry_lost(run_id)
    if journal.make_slices(run_id, size=slice_ops) == 0:
        return
    counts = journal.table_state_counts(run_id)
    base = {t: c.get("done", 0) + c.get("failed", 0) for t, c in counts.items()}
    shown = {t: 0 for t, c in counts.items() if c.get("pending", 0)}
    for table in shown:
        progress.start(task(table), total=counts[table]["pending"])
    launcher.start(run_id)
    try:
        while True:
            for table, c in journal.table_state_counts(run_id).items():
                settled = c.get("done", 0) + c.get("failed", 0) - base.get(table, 0)
                if table in shown and settled > shown[table]:
                    progress.advance(task(table), settled - shown[table])
                    shown[table] = settled
            left, total = journal.slices_left(run_id)
            if left == 0:
                break
            if launcher.running() == 0 and not any(
                w.state in ("waiting", "sending") and w.silent_s < lease_s
                for w in journal.workers(run_id)
            ):
                raise Incomplete(
                    f"run {run_id}: {left} of {total} slices are not sent and every worker "
                    "has stopped",
                    hint="see why in the workers' logs under runs/<run id>/; then run the "
                    "command again to continue the run, or start `crm-ferry worker --project "
                    "DIR` on any machine that shares this journal",
                )
            time.sleep(poll_s)
    except BaseException:
        launcher.stop()
        raise
    launcher.stop()
    for table in shown:
        progress.finish(task(table))
