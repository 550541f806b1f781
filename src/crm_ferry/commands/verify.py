"""``crm-ferry verify``: prove a finished migration.

Counts, sums, orphan lookups, duplicates and a field-level diff over every row or a random
``N``, in a report (HTML, JSON, CSV) under ``runs/verify-<time>/``; ``check`` turns any
difference into a non-zero exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_ferry.commands._project import clients, map_file, source_path
from crm_ferry.dataverse.client import DataverseClient
from crm_ferry.errors import CheckFailed, MapError
from crm_ferry.journal import Journal
from crm_ferry.load.engine import open_for_load
from crm_ferry.mapping.fingerprint import map_digest
from crm_ferry.mapping.spec import MapDocument
from crm_ferry.owner_only import secure_dir
from crm_ferry.reconcile.report import CheckRow, ReportPaths, write_report
from crm_ferry.reconcile.verify import (
    ExpectedRow,
    Proof,
    expected_rows,
    object_counts,
    pick_rows,
    prove,
    source_records,
)
from crm_ferry.settings import Settings

__all__ = ["VerifyResult", "verify"]


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


def verify(
    settings: Settings,
    *,
    full: bool = False,
    fields: int | None = None,
    check: bool = False,
    seed: int = 1,
    source: Path | None = None,
    client: DataverseClient | None = None,
) -> VerifyResult:
    """Counts, sums, orphans, duplicates and a field-level diff; ``check``: fail on any."""
    path = source_path(settings, source)
    spec = MapDocument.load(map_file(settings)).spec()
    with clients(settings, client) as users, Journal.for_project(settings.project_dir) as j:
        expected: list[ExpectedRow] = expected_rows(j)
        if not expected:
            raise MapError("nothing has been loaded yet", hint="run `crm-ferry migrate` first")
        limit = None if full else (fields if fields is not None else 200)
        diff_keys = pick_rows(expected, limit, seed)
        wanted = {
            (r.source_object, r.source_id) for r in expected if (r.table, r.row_id) in diff_keys
        }
        accepted: dict[str, set[str]] = {}
        with open_for_load(path, spec, settings.column_map) as b:
            records = source_records(b, spec, wanted, accepted)
        proof = prove(j, users[0], spec, records=records, expected=expected, diff_keys=diff_keys)
        objects = object_counts(j, accepted)
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
            meta={"source": str(path), "environment": users[0].url, "map": map_digest(spec)[:12]},
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
