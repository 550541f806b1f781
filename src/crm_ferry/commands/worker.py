"""``crm-ferry worker`` and ``migrate --workers N``: a run sent by worker processes.

``migrate --workers N`` (and ``delta --workers N``) plans the run in this process as it
always does, then starts N ``crm-ferry worker`` processes on this machine
(:class:`ProcessLauncher`), each with its share of the application users (the configured
one and ``[dataverse] extra_client_ids``, dealt out in turn), and waits for them
(:func:`crm_ferry.load.workers.coordinate`). ``crm-ferry worker --project DIR`` on another
machine, with the same project settings and the same journal (``[journal] url``, a
PostgreSQL server every machine reaches), joins the run being sent; its users are
``--client-id`` (repeatable) or all the project's.

Each worker's output goes to ``runs/<run id>/worker-<n>.log`` in the project.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from crm_ferry.commands._project import clients, downloads_folder, open_journal, source_path
from crm_ferry.commands._sharepoint import sharepoint_client
from crm_ferry.commands.migrate import prepare
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.journal import Journal, JournalError
from crm_ferry.load.context import Documents
from crm_ferry.load.engine import LoadContext, Loader, open_for_load
from crm_ferry.load.sharepoint import SharePointSender
from crm_ferry.load.workers import LEASE_S, POLL_S, SLICE_OPS, WorkerOutcome, work
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.settings import Settings
from crm_ferry.sharepoint import SharePointClient

__all__ = ["LEASE_S", "SLICE_OPS", "WAIT_S", "WorkerResult", "run_worker"]

WAIT_S = 600.0
"""How long ``crm-ferry worker`` waits for a run to send (one being planned) by default."""


@dataclass
class WorkerResult:
    """What ``crm-ferry worker`` did."""

    outcome: WorkerOutcome
    users: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {**self.outcome.as_dict(), "users": list(self.users)}


def _run_to_send(journal: Journal, run_id: str | None, wait_s: float, stop: threading.Event) -> str:
    """The run this worker sends: ``run_id``, else the latest run being written that has
    slices left (waiting up to ``wait_s`` for one: it may still be planned)."""
    if run_id is not None:
        return journal.resolve_run(run_id).run_id
    deadline = time.monotonic() + wait_s
    while True:
        for run in reversed(journal.runs()):
            if run.state == "running" and journal.slices_left(run.run_id)[0]:
                return run.run_id
        if time.monotonic() >= deadline or stop.is_set():
            raise JournalError(
                f"no run in {journal.where} has slices left to send",
                hint="start one with `crm-ferry migrate --workers N` (workers join it while "
                "it runs), or pass --wait SECONDS to wait longer for one being planned",
            )
        stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))


def run_worker(
    settings: Settings,
    *,
    run_id: str | None = None,
    client_ids: Sequence[str] = (),
    lease_s: float = LEASE_S,
    wait_s: float = WAIT_S,
    poll_s: float = POLL_S,
    stop: threading.Event | None = None,
    client: DataverseClient | None = None,
    sharepoint: SharePointClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> WorkerResult:
    """Send slices of a run (``run_id``, or the one being sent) until none is left, as the
    application users ``client_ids`` (default: every one the project has)."""
    stop = stop or threading.Event()
    path = source_path(settings, None)
    with open_journal(settings) as j, _users(settings, client, client_ids) as users:
        rid = _run_to_send(j, run_id, wait_s, stop)
        prep = prepare(settings, users[0], source=path, check_source=False)
        downloads = downloads_folder(settings)
        with (
            open_for_load(path, prep.spec, settings.column_map, settings.line_limit) as bundle,
            sharepoint_client(
                settings, j.has_files() or prep.spec.documents.uses_sharepoint, sharepoint
            ) as graph,
        ):
            documents = Documents(bundle, downloads)
            loader = Loader(
                LoadContext(
                    spec=prep.spec,
                    plan=prep.plan,
                    journal=j,
                    clients=users,
                    make_transformer=_no_transform,
                    progress=progress,
                    primary_ids={n: t.primary_id for n, t in prep.schema.tables.items()},
                    sharepoint=SharePointSender(graph, j) if graph is not None else None,
                    documents=documents,
                )
            )
            loader.ready_to_send(documents)
            outcome = work(
                loader,
                j,
                rid,
                open_journal=lambda: open_journal(settings),
                users=[c.credential.name for c in users],
                lease_s=lease_s,
                poll_s=poll_s,
                stop=stop,
                progress=progress,
            )
            names = tuple(c.credential.name for c in users)
    return WorkerResult(outcome, names)


def _no_transform() -> Any:
    raise AssertionError("a worker sends what the planner journaled; it transforms nothing")


@contextmanager
def _users(
    settings: Settings, client: DataverseClient | None, client_ids: Sequence[str]
) -> Iterator[list[DataverseClient]]:
    with clients(settings, client, only=client_ids or None) as users:
        yield users
