"""The map proposer: a source profile and the tenant's metadata in, a proposed map out.

:func:`propose` starts from the default map (:func:`~crm_ferry.mapping.defaults.default_document`)
and decides, for every header of every object file that feeds a target:

* a header the reader already resolves to a canonical field follows the default map, with
  confidence 1.0 when its column exists in the tenant (or is created by the map);
* an unknown header is matched (a) to a canonical field the file does not otherwise fill,
  by a synonym table that includes other platforms' export names (SimplePractice,
  CoachAccountable, ...), by name similarity (tokens and edit distance), and by value
  patterns; or (b) directly to a column of the target table, by the column's logical and
  schema names (``Job Title`` → ``jobtitle``), keyed ``extra:<header>``; or (c) it is left
  unmapped (column null) with the reason;
* every candidate is weighed by type compatibility: values that are e-mail addresses only go
  to e-mail columns, dates only to DateTime columns, numbers only to numeric ones, and so on;
  an incompatible candidate is vetoed, a doubtful one is lowered.

Custom properties (both forms) become new columns ``custom:<key>`` on the contact and account
targets, typed by the profile. Value maps are filled from the profile's value sets and the
tenant's option labels: vertical → ``industrycode`` (unmatched verticals get ``null``: a
person picks), gender → ``gendercode``, new session types and tags → new options. Every
column and option label is read from the tenant's metadata; a tenant without the Sales
``invoice`` table gets the custom ``{prefix}_invoice`` fallback.

Each decision carries a confidence in [0, 1] and a one-line reason; those below the confirm
threshold are the ones a person is asked to look at.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from crm_ferry.dataverse.errors import NotFound
from crm_ferry.dataverse.metadata import ColumnInfo, Metadata
from crm_ferry.mapping.defaults import (
    FIRST_OPTION_VALUE,
    INVOICE_LABELS,
    default_document,
    fallback_invoice_targets,
    option_values,
    target_entry,
)
from crm_ferry.mapping.names import check_prefix, logical_name, schema_name
from crm_ferry.mapping.profile import ColumnProfile, CustomProperty, SourceProfile
from crm_ferry.model import SESSION_TYPES
from crm_ferry.sources import schema

MIN_SCORE = 0.55
"""Candidates scoring below this are not proposed at all (the header stays unmapped)."""
MATCH_CAP = 0.95
"""The highest confidence a match that is not the default map can get."""

PRIMARY_ROLE: dict[str, str] = {
    "families": "household",
    "clients": "contact",
    "service_types": "service_type",
    "sessions": "session",
    "session_notes": "note",
    "invoices": "invoice",
    "invoice_items": "invoice_line",
    "payments": "payment",
    "activities": "activity_call",
    "files": "attachment",
}
"""The role whose table unknown headers of an object are matched against first."""

EXTRA_ROLES: dict[str, tuple[str, ...]] = {"clients": ("contact", "account")}
"""Roles whose tables take unknown headers directly (default: the primary role only)."""

SKIP_EXTRA_ROLES = frozenset({"opportunity"})
"""Aggregated roles never take a column straight from a source row."""

_ELIGIBLE_TYPES = frozenset({"String", "Memo", "DateTime", "Integer", "Decimal", "Money", "Double"})
_SYSTEM_COLUMNS = frozenset(
    {
        "createdon",
        "modifiedon",
        "createdby",
        "modifiedby",
        "versionnumber",
        "importsequencenumber",
        "overriddencreatedon",
        "timezoneruleversionnumber",
        "utcconversiontimezonecode",
        "exchangerate",
    }
)

# ---------------------------------------------------------------------------
# Synonyms

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "*": {
        "id": ("Record ID", "ID", "Id", "UID", "Unique ID"),
        "created_at": (
            "Date Added",
            "Created",
            "Created Date",
            "Created On",
            "Date Created",
            "DateCreated",
            "CreatedDate",
            "Creation Date",
            "Added On",
        ),
        "updated_at": (
            "Last Modified",
            "Modified",
            "Updated",
            "Last Updated",
            "Updated On",
            "Modified Date",
            "DateModified",
            "LastModifiedDate",
            "Last Update",
        ),
        "client_id": ("Client ID", "ClientID", "Client Id", "Contact ID", "Customer ID"),
        "coach_id": ("Coach ID", "CoachID", "Clinician ID", "Provider ID", "Staff ID"),
        "coach_email": (
            "Coach Email",
            "Clinician Email",
            "Provider Email",
            "Clinician",
            "Primary Clinician",
            "Assigned Coach",
            "CoachEmail",
        ),
        "duration_minutes": (
            "Duration",
            "Duration (min)",
            "Duration Minutes",
            "Length (min)",
            "Minutes",
            "DurationMinutes",
            "Length",
        ),
        "currency": ("Currency", "Currency Code", "CurrencyCode"),
        "session_id": ("Session ID", "SessionID", "Appointment ID", "AppointmentID"),
        "service_type_id": ("Service ID", "Service Type ID", "ServiceID", "Service Code"),
        "invoice_id": ("Invoice ID", "InvoiceID", "Invoice Id"),
        "package_id": ("Package ID", "PackageID"),
        "name": ("Name", "Title"),
    },
    "clients": {
        "id": ("Client ID", "ClientID", "Contact ID", "Customer ID", "Client Id"),
        "type": ("Client Type", "Type", "Contact Type", "Entity Type", "ClientType"),
        "first_name": (
            "Client First Name",
            "FirstName",
            "First",
            "Given Name",
            "Forename",
            "Legal First Name",
            "Preferred First Name",
        ),
        "last_name": (
            "Client Last Name",
            "LastName",
            "Last",
            "Surname",
            "Family Name",
            "Legal Last Name",
        ),
        "full_name": ("Client Name", "Full Name", "Name", "Display Name", "Contact Name"),
        "organization": (
            "Company",
            "Company Name",
            "Organization Name",
            "Organisation Name",
            "Employer",
            "Business Name",
            "Account Name",
            "Organization",
        ),
        "email": (
            "Email Address",
            "EmailAddress",
            "Client Email",
            "Primary Email",
            "E-mail Address",
            "Email 1",
            "Email",
            "Client Email Address",
        ),
        "phone": (
            "Phone Number",
            "Phone",
            "Home Phone",
            "HomePhone",
            "Telephone",
            "Primary Phone",
            "Client Phone",
            "Main Phone",
            "Work Phone",
            "WorkPhone",
            "Business Phone",
        ),
        "mobile": (
            "Mobile Phone",
            "CellPhone",
            "Cell Phone",
            "Mobile",
            "Cell",
            "Mobile Number",
            "Cell Number",
            "MobilePhone",
        ),
        "address_line1": (
            "Street Address",
            "Address1",
            "Address",
            "Address Line 1",
            "Street",
            "Street Address 1",
            "Street Address Line 1",
            "Mailing Address",
            "StreetAddress",
            "Address 1",
        ),
        "address_line2": (
            "Address2",
            "Address Line 2",
            "Street Address 2",
            "Street Address Line 2",
            "Apt/Suite",
            "Suite",
            "Address 2",
        ),
        "city": ("City", "Town", "Client City", "Locality"),
        "state": ("State", "Province", "Region", "State/Province", "StateProvince", "State Code"),
        "postal_code": ("Zip", "ZipCode", "PostalCode", "Postcode", "Zip/Postal Code", "ZIP"),
        "country": ("Country", "Country Code", "Nation", "CountryCode"),
        "birth_date": ("Date of Birth", "Birthday", "DOB", "Birthdate", "BirthDate", "Born"),
        "gender": ("Sex", "Gender Identity", "Gender", "Sex at Birth"),
        "time_zone": ("Timezone", "TimeZone", "Time Zone", "TZ", "Client Time Zone"),
        "status": ("Client Status", "Status", "ClientStatus", "Account Status"),
        "on_track_status": ("On Track", "On Track Status", "Progress Status", "Track Status"),
        "coach_id": ("Coach ID", "CoachID", "Clinician ID", "Assigned Coach ID"),
        "coach_email": ("Coach", "Coach Email", "Clinician", "Primary Clinician"),
        "vertical": ("Industry", "Sector", "Vertical", "Market", "Industry Vertical"),
        "family_id": ("Family ID", "Household ID", "HouseholdID", "FamilyID", "Family"),
        "tags": ("Tags", "Labels", "Groups", "Client Groups", "Categories", "Tag List"),
        "primary_service": (
            "Primary Service",
            "Service",
            "Program",
            "Main Service",
            "Coaching Program",
        ),
        "created_at": ("Client Since", "Sign Up Date", "SignUpDate", "Date Joined", "Joined"),
    },
    "sessions": {
        "id": ("Appointment ID", "AppointmentID", "Session ID", "SessionID", "Booking ID"),
        "start_at": (
            "Start Time",
            "StartTime",
            "Date of Service",
            "Appointment Date",
            "Session Date",
            "Start",
            "Starts At",
            "Start Date",
        ),
        "end_at": ("End Time", "EndTime", "End", "Ends At", "End Date"),
        "status": ("Appointment Status", "Session Status", "Status", "AppointmentStatus"),
        "session_type": (
            "Appointment Type",
            "Session Type",
            "Type",
            "AppointmentType",
            "SessionType",
        ),
        "billing_status": (
            "Billing Status",
            "Payment Status",
            "Invoice Status",
            "BillingStatus",
            "Billed",
        ),
        "price": ("Rate", "Fee", "Price", "Amount", "Session Fee", "Charge", "Cost"),
        "location": ("Location", "Place", "Venue", "Room", "Meeting Location"),
    },
    "invoices": {
        "id": ("Invoice ID", "InvoiceID"),
        "number": ("Invoice #", "Invoice Number", "Invoice No", "InvoiceNumber", "Number"),
        "issue_date": ("Invoice Date", "Issue Date", "Date Issued", "IssueDate", "Issued"),
        "due_date": ("Due Date", "DueDate", "Due", "Payment Due"),
        "status": ("Invoice Status", "Status", "InvoiceStatus"),
        "subtotal": ("Subtotal", "Sub Total", "Net Amount", "SubTotal"),
        "tax": ("Tax", "Sales Tax", "Tax Amount", "VAT"),
        "total_amount": ("Total", "Invoice Total", "Total Amount", "Grand Total", "TotalAmount"),
        "amount_paid": ("Amount Paid", "Paid", "AmountPaid", "Paid Amount", "Total Paid"),
        "paid_at": ("Paid Date", "Date Paid", "Paid On", "PaidDate", "Payment Date"),
    },
    "invoice_items": {
        "id": ("Line ID", "Item ID", "LineID"),
        "description": ("Description", "Item", "Line Description", "Item Description"),
        "quantity": ("Qty", "Quantity", "Units", "Count"),
        "unit_price": ("Unit Price", "Rate", "Price", "UnitPrice", "Unit Cost"),
        "amount": ("Amount", "Line Total", "Total", "LineTotal", "Line Amount"),
    },
    "payments": {
        "id": ("Payment ID", "PaymentID", "Transaction ID"),
        "amount": ("Amount", "Payment Amount", "Amount Paid", "Paid"),
        "paid_at": ("Payment Date", "Date Paid", "Paid At", "PaymentDate", "Paid On", "Date"),
        "method": ("Payment Method", "Method", "PaymentMethod", "Type", "Payment Type"),
        "reference": (
            "Reference",
            "Reference Number",
            "Transaction Reference",
            "Ref",
            "Confirmation",
            "Check Number",
        ),
    },
    "service_types": {
        "id": ("Service ID", "ServiceID", "Service Code"),
        "name": ("Service Name", "Service", "ServiceName", "Offering"),
        "default_rate": ("Rate", "Default Rate", "Price", "Fee", "Standard Rate", "DefaultRate"),
        "active": ("Active", "Is Active", "Enabled", "IsActive"),
    },
    "families": {"name": ("Family Name", "Household Name", "Household", "FamilyName")},
    "session_notes": {
        "id": ("Note ID", "NoteID"),
        "title": ("Note Title", "Title", "Subject", "Heading"),
        "body_html": ("Note", "Note Body", "Body", "Content", "Note Content", "Notes", "Text"),
        "author_id": ("Author ID", "Author", "Written By", "AuthorID"),
    },
    "activities": {
        "id": ("Activity ID", "ActivityID"),
        "kind": ("Activity Type", "Type", "Kind", "ActivityType", "Channel"),
        "subject": ("Subject", "Title", "Summary"),
        "body": ("Body", "Notes", "Message", "Details", "Description", "Content"),
        "direction": ("Direction", "Inbound/Outbound", "In/Out"),
        "occurred_at": ("Date", "Occurred At", "Timestamp", "Activity Date", "When", "DateTime"),
    },
    "files": {
        "id": ("File ID", "FileID", "Document ID"),
        "filename": ("File Name", "FileName", "Document Name", "Name"),
        "content_type": ("Content Type", "MIME Type", "Mime Type", "MimeType", "File Type"),
        "size_bytes": ("Size", "File Size", "Size (bytes)", "Bytes", "SizeBytes"),
        "path": ("Path", "File Path", "Location"),
        "url": ("URL", "Link", "File URL"),
        "sha256": ("SHA256", "Checksum", "Hash"),
        "uploaded_at": ("Uploaded", "Upload Date", "Uploaded At", "Date Uploaded"),
    },
}
"""Per object (``*``: every object having the field): canonical field → export names of
other platforms and common spellings (SimplePractice, CoachAccountable, Paperbell, Practice
Better, Calendly/Acuity exports)."""

COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "jobtitle": ("Job Title", "Title", "Position", "Occupation", "Role", "Job", "Job Role"),
    "websiteurl": ("Website", "Web Site", "URL", "Homepage", "Web", "Website URL", "Site"),
    "nickname": ("Nickname", "Preferred Name", "Goes By", "Nick Name"),
    "middlename": ("Middle Name", "Middle Initial", "MiddleName", "Middle"),
    "salutation": ("Salutation", "Prefix", "Name Prefix", "Honorific"),
    "emailaddress2": (
        "Secondary Email",
        "Email 2",
        "Alternate Email",
        "Other Email",
        "Work Email",
        "Email2",
    ),
    "emailaddress3": ("Email 3", "Third Email"),
    "telephone2": ("Secondary Phone", "Phone 2", "Other Phone", "Alternate Phone", "Phone2"),
    "fax": ("Fax", "Fax Number", "FaxNumber"),
    "anniversary": ("Anniversary", "Wedding Anniversary"),
    "description": ("Description", "About", "Bio", "Biography", "Background"),
    "numberofemployees": ("Employees", "Number of Employees", "Company Size", "Headcount"),
    "revenue": ("Annual Revenue", "Revenue", "AnnualRevenue"),
    "accountnumber": ("Account Number", "Account No", "AccountNumber"),
    "creditlimit": ("Credit Limit", "CreditLimit"),
}
"""Tenant column (logical name) → header spellings that mean it."""

NOISE = frozenset({"client", "customer", "contact", "primary", "main", "legal", "the", "of"})
"""Tokens that qualify rather than name a field (``Client First Name`` = first name)."""

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def tokens(text: str) -> list[str]:
    """``"Client FirstName (legal)"`` → ``["client", "first", "name", "legal"]``."""
    spaced = _CAMEL.sub(r"\1 \2", text)
    return [t for t in _NON_ALNUM.split(spaced.lower()) if t]


def _norm(text: str) -> str:
    return "".join(tokens(text))


def name_score(header: str, names: Iterable[str]) -> tuple[float, str]:
    """How well ``header`` names one of ``names``: (score in [0, 1], the name and how)."""
    htok = tokens(header)
    hn = "".join(htok)
    stripped = "".join(t for t in htok if t not in NOISE)
    best, how = 0.0, ""
    for name in names:
        nn = _norm(name)
        if not nn:
            continue
        if hn == nn:
            return 1.0, f"'{name}'"
        if stripped and stripped == nn and best < 0.93:
            best, how = 0.93, f"'{name}' (qualifier dropped)"
            continue
        for hv in {hn, stripped} - {""}:
            ratio = SequenceMatcher(None, hv, nn).ratio()
            ntok = set(tokens(name))
            htoks = set(htok) if hv == hn else {t for t in htok if t not in NOISE}
            jac = len(ntok & htoks) / len(ntok | htoks) if ntok | htoks else 0.0
            score = ratio if ratio >= 0.85 else 0.6 * ratio + 0.4 * jac
            score *= 0.9
            if score > best:
                best, how = score, f"similar to '{name}'"
    return best, how


# ---------------------------------------------------------------------------
# Type compatibility


def field_fit(obj: str, fld: str, col: ColumnProfile) -> tuple[float, str]:
    """How well the values of ``col`` fit canonical field ``fld`` (1 fits, 0 vetoes)."""
    if col.filled == 0:
        return 0.9, "no values to check"
    kind = schema.FIELDS[obj][fld]
    email = col.ratio("email")
    dates = col.ratio("date") + col.ratio("datetime")
    if kind == schema.EMAIL:
        return (1.0, "values are emails") if email >= 0.9 else (0.0, "values are not emails")
    if email >= 0.9 and kind not in (schema.TEXT, schema.JSON):
        return 0.0, "values are emails"
    if kind == schema.DATE:
        if col.ratio("date") >= 0.9:
            return 1.0, "values are dates"
        return (0.7, "values are timestamps") if dates >= 0.9 else (0.0, "values are not dates")
    if kind == schema.TS:
        return (1.0, "values are dates/times") if dates >= 0.9 else (0.0, "values are not times")
    if kind in (schema.MONEY, schema.DECIMAL):
        ok = col.ratio("money") >= 0.9
        return (1.0, "values are amounts") if ok else (0.0, "values are not numbers")
    if kind == schema.INT:
        ok = col.ratio("integer") >= 0.9
        return (1.0, "values are whole numbers") if ok else (0.0, "values are not whole numbers")
    if kind == schema.BOOL:
        ok = col.ratio("boolean") >= 0.9 or (col.ratio("integer") >= 0.9 and col.distinct <= 2)
        return (1.0, "values are true/false") if ok else (0.0, "values are not true/false")
    if isinstance(kind, tuple):
        allowed = set(kind)
        seen = [s.strip().lower().replace(" ", "_").replace("-", "_") for s in col.samples]
        good = sum(1 for s in seen if s in allowed)
        if seen and good == len(seen):
            return 1.0, "values are in the field's set"
        return 0.2, f"values outside {', '.join(kind)}"
    if dates >= 0.9:
        return 0.2, "values are dates"
    if fld in ("phone", "mobile"):
        return (
            (1.0, "values are phone numbers")
            if col.ratio("phone") >= 0.8
            else (
                0.4,
                "values are not phone numbers",
            )
        )
    if fld == "url":
        return (1.0, "values are URLs") if col.ratio("url") >= 0.9 else (0.3, "not URLs")
    if kind in (schema.STR,) and col.ratio("money") >= 0.9 and fld not in ("postal_code",):
        return 0.6, "values are numbers"
    return 1.0, "text"


def column_fit(info: ColumnInfo, col: ColumnProfile) -> tuple[float, str]:
    """How well the values of ``col`` fit tenant column ``info`` (1 fits, 0 vetoes)."""
    if col.filled == 0:
        return 0.8, "no values to check"
    email = col.ratio("email")
    dates = col.ratio("date") + col.ratio("datetime")
    t, fmt = info.type, (info.format or "")
    is_email = t == "String" and fmt == "Email"
    if email >= 0.9 and not is_email:
        return 0.0, "values are emails (only e-mail columns take them)"
    if is_email:
        return (1.0, "emails to an e-mail column") if email >= 0.9 else (0.0, "not emails")
    if t == "DateTime":
        return (1.0, "dates to a DateTime column") if dates >= 0.9 else (0.0, "not dates")
    if t == "Integer":
        ok = col.ratio("integer") >= 0.9
        return (1.0, "whole numbers") if ok else (0.0, "not whole numbers")
    if t in ("Decimal", "Money", "Double"):
        ok = col.ratio("money") >= 0.9
        return (1.0, "numbers") if ok else (0.0, "not numbers")
    if t not in ("String", "Memo"):
        return 0.0, f"{t} columns need a value map"
    if dates >= 0.9:
        return 0.4, "dates into a text column"
    factor, why = 1.0, "text"
    if fmt == "Url":
        factor, why = (
            (1.0, "URLs to a URL column") if col.ratio("url") >= 0.9 else (0.1, "not URLs")
        )
    elif fmt == "Phone":
        factor, why = (1.0, "phone numbers") if col.ratio("phone") >= 0.8 else (0.3, "not phones")
    elif col.ratio("url") >= 0.9:
        factor, why = 0.7, "URLs into a plain text column"
    if info.max_length and col.max_length > info.max_length:
        factor *= 0.6
        why += f"; values up to {col.max_length} chars, column holds {info.max_length}"
    return factor, why


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class Decision:
    """One header of one object → one role's column (or none), how sure, and why."""

    object: str
    header: str | None
    field_key: str
    """Canonical field, ``custom:<key>`` or ``extra:<header>``."""
    role: str
    table: str
    column: str | None
    confidence: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "header": self.header,
            "field": self.field_key,
            "role": self.role,
            "table": self.table,
            "column": self.column,
            "confidence": round(self.confidence, 2),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ValueDecision:
    """One source value of a value map → an option (None: a person must pick)."""

    value_map: str
    value: str
    option: int | None
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class Proposal:
    document: dict[str, Any]
    """A plain map document in the shape of :func:`default_document`."""
    decisions: list[Decision] = field(default_factory=list)
    value_decisions: list[ValueDecision] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def for_header(self, obj: str, header: str) -> list[Decision]:
        return [d for d in self.decisions if d.object == obj and d.header == header]

    def below(self, threshold: float) -> list[Decision]:
        return [d for d in self.decisions if d.confidence < threshold]


# ---------------------------------------------------------------------------
# The tenant


class _Tenant:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata
        self._has: dict[str, bool] = {}
        self._cols: dict[str, dict[str, ColumnInfo]] = {}

    def has(self, table: str) -> bool:
        if table not in self._has:
            self._has[table] = self.metadata.has_table(table)
        return self._has[table]

    def columns(self, table: str) -> dict[str, ColumnInfo]:
        if table not in self._cols:
            try:
                self._cols[table] = dict(self.metadata.columns(table)) if self.has(table) else {}
            except NotFound:
                self._cols[table] = {}
        return self._cols[table]


# ---------------------------------------------------------------------------
# The proposer


@dataclass
class _Candidate:
    score: float
    header: str
    kind: str
    """``field`` or ``column``."""
    target: str
    reason: str


def propose(
    profile: SourceProfile,
    metadata: Metadata,
    *,
    prefix: str = "new",
    threshold: float = 0.8,
) -> Proposal:
    """Propose the map for ``profile`` against the tenant described by ``metadata``."""
    p = check_prefix(prefix)
    return _Proposer(profile, _Tenant(metadata), p, threshold).run()


class _Proposer:
    def __init__(self, profile: SourceProfile, tenant: _Tenant, p: str, threshold: float) -> None:
        self.profile = profile
        self.tenant = tenant
        self.p = p
        self.threshold = threshold
        self.doc = default_document(p)
        self.doc["confirm_threshold"] = threshold
        self.targets: dict[str, dict[str, Any]] = self.doc["targets"]
        self.value_maps: dict[str, dict[str, Any]] = self.doc["value_maps"]
        self.decisions: list[Decision] = []
        self.value_decisions: list[ValueDecision] = []
        self.notes: list[str] = []
        self.defaults = copy.deepcopy(self.targets)

    # -- driver ----------------------------------------------------------------

    def run(self) -> Proposal:
        self._invoice_fallback()
        for obj, op in self.profile.objects.items():
            roles = [r for r, t in self.targets.items() if t["source"] == obj]
            if not roles:
                continue
            primary = PRIMARY_ROLE.get(obj, roles[0])
            roles.sort(key=lambda r: r != primary)
            self._object(obj, list(op.columns), roles)
        self._customs()
        self._value_maps()
        return Proposal(self.doc, self.decisions, self.value_decisions, self.notes)

    # -- tables --------------------------------------------------------------------

    def _invoice_fallback(self) -> None:
        if self.tenant.has("invoice"):
            return
        p = self.p
        labels = list(INVOICE_LABELS.values())
        values = option_values(labels)
        options = {v: label for label, v in values.items()}
        for t in fallback_invoice_targets(p):
            self.targets[t.role] = target_entry(t, p, {"invoice_status": options})
            self.defaults[t.role] = copy.deepcopy(self.targets[t.role])
        self.value_maps["invoice_status"] = {
            "column": f"{p}_invoice.{p}_invoicestatus",
            "policy": "fail",
            "values": {src: values[label] for src, label in INVOICE_LABELS.items()},
        }
        pay = self.targets.get("payment", {}).get("fields", {}).get("invoice_id")
        if pay and isinstance(pay.get("create"), dict):
            pay["create"]["target_table"] = f"{p}_invoice"
        self.doc["options"]["invoice_lines"] = f"{p}_invoicelineitem"
        self.notes.append(
            f"the tenant has no invoice table: invoices go to the custom {p}_invoice table "
            f"and their lines to {p}_invoicelineitem"
        )

    def _table_note(self, table: str) -> str:
        if not self.tenant.has("invoice") and table.startswith(f"{self.p}_invoice"):
            return "; fallback table: the tenant has no invoice table"
        return ""

    def _column_ok(self, role: str, entry: Mapping[str, Any]) -> tuple[bool, str]:
        """Whether a default column exists in the tenant or is created by the map."""
        target = self.targets[role]
        table = target["table"]
        column = entry.get("column")
        if not column:
            return True, ""
        if entry.get("create"):
            return True, ""
        if target.get("create") and not self.tenant.has(table):
            return True, ""
        if not self.tenant.has(table):
            return False, f"table {table} is not in the tenant"
        if column in self.tenant.columns(table):
            return True, ""
        return False, f"column {table}.{column} is not in the tenant; pick another"

    # -- one object's headers ------------------------------------------------------

    def _object(self, obj: str, columns: list[ColumnProfile], roles: list[str]) -> None:
        claimed = {c.field for c in columns if c.field and not c.field.startswith("custom:")}
        unknown: list[ColumnProfile] = []
        for col in columns:
            if col.field is None:
                unknown.append(col)
            elif not col.field.startswith("custom:"):
                self._known(obj, col, col.field, roles, 1.0, "")
        if not unknown:
            return
        primary = roles[0]
        extra_roles = [
            r for r in EXTRA_ROLES.get(obj, (primary,)) if r in roles and r not in SKIP_EXTRA_ROLES
        ]
        cands: list[_Candidate] = []
        for col in unknown:
            cands.extend(self._field_candidates(obj, col, claimed))
            if extra_roles:
                cands.extend(self._column_candidates(extra_roles[0], col))
        cands.sort(key=lambda c: (-c.score, c.kind != "field", c.header, c.target))
        done: dict[str, _Candidate] = {}
        used: set[str] = set()
        best: dict[str, _Candidate] = {}
        for c in cands:
            best.setdefault(c.header, c)
            if c.header in done or f"{c.kind}:{c.target}" in used or c.score < MIN_SCORE:
                continue
            done[c.header] = c
            used.add(f"{c.kind}:{c.target}")
        by_header = {c.header: c for c in unknown}
        for header, c in done.items():
            col = by_header[header]
            if c.kind == "field":
                self._known(obj, col, c.target, roles, c.score, c.reason)
            else:
                self._extra(obj, extra_roles[0], col, c.target, c.score, c.reason)
        # Secondary roles (the account of a client) take columns of their own table.
        for role in extra_roles[1:]:
            rcands: list[_Candidate] = []
            for col in unknown:
                if col.header in done and done[col.header].kind == "field":
                    continue
                rcands.extend(self._column_candidates(role, col))
            rcands.sort(key=lambda c: (-c.score, c.header, c.target))
            rdone: set[str] = set()
            rused: set[str] = set()
            for c in rcands:
                if c.header in rdone or c.target in rused or c.score < MIN_SCORE:
                    continue
                rdone.add(c.header)
                rused.add(c.target)
                self._extra(obj, role, by_header[c.header], c.target, c.score, c.reason)
                if c.header not in done:
                    done[c.header] = c
        for col in unknown:
            if col.header in done:
                continue
            near = best.get(col.header)
            if near is None:
                why = "no field or column of the target matches this header"
            else:
                what = near.target if near.kind == "field" else f"column {near.target}"
                why = f"no confident match (nearest: {what}, {near.score:.2f}: {near.reason})"
            conf = 1.0 - (near.score if near else 0.0)
            self._unmapped(obj, primary, col, round(max(0.3, min(conf, 0.95)), 2), why)

    def _field_candidates(
        self, obj: str, col: ColumnProfile, claimed: set[str]
    ) -> list[_Candidate]:
        out: list[_Candidate] = []
        generic = SYNONYMS["*"]
        specific = SYNONYMS.get(obj, {})
        for fld in schema.FIELDS[obj]:
            if fld in claimed:
                continue
            names = [fld, *specific.get(fld, ()), *generic.get(fld, ())]
            score, how = name_score(col.header, names)
            reason = f"name {how}" if score < 1.0 else f"synonym {how}"
            fit, fit_why = field_fit(obj, fld, col)
            # Value patterns alone: an unclaimed `email` field and a column of e-mails.
            if score < 0.5 and col.filled and fld == "email" and col.ratio("email") >= 0.95:
                score, reason = 0.62, "value pattern: every value is an e-mail address"
            total = min(score * fit, MATCH_CAP)
            if total > 0.3:
                out.append(_Candidate(total, col.header, "field", fld, f"{reason}; {fit_why}"))
        return out

    def _column_candidates(self, role: str, col: ColumnProfile) -> list[_Candidate]:
        target = self.targets[role]
        table = target["table"]
        columns = self.tenant.columns(table)
        if not columns:
            return []
        in_map = {fd.get("column") for fd in target["fields"].values() if isinstance(fd, Mapping)}
        tinfo = self.tenant.metadata.table(table) if self.tenant.has(table) else None
        out: list[_Candidate] = []
        for name, info in columns.items():
            if (
                name in in_map
                or info.type not in _ELIGIBLE_TYPES
                or not info.is_valid_for_create
                or name in _SYSTEM_COLUMNS
                or name.endswith("_base")
                or name.startswith("yomi")
                or (tinfo is not None and name == tinfo.primary_id)
            ):
                continue
            names = [name, *COLUMN_SYNONYMS.get(name, ())]
            if info.schema_name:
                names.append(info.schema_name)
            score, how = name_score(col.header, names)
            if score < 0.5:
                continue
            fit, fit_why = column_fit(info, col)
            total = min(score * fit, MATCH_CAP)
            kind = "synonym" if score >= 0.93 else "name"
            out.append(_Candidate(total, col.header, "column", name, f"{kind} {how}; {fit_why}"))
        return out

    # -- writing decisions ---------------------------------------------------------

    def _known(
        self,
        obj: str,
        col: ColumnProfile,
        fld: str,
        roles: list[str],
        confidence: float,
        match_reason: str,
    ) -> None:
        placed = False
        for role in roles:
            target = self.targets[role]
            entry = target["fields"].get(fld)
            if entry is None:
                continue
            placed = True
            if col.header != fld:
                entry["header"] = col.header
            ok, why = self._column_ok(role, entry)
            base = entry.get("reason") or "default map"
            if match_reason:
                reason = f"{match_reason} → {fld}; {base}"
                conf = confidence
            else:
                reason = base if col.header == fld else f"{base} (export header {col.header!r})"
                conf = 1.0
            if not ok:
                reason = f"{reason}; {why}"
                conf = min(conf, 0.4)
            if entry.get("column") and col.max_length and entry.get("create"):
                limit = entry["create"].get("max_length")
                if isinstance(limit, int) and col.max_length > limit:
                    entry["create"]["max_length"] = min(4000, _round_up(col.max_length))
            reason += self._table_note(target["table"])
            entry["confidence"] = round(conf, 2)
            entry["reason"] = reason
            self.decisions.append(
                Decision(
                    obj, col.header, fld, role, target["table"], entry.get("column"), conf, reason
                )
            )
        if not placed:
            role = roles[0]
            reason = (
                f"{match_reason} → {fld}; " if match_reason else ""
            ) + "read by the loader, not a column of its own"
            self.decisions.append(
                Decision(
                    obj,
                    col.header,
                    fld,
                    role,
                    self.targets[role]["table"],
                    None,
                    confidence,
                    reason,
                )
            )

    def _extra(
        self, obj: str, role: str, col: ColumnProfile, column: str, score: float, reason: str
    ) -> None:
        target = self.targets[role]
        info = self.tenant.columns(target["table"])[column]
        key = f"extra:{col.header}"
        entry: dict[str, Any] = {
            "column": column,
            "type": info.type,
            "confidence": round(score, 2),
            "reason": f"tenant column {target['table']}.{column}: {reason}",
        }
        if info.type in ("String", "Memo") and info.max_length and col.max_length > info.max_length:
            entry["truncate"] = False
        target["fields"][key] = entry
        self.decisions.append(
            Decision(obj, col.header, key, role, target["table"], column, score, entry["reason"])
        )

    def _unmapped(self, obj: str, role: str, col: ColumnProfile, conf: float, why: str) -> None:
        target = self.targets[role]
        key = f"extra:{col.header}"
        reason = f"not migrated: {why}"
        target["fields"][key] = {"column": None, "confidence": conf, "reason": reason}
        self.decisions.append(
            Decision(obj, col.header, key, role, target["table"], None, conf, reason)
        )

    # -- custom properties ---------------------------------------------------------

    def _customs(self) -> None:
        for role in ("contact", "account"):
            if role not in self.targets:
                continue
            target = self.targets[role]
            table = target["table"]
            existing = self.tenant.columns(table)
            taken = {
                str(fd.get("column"))
                for fd in target["fields"].values()
                if isinstance(fd, Mapping) and fd.get("column")
            }
            for key, cp in sorted(self.profile.custom.items()):
                kind = cp.column_type
                clashes = {
                    name
                    for name, info in existing.items()
                    if not _same_kind(info, kind) or name in taken
                }
                sname = schema_name(self.p, key, taken | clashes)
                column = logical_name(sname)
                taken.add(column)
                create = _custom_create(cp, sname)
                entry: dict[str, Any] = {"column": column, "type": kind}
                conf = 0.9 if cp.count else 0.5
                detail = (
                    f"{cp.count} values, up to {cp.max_length} chars" if cp.count else "no values"
                )
                reason = f"custom property, inferred {cp.type} ({detail}) → new {kind} column"
                if column in existing:
                    reason = f"custom property → existing column {column} ({kind})"
                if cp.header and "column" in cp.forms and cp.header != f"custom:{key}":
                    entry["header"] = cp.header
                entry["confidence"] = conf
                entry["reason"] = reason
                if kind == "Picklist":
                    entry["value_map"] = f"custom:{key}"
                entry["create"] = create
                target["fields"][f"custom:{key}"] = entry
                if kind == "Picklist" and role == "contact":
                    values = {c.lower(): v for v, c in create["options"].items()}
                    self.value_maps[f"custom:{key}"] = {
                        "column": f"{table}.{column}",
                        "policy": "fail",
                        "values": values,
                    }
                headers: list[tuple[str, str | None]] = []
                if "column" in cp.forms:
                    headers.append(("clients", cp.header or f"custom:{key}"))
                if "long" in cp.forms:
                    headers.append(("client_properties", key))
                for obj, header in headers:
                    self.decisions.append(
                        Decision(obj, header, f"custom:{key}", role, table, column, conf, reason)
                    )

    # -- value maps ----------------------------------------------------------------

    def _value_maps(self) -> None:
        sets = self.profile.value_sets
        self._tags(sets.get("tags", {}))
        self._session_types(sets.get("session_type", {}))
        self._tenant_choice("vertical", "account", "industrycode", sets.get("vertical", {}))
        self._tenant_choice("gender", "contact", "gendercode", sets.get("gender", {}))

    def _tags(self, values: Mapping[str, int]) -> None:
        labels: dict[str, str] = {}
        for tag in sorted(values, key=lambda v: (v.lower(), v)):
            labels.setdefault(tag.lower(), tag)
        options = {FIRST_OPTION_VALUE + i: label for i, label in enumerate(labels.values())}
        vm = self.value_maps.get("tags")
        if vm is not None:
            vm["values"] = {low: FIRST_OPTION_VALUE + i for i, low in enumerate(labels)}
        for role in ("contact", "account"):
            entry = self.targets.get(role, {}).get("fields", {}).get("tags")
            if entry and isinstance(entry.get("create"), dict):
                entry["create"]["options"] = dict(options)
        for low, label in labels.items():
            self.value_decisions.append(
                ValueDecision(
                    "tags", low, (vm or {}).get("values", {}).get(low), 1.0, f"new option {label!r}"
                )
            )

    def _session_types(self, values: Mapping[str, int]) -> None:
        vm = self.value_maps.get("session_type")
        entry = self.targets.get("session", {}).get("fields", {}).get("session_type")
        if vm is None:
            return
        mapped: dict[str, int] = vm.setdefault("values", {})
        options: dict[int, str] = {}
        if entry and isinstance(entry.get("create"), dict):
            options = entry["create"].setdefault("options", {})
        next_value = max([*mapped.values(), *options, FIRST_OPTION_VALUE - 1]) + 1
        for value in sorted(values, key=lambda v: (v.lower(), v)):
            low = value.strip().lower()
            if low in mapped or low.replace(" ", "_") in SESSION_TYPES:
                continue
            mapped[low] = next_value
            options[next_value] = value.strip()
            self.value_decisions.append(
                ValueDecision("session_type", low, next_value, 0.9, f"new option {value.strip()!r}")
            )
            next_value += 1

    def _tenant_choice(self, name: str, role: str, column: str, values: Mapping[str, int]) -> None:
        vm = self.value_maps.get(name)
        target = self.targets.get(role)
        if vm is None or target is None or not values:
            return
        info = self.tenant.columns(target["table"]).get(column)
        if info is None or not info.options:
            self.notes.append(f"{target['table']}.{column} has no options in the tenant")
            return
        keep_text = vm.get("policy") == "keep_text"
        mapped: dict[str, int | None] = {}
        unmatched: list[str] = []
        for value in sorted(values, key=lambda v: (v.lower(), v)):
            option, score, how = match_option(value, info.options)
            low = value.strip().lower()
            if option is not None and score >= 0.85:
                mapped[low] = option
                self.value_decisions.append(
                    ValueDecision(name, low, option, score, f"option {how}")
                )
            else:
                unmatched.append(value)
                if not keep_text:
                    mapped[low] = None
                why = (
                    "kept as text (policy keep_text)"
                    if keep_text
                    else "no matching option: pick one"
                )
                self.value_decisions.append(
                    ValueDecision(name, low, None, 0.3, f"{why} (nearest {how}, {score:.2f})")
                )
        vm["values"] = mapped
        entry = target["fields"].get("vertical" if name == "vertical" else "gender")
        if entry and unmatched:
            shown = ", ".join(repr(v) for v in unmatched[:5])
            if keep_text:
                entry["reason"] = (
                    f"{entry.get('reason', '')}; {len(unmatched)} value(s) without an option "
                    f"kept as text: {shown}"
                )
            else:
                entry["confidence"] = min(float(entry.get("confidence", 1.0)), 0.6)
                entry["reason"] = (
                    f"{entry.get('reason', '')}; {len(unmatched)} of {len(values)} value(s) "
                    f"have no {column} option, pick one: {shown}"
                )
                for i, d in enumerate(self.decisions):
                    if d.role == role and d.field_key == name:
                        self.decisions[i] = Decision(
                            d.object,
                            d.header,
                            d.field_key,
                            d.role,
                            d.table,
                            d.column,
                            min(d.confidence, 0.6),
                            entry["reason"],
                        )


def match_option(value: str, options: Mapping[int, str]) -> tuple[int | None, float, str]:
    """The option whose label best matches ``value``: (option, score, how)."""
    v = value.strip()
    low = v.lower()
    best: tuple[int | None, float, str] = (None, 0.0, "none")
    for option, label in options.items():
        lab = label.strip().lower()
        if low == lab or _norm(low) == _norm(lab):
            return option, 1.0, f"{label!r} (same label)"
        if len(low) == 1 and lab.startswith(low):
            score = 0.9
        else:
            score, _ = name_score(v, [label])
        if score > best[1]:
            best = (option, score, repr(label))
    return best


def _same_kind(info: ColumnInfo, kind: str) -> bool:
    if kind == "Picklist":
        return info.type == "Picklist"
    return info.type == kind


def _round_up(n: int, step: int = 50) -> int:
    return max(step, -(-n // step) * step)


def _custom_create(cp: CustomProperty, schema: str) -> dict[str, Any]:
    label = " ".join(w.capitalize() for w in tokens(cp.key)) or cp.key
    create: dict[str, Any] = {"kind": cp.column_type, "schema_name": schema, "label": label}
    if cp.column_type == "DateTime":
        create["behavior"] = "DateOnly"
        create["format"] = "DateOnly"
    elif cp.column_type == "Decimal":
        create["precision"] = cp.precision or 0
    elif cp.column_type == "Picklist":
        create["options"] = {FIRST_OPTION_VALUE + i: c for i, c in enumerate(cp.choices)}
    elif cp.column_type == "String":
        create["max_length"] = min(4000, max(100, _round_up(cp.max_length)))
    elif cp.column_type == "Memo":
        create["max_length"] = max(4000, _round_up(cp.max_length, 1000))
    return create
