"""A reconciliation: everything one verification (or a sample) found, as one value a client
can sign.

It names the environment (its friendly name and URL), the load runs whose rows it covers,
the map (its full digest, who confirmed it and when) and the source; per source object the
records in the source, loaded, rejected (with the reasons) and skipped; the invoice and
payment totals, source against tenant; orphan lookups and duplicates by source id; the
field-level diff per table and column; every difference, classified, with its stable
id and, where a person accepted it, who, when and why; and (a verification) the objects with
more rejected records than their reject threshold allows.

:meth:`Reconciliation.as_dict` is what ``report.json`` holds (amounts and counts as JSON
numbers); ``report.html`` and ``report.csv`` are rendered from it
(:mod:`crm_ferry.reconcile.report`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_ferry.journal import AcceptedDifference, DifferenceScope, RecordedDifference, RunInfo
from crm_ferry.mapping.spec import MappingSpec
from crm_ferry.reconcile.classify import Acceptance, Difference, class_counts
from crm_ferry.reconcile.diff import VERDICTS, DiffRow
from crm_ferry.reconcile.thresholds import Breach
from crm_ferry.reconcile.verify import ObjectTally, Proof

__all__ = [
    "Environment",
    "MapSummary",
    "Reconciliation",
    "RunSummary",
    "acceptances",
    "choice_label",
]


@dataclass(frozen=True, slots=True)
class Environment:
    url: str
    name: str

    def as_dict(self) -> dict[str, str]:
        return {"url": self.url, "name": self.name}


@dataclass(frozen=True, slots=True)
class MapSummary:
    """The map the load followed: its full digest and who confirmed it, when."""

    file: str
    digest: str
    status: str
    confirmed_by: str | None
    confirmed_at: str | None

    @classmethod
    def of(cls, spec: MappingSpec, *, file: str, digest: str) -> MapSummary:
        return cls(file, digest, spec.status, spec.confirmed_by, spec.confirmed_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "digest": self.digest,
            "status": self.status,
            "confirmed_by": self.confirmed_by,
            "confirmed_at": self.confirmed_at,
        }


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    kind: str
    state: str
    started_at: str
    finished_at: str | None

    @classmethod
    def of(cls, run: RunInfo) -> RunSummary:
        return cls(run.run_id, run.kind, run.state, run.started_at, run.finished_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def acceptances(accepted: Mapping[str, AcceptedDifference]) -> dict[str, Acceptance]:
    """The journal's accepted differences as acceptances by difference id."""
    return {
        ident: Acceptance(a.accepted_by, a.accepted_at, a.reason) for ident, a in accepted.items()
    }


def choice_label(value: Any, options: Mapping[int, str] | None) -> str | None:
    """A choice value with its label(s) (``100000001 Active``), or None when the column has
    no options or the value is none of them."""
    if not options or value is None or value == "" or isinstance(value, bool):
        return None
    parts: Iterable[Any]
    if isinstance(value, str):
        parts = [p for p in value.split(",") if p.strip()]
    elif isinstance(value, list | tuple | set | frozenset):
        parts = value
    else:
        parts = [value]
    shown = []
    known = False
    for part in parts:
        try:
            code = int(part) if isinstance(part, int | float) else int(str(part).strip())
        except ValueError:
            return None
        label = options.get(code)
        known = known or label is not None
        shown.append(f"{code} {label}" if label else str(code))
    return ", ".join(shown) if known else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Reconciliation:
    kind: DifferenceScope
    recon_id: str
    """``verify-<time>`` for a verification, the run id for a sample."""
    title: str
    environment: Environment
    source: str
    map: MapSummary
    runs: list[RunSummary]
    objects: dict[str, ObjectTally]
    proof: Proof
    differences: list[Difference]
    """Every difference, each marked with its acceptance if a person accepted it."""
    facts: dict[str, Any] = field(default_factory=dict)
    """Headline numbers of this kind (a sample's requested size, clients chosen ...)."""
    stale: int = 0
    """Differences accepted earlier that this reconciliation did not find (gone, or outside
    the rows a random field-by-field comparison picked)."""
    generated_at: str = field(default_factory=_now)
    over_threshold: list[Breach] = field(default_factory=list)
    """The objects with more rejected records than their reject threshold allows: ``verify
    --check`` fails on them whatever was accepted."""

    @property
    def new(self) -> list[Difference]:
        return [d for d in self.differences if d.accepted is None]

    @property
    def accepted(self) -> list[Difference]:
        return [d for d in self.differences if d.accepted is not None]

    def recorded(self) -> list[RecordedDifference]:
        """The differences as the journal keeps them (ids and places, no values)."""
        return [
            RecordedDifference(d.id, d.classification, d.table, d.record, d.column, d.what)
            for d in self.differences
        ]

    def labels(self, table: str, column: str) -> Mapping[int, str] | None:
        return self.proof.choices.get(table, {}).get(column)

    def fields(self) -> dict[str, Any]:
        """The field-level diff per table and column: matches and each kind of difference."""
        per: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        for r in self.proof.rows:
            per[r.table][r.field][r.verdict] += 1
        total = dict.fromkeys(VERDICTS, 0)
        by_table: dict[str, Any] = {}
        for table in sorted(per):
            columns = {
                col: {v: counts[v] for v in VERDICTS} for col, counts in sorted(per[table].items())
            }
            match = sum(c["match"] for c in columns.values())
            compared = sum(sum(c.values()) for c in columns.values())
            for c in columns.values():
                for v in VERDICTS:
                    total[v] += c[v]
            by_table[table] = {
                "compared": compared,
                "match": match,
                "differences": compared - match,
                "columns": columns,
            }
        return {"by_table": by_table, "total": total}

    def checks(self) -> dict[str, Any]:
        by_name: dict[str, dict[str, int]] = {}
        for c in self.proof.checks:
            per = by_name.setdefault(c.name, {"passed": 0, "failed": 0})
            per["passed" if c.passed else "failed"] += 1
        return {
            "by_name": dict(sorted(by_name.items())),
            "passed": sum(1 for c in self.proof.checks if c.passed),
            "failed": sum(1 for c in self.proof.checks if not c.passed),
        }

    def summary(self) -> dict[str, Any]:
        return {
            "differences": len(self.differences),
            "new": len(self.new),
            "accepted": len(self.accepted),
            "accepted earlier, not found this time": self.stale,
            "by_class": class_counts(self.differences),
            **self.facts,
            "fields compared": len(self.proof.rows),
            "checks": len(self.proof.checks),
            "checks failed": sum(1 for c in self.proof.checks if not c.passed),
        }

    def difference_dict(self, d: Difference) -> dict[str, Any]:
        out = d.as_dict()
        options = self.labels(d.table, d.column)
        out["expected_label"] = choice_label(d.expected, options)
        out["actual_label"] = choice_label(d.actual, options)
        return out

    def row_dict(self, r: DiffRow) -> dict[str, Any]:
        out = r.as_dict()
        options = self.labels(r.table, r.field)
        out["expected_label"] = choice_label(r.expected, options)
        out["actual_label"] = choice_label(r.actual, options)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.recon_id,
            "title": self.title,
            "generated_at": self.generated_at,
            "environment": self.environment.as_dict(),
            "source": self.source,
            "map": self.map.as_dict(),
            "runs": [r.as_dict() for r in self.runs],
            "summary": self.summary(),
            "objects": {obj: t.as_dict() for obj, t in self.objects.items()},
            "totals": self.proof.plain_sums(),
            "counts": self.proof.counts,
            "fields": self.fields(),
            "checks": {**self.checks(), "rows": [c.as_dict() for c in self.proof.checks]},
            "differences": [self.difference_dict(d) for d in _ordered(self.differences)],
            "over_reject_threshold": [b.as_dict() for b in self.over_threshold],
            "rows": [self.row_dict(r) for r in _ordered_rows(self.proof.rows)],
            "choices": {
                table: {col: {str(k): v for k, v in opts.items()} for col, opts in cols.items()}
                for table, cols in sorted(self.proof.choices.items())
            },
        }


_CLASS_RANK = {"source defect": 0, "rejected by the map": 1, "migration difference": 2}


def _ordered(differences: Sequence[Difference]) -> list[Difference]:
    """New ones first, then by table, class, record and column."""
    return sorted(
        differences,
        key=lambda d: (
            d.accepted is not None,
            d.table,
            _CLASS_RANK.get(d.classification, 9),
            d.record,
            d.column,
        ),
    )


def _ordered_rows(rows: Sequence[DiffRow]) -> list[DiffRow]:
    rank = {"mismatch": 0, "missing": 1, "extra": 2, "match": 3}
    return sorted(rows, key=lambda r: rank[r.verdict])
