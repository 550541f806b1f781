"""``crm-ferry verify`` and ``verify accept``: prove a finished migration, and sign it off.

``verify`` reads every written row back and writes one reconciliation (HTML, JSON, CSV)
under ``runs/verify-<time>/``: the environment, the runs covered, the map and who
confirmed it, per object the records in the source, loaded, rejected and skipped, the
invoice and payment totals, orphan lookups, duplicates, the field-level diff (every row or
a random ``N``), and every difference classified (source defect, rejected by the map,
migration difference) with a stable id. The journal keeps what it found (ids and places).
``check`` fails on any difference nobody accepted, and on every object with more rejected
records than its reject threshold allows (``[load] reject_threshold``: what a person
accepted does not change it; raising the threshold does). The linked files are checked
against the downloads folder as it is now: each is in the tenant as ``documents.linked``
says (:mod:`crm_ferry.reconcile.linked`).

``verify accept`` records that a person accepted differences of the latest verification
(given ids, or every one not accepted yet), who, when and why; accepted differences stay in
every later report, marked so, and no longer fail ``--check``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from crm_ferry.commands._project import (
    clients,
    downloads_folder,
    map_file,
    open_journal,
    source_path,
)
from crm_ferry.commands._sharepoint import sharepoint_client
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import CheckFailed, MapError
from crm_ferry.journal import Journal, ReconciliationInfo, RecordedDifference
from crm_ferry.load.engine import open_for_load
from crm_ferry.load.sharepoint import SharePointSender
from crm_ferry.mapping.fingerprint import map_digest
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.model import Reject
from crm_ferry.owner_only import secure_dir
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.acceptance import AcceptOutcome, accept, unaccepted
from crm_ferry.reconcile.classify import Difference, apply_acceptances, reject_checks
from crm_ferry.reconcile.linked import linked_checks
from crm_ferry.reconcile.reconciliation import (
    Environment,
    MapSummary,
    Reconciliation,
    RunSummary,
    acceptances,
)
from crm_ferry.reconcile.report import ReportPaths, write_report
from crm_ferry.reconcile.thresholds import Breach, over_threshold
from crm_ferry.reconcile.verify import (
    ExpectedRow,
    ObjectTally,
    Proof,
    balance_checks,
    covered_runs,
    environment_name,
    expected_rows,
    pick_rows,
    prove,
    reference_run,
    run_skipped,
    source_records,
    tally_objects,
)
from crm_ferry.settings import Settings
from crm_ferry.sharepoint import SharePointClient
from crm_ferry.sources.downloads import match_linked, read_linked

__all__ = [
    "PendingDifferences",
    "VerifyResult",
    "named",
    "require_text",
    "verify",
    "verify_accept",
    "verify_pending",
]

LISTED: Final = 25
"""New differences named in the message of a failed ``--check`` (the report has them all)."""


@dataclass
class VerifyResult:
    recon: Reconciliation
    report: ReportPaths

    @property
    def proof(self) -> Proof:
        return self.recon.proof

    @property
    def objects(self) -> dict[str, ObjectTally]:
        return self.recon.objects

    @property
    def differences(self) -> list[Difference]:
        return self.recon.differences

    @property
    def new(self) -> list[Difference]:
        """The differences nobody accepted: what ``--check`` fails on (with the objects
        over their reject threshold)."""
        return self.recon.new

    @property
    def over_threshold(self) -> list[Breach]:
        """The objects with more rejected records than their reject threshold allows."""
        return self.recon.over_threshold

    @property
    def ok(self) -> bool:
        return not self.recon.new and not self.recon.over_threshold

    def as_dict(self) -> dict[str, Any]:
        data = self.recon.as_dict()
        return {
            "ok": self.ok,
            "id": self.recon.recon_id,
            "environment": data["environment"],
            "map": data["map"],
            "runs": data["runs"],
            "summary": data["summary"],
            "objects": data["objects"],
            "totals": data["totals"],
            "differences": data["differences"],
            "over_reject_threshold": data["over_reject_threshold"],
            "proof": self.proof.as_dict(),
            "report": self.report.as_dict(),
        }


def verify(
    settings: Settings,
    *,
    full: bool = False,
    fields: int | None = None,
    check: bool = False,
    seed: int = 1,
    source: Path | None = None,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
    sharepoint: SharePointClient | None = None,
) -> VerifyResult:
    """Counts, sums, orphans, duplicates and a field-level diff, every difference
    classified; ``check``: fail on any difference nobody accepted. ``progress``: a task per
    table (``verify contact``), advanced by the records read and compared."""
    path = source_path(settings, source)
    downloads = downloads_folder(settings)
    spec = MapDocument.load(map_file(settings)).spec()
    with (
        clients(settings, client) as users,
        open_journal(settings) as j,
        sharepoint_client(
            settings, j.has_files(), sharepoint, why="a run put files in SharePoint"
        ) as graph,
    ):
        expected: list[ExpectedRow] = expected_rows(j)
        if not expected:
            raise MapError("nothing has been loaded yet", hint="run `crm-ferry migrate` first")
        limit = None if full else (fields if fields is not None else 200)
        diff_keys = pick_rows(expected, limit, seed)
        wanted = {
            (r.source_object, r.source_id) for r in expected if (r.table, r.row_id) in diff_keys
        }
        accepted_ids: dict[str, set[str]] = {}
        reader: list[Reject] = []
        with open_for_load(path, spec, settings.column_map, settings.line_limit) as b:
            records = source_records(b, spec, wanted, accepted_ids, reader)
            linked = match_linked(read_linked(b), downloads)
        proof = prove(
            j,
            users[0],
            spec,
            records=records,
            expected=expected,
            diff_keys=diff_keys,
            server_totals=True,
            progress=progress,
            files=SharePointSender(graph) if graph is not None else None,
        )
        runs = covered_runs(j)
        reference = reference_run(runs)
        rejects = j.rejects(reference.run_id) if reference is not None else []
        loaded = j.loaded_sources(except_role="opportunity")
        proof.checks.extend(reject_checks(rejects, reader, accepted=accepted_ids, loaded=loaded))
        objects = tally_objects(
            accepted_ids, loaded, rejects, reader=reader, skipped=run_skipped(reference)
        )
        proof.checks.extend(balance_checks(objects))
        attachment = spec.target("attachment")
        if linked and attachment is not None:
            checks, counts = linked_checks(
                linked, spec.documents.linked, expected, attachment.table
            )
            proof.checks.extend(checks)
            proof.sums["linked files"] = dict(counts)
        over = over_threshold(
            ((obj, t.source, t.reasons) for obj, t in objects.items()), settings.reject_limits
        )
        folder = secure_dir(_verify_dir(settings.project_dir / "runs"))
        found = proof.difference_list()
        agreed = j.accepted_differences("verify")
        recon = Reconciliation(
            kind="verify",
            recon_id=folder.name,
            title="Verification of the migration",
            environment=Environment(users[0].url, environment_name(users[0])),
            source=str(path),
            map=MapSummary.of(spec, file=str(map_file(settings)), digest=map_digest(spec)),
            runs=[RunSummary.of(r) for r in runs],
            objects=objects,
            proof=proof,
            differences=apply_acceptances(found, acceptances(agreed)),
            facts={
                "rows written": len(expected),
                "rows compared field by field": len(diff_keys),
                "objects over the reject threshold": len(over),
            },
            stale=len(set(agreed) - {d.id for d in found}),
            over_threshold=over,
        )
        report = write_report(folder, recon)
        j.record_reconciliation(recon.recon_id, "verify", str(report.html), recon.recorded())
    result = VerifyResult(recon, report)
    if check and not result.ok:
        raise _check_failed(recon, report)
    return result


def _check_failed(recon: Reconciliation, report: ReportPaths) -> CheckFailed:
    new = recon.new
    over = recon.over_threshold
    lines: list[str] = []
    if over:
        lines += [
            f"{len(over)} object(s) with more rejected records than the reject threshold "
            "allows (accepting the differences does not change that):",
            *(f"  {b}" for b in over),
        ]
    if new or not over:
        lines.append(
            f"verify found {len(new)} difference(s) nobody accepted ({len(recon.accepted)} "
            f"accepted); see {report.html}"
        )
    else:
        lines.append(f"every difference is accepted; see {report.html}")
    lines += [f"  {named(d)}" for d in new[:LISTED]]
    if len(new) > LISTED:
        lines.append(f"  … and {len(new) - LISTED} more in the report")
    ids = " ".join(d.id for d in new) if len(new) <= 10 else "ID …"
    hints = []
    if new:
        hints.append(
            f"for each difference, fix the map or the data and migrate again, or, if it is "
            f"known and agreed, accept it: `crm-ferry verify accept --by NAME --reason TEXT "
            f"{ids}` (without ids: every new one, listed and confirmed first)"
        )
    if over:
        hints.append(
            "for too many rejects, fix the map or the export where the reasons point and "
            "migrate again; if so many rejects are known and agreed, raise the threshold in "
            "ferry.toml: [load] reject_threshold, or the object's under [load.reject_thresholds]"
        )
    error = CheckFailed("\n".join(lines), hint="; ".join(hints))
    error.report = str(report.html)  # type: ignore[attr-defined]
    error.differences = [  # type: ignore[attr-defined]
        {
            "id": d.id,
            "classification": d.classification,
            "table": d.table,
            "record": d.record,
            "column": d.column,
            "what": d.what,
        }
        for d in new
    ]
    error.over_reject_threshold = [b.as_dict() for b in over]  # type: ignore[attr-defined]
    return error


def named(d: Difference | RecordedDifference) -> str:
    """One line naming a difference: id, class, table, record, column and what it is."""
    ident = d.id if isinstance(d, Difference) else d.diff_id
    return f"{ident}  {d.classification}: {d.table} {d.record} {d.column} ({d.what})"


def require_text(value: str | None, what: str, option: str) -> str:
    """``value`` stripped, or a MapError saying to pass ``option``."""
    text = (value or "").strip()
    if not text:
        raise MapError(f"accepting differences needs {what}", hint=f"pass {option}")
    return text


# ---------------------------------------------------------------------------
# verify accept


@dataclass(frozen=True)
class PendingDifferences:
    """The latest verification and its differences nobody accepted."""

    recon_id: str
    report: str | None
    differences: list[RecordedDifference]

    def as_dict(self) -> dict[str, Any]:
        return {
            "reconciliation": self.recon_id,
            "report": self.report,
            "differences": [d.as_dict() for d in self.differences],
        }


def _latest(j: Journal) -> ReconciliationInfo:
    recon = j.latest_reconciliation("verify")
    if recon is None:
        raise MapError(
            "there is no verification to accept differences of",
            hint="run `crm-ferry verify` and review its report first",
        )
    return recon


def verify_pending(settings: Settings) -> PendingDifferences:
    """The differences of the latest verification that nobody accepted."""
    with open_journal(settings) as j:
        recon = _latest(j)
        return PendingDifferences(recon.recon_id, recon.report, unaccepted(j, "verify", recon))


def verify_accept(
    settings: Settings, *, by: str, reason: str, ids: Sequence[str] | None = None
) -> AcceptOutcome:
    """Record that ``by`` accepted differences of the latest verification, and why: those
    named by ``ids``, or (None) every one nobody accepted yet."""
    name = require_text(by, "a name", "--by NAME")
    why = require_text(reason, "a reason", "--reason TEXT")
    with open_journal(settings) as j:
        return accept(j, "verify", _latest(j), by=name, reason=why, ids=ids)


def _verify_dir(runs: Path) -> Path:
    """A new folder for this verification's report: ``verify-<UTC time>`` (``-2``, ``-3``
    ... for another one in the same second, which must not overwrite the first)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder = runs / f"verify-{stamp}"
    n = 1
    while folder.exists():
        n += 1
        folder = runs / f"verify-{stamp}-{n}"
    return folder
