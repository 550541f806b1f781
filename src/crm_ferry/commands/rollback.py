"""``crm-ferry rollback``, ``runs`` and ``purge``: undo runs, list them, forget their data.

``rollback`` undoes one run (or every run, newest first) from the journal in reverse load
order; ``runs`` lists the journal's runs; ``purge`` removes local copies of record contents
and keeps the audit trail (ids, operations, counts, times).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from crm_ferry.commands._project import clients, open_journal, require_project, writing
from crm_ferry.commands._sharepoint import sharepoint_client
from crm_ferry.commands.provision import ProvisionResult, provision
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import ConfigError, Incomplete
from crm_ferry.journal import Journal, JournalError, RunInfo, WorkerInfo
from crm_ferry.load.rollback import Rollback, RollbackResult, Tenant
from crm_ferry.load.sharepoint import SharePointSender
from crm_ferry.load.workers import LEASE_S
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.settings import Settings
from crm_ferry.sharepoint import SharePointClient

__all__ = ["PurgeResult", "RollbackReport", "RunsResult", "purge", "rollback", "runs"]


@dataclass(frozen=True)
class RollbackReport:
    results: list[RollbackResult]
    preview: bool = False
    schema: ProvisionResult | None = None
    """What ``--schema`` reversed of provisioning (after the data)."""

    @property
    def conflicts(self) -> int:
        return sum(len(r.conflicts) for r in self.results)

    @property
    def failures(self) -> int:
        return sum(len(r.failures) for r in self.results)

    def incomplete(self) -> Incomplete | None:
        """An error when a row rollback meant to remove or restore is still there."""
        if self.preview or (not self.conflicts and not self.failures):
            return None
        parts = []
        if self.failures:
            parts.append(f"{self.failures} row(s) could not be undone")
        if self.conflicts:
            parts.append(f"{self.conflicts} row(s) were kept as they are (conflicts)")
        return Incomplete(
            "rollback left rows behind: " + " and ".join(parts),
            hint="each is listed above with its reason (and in --json); fix the cause or "
            "review the conflicts, then run `crm-ferry rollback` again (`--force` also undoes "
            "rows edited since the run; rows of others that point at a row are never deleted)",
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"preview": self.preview, "runs": [r.as_dict() for r in self.results]}
        if self.schema is not None:
            out["schema"] = self.schema.as_dict()
        return out


def _again(options: Mapping[str, Any]) -> str:
    """The command that continues an interrupted rollback."""
    if options.get("all_runs"):
        return "rollback --all" + (" --schema" if options.get("schema") else "")
    return f"rollback {options.get('run_id')}"


@writing(_again)
def rollback(
    settings: Settings,
    *,
    run_id: str | None = None,
    all_runs: bool = False,
    force: bool = False,
    preview: bool = False,
    schema: bool = False,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
    sharepoint: SharePointClient | None = None,
) -> RollbackReport:
    """Undo one run (or every run, newest first) from the journal, in reverse load order;
    with ``schema`` (and ``all_runs``), then reverse provisioning as well."""
    if not run_id and not all_runs:
        raise ConfigError("say which run to roll back", hint="pass a RUN id or --all")
    if schema and not all_runs:
        raise ConfigError(
            "--schema reverses provisioning, which every run's rows depend on",
            hint="use it with --all: `crm-ferry rollback --all --schema`",
        )
    require_project(settings)
    with (
        clients(settings, client) as users,
        open_journal(settings) as j,
        sharepoint_client(
            settings, j.has_files(), sharepoint, why="a run put files in SharePoint"
        ) as graph,
    ):
        _refuse_while_running(j)
        tenant = Tenant(users, [u.who_am_i().user_id for u in users])
        files = SharePointSender(graph) if graph is not None else None
        rb = Rollback(j, tenant, progress=progress, files=files)
        targets = (
            [r.run_id for r in reversed(j.runs()) if _rollbackable(r)]
            if all_runs
            else [j.resolve_run(str(run_id)).run_id]
        )
        results = []
        for target in targets:
            if preview:
                results.append(rb.preview(target))
                continue
            result = rb.run(target, force=force)
            results.append(result)
            if not result.ok:
                break  # an older run's rows may depend on what is left of this one
        report = RollbackReport(results, preview)
        if not schema or preview or report.failures or report.conflicts:
            return report
    done = provision(settings, rollback=True, force=force, client=client)
    return RollbackReport(results, preview, done)


def _refuse_while_running(j: Journal) -> None:
    """A run still being written by a live process cannot be undone under its feet."""
    for run in j.runs():
        if run.state == "running" and j.is_live(run):
            raise JournalError(
                f"run {run.run_id} is still running",
                hint="wait for it to finish or stop it (Ctrl-C), then roll back; a run whose "
                "process is gone is taken over and rolled back as far as it got",
            )


def _rollbackable(run: RunInfo) -> bool:
    return run.kind != "rollback" and run.state != "rolled_back"


OUTCOMES = ("written", "unchanged", "rejected", "failed")
"""What ``runs`` counts per run: records (and aggregate rows) by outcome."""


@dataclass(frozen=True)
class RunsResult:
    runs: list[RunInfo]
    live: frozenset[str] = frozenset()
    """The runs a live process is still writing (:meth:`Journal.is_live`)."""
    workers: Mapping[str, list[WorkerInfo]] = field(default_factory=dict)
    """Per run sent by workers, each worker as it last reported itself."""
    slices: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Per run sent by workers, ``(slices not done, slices)``."""
    tables: Mapping[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    """Per run still running, its operations per table and state (how far it is)."""

    def sending(self) -> list[RunInfo]:
        """The runs being written now (their progress is shown)."""
        return [
            r
            for r in self.runs
            if r.state == "running" and r.run_id in self.tables and r.run_id in self.live
        ]

    def state(self, run: RunInfo) -> str:
        """The run's state as it is: a ``running`` run whose process is gone is
        ``interrupted`` (the next run of its kind continues it)."""
        if run.state == "running" and run.run_id not in self.live:
            return "interrupted"
        return run.state

    @staticmethod
    def outcomes(run: RunInfo) -> dict[str, int] | None:
        """Records written, unchanged, rejected and failed by a load run (its per-object
        counts summed), or None when it has none (a rollback, an unfinished run)."""
        objects = run.counts.get("objects")
        if not isinstance(objects, dict) or not objects:
            return None
        return {
            k: sum(int(c.get(k, 0)) for c in objects.values() if isinstance(c, dict))
            for k in OUTCOMES
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": [
                {
                    **r.as_dict(),
                    "state": self.state(r),
                    "live": r.run_id in self.live,
                    "outcomes": self.outcomes(r),
                    **(
                        {
                            "slices": {
                                "left": self.slices[r.run_id][0],
                                "total": self.slices[r.run_id][1],
                            },
                            "workers": [
                                {**asdict(w), "rate": round(w.rate, 1)}
                                for w in self.workers.get(r.run_id, [])
                            ],
                        }
                        if r.run_id in self.slices
                        else {}
                    ),
                    **({"tables": self.tables[r.run_id]} if r.run_id in self.tables else {}),
                }
                for r in self.runs
            ]
        }


def runs(settings: Settings) -> RunsResult:
    """Every run in the journal with its kind, state (``running`` only while its process
    is alive, else ``interrupted``) and what it wrote."""
    require_project(settings)
    with open_journal(settings) as j:
        found = j.runs()
        workers, slices, tables = {}, {}, {}
        for r in found:
            left, total = j.slices_left(r.run_id)
            if total:
                slices[r.run_id] = (left, total)
                workers[r.run_id] = j.workers(r.run_id)
            if r.state == "running":
                tables[r.run_id] = j.table_state_counts(r.run_id)
        # a run sent by workers on other machines is live while one of them reports
        live = {r.run_id for r in found if j.is_live(r)} | {
            rid
            for rid, ws in workers.items()
            if any(w.state in ("waiting", "sending") and w.silent_s < LEASE_S for w in ws)
        }
        return RunsResult(found, frozenset(live), workers, slices, tables)


@dataclass(frozen=True)
class PurgeResult:
    run_id: str | None
    operations: int
    folders: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "operations": self.operations, "folders": self.folders}


def purge(settings: Settings, *, run_id: str | None = None, all_runs: bool = False) -> PurgeResult:
    """Remove local copies of record contents (payloads, rejected values, run files) of one
    run or all; ids, operations, counts and timestamps stay as the audit trail."""
    if not run_id and not all_runs:
        raise ConfigError("say which run to purge", hint="pass a RUN id or --all")
    require_project(settings)
    with open_journal(settings) as j:
        # a run id as typed: the full id or a unique start of it
        full = None if all_runs else j.resolve_run(str(run_id)).run_id
        ids = [r.run_id for r in j.runs()] if full is None else [full]
        n = j.purge(full)
    removed = []
    for rid in ids:
        folder = settings.project_dir / "runs" / rid
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            removed.append(str(folder))
    return PurgeResult(full, n, removed)
