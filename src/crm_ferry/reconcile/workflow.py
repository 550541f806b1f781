"""The evidence a consultant signs off on: the sample and its report, acceptance, verify.

``sample`` loads a referentially closed, stratified sample as a tagged run (kind
``sample``), reads every row back through the Web API and writes the field-level report
into the run's folder. ``accept`` records that a person accepted the latest sample for the
current map; the full ``migrate`` refuses to start without that (see
:func:`crm_ferry.load.run.require_sample_gate`). ``verify`` proves a finished migration:
counts, sums, orphan lookups, duplicates and a field-level diff over every row or a random
``N``; ``check`` turns any difference into a non-zero exit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import CheckFailed, MapError
from crm_ferry.load.engine import LoadResult
from crm_ferry.load.journal import Journal, secure_dir
from crm_ferry.load.run import connected, map_digest, run_load, source_path
from crm_ferry.mapping.spec import MAP_FILE, MapDocument, MappingSpec
from crm_ferry.model import Record
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.report import CheckRow, ReportPaths, write_report
from crm_ferry.reconcile.sample import SampleSelection, choose_sample
from crm_ferry.reconcile.verify import ExpectedRow, Proof, expected_rows, pick_rows, prove
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import open_bundle

SUM_OBJECTS = ("invoices", "invoice_items", "payments")


@dataclass
class SampleResult:
    run_id: str
    selection: SampleSelection
    load: LoadResult
    proof: Proof
    report: ReportPaths
    rejects: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "selection": self.selection.as_dict(),
            "load": self.load.as_dict(),
            "proof": self.proof.as_dict(),
            "rejects": len(self.rejects),
            "report": {k: str(v) for k, v in self.report.as_dict().items()},
        }


@dataclass
class VerifyResult:
    proof: Proof
    report: ReportPaths
    objects: dict[str, dict[str, int]]

    @property
    def ok(self) -> bool:
        return self.proof.differences == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "objects": self.objects,
            "proof": self.proof.as_dict(),
            "report": {k: str(v) for k, v in self.report.as_dict().items()},
        }


def _records(
    path: Path,
    settings: Settings,
    spec: MappingSpec,
    keys: set[tuple[str, str]] | None,
    accepted: dict[str, set[str]] | None = None,
) -> dict[tuple[str, str], Record]:
    """Source records by (object, id): those in ``keys`` and every invoice, line and payment.

    With ``accepted``, the same pass also collects the ids of every record the reader
    accepted, per object the map reads (what verify counts)."""
    from crm_ferry.load.engine import open_for_load

    sources = (
        {t.source for t in spec.targets.values() if t.enabled} if accepted is not None else set()
    )
    out: dict[tuple[str, str], Record] = {}
    with open_for_load(path, spec, settings.column_map) as b:
        wanted = {obj for obj, _ in keys} if keys is not None else set(b.objects)
        for obj in b.objects:
            if obj not in wanted and obj not in SUM_OBJECTS and obj not in sources:
                continue
            ids = (
                accepted.setdefault(obj, set()) if accepted is not None and obj in sources else None
            )
            for item in b.read(obj):
                if not isinstance(item, Record):
                    continue
                if ids is not None:
                    ids.add(item.id)
                k = (obj, item.id)
                if keys is None or obj in SUM_OBJECTS or k in keys:
                    out[k] = item
    return out


def _reject_checks(rejects: Iterable[dict[str, Any]]) -> list[CheckRow]:
    return [
        CheckRow(
            "record not loaded",
            str(r["object"]),
            f"{r.get('source_id') or '?'} ({r['file']}:{r['line']})",
            False,
            f"{r.get('column') or ''} {r['reason']}".strip(),
        )
        for r in rejects
    ]


def _sampled(selection: SampleSelection, row: ExpectedRow) -> bool:
    """Whether ``row`` was written for a sampled record. A row made for a group of records
    (the opportunity of a client, service and currency) has a composite source id that
    starts with the client's id."""
    if selection.holds(row.source_object, row.source_id):
        return True
    head, sep, _ = row.source_id.partition("/")
    return bool(sep) and selection.holds("clients", head)


def run_sample(
    settings: Settings,
    *,
    size: int = 300,
    seed: int = 1,
    source: Path | None = None,
    client: DataverseClient | None = None,
    progress: Progress = NO_PROGRESS,
) -> SampleResult:
    """Load a stratified sample as a tagged run, read it back and write the diff report."""
    from crm_ferry.sources.discover import discover_source

    path = source_path(settings, source)
    discovery = discover_source(path, settings)
    with open_bundle(path, column_map=settings.column_map) as b:
        selection = choose_sample(b, size=size, seed=seed, discovery=discovery)
    with connected(settings, client) as clients:
        load = run_load(
            settings,
            kind="sample",
            source=path,
            client=clients[0],
            include=selection.includes,
            progress=progress,
            note=f"sample of {selection.size} records",
        )
        doc = MapDocument.load(settings.project_dir / MAP_FILE)
        spec = doc.spec()
        with Journal.for_project(settings.project_dir) as j:
            # the rows this run wrote, and those of sampled records an earlier run wrote
            # (a sample made again writes only what changed, yet all of it is compared)
            ran = {(r.table, r.row_id) for r in expected_rows(j, run_id=load.run_id)}
            expected = [
                r for r in expected_rows(j) if (r.table, r.row_id) in ran or _sampled(selection, r)
            ]
            keys = {(r.source_object, r.source_id) for r in expected}
            records = _records(path, settings, spec, keys)
            proof = prove(j, clients[0], spec, records=records, expected=expected)
            rejects = j.rejects(load.run_id)
            proof.checks.extend(_reject_checks(rejects))
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
                    "environment": clients[0].url,
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


def accept_sample(settings: Settings, *, by: str) -> AcceptResult:
    """Record that ``by`` accepted the latest sample report for the current map."""
    name = by.strip()
    if not name:
        raise MapError("accepting a sample needs a name", hint="pass --by NAME")
    spec = MapDocument.load(settings.project_dir / MAP_FILE).spec()
    with Journal.for_project(settings.project_dir) as j:
        latest = j.latest_sample()
        if latest is None:
            raise MapError(
                "there is no sample to accept",
                hint="run `crm-ferry sample` and review its report first",
            )
        if latest["map_digest"] != map_digest(spec):
            raise MapError(
                f"the latest sample ({latest['run_id']}) was made with another version of the map",
                hint="run `crm-ferry sample` again for the current map",
            )
        j.accept_sample(latest["run_id"], name)
        accepted = j.accepted_sample(map_digest(spec))
    assert accepted is not None
    return AcceptResult(latest["run_id"], name, str(accepted["accepted_at"]), latest["report"])


def run_verify(
    settings: Settings,
    *,
    full: bool = False,
    fields: int | None = None,
    check: bool = False,
    seed: int = 1,
    source: Path | None = None,
    client: DataverseClient | None = None,
) -> VerifyResult:
    """Prove the loaded data (see the module docstring); ``check``: raise on a difference."""
    path = source_path(settings, source)
    doc = MapDocument.load(settings.project_dir / MAP_FILE)
    spec = doc.spec()
    with connected(settings, client) as clients, Journal.for_project(settings.project_dir) as j:
        expected: list[ExpectedRow] = expected_rows(j)
        if not expected:
            raise MapError("nothing has been loaded yet", hint="run `crm-ferry migrate` first")
        limit = None if full else (fields if fields is not None else 200)
        diff_keys = pick_rows(expected, limit, seed)
        wanted = {
            (r.source_object, r.source_id) for r in expected if (r.table, r.row_id) in diff_keys
        }
        accepted: dict[str, set[str]] = {}
        records = _records(path, settings, spec, wanted, accepted)
        proof = prove(j, clients[0], spec, records=records, expected=expected, diff_keys=diff_keys)
        objects = _object_counts(j, accepted)
        for obj, c in objects.items():
            if c["source"] != c["loaded"] + c["rejected"]:
                proof.checks.append(
                    CheckRow(
                        "source records = loaded + rejected",
                        obj,
                        "*",
                        False,
                        f"source {c['source']}, loaded {c['loaded']}, rejected {c['rejected']}",
                    )
                )
        report = write_report(
            secure_dir(_verify_dir(settings.project_dir / "runs")),
            title="Verification of the migration",
            summary={
                "rows": len(expected),
                "rows compared field by field": len(diff_keys),
                **proof.summary(),
            },
            rows=proof.rows,
            checks=proof.checks,
            meta={"source": str(path), "environment": clients[0].url, "map": map_digest(spec)[:12]},
        )
    result = VerifyResult(proof, report, objects)
    if check and not result.ok:
        raise CheckFailed(
            f"verify found {proof.differences} difference(s); see {report.html}",
            hint="open the report; fix the map or the data, then migrate again",
        )
    return result


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


def _object_counts(j: Journal, accepted: dict[str, set[str]]) -> dict[str, dict[str, int]]:
    """Per source object: the records the reader accepted, loaded and rejected ones."""
    loaded: dict[str, set[str]] = {}
    for obj, sid in j.db.execute(
        "SELECT DISTINCT source_object, source_id FROM idmap WHERE op_key LIKE '%/upsert/0' "
        "AND role != 'opportunity'"
    ):
        loaded.setdefault(obj, set()).add(sid)
    rejected: dict[str, set[str]] = {}
    runs = [r.run_id for r in j.runs() if r.kind in ("migrate", "delta") and r.state == "done"]
    if runs:
        last = runs[-1]
        for r in j.rejects(last):
            rejected.setdefault(str(r["object"]), set()).add(str(r.get("source_id") or r["line"]))
    out: dict[str, dict[str, int]] = {}
    for obj, ids in accepted.items():
        done = loaded.get(obj, set()) & ids
        out[obj] = {
            "source": len(ids),
            "loaded": len(done),
            "rejected": len((rejected.get(obj, set()) & ids) - done),
        }
    return out
