"""The bundle contract as data: which fields each object has, their kinds, and header aliases.

Everything the reader knows about the export format lives here, so a change to the
contract is a change to one table. Headers are matched on a *normalised* form (lower case,
spaces, underscores and hyphens removed), so ``First Name``, ``first_name``, ``firstName``
and ``FIRST-NAME`` are the same header.

Two objects beyond the contract's table carry client groups, both optional: ``groups``
(``id``, ``name``, ``tags`` and ``members``, both semicolon-separated, the members being
client ids, and ``created_at``; headers such as "Group ID", "Group Name", "Members" and
"Client IDs" are accepted) and ``group_members`` in long form (``group_id``, ``client_id``;
"Group ID", "Client ID"). A group's members are the union of both. The export loses group
inheritance, so the reader gives each client its *effective* tags
(:mod:`crm_ferry.sources.groups`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, get_args

from crm_ferry import model

# Field kinds. An enum is given by its tuple of allowed (lower-case) values.
ID: Final = "id"
"""Opaque, required, non-empty, unique within its file."""
REF: Final = "ref"
"""An id of another object (stripped; empty = no reference)."""
STR: Final = "str"
"""A short string: surrounding whitespace is removed, blank means null."""
TEXT: Final = "text"
"""Free text kept exactly as written (blank means null)."""
TS: Final = "ts"
DATE: Final = "date"
MONEY: Final = "money"
INT: Final = "int"
DECIMAL: Final = "decimal"
BOOL: Final = "bool"
TAGS: Final = "tags"
JSON: Final = "json"
"""Free-form structured data (JSON bundles: any value; CSV: a JSON text, else the string)."""
SESSION_TYPE: Final = "session_type"
"""Free text, normalised to one of :data:`crm_ferry.model.SESSION_TYPES` when it is one."""
EMAIL: Final = "email"
"""A string compared case-insensitively (stripped, kept as written)."""

Kind = str | tuple[str, ...]


def _enum(literal: object) -> tuple[str, ...]:
    return tuple(str(v) for v in get_args(literal))


_TS_FIELDS = {"created_at": TS, "updated_at": TS}

FIELDS: Final[Mapping[str, Mapping[str, Kind]]] = {
    "users": {
        "id": ID,
        "email": EMAIL,
        "first_name": STR,
        "last_name": STR,
        "role": _enum(model.UserRole),
        "active": BOOL,
        "time_zone": STR,
        "created_at": TS,
    },
    "clients": {
        "id": ID,
        "type": _enum(model.ClientType),
        "first_name": STR,
        "last_name": STR,
        "full_name": STR,
        "organization": STR,
        "email": EMAIL,
        "phone": STR,
        "mobile": STR,
        "address_line1": STR,
        "address_line2": STR,
        "city": STR,
        "state": STR,
        "postal_code": STR,
        "country": STR,
        "birth_date": DATE,
        "gender": STR,
        "time_zone": STR,
        "status": _enum(model.ClientStatus),
        "on_track_status": _enum(model.OnTrackStatus),
        "coach_id": REF,
        "coach_email": EMAIL,
        "vertical": STR,
        "family_id": REF,
        "tags": TAGS,
        "primary_service": STR,
        **_TS_FIELDS,
    },
    "client_properties": {"client_id": REF, "key": STR, "value": TEXT},
    "families": {"id": ID, "name": STR, "created_at": TS},
    "groups": {"id": ID, "name": STR, "tags": TAGS, "members": TAGS, "created_at": TS},
    "group_members": {"group_id": REF, "client_id": REF},
    "service_types": {
        "id": ID,
        "name": STR,
        "default_rate": MONEY,
        "duration_minutes": INT,
        "active": BOOL,
    },
    "packages": {
        "id": ID,
        "client_id": REF,
        "name": STR,
        "sessions_total": INT,
        "sessions_remaining": INT,
        "price": MONEY,
        "currency": STR,
        "status": _enum(model.PackageStatus),
        "start_date": DATE,
        "end_date": DATE,
    },
    "sessions": {
        "id": ID,
        "client_id": REF,
        "coach_id": REF,
        "coach_email": EMAIL,
        "service_type_id": REF,
        "package_id": REF,
        "session_type": SESSION_TYPE,
        "status": _enum(model.SessionStatus),
        "billing_status": _enum(model.BillingStatus),
        "start_at": TS,
        "end_at": TS,
        "duration_minutes": INT,
        "location": STR,
        "price": MONEY,
        "currency": STR,
        **_TS_FIELDS,
    },
    "session_notes": {
        "id": ID,
        "session_id": REF,
        "client_id": REF,
        "author_id": REF,
        "title": STR,
        "body_html": TEXT,
        **_TS_FIELDS,
    },
    "invoices": {
        "id": ID,
        "number": STR,
        "client_id": REF,
        "issue_date": DATE,
        "due_date": DATE,
        "status": _enum(model.InvoiceStatus),
        "currency": STR,
        "subtotal": MONEY,
        "tax": MONEY,
        "total_amount": MONEY,
        "amount_paid": MONEY,
        "paid_at": TS,
        **_TS_FIELDS,
    },
    "invoice_items": {
        "id": ID,
        "invoice_id": REF,
        "session_id": REF,
        "service_type_id": REF,
        "description": TEXT,
        "quantity": DECIMAL,
        "unit_price": MONEY,
        "amount": MONEY,
    },
    "payments": {
        "id": ID,
        "invoice_id": REF,
        "amount": MONEY,
        "paid_at": TS,
        "method": _enum(model.PaymentMethod),
        "reference": STR,
    },
    "activities": {
        "id": ID,
        "client_id": REF,
        "kind": _enum(model.ActivityKind),
        "subject": STR,
        "body": TEXT,
        "direction": _enum(model.Direction),
        "occurred_at": TS,
        "duration_minutes": INT,
        "coach_id": REF,
        "created_at": TS,
    },
    "files": {
        "id": ID,
        "client_id": REF,
        "session_id": REF,
        "filename": STR,
        "content_type": STR,
        "size_bytes": INT,
        "path": STR,
        "url": STR,
        "sha256": STR,
        "uploaded_at": TS,
    },
    "automations": {"id": ID, "name": STR, "trigger": STR, "active": BOOL, "steps": JSON},
    "email_templates": {"id": ID, "name": STR, "subject": STR, "body_html": TEXT},
    "integrations": {"id": ID, "kind": STR, "name": STR, "details": JSON},
    "reports": {"id": ID, "name": STR, "kind": STR, "metrics": JSON},
}
"""Every object of the contract -> its canonical fields and their kinds."""

READ_ORDER: Final[tuple[str, ...]] = (
    "users",
    "families",
    "clients",
    "groups",
    "group_members",
    "client_properties",
    "service_types",
    "packages",
    "sessions",
    "session_notes",
    "invoices",
    "invoice_items",
    "payments",
    "activities",
    "files",
    "automations",
    "email_templates",
    "integrations",
    "reports",
)
"""Parents before children, so one streaming pass can check every reference."""

PARENTS: Final[frozenset[str]] = frozenset(
    {"users", "families", "clients", "groups", "service_types", "packages", "sessions", "invoices"}
)
"""Objects other objects refer to: the reader keeps their id tables after reading them."""

REQUIRED_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "client_properties": ("client_id", "key"),
    "group_members": ("group_id", "client_id"),
}
"""Fields (besides ``id``) a row cannot be accepted without."""

COMPOSITE_IDS: Final[Mapping[str, tuple[str, ...]]] = REQUIRED_FIELDS
"""Objects without an id column: a row's id is these fields joined by ``/``
(``<client_id>/<key>``, ``<group_id>/<client_id>``), unique within the file."""


def normalise_header(header: str) -> str:
    """The form headers are compared in: lower case without spaces, ``_`` and ``-``."""
    return "".join(ch for ch in header.casefold() if ch not in " _-\t")


_ALIASES: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    # canonical, aliases, only in this object (None = wherever the field exists)
    ("id", ("ID", "Record ID"), None),
    ("id", ("Client ID",), "clients"),
    ("id", ("Group ID",), "groups"),
    ("name", ("Group Name", "Group"), "groups"),
    ("members", ("Members", "Client IDs", "Member IDs"), "groups"),
    ("group_id", ("Group ID", "Group"), "group_members"),
    ("client_id", ("Client ID", "Member", "Member ID"), "group_members"),
    ("first_name", ("First Name", "firstName", "Given Name"), None),
    ("last_name", ("Last Name", "lastName", "Surname", "Family Name"), None),
    ("full_name", ("Name", "Client Name", "Full Name", "Client"), None),
    ("organization", ("Company", "Company Name", "Organisation", "Business"), None),
    ("email", ("Email Address", "E-mail"), None),
    ("phone", ("Phone Number", "Telephone", "Home Phone"), None),
    ("mobile", ("Mobile Phone", "Cell", "Cell Phone"), None),
    ("birth_date", ("DOB", "Date of Birth", "Birthday"), None),
    ("postal_code", ("Zip", "Zip Code", "Postcode", "Postal Code"), None),
    (
        "coach_email",
        ("Coach", "Coach Email", "Clinician", "Assigned Coach", "Primary Clinician"),
        None,
    ),
    ("start_at", ("Start", "Start Time", "Date of Service", "Session Date"), None),
    ("total_amount", ("Total", "Total Amount"), None),
    ("total_amount", ("Amount",), "invoices"),
    ("created_at", ("Date Added", "Created", "createdAt"), None),
    ("updated_at", ("Last Modified", "Modified", "updatedAt"), None),
)


def _alias_index() -> dict[str, dict[str, str]]:
    index: dict[str, dict[str, str]] = {}
    for obj, fields in FIELDS.items():
        table = index.setdefault(obj, {})
        for canonical, aliases, only in _ALIASES:
            if canonical not in fields or (only is not None and only != obj):
                continue
            for alias in aliases:
                table.setdefault(normalise_header(alias), canonical)
    return index


ALIASES: Final[Mapping[str, Mapping[str, str]]] = _alias_index()
"""Per object: normalised alias -> canonical field (only fields the object has)."""

CANONICAL: Final[Mapping[str, Mapping[str, str]]] = {
    obj: {normalise_header(name): name for name in fields} for obj, fields in FIELDS.items()
}
"""Per object: normalised canonical name -> canonical field."""

CUSTOM_PREFIX: Final = "custom:"
