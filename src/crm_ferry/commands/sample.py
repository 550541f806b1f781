"""``crm-ferry sample`` and ``sample accept``: the rehearsal a consultant signs off on.

``sample`` loads a referentially closed, stratified sample as a tagged run (kind
``sample``), reads every row back through the Web API and writes the field-level report
into the run's folder. ``accept`` records that a person accepted the latest sample for the
current map; the full ``migrate`` refuses to start without that
(:func:`crm_ferry.commands.migrate.require_sample_gate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_ferry.commands._project import clients, map_file, source_path
from crm_ferry.commands.migrate import run_load
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import MapError
from crm_ferry.journal import Journal
from crm_ferry.load.engine import LoadResult, open_for_load
from crm_ferry.mapping.fingerprint import map_digest
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.model import Reject
from crm_ferry.owner_only import secure_dir
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.report import ReportPaths, write_report
from crm_ferry.reconcile.sample import SampleSelection, choose_sample
from crm_ferry.reconcile.verify import (
    Proof,
    expected_rows,
    prove,
    reject_checks,
    source_records,
)
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.discover import discover_source

__all__ = ["AcceptResult", "SampleResult", "sample", "sample_accept"]


@dataclass
class SampleResult:
    run_id: str
    selection: SampleSelection
    load: LoadResult
    proof: Proof
    report: ReportPaths
    rejects: list[Reject] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "selection": self.selection.as_dict(),
            "load": self.load.as_dict(),
            "proof": self.proof.as_dict(),
            "rejects": len(self.rejects),
            "report": {k: str(v) for k, v in self.report.as_dict().items()},
        }


def sample(
    settings: Settings,
    *,
    size: int = 300,
    seed: int = 1,
    source: Path | None = None,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> SampleResult:
    """Load a stratified, referentially closed sample and write its field-level report."""
    path = source_path(settings, source)
    discovery = discover_source(path, column_map=settings.column_map)
    with open_bundle(path, column_map=settings.column_map) as b:
        selection = choose_sample(b, size=size, seed=seed, discovery=discovery)
    with clients(settings, client) as users:
        load = run_load(
            settings,
            kind="sample",
            source=path,
            client=users[0],
            include=selection.includes,
            progress=progress,
            note=f"sample of {selection.size} records",
        )
        spec = MapDocument.load(map_file(settings)).spec()
        with Journal.for_project(settings.project_dir) as j:
            # the rows this run wrote, and those of sampled records an earlier run wrote
            # (a sample made again writes only what changed, yet all of it is compared)
            ran = {(r.table, r.row_id) for r in expected_rows(j, run_id=load.run_id)}
            expected = [
                r
                for r in expected_rows(j)
                if (r.table, r.row_id) in ran
                or selection.holds_row_of(r.source_object, r.source_id)
            ]
            keys = {(r.source_object, r.source_id) for r in expected}
            with open_for_load(path, spec, settings.column_map) as b:
                records = source_records(b, spec, keys)
            proof = prove(j, users[0], spec, records=records, expected=expected)
            rejects = j.rejects(load.run_id)
            proof.checks.extend(reject_checks(rejects))
            report = write_report(
                secure_dir(settings.project_dir / "runs" / load.run_id),
                title="Sample migration: field-level diff",
                summary={
                    "records sampled": selection.size,
                    "strata covered": f"{len(selection.coverage)} of {len(selection.strata)}",
                    "rejected (listed below)": len(rejects),
                    **proof.summary(),
                },
                rows=proof.rows,
                checks=proof.checks,
                meta={
                    "run": load.run_id,
                    "source": str(path),
                    "map": map_digest(spec)[:12],
                    "environment": users[0].url,
                    "strata": ", ".join(selection.strata),
                },
            )
            j.record_sample(load.run_id, map_digest(spec), str(report.html), proof.verdicts)
    return SampleResult(load.run_id, selection, load, proof, report, rejects)


@dataclass(frozen=True)
class AcceptResult:
    run_id: str
    accepted_by: str
    accepted_at: str
    report: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "accepted_by": self.accepted_by,
            "accepted_at": self.accepted_at,
            "report": self.report,
        }


def sample_accept(settings: Settings, *, by: str) -> AcceptResult:
    """Record that ``by`` accepted the latest sample report for the current map."""
    name = by.strip()
    if not name:
        raise MapError("accepting a sample needs a name", hint="pass --by NAME")
    spec = MapDocument.load(map_file(settings)).spec()
    with Journal.for_project(settings.project_dir) as j:
        latest = j.latest_sample()
        if latest is None:
            raise MapError(
                "there is no sample to accept",
                hint="run `crm-ferry sample` and review its report first",
            )
        if latest.map_digest != map_digest(spec):
            raise MapError(
                f"the latest sample ({latest.run_id}) was made with another version of the map",
                hint="run `crm-ferry sample` again for the current map",
            )
        j.accept_sample(latest.run_id, name)
        accepted = j.accepted_sample(map_digest(spec))
    assert accepted is not None
    assert accepted.accepted_at is not None
    return AcceptResult(latest.run_id, name, accepted.accepted_at, latest.report)
