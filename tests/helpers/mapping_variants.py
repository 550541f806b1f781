"""The labelled set of the map proposer: variant bundles with their expected decisions.

Each variant starts from a generated bundle and rewrites some object files the way other
exports look: headers renamed (to the reader's aliases, to SimplePractice, CoachAccountable
or Practice Better names, with typos), columns reordered, unknown columns added (some that
belong in a tenant column, some junk that must stay unmapped), CSV turned into JSON Lines.
Everything is deterministic (seeded) and written under a folder the caller chooses.

The expected decision of a header is the column its values should land in, as
``"<table>.<column>"`` on the object's primary role (falling back to its other roles in map
order, e.g. an organization's name on the account), or None when it must not be migrated.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_ferry.mapping.defaults import default_document
from crm_ferry.mapping.matcher import PRIMARY_ROLE
from crm_ferry.mapping.names import logical_name, schema_name
from crm_ferry.sources.generator import generate_bundle

Row = dict[str, Any]
Maker = Callable[[random.Random, Row], str]


@dataclass(frozen=True)
class Extra:
    header: str
    make: Maker
    expected: str | None
    """``table.column`` or None (junk)."""


@dataclass(frozen=True)
class ObjectChange:
    rename: dict[str, str] = field(default_factory=dict)
    """Canonical field -> header written in the variant."""
    extras: tuple[Extra, ...] = ()
    shuffle: bool = False
    fmt: str | None = None
    """Rewrite as ``csv`` or ``jsonl`` (None: keep the format)."""


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    changes: dict[str, ObjectChange]
    seed: int = 1
    clients: int = 24


@dataclass
class BuiltVariant:
    variant: Variant
    path: Path
    expected: dict[tuple[str, str], str | None]


# ---------------------------------------------------------------------------
# Value makers for extra columns


def _pick(*values: str) -> Maker:
    return lambda rng, row: rng.choice(values)


def _first(row: Row) -> str:
    return str(row.get("first_name") or row.get("FirstName") or "pat").lower() or "pat"


def _last(row: Row) -> str:
    return str(row.get("last_name") or "lee").lower().replace("'", "").replace(" ", "") or "lee"


def _date(rng: random.Random, row: Row) -> str:
    return f"{rng.randint(1995, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


JOB = _pick("Engineer", "VP Sales", "Teacher", "Nurse", "Founder", "Product Manager", "")
NICK = _pick("Sam", "Jo", "Bea", "Max", "", "")
MIDDLE = _pick("A.", "Lee", "Marie", "J.", "")
JUNK_BATCH = _pick("batch-2024-03", "batch-2024-04", "import-7")


def _website(rng: random.Random, row: Row) -> str:
    return f"https://{_last(row)}{rng.randint(1, 99)}.example.com"


def _work_email(rng: random.Random, row: Row) -> str:
    return f"{_first(row)}.{_last(row)}@work.example.org"


def _fax(rng: random.Random, row: Row) -> str:
    return f"(555) 555-{rng.randint(1000, 9999)}"


def _checksum(rng: random.Random, row: Row) -> str:
    return f"{rng.getrandbits(64):016x}"


def _legacy(rng: random.Random, row: Row) -> str:
    return f"LEG-{rng.randint(0, 99999):05d}"


def _flag(rng: random.Random, row: Row) -> str:
    return rng.choice(("Y", "N"))


def _ip(rng: random.Random, row: Row) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def _zoom(rng: random.Random, row: Row) -> str:
    return str(rng.randint(10**9, 10**10 - 1))


def _fee(rng: random.Random, row: Row) -> str:
    return f"{rng.randint(1, 900) / 100:.2f}"


def _bool(rng: random.Random, row: Row) -> str:
    return rng.choice(("true", "false"))


def _employees(rng: random.Random, row: Row) -> str:
    return str(rng.randint(1, 500))


def _not_a_date(rng: random.Random, row: Row) -> str:
    return rng.choice(("ask later", "n/a", "spring", "unknown"))


def _not_a_url(rng: random.Random, row: Row) -> str:
    return rng.choice(("none", "yes", "see notes", ""))


# ---------------------------------------------------------------------------
# The variants

ALIASES_CLIENTS = {
    "id": "Client ID",
    "first_name": "First Name",
    "last_name": "Surname",
    "full_name": "Full Name",
    "organization": "Company",
    "email": "Email Address",
    "phone": "Phone Number",
    "mobile": "Mobile Phone",
    "birth_date": "DOB",
    "postal_code": "Zip Code",
    "created_at": "Date Added",
    "updated_at": "Last Modified",
}

SIMPLEPRACTICE_CLIENTS = {
    "id": "Client ID",
    "first_name": "Client First Name",
    "last_name": "Client Last Name",
    "full_name": "Client Name",
    "email": "Email Address",
    "phone": "Phone Number",
    "mobile": "Mobile Phone",
    "address_line1": "Street Address",
    "address_line2": "Street Address Line 2",
    "postal_code": "Zip",
    "birth_date": "Date of Birth",
    "gender": "Sex",
    "status": "Client Status",
    "coach_id": "Clinician ID",
    "created_at": "Date Created",
}

SIMPLEPRACTICE_SESSIONS = {
    "id": "Appointment ID",
    "client_id": "Client ID",
    "coach_id": "Clinician ID",
    "start_at": "Date of Service",
    "end_at": "End Time",
    "status": "Appointment Status",
    "session_type": "Appointment Type",
    "billing_status": "Billing Status",
    "duration_minutes": "Duration",
    "price": "Rate",
}

SIMPLEPRACTICE_INVOICES = {
    "id": "Invoice ID",
    "number": "Invoice #",
    "client_id": "Client ID",
    "issue_date": "Invoice Date",
    "due_date": "Due Date",
    "status": "Invoice Status",
    "total_amount": "Invoice Total",
    "amount_paid": "Amount Paid",
    "paid_at": "Paid Date",
}

SIMPLEPRACTICE_PAYMENTS = {
    "id": "Payment ID",
    "invoice_id": "Invoice ID",
    "paid_at": "Payment Date",
    "method": "Payment Method",
    "reference": "Reference Number",
}

COACHACCOUNTABLE_CLIENTS = {
    "id": "ClientID",
    "first_name": "FirstName",
    "last_name": "LastName",
    "email": "EmailAddress",
    "organization": "Company",
    "mobile": "CellPhone",
    "phone": "HomePhone",
    "address_line1": "Address1",
    "address_line2": "Address2",
    "postal_code": "PostalCode",
    "birth_date": "Birthday",
    "time_zone": "TimeZone",
    "created_at": "DateCreated",
}

COACHACCOUNTABLE_SESSIONS = {
    "id": "AppointmentID",
    "client_id": "ClientID",
    "start_at": "StartTime",
    "end_at": "EndTime",
    "duration_minutes": "Duration",
    "session_type": "AppointmentType",
    "location": "Location",
}

PRACTICEBETTER_CLIENTS = {
    "email": "Client Email",
    "phone": "Primary Phone",
    "mobile": "Mobile Number",
    "address_line1": "Street",
    "postal_code": "Zip/Postal Code",
    "vertical": "Industry",
    "tags": "Labels",
    "primary_service": "Program",
    "family_id": "Household ID",
    "gender": "Sex",
    "created_at": "Client Since",
}

PRACTICEBETTER_INVOICES = {
    "number": "Invoice No",
    "issue_date": "Issued",
    "total_amount": "Grand Total",
    "subtotal": "Sub Total",
    "tax": "Sales Tax",
}

TYPO_CLIENTS = {
    "first_name": "Frist Name",
    "last_name": "Last Nmae",
    "address_line1": "Adress Line 1",
    "city": "Cty",
    "country": "Countrey",
    "birth_date": "Birth Date",
    "on_track_status": "On-Track",
}

GOOD_EXTRAS = (
    Extra("Job Title", JOB, "contact.jobtitle"),
    Extra("Nickname", NICK, "contact.nickname"),
    Extra("Website", _website, "contact.websiteurl"),
)
JUNK = (
    Extra("Import Batch", JUNK_BATCH, None),
    Extra("Row Checksum", _checksum, None),
    Extra("Legacy System Ref", _legacy, None),
)

VARIANTS: tuple[Variant, ...] = (
    Variant(
        "aliases",
        "headers renamed to the reader's aliases, columns reordered",
        {
            "clients": ObjectChange(rename=ALIASES_CLIENTS, shuffle=True),
            "sessions": ObjectChange(
                rename={"start_at": "Start Time", "created_at": "Created"}, shuffle=True
            ),
            "invoices": ObjectChange(rename={"total_amount": "Total"}, shuffle=True),
        },
        seed=2,
    ),
    Variant(
        "simplepractice",
        "SimplePractice export names, extra columns (job title, junk)",
        {
            "clients": ObjectChange(
                rename=SIMPLEPRACTICE_CLIENTS,
                extras=(
                    Extra("Preferred Name", NICK, "contact.nickname"),
                    Extra("Occupation", JOB, "contact.jobtitle"),
                    Extra("Insurance Payer", _pick("Aetna", "BCBS", "Self-pay"), None),
                    Extra("Legacy EHR ID", _legacy, None),
                ),
            ),
            "sessions": ObjectChange(rename=SIMPLEPRACTICE_SESSIONS),
            "invoices": ObjectChange(rename=SIMPLEPRACTICE_INVOICES),
            "payments": ObjectChange(rename=SIMPLEPRACTICE_PAYMENTS),
        },
        seed=3,
    ),
    Variant(
        "coachaccountable_jsonl",
        "CoachAccountable names, clients and sessions as JSON Lines",
        {
            "clients": ObjectChange(
                rename=COACHACCOUNTABLE_CLIENTS,
                extras=(
                    Extra("JobTitle", JOB, "contact.jobtitle"),
                    Extra("Website", _website, "contact.websiteurl"),
                    Extra("CA_InternalFlag", _flag, None),
                    Extra("LastLoginIP", _ip, None),
                ),
                fmt="jsonl",
                shuffle=True,
            ),
            "sessions": ObjectChange(rename=COACHACCOUNTABLE_SESSIONS, fmt="jsonl"),
        },
        seed=4,
    ),
    Variant(
        "extras",
        "canonical names shuffled, extra columns for tenant columns and junk",
        {
            "clients": ObjectChange(
                extras=(
                    *GOOD_EXTRAS,
                    Extra("Middle Name", MIDDLE, "contact.middlename"),
                    Extra("Fax", _fax, "contact.fax"),
                    Extra("Secondary Email", _work_email, "contact.emailaddress2"),
                    Extra("Anniversary", _date, "contact.anniversary"),
                    Extra("Number of Employees", _employees, "account.numberofemployees"),
                    *JUNK,
                ),
                shuffle=True,
            ),
        },
        seed=5,
    ),
    Variant(
        "typos",
        "misspelt headers",
        {"clients": ObjectChange(rename=TYPO_CLIENTS, extras=JUNK)},
        seed=6,
    ),
    Variant(
        "type_traps",
        "names that suggest a column whose type the values do not fit",
        {
            "clients": ObjectChange(
                extras=(
                    Extra("Work Email", _work_email, "contact.emailaddress2"),
                    Extra("Website", _not_a_url, None),
                    Extra("Anniversary", _not_a_date, None),
                    Extra("Fax", _work_email, None),
                    Extra("Sync Flag", _flag, None),
                ),
                shuffle=True,
            ),
            "payments": ObjectChange(extras=(Extra("Stripe Fee", _fee, None),)),
            "sessions": ObjectChange(
                extras=(
                    Extra("Zoom Meeting ID", _zoom, None),
                    Extra("Reminder Sent", _bool, None),
                )
            ),
        },
        seed=7,
    ),
    Variant(
        "practicebetter",
        "Practice Better names, invoices renamed",
        {
            "clients": ObjectChange(
                rename=PRACTICEBETTER_CLIENTS,
                extras=(Extra("Job Title", JOB, "contact.jobtitle"), *JUNK[:1]),
            ),
            "invoices": ObjectChange(rename=PRACTICEBETTER_INVOICES, shuffle=True),
        },
        seed=8,
    ),
    Variant(
        "all_jsonl",
        "every CSV object as JSON Lines, reordered, with a few renames",
        {
            "clients": ObjectChange(
                rename={"postal_code": "Zip", "birth_date": "Date of Birth"},
                extras=GOOD_EXTRAS[:2],
                fmt="jsonl",
                shuffle=True,
            ),
            "client_properties": ObjectChange(fmt="jsonl"),
            "sessions": ObjectChange(rename={"start_at": "Session Date"}, fmt="jsonl"),
            "invoices": ObjectChange(fmt="jsonl", shuffle=True),
            "invoice_items": ObjectChange(
                rename={"quantity": "Qty", "unit_price": "Unit Price"}, fmt="jsonl"
            ),
            "payments": ObjectChange(fmt="jsonl"),
            "families": ObjectChange(fmt="jsonl"),
        },
        seed=9,
    ),
    Variant(
        "activities_and_items",
        "activities, invoice lines and service types under other names",
        {
            "activities": ObjectChange(
                rename={
                    "kind": "Activity Type",
                    "occurred_at": "Activity Date",
                    "body": "Notes",
                    "coach_id": "Coach ID",
                },
                extras=(Extra("Import Batch", JUNK_BATCH, None),),
            ),
            "invoice_items": ObjectChange(
                rename={"description": "Item Description", "amount": "Line Total"},
                fmt="csv",
                shuffle=True,
            ),
            "service_types": ObjectChange(
                rename={"name": "Service Name", "default_rate": "Standard Rate"},
                fmt="csv",
            ),
        },
        seed=10,
    ),
)


# ---------------------------------------------------------------------------
# Building


def _read_rows(path: Path) -> list[Row]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            return [dict(r) for r in csv.DictReader(f)]
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    data = json.loads(path.read_text("utf-8"))
    return list(data) if isinstance(data, list) else [data]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _write_rows(path: Path, headers: list[str], rows: list[Row]) -> None:
    if path.suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(headers)
        for r in rows:
            w.writerow([_cell(r.get(h)) for h in headers])
        path.write_text(buf.getvalue(), encoding="utf-8")
    else:
        lines = [json.dumps({h: r.get(h) for h in headers}, ensure_ascii=False) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _default_columns() -> dict[str, dict[str, str | None]]:
    """Per object: canonical field -> expected ``table.column`` (primary role first)."""
    doc = default_document("new")
    out: dict[str, dict[str, str | None]] = {}
    by_source: dict[str, list[str]] = {}
    for role, t in doc["targets"].items():
        by_source.setdefault(t["source"], []).append(role)
    for obj, roles in by_source.items():
        primary = PRIMARY_ROLE.get(obj, roles[0])
        roles.sort(key=lambda r: r != primary)
        fields: dict[str, str | None] = {}
        for role in roles:
            t = doc["targets"][role]
            for name, fd in t["fields"].items():
                if fields.get(name) is None:
                    fields[name] = f"{t['table']}.{fd['column']}" if fd["column"] else None
        out[obj] = fields
    return out


def _custom_column(key: str) -> str:
    return "contact." + logical_name(schema_name("new", key))


def build_variant(variant: Variant, root: Path) -> BuiltVariant:
    base = root / f"{variant.name}-base"
    if not base.exists():
        generate_bundle(base, clients=variant.clients, seed=variant.seed)
    out = root / variant.name
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    rng = random.Random(f"variant:{variant.name}")
    defaults = _default_columns()
    expected: dict[tuple[str, str], str | None] = {}
    for file in sorted(out.iterdir()):
        if not file.is_file() or file.suffix not in (".csv", ".jsonl", ".json"):
            continue
        obj = file.stem
        if obj not in defaults and obj != "client_properties":
            continue
        change = variant.changes.get(obj, ObjectChange())
        rows = _read_rows(file)
        headers = list(rows[0]) if rows else []
        for r in rows:
            for h in r:
                if h not in headers:
                    headers.append(h)
        new_headers: list[str] = []
        for h in headers:
            written = change.rename.get(h, h)
            new_headers.append(written)
            if obj == "client_properties":
                continue
            if h.startswith("custom:"):
                expected[(obj, written)] = _custom_column(h[len("custom:") :])
            else:
                expected[(obj, written)] = defaults[obj].get(h)
        renamed = [{change.rename.get(k, k): v for k, v in r.items()} for r in rows]
        for extra in change.extras:
            new_headers.append(extra.header)
            expected[(obj, extra.header)] = extra.expected
            for r in renamed:
                r[extra.header] = extra.make(rng, r)
        if change.shuffle:
            rng.shuffle(new_headers)
        if obj == "client_properties":
            for r in rows:
                expected[(obj, str(r["key"]))] = _custom_column(str(r["key"]))
        target = file
        if change.fmt is not None and file.suffix != f".{change.fmt}":
            file.unlink()
            target = file.with_suffix(f".{change.fmt}")
        if change.rename or change.extras or change.shuffle or target != file:
            _write_rows(target, new_headers, renamed)
    return BuiltVariant(variant, out, expected)


# ---------------------------------------------------------------------------
# Scoring


@dataclass
class Score:
    name: str
    expected_mapped: int = 0
    proposals: int = 0
    correct: int = 0
    hard_expected: int = 0
    hard_correct: int = 0
    wrong: list[tuple[str, str, str | None, str | None, float, str]] = field(default_factory=list)
    """(object, header, proposed, expected, confidence, reason) of every wrong proposal."""
    missed: list[tuple[str, str, str | None, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.proposals if self.proposals else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected_mapped if self.expected_mapped else 1.0


def proposed_columns(proposal: Any) -> dict[tuple[str, str], tuple[str | None, float, str]]:
    """(object, header) -> (``table.column`` of the primary role first, confidence, reason)."""
    grouped: dict[tuple[str, str], list[Any]] = {}
    for d in proposal.decisions:
        if d.header is not None:
            grouped.setdefault((d.object, d.header), []).append(d)
    out: dict[tuple[str, str], tuple[str | None, float, str]] = {}
    for key, ds in grouped.items():
        obj = key[0]
        primary = PRIMARY_ROLE.get(obj, "contact")
        ds.sort(key=lambda d: d.role != primary)
        chosen = next((d for d in ds if d.column), ds[0])
        column = f"{chosen.table}.{chosen.column}" if chosen.column else None
        out[key] = (column, chosen.confidence, chosen.reason)
    return out


def score(
    name: str,
    proposal: Any,
    expected: dict[tuple[str, str], str | None],
    hard: set[tuple[str, str]] | None = None,
) -> Score:
    """Precision and recall of ``proposal`` against ``expected``; ``hard`` are the headers
    the reader does not resolve by itself."""
    got = proposed_columns(proposal)
    s = Score(name)
    for key, want in sorted(expected.items()):
        column, conf, reason = got.get(key, (None, 0.0, "no decision"))
        if want is not None:
            s.expected_mapped += 1
        if column is not None:
            s.proposals += 1
            if column == want:
                s.correct += 1
            else:
                s.wrong.append((key[0], key[1], column, want, conf, reason))
        elif want is not None:
            s.missed.append((key[0], key[1], want, reason))
        if hard is not None and key in hard and want is not None:
            s.hard_expected += 1
            s.hard_correct += int(column == want)
    return s
