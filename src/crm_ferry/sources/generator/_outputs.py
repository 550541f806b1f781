"""The files of a generated bundle: each object's file name, and the per-row files' columns.

The configuration objects (service types, automations, templates, integrations, reports)
and the manifest are small JSON documents written whole (:func:`._io.write_json`); every
other object grows with the practice and is written row by row, to the writers of
:class:`Outputs`, open together for the whole pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from crm_ferry.sources.generator._io import CsvOut, JsonlOut

OBJECT_FILES: dict[str, str] = {
    "users": "users.csv",
    "clients": "clients.csv",
    "groups": "groups.csv",
    "group_members": "group_members.csv",
    "client_properties": "client_properties.csv",
    "families": "families.csv",
    "service_types": "service_types.json",
    "packages": "packages.csv",
    "sessions": "sessions.csv",
    "session_notes": "session_notes.jsonl",
    "invoices": "invoices.csv",
    "invoice_items": "invoice_items.csv",
    "payments": "payments.csv",
    "activities": "activities.jsonl",
    "files": "files.csv",
    "automations": "automations.json",
    "email_templates": "email_templates.json",
    "integrations": "integrations.json",
    "reports": "reports.json",
}
"""Every object of the contract and the file the generator writes it to."""

USER_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "role",
    "active",
    "time_zone",
    "created_at",
)
CLIENT_FIELDS = (
    "id", "type", "first_name", "last_name", "full_name", "organization", "email", "phone",
    "mobile", "address_line1", "address_line2", "city", "state", "postal_code", "country",
    "birth_date", "gender", "time_zone", "status", "on_track_status", "coach_id",
    "coach_email", "vertical", "family_id", "tags", "primary_service", "created_at",
    "updated_at",
)  # fmt: skip
CUSTOM_COLUMNS: dict[str, str] = {
    "intake_date": "date",
    "session_goal": "number",
    "newsletter_opt_in": "boolean",
    "referral_source": "choice",
    "coaching_goals": "text",
}
"""Custom properties written as ``custom:<key>`` columns of clients, with their intended type."""
LONG_PROPERTIES: dict[str, str] = {
    "last_assessment_date": "date",
    "monthly_budget": "number",
    "prefers_video": "boolean",
    "communication_preference": "choice",
    "background_notes": "text",
}
"""Custom properties written in long form to client_properties, with their intended type."""
FAMILY_FIELDS = ("id", "name", "created_at")
PACKAGE_FIELDS = (
    "id", "client_id", "name", "sessions_total", "sessions_remaining", "price", "currency",
    "status", "start_date", "end_date",
)  # fmt: skip
SESSION_FIELDS = (
    "id", "client_id", "coach_id", "service_type_id", "package_id", "session_type", "status",
    "billing_status", "start_at", "end_at", "duration_minutes", "location", "price", "currency",
    "created_at", "updated_at",
)  # fmt: skip
NOTE_FIELDS = (
    "id", "session_id", "client_id", "author_id", "title", "body_html", "created_at",
    "updated_at",
)  # fmt: skip
INVOICE_FIELDS = (
    "id", "number", "client_id", "issue_date", "due_date", "status", "currency", "subtotal",
    "tax", "total_amount", "amount_paid", "paid_at", "created_at", "updated_at",
)  # fmt: skip
ITEM_FIELDS = (
    "id", "invoice_id", "session_id", "service_type_id", "description", "quantity",
    "unit_price", "amount",
)  # fmt: skip
PAYMENT_FIELDS = ("id", "invoice_id", "amount", "paid_at", "method", "reference")
ACTIVITY_FIELDS = (
    "id", "client_id", "kind", "subject", "body", "direction", "occurred_at",
    "duration_minutes", "coach_id", "created_at",
)  # fmt: skip
FILE_FIELDS = (
    "id", "client_id", "session_id", "filename", "content_type", "size_bytes", "path", "url",
    "sha256", "uploaded_at",
)  # fmt: skip


class RowOut(Protocol):
    """What the simulation writes rows to: a file's or a sheet's writer."""

    @property
    def count(self) -> int: ...

    def write(self, row: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


class Sheets(Protocol):
    """Where the objects written to sheets go (``_workbook.Books``)."""

    def holds(self, obj: str) -> bool: ...

    def sheet(self, obj: str, fields: tuple[str, ...]) -> RowOut: ...


_FIELDS: dict[str, tuple[str, ...]] = {
    "users": USER_FIELDS,
    "clients": (*CLIENT_FIELDS, *(f"custom:{k}" for k in CUSTOM_COLUMNS)),
    "client_properties": ("client_id", "key", "value"),
    "families": FAMILY_FIELDS,
    "packages": PACKAGE_FIELDS,
    "sessions": SESSION_FIELDS,
    "session_notes": NOTE_FIELDS,
    "invoices": INVOICE_FIELDS,
    "invoice_items": ITEM_FIELDS,
    "payments": PAYMENT_FIELDS,
    "activities": ACTIVITY_FIELDS,
    "files": FILE_FIELDS,
}
"""The per-row objects and their columns, in the order their files are opened."""


class Outputs(dict[str, RowOut]):
    """Every per-row file (or sheet) of the bundle, open together for the single pass over
    clients; ``sheets`` takes the objects it holds (the workbook variant)."""

    def __init__(self, root: Path, sheets: Sheets | None = None, *, bad_rows: bool = False) -> None:
        super().__init__()
        for obj, fields in _FIELDS.items():
            out: RowOut
            if sheets is not None and sheets.holds(obj):
                out = sheets.sheet(obj, fields)
            elif OBJECT_FILES[obj].endswith(".jsonl"):
                out = JsonlOut(root / OBJECT_FILES[obj], fields)
            else:
                crlf = obj == "clients"  # a spreadsheet's export: BOM and CRLF
                out = CsvOut(root / OBJECT_FILES[obj], fields, bom=crlf, crlf=crlf)
            self[obj] = Planted(out, BAD_VALUES[obj]) if bad_rows and obj in BAD_VALUES else out

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.values():
            w.close()


BAD_VALUES: dict[str, tuple[tuple[str, str], ...]] = {
    "clients": (("birth_date", "31/02/1990"), ("created_at", "yesterday"), ("status", "paused")),
    "sessions": (("price", "$150.00"), ("start_at", "2024-13-01T10:00:00")),
    "invoices": (("total_amount", "12,34.5"), ("issue_date", "2024-02-30")),
}
"""Per object, the bad values :class:`Planted` rows hold (one per planted row, in turn)."""
PLANT_EVERY = 97
"""A planted row follows every 97th row of an object that has :data:`BAD_VALUES`."""


class Planted:
    """A writer that plants rows the reader must reject (``generate_bundle(bad_rows=True)``).

    After every :data:`PLANT_EVERY`-th row: a copy of it under a new id with one bad value
    (:data:`BAD_VALUES`, in turn); after every third such copy, the row itself once more
    (a duplicate id); after the second, an empty row. Nothing refers to a planted row, so
    no reference changes; :attr:`planted` counts them."""

    def __init__(self, out: RowOut, bad: tuple[tuple[str, str], ...]) -> None:
        self.out = out
        self.bad = bad
        self.planted = 0
        self._seen = 0

    @property
    def count(self) -> int:
        return self.out.count

    def write(self, row: Mapping[str, Any]) -> None:
        self.out.write(row)
        self._seen += 1
        if self._seen % PLANT_EVERY:
            return
        n = self._seen // PLANT_EVERY
        field, value = self.bad[(n - 1) % len(self.bad)]
        self.out.write({**row, "id": f"{row['id']}-bad", field: value})
        self.planted += 1
        if n % 3 == 0:
            self.out.write(row)
            self.planted += 1
        if n == 2:
            self.out.write({})
            self.planted += 1

    def close(self) -> None:
        self.out.close()
