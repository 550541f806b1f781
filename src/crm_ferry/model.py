"""Canonical records: what the export-bundle reader produces and everything after it reads.

Every record carries its source id and its provenance (file inside the bundle and the
line its row starts on), so any later reject, diff or journal entry can point back to the
exact place in the export. Values are already typed: timestamps are timezone-aware
(naive source values are read in the manifest's time zone), dates are ``date``, money and
decimals are ``Decimal``, enums are lower-case strings from the contract's closed sets.

Records are immutable and slotted: the reader streams millions of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

# ---------------------------------------------------------------------------
# Identity and provenance


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a record came from: a file inside the bundle and a 1-based line number.

    For CSV the line is the physical line the row starts on (rows with embedded newlines
    span several); for JSON Lines it is the line; for a JSON array it is the 1-based
    position of the element.
    """

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True, order=True)
class RecordKey:
    """The identity of a source record: its object name and its source id."""

    object: str
    id: str

    def __str__(self) -> str:
        return f"{self.object}/{self.id}"


@dataclass(frozen=True, slots=True)
class Reject:
    """A row (or a value in it) the reader or a later stage could not accept."""

    object: str
    file: str
    line: int
    column: str | None
    value: str | None
    reason: str
    source_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.column:
            where += f" [{self.column}]"
        shown = "" if self.value is None else f" {self.value!r}:"
        return f"{where}:{shown} {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
            "source_id": self.source_id,
        }


# ---------------------------------------------------------------------------
# Closed vocabularies of the contract

ClientType = Literal["individual", "organization"]
UserRole = Literal["owner", "admin", "coach", "assistant"]
ClientStatus = Literal["active", "archived", "prospect"]
OnTrackStatus = Literal["on_track", "at_risk", "off_track"]
PackageStatus = Literal["active", "completed", "cancelled"]
SessionStatus = Literal["scheduled", "completed", "cancelled", "no_show"]
BillingStatus = Literal["unbilled", "invoiced", "paid", "waived"]
InvoiceStatus = Literal["draft", "sent", "viewed", "paid", "overdue", "failed", "void"]
PaymentMethod = Literal["card", "ach", "wire", "cash", "other"]
ActivityKind = Literal["call", "email", "meeting"]
Direction = Literal["inbound", "outbound"]
DateFormat = Literal["iso", "us"]

SESSION_TYPES: tuple[str, ...] = ("intro", "one_on_one", "group", "workshop", "follow_up")
"""The known session types; ``session_type`` may also be free text."""


# ---------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """Base of every canonical record."""

    OBJECT: ClassVar[str] = ""

    id: str
    provenance: Provenance
    extra: Mapping[str, str] = field(default_factory=dict)
    """Columns the contract does not know, by their header as written; kept for the mapper."""

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.OBJECT, self.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class User(Record):
    OBJECT: ClassVar[str] = "users"
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    role: UserRole | None = None
    active: bool = True
    time_zone: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Client(Record):
    OBJECT: ClassVar[str] = "clients"
    type: ClientType
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    organization: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    birth_date: date | None = None
    gender: str | None = None
    time_zone: str | None = None
    status: ClientStatus | None = None
    on_track_status: OnTrackStatus | None = None
    coach_id: str | None = None
    coach_email: str | None = None
    vertical: str | None = None
    family_id: str | None = None
    tags: tuple[str, ...] = ()
    """The client's *effective* tags: its own (``clients.tags``), then those of every group
    it belongs to (:mod:`crm_ferry.sources.groups`), as the bundle reader gives them."""
    primary_service: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    custom: Mapping[str, str] = field(default_factory=dict)
    """Custom properties given as ``custom:<key>`` columns, raw strings by key."""

    @property
    def display_name(self) -> str:
        """The person's full name, else the organization's name, its email or its id."""
        person = self.full_name or " ".join(p for p in (self.first_name, self.last_name) if p)
        return " ".join((person or self.organization or self.email or self.id).split())


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientProperty(Record):
    """One long-form custom property; its id is ``<client_id>/<key>``."""

    OBJECT: ClassVar[str] = "client_properties"
    client_id: str
    key_name: str
    value: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Family(Record):
    OBJECT: ClassVar[str] = "families"
    name: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceType(Record):
    OBJECT: ClassVar[str] = "service_types"
    name: str | None = None
    default_rate: Decimal | None = None
    duration_minutes: int | None = None
    active: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Package(Record):
    OBJECT: ClassVar[str] = "packages"
    client_id: str | None = None
    name: str | None = None
    sessions_total: int | None = None
    sessions_remaining: int | None = None
    price: Decimal | None = None
    currency: str | None = None
    status: PackageStatus | None = None
    start_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Session(Record):
    OBJECT: ClassVar[str] = "sessions"
    client_id: str | None = None
    coach_id: str | None = None
    coach_email: str | None = None
    service_type_id: str | None = None
    package_id: str | None = None
    session_type: str | None = None
    status: SessionStatus | None = None
    billing_status: BillingStatus | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    duration_minutes: int | None = None
    location: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionNote(Record):
    OBJECT: ClassVar[str] = "session_notes"
    session_id: str | None = None
    client_id: str | None = None
    author_id: str | None = None
    title: str | None = None
    body_html: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice(Record):
    OBJECT: ClassVar[str] = "invoices"
    number: str | None = None
    client_id: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    status: InvoiceStatus | None = None
    currency: str | None = None
    subtotal: Decimal | None = None
    tax: Decimal | None = None
    total_amount: Decimal | None = None
    amount_paid: Decimal | None = None
    paid_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceItem(Record):
    OBJECT: ClassVar[str] = "invoice_items"
    invoice_id: str | None = None
    session_id: str | None = None
    service_type_id: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment(Record):
    OBJECT: ClassVar[str] = "payments"
    invoice_id: str | None = None
    amount: Decimal | None = None
    paid_at: datetime | None = None
    method: PaymentMethod | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Activity(Record):
    OBJECT: ClassVar[str] = "activities"
    client_id: str | None = None
    kind: ActivityKind
    subject: str | None = None
    body: str | None = None
    direction: Direction | None = None
    occurred_at: datetime | None = None
    duration_minutes: int | None = None
    coach_id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FileRecord(Record):
    """A document on a client or a session: in the bundle (``path``), or *linked*: no path,
    a ``url`` or only a ``filename`` (a file the practice downloads separately, matched to
    the downloads folder by :mod:`crm_ferry.sources.downloads`)."""

    OBJECT: ClassVar[str] = "files"
    client_id: str | None = None
    session_id: str | None = None
    filename: str | None = None
    content_type: str | None = None
    size_bytes: int | None = None
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    uploaded_at: datetime | None = None

    @property
    def linked(self) -> bool:
        """Not in the bundle (no ``path``) but named by a ``url`` or a ``filename``."""
        return not self.path and bool(self.url or (self.filename or "").strip())

    @property
    def linked_name(self) -> str | None:
        """The name a linked file is looked for by: its ``filename``, else the last segment
        of its URL's path, URL-decoded (``Coaching%20contract.pdf`` → ``Coaching
        contract.pdf``); None when neither names a file."""
        name = (self.filename or "").strip()
        if name:
            return name
        if not self.url:
            return None
        segment = urlsplit(self.url.strip()).path.rstrip("/").rsplit("/", 1)[-1]
        return unquote(segment).strip() or None


@dataclass(frozen=True, slots=True, kw_only=True)
class Group(Record):
    """A client group (a cohort, a circle): its tags belong to every member in The Practice,
    though the export's ``clients.tags`` holds only each client's own."""

    OBJECT: ClassVar[str] = "groups"
    name: str | None = None
    tags: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    """Client ids (``members``, semicolon-separated); ``group_members`` rows add more."""
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupMember(Record):
    """One membership in long form; its id is ``<group_id>/<client_id>``."""

    OBJECT: ClassVar[str] = "group_members"
    group_id: str
    client_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Automation(Record):
    OBJECT: ClassVar[str] = "automations"
    name: str | None = None
    trigger: str | None = None
    active: bool | None = None
    steps: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailTemplate(Record):
    OBJECT: ClassVar[str] = "email_templates"
    name: str | None = None
    subject: str | None = None
    body_html: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Integration(Record):
    OBJECT: ClassVar[str] = "integrations"
    kind: str | None = None
    name: str | None = None
    details: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Report(Record):
    OBJECT: ClassVar[str] = "reports"
    name: str | None = None
    kind: str | None = None
    metrics: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """Export metadata from ``manifest.json`` (every field optional in the bundle)."""

    platform: str | None = None
    exported_at: datetime | None = None
    timezone: str = "UTC"
    currency: str | None = None
    date_format: DateFormat = "iso"


RECORD_TYPES: dict[str, type[Record]] = {
    cls.OBJECT: cls
    for cls in (
        User,
        Client,
        Group,
        GroupMember,
        ClientProperty,
        Family,
        ServiceType,
        Package,
        Session,
        SessionNote,
        Invoice,
        InvoiceItem,
        Payment,
        Activity,
        FileRecord,
        Automation,
        EmailTemplate,
        Integration,
        Report,
    )
}
"""Every object of the contract, by its file stem, in load-friendly order."""

REQUIRED_OBJECTS: tuple[str, ...] = ("users", "clients")
