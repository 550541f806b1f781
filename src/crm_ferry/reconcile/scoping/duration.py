"""How long the load takes, with the arithmetic shown (every figure is in the report, so it
can be checked by hand).

The model of :func:`estimate`:

* rows per role from the source counts (:func:`~crm_ferry.reconcile.scoping.counting.count_source`)
  and the default map's roles;
* requests per role: ``ceil(rows / batch_size)`` (notes and files are also cut at the
  client's ``max_batch_bytes``), like :func:`crm_ferry.dataverse.bulk.write_many`; state
  changes and activity closes go as batched updates too; ``WinOpportunity`` is one request
  per opportunity, sent one after another;
* server time per record, from Microsoft's BulkOperations samples (reference
  throughput-and-limits §1.1): ~10 ms in a bulk message (CreateMultiple/UpsertMultiple),
  ~30 ms in UpdateMultiple, ~40 ms in ``$batch`` (ExecuteMultiple), ~100 ms for a request
  of its own;
* three lower bounds on the wall time, the largest wins: round trips
  (``Σ ceil(requests / concurrency) × (latency + records per request × ms per record)``),
  the request limit (6,000 per 5 minutes per user) and the execution-time limit
  (20 minutes per 5 minutes per user); concurrency is ``min(max_concurrency, 52)`` per user,
  and each extra application user brings its own limits.

One web server is assumed (the worst case, and what a trial has); real Sales tables with
system plug-ins may be 2–5× slower (a judgement, not a measurement).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from crm_ferry.mapping.defaults import DefaultTarget
from crm_ferry.reconcile.scoping.counting import SourceCounts

__all__ = [
    "ASSUMED_LATENCY_MS",
    "ASSUMPTIONS",
    "EXECUTION_SECONDS_PER_WINDOW",
    "LATENCY_BASES",
    "MAX_CONCURRENT",
    "METHOD_LABELS",
    "MS_PER_RECORD",
    "REQUESTS_PER_WINDOW",
    "WINDOW_SECONDS",
    "Estimate",
    "LatencyBasis",
    "TableEstimate",
    "estimate",
]

REQUESTS_PER_WINDOW: Final = 6_000
"""Service protection: requests per user per 5-minute window (per web server)."""
EXECUTION_SECONDS_PER_WINDOW: Final = 1_200
"""Service protection: combined execution time per user per 5-minute window (20 min)."""
WINDOW_SECONDS: Final = 300
MAX_CONCURRENT: Final = 52
"""Service protection: concurrent requests per user."""

MS_PER_RECORD: Final[Mapping[str, float]] = {
    "bulk": 10.0,
    "bulk update": 30.0,
    "$batch": 40.0,
    "single": 100.0,
}
"""Server time per record by how it is sent (Microsoft's BulkOperations samples, 100 records:
CreateMultiple 1 s, UpdateMultiple 3 s, ExecuteMultiple 4 s, one request each 10 s)."""

METHOD_LABELS: Final[Mapping[str, str]] = {
    "bulk": "UpsertMultiple",
    "bulk update": "UpdateMultiple",
    "$batch": "$batch",
    "single": "one request each",
}


@dataclass(frozen=True, slots=True)
class TableEstimate:
    """One step of the load: a role's rows (or per-record operations) on one table."""

    role: str
    source: str
    table: str
    operation: str
    """``upsert``, ``link``, ``state``, ``close`` or ``WinOpportunity``."""
    rows: int
    method: str
    """A key of :data:`MS_PER_RECORD`."""
    requests: int
    concurrency: int
    ms_per_record: float
    latency_ms: float
    note: str = ""

    @property
    def server_seconds(self) -> float:
        """Execution time the service spends on these rows."""
        return self.rows * self.ms_per_record / 1000

    @property
    def waves(self) -> int:
        return math.ceil(self.requests / self.concurrency) if self.requests else 0

    @property
    def wall_seconds(self) -> float:
        """Round trips: ``ceil(requests / concurrency) × (latency + rows per request × ms)``."""
        if not self.requests:
            return 0.0
        per_request = self.latency_ms + (self.rows / self.requests) * self.ms_per_record
        return self.waves * per_request / 1000

    @property
    def arithmetic(self) -> str:
        if not self.requests:
            return "nothing to send"
        per = self.rows / self.requests
        return (
            f"{self.requests:,} requests ({METHOD_LABELS[self.method]}); "
            f"ceil({self.requests:,} / {self.concurrency}) = {self.waves:,} waves × "
            f"({self.latency_ms:,.1f} ms + {per:,.1f} rows × {self.ms_per_record:g} ms) "
            f"= {self.wall_seconds:,.1f} s"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "source": self.source,
            "table": self.table,
            "operation": self.operation,
            "rows": self.rows,
            "method": METHOD_LABELS[self.method],
            "requests": self.requests,
            "concurrency": self.concurrency,
            "ms_per_record": self.ms_per_record,
            "server_seconds": round(self.server_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
            "arithmetic": self.arithmetic,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Estimate:
    steps: tuple[TableEstimate, ...]
    batch_size: int
    max_batch_bytes: int
    users: int
    concurrency_per_user: int
    latency_ms: float
    latency_basis: LatencyBasis = "measured"

    @property
    def assumptions(self) -> list[str]:
        """:data:`ASSUMPTIONS`, the latency's as it was come by."""
        return [*ASSUMPTIONS[:-1], LATENCY_BASES[self.latency_basis]]

    @property
    def concurrency(self) -> int:
        return self.concurrency_per_user * self.users

    @property
    def records(self) -> int:
        return sum(s.rows for s in self.steps if s.operation == "upsert")

    @property
    def operations(self) -> int:
        """Every record written or changed (each counts against the daily entitlement)."""
        return sum(s.rows for s in self.steps)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.steps)

    @property
    def server_seconds(self) -> float:
        return sum(s.server_seconds for s in self.steps)

    @property
    def bounds(self) -> dict[str, float]:
        """Lower bounds on the wall time in seconds; the estimate is the largest."""
        users = self.users
        return {
            "round trips": sum(s.wall_seconds for s in self.steps),
            "request limit": self.requests / (REQUESTS_PER_WINDOW * users) * WINDOW_SECONDS,
            "execution-time limit": self.server_seconds
            / (EXECUTION_SECONDS_PER_WINDOW * users)
            * WINDOW_SECONDS,
        }

    @property
    def binding(self) -> str:
        bounds = self.bounds
        return max(bounds, key=lambda k: bounds[k])

    @property
    def seconds(self) -> float:
        return max(self.bounds.values())

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    def arithmetic(self) -> list[str]:
        b = self.bounds
        u = self.users
        return [
            f"records to write: {self.records:,}; operations including links, state changes, "
            f"closes and WinOpportunity: {self.operations:,}",
            f"requests: Σ ceil(rows / {self.batch_size}) per table (+ one per WinOpportunity) "
            f"= {self.requests:,}",
            f"concurrency: min(max_concurrency, {MAX_CONCURRENT}) = {self.concurrency_per_user} "
            f"per user × {u} application user(s) = {self.concurrency}",
            f"round trips: Σ per step ceil(requests / concurrency) × (latency "
            f"{self.latency_ms:,.1f} ms + rows per request × ms per record) = "
            f"{b['round trips']:,.1f} s (at least {self.requests:,} × {self.latency_ms:,.1f} ms "
            f"/ {self.concurrency} = "
            f"{self.requests * self.latency_ms / 1000 / self.concurrency:,.3f} s)",
            f"request limit: {self.requests:,} / ({REQUESTS_PER_WINDOW:,} × {u}) × "
            f"{WINDOW_SECONDS} s = {b['request limit']:,.1f} s",
            f"execution-time limit: {self.server_seconds:,.1f} s of server time / "
            f"({EXECUTION_SECONDS_PER_WINDOW:,} s × {u}) × {WINDOW_SECONDS} s = "
            f"{b['execution-time limit']:,.1f} s",
            f"estimate: the largest, {self.binding}: {self.seconds:,.1f} s = "
            f"{self.minutes:,.1f} minutes",
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "max_batch_bytes": self.max_batch_bytes,
            "users": self.users,
            "concurrency_per_user": self.concurrency_per_user,
            "concurrency": self.concurrency,
            "latency_ms": round(self.latency_ms, 3),
            "latency_basis": self.latency_basis,
            "records": self.records,
            "operations": self.operations,
            "requests": self.requests,
            "server_seconds": round(self.server_seconds, 3),
            "bounds_seconds": {k: round(v, 3) for k, v in self.bounds.items()},
            "binding": self.binding,
            "seconds": round(self.seconds, 3),
            "minutes": round(self.minutes, 3),
            "limits": {
                "requests_per_window": REQUESTS_PER_WINDOW,
                "execution_seconds_per_window": EXECUTION_SECONDS_PER_WINDOW,
                "window_seconds": WINDOW_SECONDS,
                "max_concurrent": MAX_CONCURRENT,
            },
            "ms_per_record": {METHOD_LABELS[k]: v for k, v in MS_PER_RECORD.items()},
            "steps": [s.as_dict() for s in self.steps],
            "arithmetic": self.arithmetic(),
            "assumptions": self.assumptions,
        }


ASSUMED_LATENCY_MS: Final = 100.0
"""The round trip assumed when the tenant is not contacted (the audit read from a snapshot)
and none is given: about what one request takes in Microsoft's BulkOperations SimpleLoop
sample (100 creates in 10 s; https://github.com/microsoft/PowerApps-Samples/tree/master/
dataverse/orgsvc/CSharp-NETCore/BulkOperations)."""

LatencyBasis = Literal["measured", "given", "assumed"]
"""Where the latency came from: measured (``WhoAmI``), given (``--latency-ms``), or assumed
(:data:`ASSUMED_LATENCY_MS`)."""

LATENCY_BASES: Final[Mapping[LatencyBasis, str]] = {
    "measured": "the latency is the measured round trip of a small request (WhoAmI)",
    "given": "the latency is the figure given (--latency-ms), not measured",
    "assumed": f"the latency is assumed, {ASSUMED_LATENCY_MS:g} ms, about one request of "
    "Microsoft's BulkOperations samples: the tenant was not contacted (pass --latency-ms "
    "with a measured round trip instead)",
}

ASSUMPTIONS: Final = (
    "one web server per environment (the worst case; production may have more)",
    "server time per record from Microsoft's BulkOperations samples (100 records, a small "
    "custom table, no plug-ins); Sales tables with system logic may be 2-5x slower",
    "a first load: every upsert creates its row",
    "roles are written one after another in load order; within a role, requests run in "
    "parallel up to the concurrency",
    LATENCY_BASES["measured"],
)
"""The assumptions of an estimate on a measured latency (the last one names the latency's
basis: :attr:`Estimate.assumptions`)."""


def estimate(
    counts: SourceCounts,
    targets: Sequence[DefaultTarget],
    *,
    prefix: str,
    batch_size: int,
    max_batch_bytes: int,
    max_concurrency: int,
    users: int,
    latency_ms: float,
    bulk_support: Mapping[str, bool | None],
    invoice_table: bool,
    latency_basis: LatencyBasis = "measured",
) -> Estimate:
    """The load's requests and duration (see the module docstring for the model);
    ``latency_basis``: how ``latency_ms`` was come by (the assumptions say so)."""
    per_user = max(1, min(max_concurrency, MAX_CONCURRENT))
    conc = per_user * max(1, users)

    def is_bulk(table: str) -> bool:
        if table.startswith(f"{prefix}_"):
            return True  # every custom table supports the bulk messages
        return bulk_support.get(table) is not False

    def step(
        role: str, source: str, table: str, operation: str, rows: int, method: str, **kw: Any
    ) -> TableEstimate:
        requests = kw.pop("requests", None)
        if requests is None:
            requests = math.ceil(rows / batch_size) if rows else 0
        return TableEstimate(
            role=role,
            source=source,
            table=table,
            operation=operation,
            rows=rows,
            method=method,
            requests=requests,
            concurrency=kw.pop("concurrency", conc),
            ms_per_record=MS_PER_RECORD[method],
            latency_ms=latency_ms,
            note=kw.pop("note", ""),
        )

    steps: list[TableEstimate] = []
    for t in targets:
        rows = counts.rows.get(t.role, 0)
        method = "bulk" if is_bulk(t.table) else "$batch"
        by_bytes = counts.row_bytes.get(t.role)
        requests = None
        note = t.note
        if by_bytes is not None and rows:
            requests = max(by_bytes, math.ceil(rows / batch_size))
            note = (note + "; " if note else "") + (
                f"also cut at {max_batch_bytes:,} bytes per request"
            )
        steps.append(
            step(t.role, t.source, t.table, "upsert", rows, method, requests=requests, note=note)
        )
    if counts.links:
        steps.append(
            step(
                "account",
                "clients",
                "account",
                "link",
                counts.links,
                "bulk update" if is_bulk("account") else "$batch",
                note="second pass: account.primarycontactid of organization clients",
            )
        )
    if counts.invoice_states and invoice_table:
        steps.append(
            step(
                "invoice",
                "invoices",
                "invoice",
                "state",
                counts.invoice_states,
                "bulk update" if is_bulk("invoice") else "$batch",
                note="statecode/statuscode after the lines (paid, partially paid, void)",
            )
        )
    for table, n in sorted(counts.closes.items()):
        if n:
            steps.append(
                step(
                    f"activity_{_KIND_OF.get(table, table)}",
                    "activities",
                    table,
                    "close",
                    n,
                    "bulk update" if is_bulk(table) else "$batch",
                    note="marked completed after creation",
                )
            )
    opportunities = counts.rows.get("opportunity", 0)
    if opportunities:
        steps.append(
            step(
                "opportunity",
                "sessions",
                "opportunity",
                "WinOpportunity",
                opportunities,
                "single",
                requests=opportunities,
                concurrency=1,
                note="one action per opportunity, sent one after another",
            )
        )
    return Estimate(
        steps=tuple(steps),
        batch_size=batch_size,
        max_batch_bytes=max_batch_bytes,
        users=max(1, users),
        concurrency_per_user=per_user,
        latency_ms=latency_ms,
        latency_basis=latency_basis,
    )


_KIND_OF: Final = {"phonecall": "call", "email": "email", "appointment": "meeting"}
