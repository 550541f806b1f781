"""Source-side discovery: what is in a bundle, what could not be read, what points nowhere.

Besides the objects, rejects, findings and custom properties, discovery says where the
linked files are (each matched to the downloads folder, or listed missing or ambiguous with
the record it belongs to: :mod:`crm_ferry.sources.downloads`) and what the client groups
add to their members' tags (:mod:`crm_ferry.sources.groups`).
"""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, TextIO

from crm_ferry.limits import (
    DEFAULT_BLOCKED_EXTENSIONS,
    DEFAULT_MAX_UPLOAD,
    LARGEST_MAX_UPLOAD,
    base64_size,
    extension,
)
from crm_ferry.model import (
    Client,
    ClientProperty,
    FileRecord,
    Group,
    Invoice,
    InvoiceItem,
    Record,
    Reject,
    SessionNote,
    User,
)
from crm_ferry.progress import NO_PROGRESS, Progress
from crm_ferry.sources.bundle import Bundle, IgnoredSheet, open_bundle
from crm_ferry.sources.csvrows import LINE_LIMIT
from crm_ferry.sources.downloads import Downloads, LinkedFile, LinkedSummary, linked_summary
from crm_ferry.sources.fastinit import compiled
from crm_ferry.sources.groups import GroupSummary
from crm_ferry.sources.idtable import MASK64, IdList, IdTable, id_hash
from crm_ferry.sources.infer import PropertyInference


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    """Counts for one object (one file) of the bundle; ``read == accepted + rejected``."""

    object: str
    file: str | None
    format: str | None
    read: int
    accepted: int
    rejected: int
    sheet: str | None = None
    """The workbook's sheet holding the object (``file`` is the workbook)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            **({"sheet": self.sheet} if self.sheet is not None else {}),
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
        }


ID_CAP = 10_000
"""At most this many source ids are kept per dangling kind or finding."""


@dataclass(frozen=True, slots=True)
class DanglingSummary:
    """References of one kind that point nowhere, e.g. ``sessions.client_id -> clients``.

    Kinds are named ``<object>.<field> -> <target object>``.
    """

    kind: str
    count: int
    source_ids: tuple[str, ...] = ()
    """Ids of the referencing records (first :data:`ID_CAP`), in file order."""
    examples: tuple[str, ...] = ()
    """A few ``<file>:<line> <id> -> <missing id>`` strings."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "source_ids": list(self.source_ids),
            "examples": list(self.examples),
        }


FINDING_KINDS: dict[str, str] = {
    "clients.missing_email": "client without an email address",
    "clients.duplicate_email": "client whose email is also another client's (case-insensitive)",
    "clients.full_name_only": "client named only by full_name (first/last split by the reader)",
    "clients.non_ascii_name": "client whose name has characters outside ASCII",
    "clients.name_punctuation": "client whose name has an apostrophe or a comma",
    "users.inactive_with_clients": "user that is not active but is the coach of some client",
    "session_notes.inline_images": "note whose body holds inline data: images",
    "invoices.items_total_mismatch": "invoice whose items and tax do not sum to its total_amount",
    "files.over_upload_limit": "file larger than 5,242,880 bytes once base64-encoded",
    "files.over_largest_upload_limit": "file larger than 131,072,000 bytes once "
    "base64-encoded: over the largest upload limit a tenant may set (SharePoint, or nothing)",
    "files.blocked_type": "file of a type Dataverse blocks by default (blockedattachments)",
    "files.linked": "linked file (a url or only a filename), not inside the bundle",
    "files.missing_in_bundle": "file whose path is not inside the bundle",
}
"""Data-quality findings discovery reports (not rejects: the rows are valid) by kind.

The precise rules, applied to accepted records only:

``clients.missing_email``
    ``email`` is empty or blank.
``clients.duplicate_email``
    every client whose email, trimmed and lower-cased, is shared with at least one other
    accepted client: all members of each group, in file order.
``clients.full_name_only``
    ``first_name`` and ``last_name`` were both empty in the source and ``full_name`` was
    present, so both came from splitting ``full_name``.
``clients.non_ascii_name``
    ``first_name``, ``last_name``, ``full_name`` or ``organization`` holds a character
    outside ASCII.
``clients.name_punctuation``
    an apostrophe (``'`` or ``’``) or a comma in ``first_name`` or ``last_name`` (after
    splitting) or ``organization``.
``users.inactive_with_clients``
    a user with ``active`` false that is the coach of at least one accepted client, by
    ``coach_id`` or by ``coach_email`` (case-insensitive); in users file order.
``session_notes.inline_images``
    ``body_html`` holds an ``<img>`` tag whose ``src`` is a ``data:`` URI.
``invoices.items_total_mismatch``
    an invoice with at least one accepted item whose item amounts (``amount``, else
    ``quantity`` x ``unit_price``; neither counts as 0) and ``tax`` do not add up to
    ``total_amount`` (a missing total counts as a mismatch); compared to four decimal places.
``files.over_upload_limit``
    ``4 * ceil(n / 3) > 5,242,880`` (the base64 length over Dataverse's default
    ``maxuploadfilesize``), where ``n`` is the size of the file inside the bundle when it
    is there, else ``size_bytes``.
``files.linked``
    no ``path``, and a ``url`` or a ``filename`` (where its file is: the linked files
    section, :class:`~crm_ferry.sources.downloads.LinkedSummary`).
``files.missing_in_bundle``
    ``path`` given but no such file inside the bundle.
"""


@dataclass(frozen=True, slots=True)
class FindingSummary:
    kind: str
    count: int
    source_ids: tuple[str, ...] = ()
    """Ids of the records concerned (first :data:`ID_CAP`), in file order."""

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "source_ids": list(self.source_ids)}


@dataclass(frozen=True, slots=True)
class SourceDiscovery:
    source: str
    manifest: dict[str, Any]
    objects: dict[str, ObjectSummary]
    dangling: dict[str, DanglingSummary]
    findings: dict[str, FindingSummary]
    custom_properties: dict[str, str]
    """Custom property key -> inferred type (date, number, boolean, choice, text)."""
    top_reject_reasons: list[tuple[str, int]] = field(default_factory=list)
    rejects_path: str | None = None
    custom_property_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Key -> {type, values (non-empty count), max_length, choices (for a choice)}."""
    linked_files: LinkedSummary | None = None
    """The linked files against the downloads folder (None: the bundle has none)."""
    groups: GroupSummary | None = None
    """The client groups and the tags they add (None: the bundle has none)."""
    bundle_kind: str = "folder"
    """What the bundle is: ``folder``, ``zip`` or ``workbook`` (one Excel workbook)."""
    ignored_sheets: tuple[IgnoredSheet, ...] = ()
    """Sheets of the bundle's workbooks that hold no object, each with the reason."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "bundle_kind": self.bundle_kind,
            "ignored_sheets": [s.as_dict() for s in self.ignored_sheets],
            "manifest": self.manifest,
            "objects": {k: v.as_dict() for k, v in self.objects.items()},
            "dangling": {k: v.as_dict() for k, v in self.dangling.items()},
            "findings": {k: v.as_dict() for k, v in self.findings.items()},
            "custom_properties": dict(self.custom_properties),
            "top_reject_reasons": [{"reason": r, "count": n} for r, n in self.top_reject_reasons],
            "rejects_path": self.rejects_path,
            "custom_property_details": self.custom_property_details,
            "linked_files": None if self.linked_files is None else self.linked_files.as_dict(),
            "groups": None if self.groups is None else self.groups.as_dict(),
        }


REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("clients", "coach_id", "users"),
    ("clients", "coach_email", "users"),
    ("clients", "family_id", "families"),
    ("groups", "members", "clients"),
    ("group_members", "group_id", "groups"),
    ("group_members", "client_id", "clients"),
    ("client_properties", "client_id", "clients"),
    ("packages", "client_id", "clients"),
    ("sessions", "client_id", "clients"),
    ("sessions", "coach_id", "users"),
    ("sessions", "coach_email", "users"),
    ("sessions", "service_type_id", "service_types"),
    ("sessions", "package_id", "packages"),
    ("session_notes", "session_id", "sessions"),
    ("session_notes", "client_id", "clients"),
    ("session_notes", "author_id", "users"),
    ("invoices", "client_id", "clients"),
    ("invoice_items", "invoice_id", "invoices"),
    ("invoice_items", "session_id", "sessions"),
    ("invoice_items", "service_type_id", "service_types"),
    ("payments", "invoice_id", "invoices"),
    ("activities", "client_id", "clients"),
    ("activities", "coach_id", "users"),
    ("files", "client_id", "clients"),
    ("files", "session_id", "sessions"),
)
"""Every reference checked: (object, field, target object). ``*_email`` fields match the
target's email case-insensitively; the others match its id (each of a list's ids, for
:data:`LIST_REFERENCES`). A reference to a row of the target that was rejected points
nowhere too."""

LIST_REFERENCES: frozenset[tuple[str, str]] = frozenset({("groups", "members")})
"""(object, field) of the references that hold a list of ids (a group's members)."""

_KIND_ORDER = {f"{o}.{f} -> {t}": i for i, (o, f, t) in enumerate(REFERENCES)}

UPLOAD_LIMIT = DEFAULT_MAX_UPLOAD
"""Dataverse's default ``maxuploadfilesize``, measured on the base64 text."""

EXAMPLES = 5
"""Examples kept per dangling kind."""

_INLINE_IMAGE = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']?\s*data:", re.IGNORECASE)
_NUMBERS = re.compile(r"\b(line|lines|found|expected|column|char) \d+(?:-\d+)?")
_ALSO = re.compile(r" \(also bad: [^)]*\)$")
_SCALE = Decimal(10) ** 4
_NO_TOTAL = -(2**63)
_BIG = 2**63 - 1
"""In the per-invoice arrays: the exact value is in :attr:`_Scan.big`."""
_FITS_MIN, _FITS_MAX = -(2**63), 2**63 - 2
"""Values strictly above the first and up to the second are held in the arrays as they are."""


def reject_reason_key(reject: Reject) -> str:
    """A reject's reason without its values, so equal problems count together.

    ``clients.DOB: not a date (expected YYYY-MM-DD)``. Reasons never hold the cell's value
    (that is :attr:`Reject.value`); line numbers and counts in them become ``N``, and the
    list of other bad columns is dropped.
    """
    reason = _ALSO.sub("", reject.reason)
    reason = _NUMBERS.sub(r"\1 N", reason)
    where = f"{reject.object}.{reject.column}" if reject.column else reject.object
    return f"{where}: {reason}"


class _Ids:
    """A capped, ordered list of source ids with an exact count."""

    __slots__ = ("count", "ids")

    def __init__(self) -> None:
        self.count = 0
        self.ids: list[str] = []

    def add(self, source_id: str) -> None:
        self.count += 1
        if len(self.ids) < ID_CAP:
            self.ids.append(source_id)


class _Dangling(_Ids):
    __slots__ = ("examples",)

    def __init__(self) -> None:
        super().__init__()
        self.examples: list[str] = []


_Ref = tuple[str, str, AbstractSet[int], bool]
"""(field, kind name, hashes of the accepted targets, matched by email?)"""


class _Scan:
    """Per-object checks run on every accepted record during the one streaming pass."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.dangling: dict[str, _Dangling] = {}
        self.findings: dict[str, _Ids] = {}
        self.inference = PropertyInference(bundle.manifest.date_format)
        self.user_emails: set[int] = set()
        self.inactive_users: dict[int, tuple[int, str]] = {}
        """Hash of id and of lower-cased email -> (position in users, user id)."""
        self.inactive_coaching: dict[str, int] = {}
        self.client_emails = IdTable()
        """Hash of a trimmed lower-cased client email -> clients having it."""
        self.client_ids = IdList()
        self.client_email_hashes = array("Q")
        """Per accepted client, in file order: its email hash (0 without email)."""
        self.invoice_ids = IdList()
        self.invoice_index = IdTable()
        self.invoice_totals = array("q")
        self.item_sums = array("q")
        self.item_counts = array("i")
        self.linked: list[LinkedFile] = []
        """The linked files, matched to the downloads folder once the pass is done."""
        self.big: dict[tuple[str, int], int] = {}
        """(``total`` or ``sum``, invoice position) -> the exact value, for the rare one
        beyond a signed 64-bit integer (marked :data:`_BIG` in its array)."""

    # -- helpers -----------------------------------------------------------------

    def finding(self, kind: str, source_id: str) -> None:
        found = self.findings.get(kind)
        if found is None:
            found = self.findings[kind] = _Ids()
        found.add(source_id)

    def refs_for(self, obj: str) -> list[_Ref]:
        """The references of ``obj`` whose target object is in the bundle."""
        out: list[_Ref] = []
        for source, field_name, target in REFERENCES:
            if source != obj or target not in self.bundle.files:
                continue
            if (source, field_name) in LIST_REFERENCES:
                continue  # checked id by id (see _group)
            by_email = field_name.endswith("_email")
            accepted = self.user_emails if by_email else self.bundle.accepted_ids(target)
            if accepted is not None:
                out.append((field_name, f"{obj}.{field_name} -> {target}", accepted, by_email))
        return out

    def ref_checker(self, obj: str) -> Callable[[Any], None] | None:
        """A function checking every reference of one ``obj`` record, or None if none.

        Generated per object (one straight block per reference field, the hash inlined),
        since it runs for every accepted row of every child object.
        """
        refs = self.refs_for(obj)
        if not refs:
            return None
        namespace: dict[str, Any] = {"dangle": self.dangle, "M": MASK64}
        lines = ["def check(record):"]
        for n, (field_name, kind, accepted, by_email) in enumerate(refs):
            namespace[f"a{n}"] = accepted
            namespace[f"k{n}"] = kind
            key = "value.strip().lower()" if by_email else "value"
            lines += [
                f"    value = record.{field_name}",
                f"    if value and ((hash({key}) & M) or 1) not in a{n}:",
                f"        dangle(k{n}, record, value)",
            ]
        exec(compiled("\n".join(lines)), namespace)
        check: Callable[[Any], None] = namespace["check"]
        return check

    def dangle(self, kind: str, record: Record, value: str) -> None:
        """Count one reference of ``kind`` from ``record`` to ``value`` that points nowhere."""
        dangling = self.dangling.get(kind)
        if dangling is None:
            dangling = self.dangling[kind] = _Dangling()
        dangling.add(record.id)
        if len(dangling.examples) < EXAMPLES:
            dangling.examples.append(f"{record.provenance} {record.id} -> {value}")

    # -- per object --------------------------------------------------------------

    def handler(self, obj: str) -> Callable[[Any], None] | None:
        """The checks specific to ``obj``'s records (references are checked separately)."""
        handlers: dict[str, Callable[[Any], None]] = {
            "users": self._user,
            "clients": self._client,
            "client_properties": self._property,
            "session_notes": self._note,
            "invoices": self._invoice,
            "invoice_items": self._item,
            "files": self._file,
            "groups": self._group,
        }
        return handlers.get(obj)

    def _property(self, prop: ClientProperty) -> None:
        self.inference.add(prop.key_name, prop.value)

    def _note(self, note: SessionNote) -> None:
        body = note.body_html
        if body and "data:" in body and _INLINE_IMAGE.search(body):
            self.finding("session_notes.inline_images", note.id)

    def _invoice(self, invoice: Invoice) -> None:
        self.invoice_index.add(id_hash(invoice.id), len(self.invoice_totals))
        self.invoice_ids.append(invoice.id)
        # what the items should add up to: the total less the invoice's tax
        total = (
            _NO_TOTAL
            if invoice.total_amount is None
            else _scaled(invoice.total_amount - (invoice.tax or 0))
        )
        if not _FITS_MIN < total <= _FITS_MAX and total != _NO_TOTAL:
            self.big[("total", len(self.invoice_totals))] = total
            total = _BIG
        self.invoice_totals.append(total)
        self.item_sums.append(0)
        self.item_counts.append(0)

    def _user(self, user: User) -> None:
        if user.email:
            self.user_emails.add(id_hash(user.email.strip().lower()))
        if not user.active:
            entry = (len(self.inactive_users), user.id)
            self.inactive_users[id_hash(user.id)] = entry
            if user.email:
                self.inactive_users.setdefault(id_hash(user.email.strip().lower()), entry)

    def _client(self, client: Client) -> None:
        cid = client.id
        self.client_ids.append(cid)
        email = client.email.strip().lower() if client.email else ""
        if not email:
            self.finding("clients.missing_email", cid)
            self.client_email_hashes.append(0)
        else:
            h = id_hash(email)
            seen = self.client_emails.get(h)
            self.client_emails.put(h, (seen or 0) + 1)
            self.client_email_hashes.append(h)
        if self.bundle.name_was_split:
            self.finding("clients.full_name_only", cid)
        names = (client.first_name, client.last_name, client.full_name, client.organization)
        if any(n and not n.isascii() for n in names):
            self.finding("clients.non_ascii_name", cid)
        if any(
            n and ("'" in n or "\u2019" in n or "," in n)
            for n in (client.first_name, client.last_name, client.organization)
        ):
            self.finding("clients.name_punctuation", cid)
        if self.inactive_users:
            for ref in (client.coach_id, client.coach_email and client.coach_email.lower()):
                entry = self.inactive_users.get(id_hash(ref.strip())) if ref else None
                if entry is not None:
                    self.inactive_coaching[entry[1]] = entry[0]
        for key, value in client.custom.items():
            self.inference.add(key, value)

    def _item(self, item: InvoiceItem) -> None:
        if not item.invoice_id:
            return
        index = self.invoice_index.get(id_hash(item.invoice_id))
        if index is None:
            return
        amount = item.amount
        if amount is None and item.quantity is not None and item.unit_price is not None:
            amount = item.quantity * item.unit_price
        self.item_counts[index] += 1
        if amount is None:
            return
        key = ("sum", index)
        known = self.big.get(key)
        if known is not None:
            self.big[key] = known + _scaled(amount)
            return
        added = self.item_sums[index] + _scaled(amount)
        if _FITS_MIN < added <= _FITS_MAX:
            self.item_sums[index] = added
        else:
            self.big[key] = added
            self.item_sums[index] = _BIG

    def _file(self, file: FileRecord) -> None:
        size = None
        if file.path:
            size = self.bundle.attachment_size(file.path)
            if size is None:
                self.finding("files.missing_in_bundle", file.id)
        elif file.linked:
            self.finding("files.linked", file.id)
            self.linked.append(LinkedFile.of(file))
        if size is None:
            size = file.size_bytes
        if size is not None and base64_size(size) > UPLOAD_LIMIT:
            self.finding("files.over_upload_limit", file.id)
        if size is not None and base64_size(size) > LARGEST_MAX_UPLOAD:
            self.finding("files.over_largest_upload_limit", file.id)
        name = file.filename or (file.path or file.url or "").rsplit("/", 1)[-1]
        if extension(name) in DEFAULT_BLOCKED_EXTENSIONS:
            self.finding("files.blocked_type", file.id)

    def _group(self, group: Group) -> None:
        clients = self.bundle.accepted_ids("clients")
        if clients is None:
            return
        for member in group.members:
            if id_hash(member) not in clients:
                self.dangle("groups.members -> clients", group, member)

    # -- after the pass ----------------------------------------------------------

    def finish(self) -> None:
        """Findings that need the whole pass: inactive coaches, duplicate emails, totals."""
        for user_id, _ in sorted(self.inactive_coaching.items(), key=lambda kv: kv[1]):
            self.finding("users.inactive_with_clients", user_id)
        emails = self.client_emails
        for index, h in enumerate(self.client_email_hashes):
            if h and (emails.get(h) or 0) > 1:
                self.finding("clients.duplicate_email", self.client_ids[index])
        big = self.big
        for index, (total, items, n) in enumerate(
            zip(self.invoice_totals, self.item_sums, self.item_counts, strict=True)
        ):
            if total == _BIG:
                total = big.get(("total", index), total)
            if items == _BIG:
                items = big.get(("sum", index), items)
            if n and total != items:
                self.finding("invoices.items_total_mismatch", self.invoice_ids[index])


def _scaled(amount: Decimal) -> int:
    """An amount in ten-thousandths (totals are compared to four decimal places)."""
    return int((amount * _SCALE).to_integral_value(ROUND_HALF_EVEN))


_PROGRESS_STEP_MASK = 4095
"""Progress is reported every 4,096 rows, keeping the per-row cost to one test."""


def discover_source(
    source: Path,
    *,
    column_map: Mapping[str, Mapping[str, str]] | None = None,
    rejects_path: Path | None = None,
    progress: Progress = NO_PROGRESS,
    line_limit: int = LINE_LIMIT,
    downloads: Downloads | None = None,
) -> SourceDiscovery:
    """Read the whole bundle once, streaming, and summarise it.

    Objects are read parents first (:data:`crm_ferry.sources.schema.READ_ORDER`), so each
    reference is checked as its row goes by, against the sets of accepted-id hashes of the
    objects already read (:meth:`Bundle.accepted_ids`). Memory is those sets, the capped id
    lists of the summary, and for clients and invoices a compact list of ids
    (:class:`IdList`) and per-row arrays: two findings are only known at the end (clients
    sharing an email with a *later* client, invoices whose items come in a later file).

    ``column_map``: per object, header as written in the export → field (``[source.columns]``).
    Every reject is written to ``rejects_path`` (JSON Lines, the fields of
    :class:`~crm_ferry.model.Reject`) when it is given. The linked files are matched to
    ``downloads`` (None: no folder, so none is found); the clients of those missing or
    ambiguous are named from a second pass over the clients, only when there are any.
    """
    reasons: Counter[str] = Counter()
    with (
        open_bundle(source, column_map=column_map, line_limit=line_limit) as bundle,
        _rejects_file(rejects_path) as out,
    ):
        scan = _Scan(bundle)
        for obj in bundle.objects:
            check_refs = scan.ref_checker(obj)
            handler = scan.handler(obj)
            progress.start(obj)
            n = 0
            for item in bundle.read(obj):
                n += 1
                if not n & _PROGRESS_STEP_MASK:
                    progress.advance(obj, _PROGRESS_STEP_MASK + 1)
                if type(item) is Reject:
                    reasons[reject_reason_key(item)] += 1
                    if out is not None:
                        out.write(json.dumps(item.as_dict(), ensure_ascii=False) + "\n")
                    continue
                if check_refs is not None:
                    check_refs(item)
                if handler is not None:
                    handler(item)
            progress.advance(obj, n & _PROGRESS_STEP_MASK)
            progress.finish(obj)
        counts = {obj: bundle.counts[obj] for obj in bundle.objects}
        scan.finish()
        groups = bundle.groups.summary() if bundle.groups is not None else None
        linked = linked_summary(bundle, downloads, scan.linked) if scan.linked else None
        objects = {
            obj: ObjectSummary(
                obj,
                bf.name,
                bf.format,
                counts[obj].read,
                counts[obj].accepted,
                counts[obj].rejected,
                bf.sheet,
            )
            for obj, bf in bundle.files.items()
        }
        manifest = bundle.manifest
        kind, ignored = bundle.kind, tuple(bundle.ignored_sheets)
    profiles = scan.inference.profiles
    return SourceDiscovery(
        source=str(source),
        manifest={
            "platform": manifest.platform,
            "exported_at": manifest.exported_at.isoformat() if manifest.exported_at else None,
            "timezone": manifest.timezone,
            "currency": manifest.currency,
            "date_format": manifest.date_format,
        },
        objects=objects,
        dangling={
            kind: DanglingSummary(kind, d.count, tuple(d.ids), tuple(d.examples))
            for kind, d in sorted(scan.dangling.items(), key=lambda kv: _KIND_ORDER[kv[0]])
        },
        findings={
            kind: FindingSummary(kind, scan.findings[kind].count, tuple(scan.findings[kind].ids))
            for kind in FINDING_KINDS
            if kind in scan.findings
        },
        custom_properties=dict(scan.inference.types()),
        top_reject_reasons=reasons.most_common(10),
        rejects_path=str(rejects_path) if rejects_path is not None else None,
        custom_property_details={
            key: {
                "type": profiles[key].type,
                "values": profiles[key].count,
                "max_length": profiles[key].max_length,
                "choices": list(profiles[key].choices),
            }
            for key in sorted(profiles)
        },
        linked_files=linked,
        groups=groups,
        bundle_kind=kind,
        ignored_sheets=ignored,
    )


@contextmanager
def _rejects_file(path: Path | None) -> Iterator[TextIO | None]:
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        yield f
