"""The scoping report: what the source holds, what the tenant offers, how long the load takes
and how hard the migration is, before anything is written.

:func:`scope` profiles the bundle (:func:`~crm_ferry.sources.discover.discover_source`),
counts what the default map would write per target table, audits the tenant (custom tables
against the licence tier's limit, the invoice table, currencies, coaches against system
users, the upload limit and blocked file types, bulk-message support, the round-trip time of
a request), estimates the duration with its arithmetic shown, grades the complexity with the
reasons that led to it, and writes ``scoping.html`` and ``scoping.json`` into
``<project>/runs/scoping-<timestamp>/`` (folder 0700, files 0600: they name clients' files
and coaches).

The duration model (every figure is in the report, so it can be checked by hand):

* rows per role from the source counts and the default map's roles (clients → contacts, plus
  accounts for organizations, households → accounts, sessions → sessions and one opportunity
  per client, service type and currency of completed, paid sessions, notes → annotations plus
  one per inline image, invoices, lines, payments, activities by kind, files that fit);
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
  and each ``[dataverse] extra_client_ids`` user brings its own limits.

One web server is assumed (the worst case, and what a trial has); real Sales tables with
system plug-ins may be 2–5× slower (a judgement, not a measurement).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import jinja2

from crm_ferry.dataverse.errors import DataverseError
from crm_ferry.errors import ConfigError
from crm_ferry.mapping.defaults import (
    DefaultTarget,
    default_targets,
    default_value_maps,
    fallback_invoice_targets,
)
from crm_ferry.mapping.owners import collect_coaches, fetch_system_users, resolve_owners
from crm_ferry.model import (
    Activity,
    Client,
    FileRecord,
    Invoice,
    Package,
    Reject,
    Session,
    SessionNote,
)
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.reconcile.report import _write_private
from crm_ferry.settings import Settings
from crm_ferry.sources.bundle import Bundle, open_bundle
from crm_ferry.sources.discover import FINDING_KINDS, SourceDiscovery, discover_source
from crm_ferry.transform.html import html_to_text
from crm_ferry.transform.schema import OrgSettings

if TYPE_CHECKING:
    from crm_ferry.dataverse.client import DataverseClient

# ---------------------------------------------------------------------------
# The figures the estimate rests on

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

ROW_OVERHEAD: Final = 600
"""Bytes a note or file row carries besides its text or document (lookups, names, ids)."""
LATENCY_SAMPLES: Final = 5

GRADES: Final[tuple[tuple[int, str, str], ...]] = (
    (2, "A", "low"),
    (5, "B", "moderate"),
    (8, "C", "high"),
)
"""(highest points, letter, label); more points than the last is D, very high."""

HTML_NAME: Final = "scoping.html"
JSON_NAME: Final = "scoping.json"
DIR_MODE: Final = 0o700

QUALITY_FINDINGS: Final = frozenset(
    {
        "clients.missing_email",
        "clients.duplicate_email",
        "users.inactive_with_clients",
        "invoices.items_total_mismatch",
        "files.missing_in_bundle",
    }
)
"""Findings that need a decision before the load (the others are handled by the map, and
files over the limit are graded against the tenant's own limit)."""


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class CoachAudit:
    """Coaches of the bundle against the tenant's system users (by email, then UPN)."""

    counts: Mapping[str, int]
    """Status → coaches: ``matched``, ``disabled``, ``unmatched``."""
    coaches: tuple[dict[str, Any], ...] = ()
    """Per coach: id, email, status, reason (problems first)."""

    @property
    def matched(self) -> int:
        return self.counts.get("matched", 0)

    @property
    def disabled(self) -> int:
        return self.counts.get("disabled", 0)

    @property
    def unmatched(self) -> int:
        return self.counts.get("unmatched", 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "matched": self.matched,
            "disabled": self.disabled,
            "unmatched": self.unmatched,
            "coaches": list(self.coaches),
        }


@dataclass(frozen=True, slots=True)
class FileAudit:
    """The bundle's files and inline images against the tenant's upload limit and blocked
    extensions (``maxuploadfilesize`` is compared with the Base64 length)."""

    max_upload_bytes: int
    total: int = 0
    in_bundle: int = 0
    linked: int = 0
    missing: int = 0
    over_limit: int = 0
    blocked: int = 0
    migratable: int = 0
    inline_images: int = 0
    inline_over_limit: int = 0
    inline_blocked: int = 0
    over_limit_ids: tuple[str, ...] = ()
    blocked_ids: tuple[str, ...] = ()
    blocked_extensions_found: Mapping[str, int] = field(default_factory=dict)

    @property
    def excluded(self) -> int:
        """Files and inline images that cannot be loaded as they are."""
        return self.over_limit + self.blocked + self.inline_over_limit + self.inline_blocked

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_upload_bytes": self.max_upload_bytes,
            "total": self.total,
            "in_bundle": self.in_bundle,
            "linked": self.linked,
            "missing": self.missing,
            "over_limit": self.over_limit,
            "blocked": self.blocked,
            "migratable": self.migratable,
            "inline_images": self.inline_images,
            "inline_over_limit": self.inline_over_limit,
            "inline_blocked": self.inline_blocked,
            "over_limit_ids": list(self.over_limit_ids),
            "blocked_ids": list(self.blocked_ids),
            "blocked_extensions_found": dict(self.blocked_extensions_found),
        }


@dataclass(frozen=True, slots=True)
class TenantAudit:
    url: str | None
    tier: str
    custom_table_limit: int | None
    custom_tables: tuple[str, ...]
    """Custom tables the tenant has (logical names)."""
    new_custom_tables: tuple[str, ...]
    """Custom tables the default map would create that the tenant lacks."""
    invoice_table: bool
    currencies_present: tuple[str, ...]
    currencies_used: Mapping[str, int]
    """ISO code → source rows (sessions, invoices, packages) naming it; the manifest's
    currency stands for rows without one."""
    coaches: CoachAudit
    files: FileAudit
    bulk_support: Mapping[str, bool | None]
    """Standard target table → answers UpsertMultiple (None: could not be read)."""
    latency_ms: float
    latency_samples: tuple[float, ...] = ()
    dop_hint: int | None = None
    price_list: bool = False

    @property
    def currencies_missing(self) -> tuple[str, ...]:
        present = set(self.currencies_present)
        return tuple(sorted(c for c in self.currencies_used if c not in present))

    @property
    def custom_tables_after(self) -> int:
        return len(self.custom_tables) + len(self.new_custom_tables)

    @property
    def over_table_limit(self) -> bool:
        limit = self.custom_table_limit
        return limit is not None and self.custom_tables_after > limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "tier": self.tier,
            "custom_tables": {
                "used": len(self.custom_tables),
                "limit": self.custom_table_limit,
                "names": list(self.custom_tables),
                "needed_by_default_map": list(self.new_custom_tables),
                "after_provisioning": self.custom_tables_after,
                "over_limit": self.over_table_limit,
            },
            "invoice_table": self.invoice_table,
            "price_list": self.price_list,
            "currencies": {
                "present": list(self.currencies_present),
                "used_by_source": dict(self.currencies_used),
                "missing": list(self.currencies_missing),
            },
            "coaches": self.coaches.as_dict(),
            "files": self.files.as_dict(),
            "bulk_support": dict(self.bulk_support),
            "latency_ms": round(self.latency_ms, 3),
            "latency_samples_ms": [round(s, 3) for s in self.latency_samples],
            "dop_hint": self.dop_hint,
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
            "assumptions": list(ASSUMPTIONS),
        }


ASSUMPTIONS: Final = (
    "one web server per environment (the worst case; production may have more)",
    "server time per record from Microsoft's BulkOperations samples (100 records, a small "
    "custom table, no plug-ins); Sales tables with system logic may be 2-5x slower",
    "a first load: every upsert creates its row",
    "roles are written one after another in load order; within a role, requests run in "
    "parallel up to the concurrency",
    "the latency is the measured round trip of a small request (WhoAmI)",
)


@dataclass(frozen=True, slots=True)
class GradeReason:
    factor: str
    points: int
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"factor": self.factor, "points": self.points, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Grade:
    letter: str
    label: str
    points: int
    reasons: tuple[GradeReason, ...]
    blockers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "letter": self.letter,
            "label": self.label,
            "points": self.points,
            "reasons": [r.as_dict() for r in self.reasons],
            "blockers": list(self.blockers),
        }


@dataclass(frozen=True, slots=True)
class SourceCounts:
    """What the default map would write, counted from the bundle."""

    rows: Mapping[str, int]
    """Role → rows (see :func:`count_source`)."""
    links: int = 0
    """Organization accounts whose primary contact is set in a second pass."""
    invoice_states: int = 0
    """Invoices closed after their lines (paid, partially paid, void)."""
    closes: Mapping[str, int] = field(default_factory=dict)
    """Activity table → activities marked completed."""
    currencies: Mapping[str, int] = field(default_factory=dict)
    row_bytes: Mapping[str, int] = field(default_factory=dict)
    """Role → requests needed when cut at ``max_batch_bytes`` too (notes, files)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": dict(self.rows),
            "links": self.links,
            "invoice_states": self.invoice_states,
            "closes": dict(self.closes),
            "currencies": dict(self.currencies),
        }


@dataclass(frozen=True, slots=True)
class ScopingReport:
    source: SourceDiscovery
    counts: SourceCounts
    tenant: TenantAudit
    estimate: Estimate
    grade: Grade
    generated_at: str
    html_path: Path | None = None
    json_path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "scoping",
            "generated_at": self.generated_at,
            "grade": self.grade.as_dict(),
            "tenant": self.tenant.as_dict(),
            "estimate": self.estimate.as_dict(),
            "target_rows": self.counts.as_dict(),
            "source": self.source.as_dict(),
            "paths": {
                "html": str(self.html_path) if self.html_path else None,
                "json": str(self.json_path) if self.json_path else None,
            },
        }


# ---------------------------------------------------------------------------
# Counting the source the way the default map reads it


class _Chunker:
    """Counts the requests :func:`~crm_ferry.dataverse.bulk.write_many` cuts rows into."""

    def __init__(self, batch_size: int, max_bytes: int) -> None:
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self.requests = 0
        self._n = 0
        self._bytes = 0

    def add(self, size: int) -> None:
        if self._n and (self._n >= self.batch_size or self._bytes + size > self.max_bytes):
            self.requests += 1
            self._n = self._bytes = 0
        self._n += 1
        self._bytes += size

    def total(self) -> int:
        return self.requests + (1 if self._n else 0)


def _b64(n: int) -> int:
    return 4 * -(-n // 3)


def _ext(filename: str | None) -> str:
    if not filename or "." not in filename:
        return ""
    return filename.rsplit(".", 1)[-1].lower()


_STATE_INVOICE_STATUSES: Final = frozenset(
    status
    for vm in default_value_maps()
    if vm.name == "invoice_status"
    for status, pair in vm.values.items()
    if list(pair) != [0, 1]
)
"""Source invoice statuses the default map closes with a state change after the lines."""


@dataclass(slots=True)
class _FileTally:
    max_upload: int
    blocked_exts: frozenset[str]
    total: int = 0
    in_bundle: int = 0
    linked: int = 0
    missing: int = 0
    over: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    migratable: int = 0
    inline: int = 0
    inline_over: int = 0
    inline_blocked: int = 0
    exts: Counter[str] = field(default_factory=Counter)

    def freeze(self) -> FileAudit:
        return FileAudit(
            max_upload_bytes=self.max_upload,
            total=self.total,
            in_bundle=self.in_bundle,
            linked=self.linked,
            missing=self.missing,
            over_limit=len(self.over),
            blocked=len(self.blocked),
            migratable=self.migratable,
            inline_images=self.inline,
            inline_over_limit=self.inline_over,
            inline_blocked=self.inline_blocked,
            over_limit_ids=tuple(self.over[:1000]),
            blocked_ids=tuple(self.blocked[:1000]),
            blocked_extensions_found=dict(sorted(self.exts.items())),
        )


def count_source(
    bundle: Bundle,
    *,
    org: OrgSettings,
    batch_size: int,
    max_batch_bytes: int,
    progress: Progress = NO_PROGRESS,
) -> tuple[SourceCounts, FileAudit]:
    """Rows per role of the default map, per-record operations, currencies used, and the
    files against the tenant's upload limit and blocked extensions (one streaming pass)."""
    rows: Counter[str] = Counter()
    closes: Counter[str] = Counter()
    currencies: Counter[str] = Counter()
    default_currency = (bundle.manifest.currency or "").strip().upper()
    files = _FileTally(org.max_upload_bytes, org.blocked_extensions)
    notes = _Chunker(batch_size, max_batch_bytes)
    attachments = _Chunker(batch_size, max_batch_bytes)
    opportunities: set[tuple[str, str, str]] = set()
    links = 0
    invoice_states = 0
    kinds = {"call": "phonecall", "email": "email", "meeting": "appointment"}

    def currency(code: str | None) -> None:
        c = (code or "").strip().upper() or default_currency
        if c:
            currencies[c] += 1

    wanted = [
        o
        for o in (
            "families",
            "clients",
            "service_types",
            "packages",
            "sessions",
            "session_notes",
            "invoices",
            "invoice_items",
            "payments",
            "activities",
            "files",
        )
        if o in bundle.objects
    ]
    for obj in wanted:
        progress.start(f"scope {obj}")
        n = 0
        for rec in bundle.read(obj):
            n += 1
            if type(rec) is Reject:
                continue
            if obj == "families":
                rows["household"] += 1
            elif obj == "clients":
                assert isinstance(rec, Client)
                rows["contact"] += 1
                if rec.type == "organization":
                    rows["account"] += 1
                    links += 1
            elif obj == "service_types":
                rows["service_type"] += 1
            elif obj == "packages":
                assert isinstance(rec, Package)
                if rec.currency:
                    currency(rec.currency)
            elif obj == "sessions":
                assert isinstance(rec, Session)
                rows["session"] += 1
                currency(rec.currency)
                if (
                    rec.status == "completed"
                    and rec.billing_status == "paid"
                    and rec.client_id
                    and rec.service_type_id
                ):
                    code = (rec.currency or default_currency).upper()
                    opportunities.add((rec.client_id, rec.service_type_id, code))
            elif obj == "session_notes":
                assert isinstance(rec, SessionNote)
                _note(rec, rows, notes, files)
            elif obj == "invoices":
                assert isinstance(rec, Invoice)
                rows["invoice"] += 1
                currency(rec.currency)
                if rec.status in _STATE_INVOICE_STATUSES:
                    invoice_states += 1
            elif obj == "invoice_items":
                rows["invoice_line"] += 1
            elif obj == "payments":
                rows["payment"] += 1
            elif obj == "activities":
                assert isinstance(rec, Activity)
                table = kinds[rec.kind]
                rows[f"activity_{rec.kind}"] += 1
                closes[table] += 1
            elif obj == "files":
                assert isinstance(rec, FileRecord)
                if _file(rec, bundle, files):
                    rows["attachment"] += 1
                    size = bundle.attachment_size(rec.path or "") or 0
                    attachments.add(_b64(size) + ROW_OVERHEAD)
            if not n & 4095:
                progress.advance(f"scope {obj}", 4096)
        progress.advance(f"scope {obj}", n & 4095)
        progress.finish(f"scope {obj}")
    rows["opportunity"] = len(opportunities)
    counts = SourceCounts(
        rows=dict(rows),
        links=links,
        invoice_states=invoice_states,
        closes=dict(closes),
        currencies=dict(sorted(currencies.items())),
        row_bytes={"note": notes.total(), "attachment": attachments.total()},
    )
    return counts, files.freeze()


def _note(rec: SessionNote, rows: Counter[str], notes: _Chunker, files: _FileTally) -> None:
    body = rec.body_html or ""
    rows["note"] += 1
    notes.add(len(body.encode("utf-8")) + ROW_OVERHEAD)
    if "data:" not in body:
        return
    for image in html_to_text(body).images:
        files.inline += 1
        size = _b64(len(image.data))
        if image.extension in files.blocked_exts:
            files.inline_blocked += 1
        elif size > files.max_upload:
            files.inline_over += 1
        else:
            rows["note"] += 1
            notes.add(size + ROW_OVERHEAD)


def _file(rec: FileRecord, bundle: Bundle, files: _FileTally) -> bool:
    """Tally one file; whether it can be loaded as an attachment."""
    files.total += 1
    size: int | None = None
    inside = False
    if rec.path:
        size = bundle.attachment_size(rec.path)
        if size is None:
            files.missing += 1
        else:
            files.in_bundle += 1
            inside = True
    elif rec.url:
        files.linked += 1
    if size is None:
        size = rec.size_bytes
    ext = _ext(rec.filename or rec.path)
    ok = inside
    if ext and ext in files.blocked_exts:
        files.blocked.append(rec.id)
        files.exts[ext] += 1
        ok = False
    elif size is not None and _b64(size) > files.max_upload:
        files.over.append(rec.id)
        ok = False
    if ok:
        files.migratable += 1
    return ok


# ---------------------------------------------------------------------------
# The tenant


def measure_latency(client: DataverseClient, samples: int = LATENCY_SAMPLES) -> list[float]:
    """Round trips of ``WhoAmI`` in milliseconds (after one call that signs in)."""
    client.who_am_i()
    out: list[float] = []
    for _ in range(samples):
        start = time.perf_counter()
        client.who_am_i()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _bulk_support(client: DataverseClient, tables: Sequence[str]) -> dict[str, bool | None]:
    """Whether each standard table answers ``UpsertMultiple`` (the ``sdkmessagefilters``
    query :func:`crm_ferry.dataverse.bulk.write_many` uses; None when it cannot be read)."""
    out: dict[str, bool | None] = {}
    for table in tables:
        try:
            found = list(
                client.query_path(
                    "sdkmessagefilters",
                    params={
                        "$select": "sdkmessagefilterid",
                        "$filter": "sdkmessageid/name eq @message and "
                        "primaryobjecttypecode eq @table",
                        "@message": "'UpsertMultiple'",
                        "@table": f"'{table}'",
                    },
                    page_size=0,
                )
            )
        except DataverseError:
            out[table] = None
            continue
        out[table] = bool(found)
    return out


def _targets(prefix: str, invoice_table: bool) -> list[DefaultTarget]:
    targets = default_targets(prefix)
    if invoice_table:
        return targets
    fallback = {t.role: t for t in fallback_invoice_targets(prefix)}
    return [fallback.get(t.role, t) for t in targets]


# ---------------------------------------------------------------------------
# The estimate


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
) -> Estimate:
    """The load's requests and duration (see the module docstring for the model)."""
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
    )


_KIND_OF: Final = {"phonecall": "call", "email": "email", "appointment": "meeting"}


# ---------------------------------------------------------------------------
# The grade


def grade(source: SourceDiscovery, tenant: TenantAudit, est: Estimate) -> Grade:
    """A–D from points, each with the reason that gave it."""
    reasons: list[GradeReason] = []
    blockers: list[str] = []

    def add(factor: str, points: int, detail: str) -> None:
        reasons.append(GradeReason(factor, points, detail))

    records = est.records
    volume = 0 if records < 10_000 else 1 if records < 100_000 else 2 if records < 1_000_000 else 3
    add("volume", volume, f"{records:,} records to write, about {est.minutes:,.1f} minutes")
    if est.minutes > 8 * 60:
        add("duration", 1, f"the load takes over a working day ({est.minutes / 60:,.1f} hours)")

    customs = len(source.custom_properties)
    points = 0 if customs <= 5 else 1 if customs <= 20 else 2
    add("custom properties", points, f"{customs} custom properties, each a new column or choice")

    read = sum(o.read for o in source.objects.values())
    rejected = sum(o.rejected for o in source.objects.values())
    share = rejected / read if read else 0.0
    points = 0 if not rejected else 1 if share <= 0.01 else 2
    add("rejected rows", points, f"{rejected:,} of {read:,} rows cannot be read ({share:.1%})")
    dangling = sum(d.count for d in source.dangling.values())
    add(
        "broken references",
        0 if not dangling else 1,
        f"{dangling:,} references point nowhere ({len(source.dangling)} kinds)",
    )
    quality = {k: f.count for k, f in source.findings.items() if f.count and k in QUALITY_FINDINGS}
    flagged = sum(quality.values())
    detail = ", ".join(f"{n:,} × {FINDING_KINDS.get(k, k)}" for k, n in quality.items())
    add(
        "data-quality findings",
        0 if not flagged else 1 if flagged * 20 <= max(records, 1) else 2,
        detail or "none that need a decision",
    )

    coaches = tenant.coaches
    unowned = coaches.unmatched + coaches.disabled
    points = 0 if not unowned else 1 if unowned * 4 <= max(coaches.total, 1) else 2
    add(
        "owners",
        points,
        f"{coaches.matched} of {coaches.total} coaches matched to system users; "
        f"{coaches.disabled} disabled, {coaches.unmatched} unmatched",
    )
    if not tenant.invoice_table:
        add(
            "invoice table",
            2,
            "no invoice table: invoices and lines need two more custom tables",
        )
    limit = tenant.custom_table_limit
    if limit is not None:
        after = tenant.custom_tables_after
        if after > limit:
            add(
                "custom tables",
                3,
                f"{len(tenant.custom_tables)} used + {len(tenant.new_custom_tables)} needed = "
                f"{after}, over the {limit} the {tenant.tier} tier allows",
            )
            blockers.append(
                f"custom tables: {after} needed, {limit} allowed; free some or change tier"
            )
        else:
            add(
                "custom tables",
                1 if limit - after <= 2 else 0,
                f"{len(tenant.custom_tables)} used + {len(tenant.new_custom_tables)} needed = "
                f"{after} of {limit}",
            )
    files = tenant.files
    add(
        "files",
        0 if not files.excluded else 1,
        f"{files.over_limit} files over {files.max_upload_bytes:,} bytes (Base64), "
        f"{files.blocked} of a blocked type, {files.inline_over_limit + files.inline_blocked} "
        f"inline images excluded",
    )
    missing = tenant.currencies_missing
    if missing:
        add("currencies", 1, f"currencies used by the source but not in the tenant: {missing}")
        blockers.append(f"currencies missing in the tenant: {', '.join(missing)}")
    total = sum(r.points for r in reasons)
    letter, label = next(
        ((letter, label) for top, letter, label in GRADES if total <= top), ("D", "very high")
    )
    ordered = sorted(reasons, key=lambda r: -r.points)
    return Grade(letter, label, total, tuple(ordered), tuple(blockers))


# ---------------------------------------------------------------------------
# Writing


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crm_ferry.reconcile", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    return env


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def render_html(data: Mapping[str, Any]) -> str:
    """The scoping page for :meth:`ScopingReport.as_dict`'s output."""
    template = _environment().get_template("scoping.html.j2")
    return template.render(data=data, finding_kinds=FINDING_KINDS)


def _new_dir(runs: Path, stamp: str) -> Path:
    runs.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for n in range(1000):
        name = f"scoping-{stamp}" if n == 0 else f"scoping-{stamp}-{n}"
        folder = runs / name
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)
        return folder
    raise ConfigError(f"cannot create a scoping folder under {runs}")  # pragma: no cover


def write_scoping(report: ScopingReport, out_dir: Path) -> ScopingReport:
    """Write ``scoping.json`` and ``scoping.html`` into ``out_dir`` (files 0600)."""
    html_path, json_path = out_dir / HTML_NAME, out_dir / JSON_NAME
    done = ScopingReport(
        source=report.source,
        counts=report.counts,
        tenant=report.tenant,
        estimate=report.estimate,
        grade=report.grade,
        generated_at=report.generated_at,
        html_path=html_path,
        json_path=json_path,
    )
    data = done.as_dict()
    _write_private(json_path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    _write_private(html_path, render_html(data))
    return done


# ---------------------------------------------------------------------------
# The whole


@contextmanager
def _client(settings: Settings, client: DataverseClient | None) -> Iterator[DataverseClient]:
    if client is not None:
        yield client
        return
    from crm_ferry.dataverse import connect

    built = connect.client_from_settings(settings)
    try:
        yield built
    finally:
        built.close()


def _extra_users(settings: Settings) -> int:
    section = settings.raw.get("dataverse") if isinstance(settings.raw, Mapping) else None
    extra = section.get("extra_client_ids", []) if isinstance(section, Mapping) else []
    if not isinstance(extra, list):
        return 0
    return len({str(c) for c in extra if str(c) != settings.client_id})


def scope(
    settings: Settings,
    *,
    source: Path | None = None,
    client: DataverseClient | None = None,
    out_dir: Path | None = None,
    latency_ms: float | None = None,
    rejects: Path | None = None,
    progress: Progress = NO_PROGRESS,
) -> ScopingReport:
    """Profile the source, audit the tenant, estimate and grade; write the scoping report.

    ``client`` defaults to one built from the settings. ``latency_ms`` replaces the
    measured round trip (``WhoAmI``, :data:`LATENCY_SAMPLES` times). ``out_dir`` defaults to
    ``<project>/runs/scoping-<UTC timestamp>/``. ``rejects``: where discovery writes every
    rejected row (JSON Lines), as ``crm-ferry discover --rejects`` does.
    """
    from crm_ferry.provision.plan import table_limit_for
    from crm_ferry.provision.workflow import tier_settings

    path = source if source is not None else settings.source
    if path is None:
        raise ConfigError(
            "no source bundle given",
            hint="pass --source PATH or set [source] path in ferry.toml",
        )
    path = settings.resolve(path)
    tier, limit = table_limit_for(*tier_settings(settings))
    discovery = discover_source(
        path,
        settings,
        rejects_path=settings.resolve(rejects) if rejects is not None else None,
        progress=progress,
    )
    prefix = settings.publisher_prefix
    with _client(settings, client) as dv:
        samples = [] if latency_ms is not None else measure_latency(dv)
        latency = latency_ms if latency_ms is not None else statistics.median(samples)
        dop_hint = dv.dop_hint
        batch_size = settings.batch_size
        max_bytes = dv.options.max_batch_bytes
        custom = sorted(t.logical_name for t in dv.metadata.tables(custom_only=True))
        invoice_table = dv.metadata.has_table("invoice")
        org = OrgSettings.read(dv)
        users = fetch_system_users(dv)
        targets = _targets(prefix, invoice_table)
        standard = sorted(
            {t.table for t in targets if not t.table.startswith(f"{prefix}_")}
            | ({"invoice"} if invoice_table else set())
        )
        bulk = _bulk_support(dv, [t for t in standard if dv.metadata.has_table(t)])
        with open_bundle(path, column_map=settings.column_map) as bundle:
            coaches = collect_coaches(bundle)
            counts, files = count_source(
                bundle,
                org=org,
                batch_size=batch_size,
                max_batch_bytes=max_bytes,
                progress=progress,
            )
    resolution = resolve_owners(coaches, users)
    order = {"unmatched": 0, "disabled": 1, "matched": 2}
    coach_rows = sorted(
        (
            {"id": cid, "email": c["email"], "status": c["status"], "reason": c["reason"]}
            for cid, c in resolution.section["coaches"].items()
        ),
        key=lambda r: (order.get(str(r["status"]), 3), str(r["id"])),
    )
    needed = tuple(
        sorted(
            {t.table for t in targets if t.table.startswith(f"{prefix}_") and t.table not in custom}
        )
    )
    tenant = TenantAudit(
        url=dv.url,
        tier=tier,
        custom_table_limit=limit,
        custom_tables=tuple(custom),
        new_custom_tables=needed,
        invoice_table=invoice_table,
        currencies_present=tuple(sorted(org.currencies)),
        currencies_used=counts.currencies,
        coaches=CoachAudit(resolution.counts(), tuple(coach_rows)),
        files=files,
        bulk_support=bulk,
        latency_ms=latency,
        latency_samples=tuple(samples),
        dop_hint=dop_hint,
        price_list=org.price_list_id is not None,
    )
    est = estimate(
        counts,
        targets,
        prefix=prefix,
        batch_size=batch_size,
        max_batch_bytes=max_bytes,
        max_concurrency=settings.max_concurrency,
        users=1 + _extra_users(settings),
        latency_ms=latency,
        bulk_support=bulk,
        invoice_table=invoice_table,
    )
    report = ScopingReport(
        source=discovery,
        counts=counts,
        tenant=tenant,
        estimate=est,
        grade=grade(discovery, tenant, est),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if out_dir is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out_dir = _new_dir(settings.project_dir / "runs", stamp)
    else:
        out_dir = settings.resolve(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return write_scoping(report, out_dir)
