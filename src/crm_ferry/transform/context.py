"""What a record's transform needs to know about *other* records.

A session's name needs its client's name; an invoice's customer is a contact or an account
depending on its client's type; a note hangs off a session that must exist. The load
builds a :class:`TransformContext` once with a :class:`ContextBuilder`, from a cheap first
pass over the bundle (clients, families, service types, sessions, invoices and their lines),
and hands it to the transformer; a reference that is not in the context is a dangling
reference and its record is rejected.

Building the context is pure (records in, index out); reading attachment bytes is the one
thing transform does through the context, by an injected callable. Where each linked file
(no path in the bundle) was found among the separately downloaded files is in
:attr:`TransformContext.linked`; the callable reads a matched one by its key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from crm_ferry.model import Client, Family, Invoice, InvoiceItem, Record, ServiceType, Session

if TYPE_CHECKING:
    from crm_ferry.sources.downloads import LinkedMatch

__all__ = [
    "AttachmentDigest",
    "AttachmentSize",
    "ClientRef",
    "ContextBuilder",
    "InvoiceRef",
    "ReadAttachment",
    "SessionRef",
    "SharePointPlan",
    "TransformContext",
]

ReadAttachment = Callable[[str], bytes]
"""``read_attachment(relpath) -> bytes`` for a file inside the bundle (or a matched
download, by its :attr:`~crm_ferry.sources.downloads.LinkedMatch.key`); raises ``OSError``
(``FileNotFoundError``) or ``KeyError`` when it is not there, and
:class:`~crm_ferry.errors.SourceError` when the bundle refuses it (outside the bundle, too
large): each is a reject of that record."""

AttachmentSize = Callable[[str], "int | None"]
"""``attachment_size(relpath) -> bytes`` (None when unknown): checked before reading."""

AttachmentDigest = Callable[[str], str]
"""``attachment_sha256(relpath) -> hex``: the SHA-256 of a file too large to be read into a
payload (it goes in blocks), computed piece by piece; raises as :data:`ReadAttachment`."""


@dataclass(frozen=True, slots=True)
class SharePointPlan:
    """Where documents go in SharePoint: the site, and the rows the tenant already has for
    it (read before the load; those it lacks are written by the load)."""

    site_url: str
    site_id: str | None = None
    """The tenant's ``sharepointsite`` of that URL, if it has one."""
    libraries: Mapping[str, str] = field(default_factory=dict)
    """Table → the tenant's ``sharepointdocumentlocation`` of its library under the site."""


@dataclass(frozen=True, slots=True)
class ClientRef:
    id: str
    type: str
    """``individual`` or ``organization``."""
    name: str
    """The person's full name, or the organization's name when there is no person."""
    coach_id: str | None = None
    family_id: str | None = None
    organization: str | None = None
    coach_email: str | None = None

    @property
    def is_organization(self) -> bool:
        return self.type == "organization"


@dataclass(frozen=True, slots=True)
class SessionRef:
    id: str
    client_id: str | None = None
    coach_id: str | None = None
    day: date | None = None
    """The session's date (its start, in the export's time zone)."""
    session_type: str | None = None
    coach_email: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceRef:
    id: str
    number: str | None = None
    client_id: str | None = None
    currency: str | None = None
    tax: Decimal | None = None
    """The invoice's tax, carried on its lines (Dataverse adds the lines' tax up)."""


InvoiceLines = tuple[tuple[str, Decimal], ...]
"""An invoice's lines as ``(line id, amount)``, in the order the export lists them."""


def client_name(c: Client) -> str:
    return c.display_name


@dataclass(frozen=True, slots=True)
class TransformContext:
    clients: Mapping[str, ClientRef] = field(default_factory=dict)
    families: frozenset[str] = frozenset()
    service_types: Mapping[str, str] = field(default_factory=dict)
    """Service type id → its name."""
    sessions: Mapping[str, SessionRef] = field(default_factory=dict)
    invoices: Mapping[str, InvoiceRef] = field(default_factory=dict)
    invoice_lines: Mapping[str, InvoiceLines] = field(default_factory=dict)
    """Invoice id → its lines (what the invoice's tax is spread over)."""
    read_attachment: ReadAttachment | None = None
    default_currency: str | None = None
    """The export's currency (manifest), for rows that name none."""
    attachment_size: AttachmentSize | None = None
    """The size of an attachment before it is read (one over the upload limit is not)."""
    attachment_sha256: AttachmentDigest | None = None
    """The digest of an attachment that goes in blocks (it is not read into the payload)."""
    sharepoint: SharePointPlan | None = None
    """Where documents the map sends to SharePoint go (None: no site is set)."""
    linked: Mapping[str, LinkedMatch] = field(default_factory=dict)
    """File id → where its linked file (no path in the bundle) is among the downloads:
    matched (its key for :attr:`read_attachment`), missing or ambiguous, and why."""


RefTable = Callable[[str], MutableMapping[str, Any]]
"""Where the builder keeps one kind of reference (``clients``, ``sessions``, ``invoices``):
a dictionary by default; the load passes tables on disk for large bundles."""


class ContextBuilder:
    """Collects the context from records as a first pass reads them (any order)."""

    def __init__(self, table: RefTable | None = None) -> None:
        make = table or (lambda _name: {})
        self.clients: MutableMapping[str, ClientRef] = make("clients")
        self.families: set[str] = set()
        self.service_types: dict[str, str] = {}
        self.sessions: MutableMapping[str, SessionRef] = make("sessions")
        self.invoices: MutableMapping[str, InvoiceRef] = make("invoices")
        self.invoice_lines: MutableMapping[str, InvoiceLines] = make("invoice_lines")

    OBJECTS = ("clients", "families", "service_types", "sessions", "invoices", "invoice_items")
    """The objects worth reading in the first pass."""

    def add(self, record: Record) -> None:
        if isinstance(record, Client):
            self.clients[record.id] = ClientRef(
                id=record.id,
                type=record.type,
                name=client_name(record),
                coach_id=record.coach_id,
                family_id=record.family_id,
                organization=record.organization,
                coach_email=record.coach_email,
            )
        elif isinstance(record, Family):
            self.families.add(record.id)
        elif isinstance(record, ServiceType):
            self.service_types[record.id] = record.name or record.id
        elif isinstance(record, Session):
            start = record.start_at
            self.sessions[record.id] = SessionRef(
                id=record.id,
                client_id=record.client_id,
                coach_id=record.coach_id,
                day=start.date() if isinstance(start, datetime) else None,
                session_type=record.session_type,
                coach_email=record.coach_email,
            )
        elif isinstance(record, Invoice):
            self.invoices[record.id] = InvoiceRef(
                id=record.id,
                number=record.number,
                client_id=record.client_id,
                currency=record.currency,
                tax=record.tax,
            )
        elif isinstance(record, InvoiceItem) and record.invoice_id:
            amount = record.amount
            if amount is None and record.quantity is not None and record.unit_price is not None:
                amount = record.quantity * record.unit_price
            known = self.invoice_lines.get(record.invoice_id, ())
            self.invoice_lines[record.invoice_id] = (*known, (record.id, amount or Decimal(0)))

    def build(
        self,
        *,
        read_attachment: ReadAttachment | None = None,
        default_currency: str | None = None,
        attachment_size: AttachmentSize | None = None,
        attachment_sha256: AttachmentDigest | None = None,
        linked: Mapping[str, LinkedMatch] | None = None,
    ) -> TransformContext:
        return TransformContext(
            clients=_read_only(self.clients),
            families=frozenset(self.families),
            service_types=MappingProxyType(dict(self.service_types)),
            sessions=_read_only(self.sessions),
            invoices=_read_only(self.invoices),
            invoice_lines=_read_only(self.invoice_lines),
            read_attachment=read_attachment,
            default_currency=default_currency,
            attachment_size=attachment_size,
            attachment_sha256=attachment_sha256,
            linked=MappingProxyType(dict(linked or {})),
        )


def _read_only(refs: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """A dictionary behind a read-only view; a table on disk as it is (the builder is done
    with it and nothing else writes to it)."""
    return MappingProxyType(refs) if isinstance(refs, dict) else refs
