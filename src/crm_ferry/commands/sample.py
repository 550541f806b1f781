"""``crm-ferry sample`` and ``sample accept``: the rehearsal a consultant signs off on.

``sample`` loads a referentially closed, stratified sample as a tagged run (kind
``sample``), reads every row back through the Web API and writes its reconciliation (the
same report as ``verify``: every difference classified, with its id) into the run's
folder. It reports the size asked for, the clients chosen and the records chosen, loaded
and rejected, the same numbers on the console, in ``--json`` and in the report.

``accept`` records that a person accepted differences of the latest sample (given ids, or
all of them) for the current map. The sample itself counts as accepted once every
difference that is not a source defect is: the full ``migrate`` refuses to start without an
accepted sample (:func:`crm_ferry.commands.migrate.require_sample_gate`). Source defects
are in the export and stay in it whatever the load does; they are accepted at ``verify``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from crm_ferry.commands._project import clients, map_file, open_journal, source_path
from crm_ferry.commands.migrate import run_load
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import Incomplete, MapError
from crm_ferry.journal import ReconciliationInfo, RecordedDifference
from crm_ferry.load.engine import LoadResult, open_for_load
from crm_ferry.mapping.fingerprint import map_digest
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.model import Reject
from crm_ferry.owner_only import secure_dir
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.acceptance import AcceptOutcome, accept
from crm_ferry.reconcile.classify import SOURCE_DEFECT, apply_acceptances, reject_checks
from crm_ferry.reconcile.reconciliation import (
    Environment,
    MapSummary,
    Reconciliation,
    RunSummary,
    acceptances,
)
from crm_ferry.reconcile.report import ReportPaths, write_report
from crm_ferry.reconcile.sample import SampleSelection, choose_sample
from crm_ferry.reconcile.verify import (
    Proof,
    balance_checks,
    covered_runs,
    environment_name,
    expected_rows,
    map_sources,
    prove,
    source_records,
    tally_objects,
)
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle
from crm_ferry.sources.discover import discover_source

__all__ = ["SAMPLE_REASON", "AcceptResult", "SampleResult", "sample", "sample_accept"]

SAMPLE_REASON: Final = "accepted with the sample"
"""The reason recorded when ``sample accept`` is given none."""


@dataclass
class SampleResult:
    run_id: str
    requested_size: int
    selection: SampleSelection
    load: LoadResult
    recon: Reconciliation
    report: ReportPaths
    rejects: list[Reject] = field(default_factory=list)

    @property
    def proof(self) -> Proof:
        return self.recon.proof

    @property
    def facts(self) -> dict[str, Any]:
        """Size asked for, clients and records chosen, records loaded and rejected: the
        numbers the console, ``--json`` and the report all show."""
        return self.recon.facts

    def incomplete(self) -> Incomplete | None:
        """The sample's load left something unwritten (exit 8, as ``migrate``)."""
        return self.load.incomplete()

    def as_dict(self) -> dict[str, Any]:
        data = self.recon.as_dict()
        return {
            "run_id": self.run_id,
            "requested_size": self.requested_size,
            "sample": self.facts,
            "selection": self.selection.as_dict(),
            "load": self.load.as_dict(),
            "objects": data["objects"],
            "summary": data["summary"],
            "differences": data["differences"],
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
    """Load a stratified, referentially closed sample and write its reconciliation."""
    path = source_path(settings, source)
    discovery = discover_source(
        path, column_map=settings.column_map, line_limit=settings.line_limit
    )
    with open_bundle(path, column_map=settings.column_map, line_limit=settings.line_limit) as b:
        selection = choose_sample(b, size=size, seed=seed, discovery=discovery)
    chosen_clients = sorted(selection.ids.get("clients", frozenset()))
    with clients(settings, client) as users:
        load = run_load(
            settings,
            kind="sample",
            source=path,
            client=users[0],
            include=selection.includes,
            progress=progress,
            note=f"sample: {size} records asked for, {selection.size} records of "
            f"{len(chosen_clients)} clients chosen",
        )
        spec = MapDocument.load(map_file(settings)).spec()
        with open_journal(settings) as j:
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
            reader: list[Reject] = []
            with open_for_load(path, spec, settings.column_map, settings.line_limit) as b:
                records = source_records(b, spec, keys, rejected=reader)
            proof = prove(j, users[0], spec, records=records, expected=expected, progress=progress)
            rejects = j.rejects(load.run_id)
            proof.checks.extend(reject_checks(rejects, reader))
            mapped = map_sources(spec)
            objects = tally_objects(
                {obj: set(ids) for obj, ids in selection.ids.items() if obj in mapped and ids},
                j.loaded_sources(except_role="opportunity"),
                rejects,
                skipped=load.left_out_counts,
            )
            proof.checks.extend(balance_checks(objects))
            facts = {
                "requested size": size,
                "clients chosen": len(chosen_clients),
                "records chosen": sum(t.source for t in objects.values()),
                "records loaded": sum(t.loaded for t in objects.values()),
                "records rejected": sum(t.rejected for t in objects.values()),
                "records skipped": sum(t.skipped for t in objects.values()),
                "strata covered": f"{len(selection.coverage)} of {len(selection.strata)}",
                "chosen clients": chosen_clients,
            }
            found = proof.difference_list()
            agreed = j.accepted_differences("sample")
            runs = [r for r in covered_runs(j) if r.kind == "sample" and r.run_id != load.run_id]
            recon = Reconciliation(
                kind="sample",
                recon_id=load.run_id,
                title="Sample migration: reconciliation",
                environment=Environment(users[0].url, environment_name(users[0])),
                source=str(path),
                map=MapSummary.of(spec, file=str(map_file(settings)), digest=map_digest(spec)),
                runs=[*(RunSummary.of(r) for r in runs), RunSummary.of(j.run(load.run_id))],
                objects=objects,
                proof=proof,
                differences=apply_acceptances(found, acceptances(agreed)),
                facts=facts,
            )
            report = write_report(secure_dir(settings.project_dir / "runs" / load.run_id), recon)
            j.record_sample(load.run_id, map_digest(spec), str(report.html), proof.verdicts)
            j.record_reconciliation(load.run_id, "sample", str(report.html), recon.recorded())
    return SampleResult(load.run_id, size, selection, load, recon, report, rejects)


@dataclass(frozen=True)
class AcceptResult:
    run_id: str
    accepted_by: str
    accepted_at: str | None
    """When the sample was accepted; None while differences other than source defects
    remain to be accepted (the gate for ``migrate`` stays closed)."""
    report: str | None
    differences: AcceptOutcome
    blocking: list[RecordedDifference] = field(default_factory=list)
    """The differences (not source defects) nobody accepted yet."""

    @property
    def gate_open(self) -> bool:
        return self.accepted_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "accepted_by": self.accepted_by,
            "accepted_at": self.accepted_at,
            "report": self.report,
            "gate_open": self.gate_open,
            "differences": self.differences.as_dict(),
            "blocking": [d.as_dict() for d in self.blocking],
        }


def sample_accept(
    settings: Settings,
    *,
    by: str,
    reason: str | None = None,
    ids: Sequence[str] | None = None,
) -> AcceptResult:
    """Record that ``by`` accepted differences of the latest sample for the current map
    (those named by ``ids``, or all); once every difference but the source defects is
    accepted, the sample is, and ``migrate`` may run."""
    if not by.strip():
        raise MapError("accepting a sample needs a name", hint="pass --by NAME")
    name = by.strip()
    why = (reason or "").strip() or SAMPLE_REASON
    spec = MapDocument.load(map_file(settings)).spec()
    with open_journal(settings) as j:
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
        recon = j.reconciliation(latest.run_id) or ReconciliationInfo(
            latest.run_id, "sample", "", latest.report, ()
        )
        outcome = accept(j, "sample", recon, by=name, reason=why, ids=ids)
        blocking = [d for d in outcome.remaining if d.classification != SOURCE_DEFECT]
        accepted_at = None
        if not blocking:
            j.accept_sample(latest.run_id, name)
            done = j.latest_sample()
            accepted_at = done.accepted_at if done is not None else None
    return AcceptResult(latest.run_id, name, accepted_at, latest.report, outcome, blocking)
