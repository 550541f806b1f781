"""Counting the source the way the default map reads it, in one streaming pass.

:func:`count_source` reads the bundle once and counts what the default map would write:
rows per role (clients → contacts, plus accounts for organizations; households → accounts;
sessions → sessions and one opportunity per client, service type (where the session has one)
and currency of the completed, paid sessions of a client the export holds; notes →
annotations plus one per inline image; invoices, lines (and the write-in line that carries
the tax of an invoice without lines), payments, activities by kind; files that fit), the
per-record operations that follow (the second pass
that links organization accounts to their contact, invoice state changes, activity closes),
the currencies the rows name, and the requests notes and files need when they are also cut at
the client's ``max_batch_bytes``. Files and inline images are checked against the tenant's
upload limit and blocked extensions on the way (:class:`FileAudit`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from crm_ferry.mapping.defaults import default_value_maps
from crm_ferry.model import (
    Activity,
    Client,
    FileRecord,
    Invoice,
    InvoiceItem,
    Package,
    Reject,
    ServiceType,
    Session,
    SessionNote,
)
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.sources.bundle import Bundle
from crm_ferry.transform.html import html_to_text
from crm_ferry.transform.schema import OrgSettings

__all__ = ["ROW_OVERHEAD", "FileAudit", "SourceCounts", "count_source"]

ROW_OVERHEAD: Final = 600
"""Bytes a note or file row carries besides its text or document (lookups, names, ids)."""


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
    clients: set[str] = set()
    services: set[str] = set()
    taxed_without_lines: set[str] = set()
    """Invoices with tax and no line read yet: each gets a write-in line for its tax."""
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
                clients.add(rec.id)
                rows["contact"] += 1
                if rec.type == "organization":
                    rows["account"] += 1
                    links += 1
            elif obj == "service_types":
                assert isinstance(rec, ServiceType)
                rows["service_type"] += 1
                services.add(rec.id)
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
                    and rec.client_id in clients
                    and (not rec.service_type_id or rec.service_type_id in services)
                ):
                    code = (rec.currency or default_currency).upper()
                    opportunities.add((str(rec.client_id), rec.service_type_id or "", code))
            elif obj == "session_notes":
                assert isinstance(rec, SessionNote)
                _note(rec, rows, notes, files)
            elif obj == "invoices":
                assert isinstance(rec, Invoice)
                rows["invoice"] += 1
                currency(rec.currency)
                if rec.status in _STATE_INVOICE_STATUSES:
                    invoice_states += 1
                if rec.tax:
                    taxed_without_lines.add(rec.id)
            elif obj == "invoice_items":
                assert isinstance(rec, InvoiceItem)
                rows["invoice_line"] += 1
                taxed_without_lines.discard(rec.invoice_id or "")
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
    if taxed_without_lines:
        rows["invoice_line"] += len(taxed_without_lines)
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
    elif rec.linked:
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
