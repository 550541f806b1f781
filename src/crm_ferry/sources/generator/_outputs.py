"""The files of a generated bundle: each object's file name, and the per-row files' columns.

The configuration objects (service types, automations, templates, integrations, reports)
and the manifest are small JSON documents written whole (:func:`._io.write_json`); every
other object grows with the practice and is written row by row, to the writers of
:class:`Outputs`, open together for the whole pass.
"""

from __future__ import annotations

from pathlib import Path

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


class Outputs(dict[str, CsvOut | JsonlOut]):
    """Every per-row file of the bundle, open together for the single pass over clients."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        custom = [f"custom:{k}" for k in CUSTOM_COLUMNS]
        self["users"] = CsvOut(root / OBJECT_FILES["users"], USER_FIELDS)
        self["clients"] = CsvOut(
            root / OBJECT_FILES["clients"], (*CLIENT_FIELDS, *custom), bom=True, crlf=True
        )
        self["client_properties"] = CsvOut(
            root / OBJECT_FILES["client_properties"], ("client_id", "key", "value")
        )
        self["families"] = CsvOut(root / OBJECT_FILES["families"], FAMILY_FIELDS)
        self["packages"] = CsvOut(root / OBJECT_FILES["packages"], PACKAGE_FIELDS)
        self["sessions"] = CsvOut(root / OBJECT_FILES["sessions"], SESSION_FIELDS)
        self["session_notes"] = JsonlOut(root / OBJECT_FILES["session_notes"], NOTE_FIELDS)
        self["invoices"] = CsvOut(root / OBJECT_FILES["invoices"], INVOICE_FIELDS)
        self["invoice_items"] = CsvOut(root / OBJECT_FILES["invoice_items"], ITEM_FIELDS)
        self["payments"] = CsvOut(root / OBJECT_FILES["payments"], PAYMENT_FIELDS)
        self["activities"] = JsonlOut(root / OBJECT_FILES["activities"], ACTIVITY_FIELDS)
        self["files"] = CsvOut(root / OBJECT_FILES["files"], FILE_FIELDS)

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.values():
            w.close()
