"""``crm-ferry rollback``, ``runs`` and ``purge``: undo runs, list them, forget their data.

``rollback`` undoes one run (or every run, newest first) from the journal in reverse load
order; ``runs`` lists the journal's runs; ``purge`` removes local copies of record contents
and keeps the audit trail (ids, operations, counts, times).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any

from crm_ferry.commands._project import clients, require_project
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import ConfigError
from crm_ferry.journal import Journal, RunInfo
from crm_ferry.load.rollback import Rollback, RollbackResult
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.settings import Settings

__all__ = ["PurgeResult", "RollbackReport", "RunsResult", "purge", "rollback", "runs"]


@dataclass(frozen=True)
class RollbackReport:
    results: list[RollbackResult]
    preview: bool = False

    @property
    def conflicts(self) -> int:
        return sum(len(r.conflicts) for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {"preview": self.preview, "runs": [r.as_dict() for r in self.results]}


def rollback(
    settings: Settings,
    *,
    run_id: str | None = None,
    all_runs: bool = False,
    force: bool = False,
    preview: bool = False,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> RollbackReport:
    """Undo one run (or every run, newest first) from the journal, in reverse load order."""
    if not run_id and not all_runs:
        raise ConfigError("say which run to roll back", hint="pass a RUN id or --all")
    require_project(settings)
    with clients(settings, client) as users, Journal.for_project(settings.project_dir) as j:
        rb = Rollback(j, users[0], progress=progress)
        targets = (
            [r.run_id for r in reversed(j.runs()) if _rollbackable(r)]
            if all_runs
            else [str(run_id)]
        )
        results = [rb.preview(t) if preview else rb.run(t, force=force) for t in targets]
    return RollbackReport(results, preview)


def _rollbackable(run: RunInfo) -> bool:
    return run.kind != "rollback" and run.state != "rolled_back"


@dataclass(frozen=True)
class RunsResult:
    runs: list[RunInfo]

    def as_dict(self) -> dict[str, Any]:
        return {"runs": [r.as_dict() for r in self.runs]}


def runs(settings: Settings) -> RunsResult:
    """Every run in the journal with its kind, state and counts."""
    require_project(settings)
    with Journal.for_project(settings.project_dir) as j:
        return RunsResult(j.runs())


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
    with Journal.for_project(settings.project_dir) as j:
        ids = [r.run_id for r in j.runs()] if all_runs else [j.run(str(run_id)).run_id]
        n = j.purge(None if all_runs else run_id)
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
    return PurgeResult(None if all_runs else run_id, n, removed)
