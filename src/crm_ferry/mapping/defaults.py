"""The default map of The Practice → Dynamics 365 Sales, as data.

This is what the proposer starts from for the canonical fields of the export contract (see
the object map reference): for each *role* in the load, the source object, the table, the
rows it takes, and for each canonical field the target column, its type and, for a column
the tenant does not have, how to create it. Columns are written with the publisher prefix
``{p}`` substituted. The proposer checks every column against the tenant's metadata and
adds custom properties, unknown export columns and owners.

A field whose column is ``None`` is deliberately not written, and its reason says what
happens to it instead (used for a computed value, checked after the load, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_ferry.model import SESSION_TYPES


@dataclass(frozen=True, slots=True)
class DefaultField:
    column: str | None
    type: str | None = None
    reason: str = "default map"
    value_map: str | None = None
    create: dict[str, Any] | None = None
    """How to create the column when the tenant lacks it (kind, max_length, ...)."""


@dataclass(frozen=True, slots=True)
class DefaultTarget:
    role: str
    source: str
    table: str
    rows: str
    fields: dict[str, DefaultField]
    create: dict[str, str] | None = None
    option: str | None = None
    """The map option that switches this target on or off."""
    note: str = ""


def _pid(p: str) -> DefaultField:
    return DefaultField(
        f"{p}_practiceid",
        "String",
        "the source id, kept for matching, delta and the alternate key",
        create={"kind": "String", "max_length": 100, "key": True},
    )


def _str(column: str, length: int = 100, reason: str = "default map") -> DefaultField:
    return DefaultField(column, "String", reason, create={"kind": "String", "max_length": length})


def _not(reason: str) -> DefaultField:
    return DefaultField(None, None, reason)


CREATED = DefaultField(
    "overriddencreatedon", "DateTime", "original creation time kept in overriddencreatedon"
)
OWNER = DefaultField("ownerid", "Owner", "owner = the coach's system user (owners section)")
UPDATED = _not("source change time: drives delta, not written (modifiedon is the service's)")


def default_targets(p: str = "new") -> list[DefaultTarget]:
    """The default roles in load order, with the publisher prefix ``p``."""
    address = {
        "address_line1": DefaultField("address1_line1", "String"),
        "address_line2": DefaultField("address1_line2", "String"),
        "city": DefaultField("address1_city", "String"),
        "state": DefaultField("address1_stateorprovince", "String"),
        "postal_code": DefaultField("address1_postalcode", "String"),
        "country": DefaultField("address1_country", "String"),
    }
    return [
        DefaultTarget(
            "household",
            "families",
            "account",
            "all",
            {
                "id": _pid(p),
                "name": DefaultField("name", "String"),
                "created_at": CREATED,
            },
            option="households",
            note="households become accounts their member contacts point to",
        ),
        DefaultTarget(
            "account",
            "clients",
            "account",
            "organization",
            {
                "id": _pid(p),
                "organization": DefaultField("name", "String"),
                "email": DefaultField("emailaddress1", "String"),
                "phone": DefaultField("telephone1", "String"),
                **address,
                "vertical": DefaultField(
                    "industrycode", "Picklist", "vertical → industry by option label", "vertical"
                ),
                "coach_id": OWNER,
                "coach_email": _str(f"{p}_coachemail", 100, "the coach, kept on the account"),
                "primary_service": _str(f"{p}_primaryservice", 200, "kept on the account"),
                "tags": DefaultField(
                    f"{p}_tags",
                    "MultiSelectPicklist",
                    "one option per distinct tag",
                    "tags",
                    {"kind": "MultiSelectPicklist"},
                ),
                "status": DefaultField(
                    f"{p}_clientstatus",
                    "Picklist",
                    "client status as a choice",
                    "client_status",
                    {"kind": "Picklist"},
                ),
                "created_at": CREATED,
                "updated_at": UPDATED,
            },
            note="an organization client: the account; its person becomes the primary contact",
        ),
        DefaultTarget(
            "contact",
            "clients",
            "contact",
            "all",
            {
                "id": _pid(p),
                "first_name": DefaultField("firstname", "String"),
                "last_name": DefaultField("lastname", "String"),
                "full_name": _not("split into first and last name when those are empty"),
                "organization": _not("the organization becomes the parent account"),
                "email": DefaultField("emailaddress1", "String"),
                "phone": DefaultField("telephone1", "String"),
                "mobile": DefaultField("mobilephone", "String"),
                **address,
                "birth_date": DefaultField("birthdate", "DateTime", "date of birth (DateOnly)"),
                "gender": DefaultField(
                    "gendercode", "Picklist", "gender by option label", "gender"
                ),
                "time_zone": _not("contacts have no time zone column; times are stored in UTC"),
                "status": DefaultField(
                    f"{p}_clientstatus",
                    "Picklist",
                    "client status as a choice",
                    "client_status",
                    {"kind": "Picklist"},
                ),
                "on_track_status": DefaultField(
                    f"{p}_ontrackstatus",
                    "Picklist",
                    "on-track status as a choice",
                    "on_track_status",
                    {"kind": "Picklist"},
                ),
                "coach_id": OWNER,
                "coach_email": _not("resolves the owner when coach_id is empty"),
                "vertical": _not("an organization's vertical goes on its account"),
                "family_id": DefaultField(
                    "parentcustomerid", "Customer", "the household account (parentcustomerid)"
                ),
                "tags": DefaultField(
                    f"{p}_tags",
                    "MultiSelectPicklist",
                    "one option per distinct tag",
                    "tags",
                    {"kind": "MultiSelectPicklist"},
                ),
                "primary_service": _not("kept on the account of an organization client"),
                "created_at": CREATED,
                "updated_at": UPDATED,
            },
            note="individual clients, and the person of each organization client",
        ),
        DefaultTarget(
            "service_type",
            "service_types",
            f"{p}_servicetype",
            "all",
            {
                "id": _pid(p),
                "name": DefaultField(f"{p}_name", "String", "primary name"),
                "default_rate": DefaultField(
                    f"{p}_defaultrate", "Money", "default map", create={"kind": "Money"}
                ),
                "duration_minutes": DefaultField(
                    f"{p}_durationminutes", "Integer", "default map", create={"kind": "Integer"}
                ),
                "active": DefaultField(
                    f"{p}_active", "Boolean", "default map", create={"kind": "Boolean"}
                ),
            },
            create={
                "schema_name": f"{p}_ServiceType",
                "display_name": "Service Type",
                "plural_name": "Service Types",
                "primary_name": f"{p}_Name",
            },
        ),
        DefaultTarget(
            "session",
            "sessions",
            f"{p}_session",
            "all",
            {
                "id": _pid(p),
                "client_id": DefaultField(
                    f"{p}_clientid",
                    "Lookup",
                    "the client's contact (an organization's primary contact)",
                    create={"kind": "Lookup", "target_table": "contact"},
                ),
                "coach_id": OWNER,
                "coach_email": _not("resolves the owner when coach_id is empty"),
                "service_type_id": DefaultField(
                    f"{p}_servicetypeid",
                    "Lookup",
                    "default map",
                    create={"kind": "Lookup", "target_table": f"{p}_servicetype"},
                ),
                "package_id": _not("packages are not migrated by default"),
                "session_type": DefaultField(
                    f"{p}_sessiontype",
                    "Picklist",
                    "session type as a choice",
                    "session_type",
                    {"kind": "Picklist"},
                ),
                "status": DefaultField(
                    f"{p}_sessionstatus",
                    "Picklist",
                    "session status as a choice",
                    "session_status",
                    {"kind": "Picklist"},
                ),
                "billing_status": DefaultField(
                    f"{p}_billingstatus",
                    "Picklist",
                    "billing status as a choice",
                    "billing_status",
                    {"kind": "Picklist"},
                ),
                "start_at": DefaultField(
                    f"{p}_start", "DateTime", "default map", create={"kind": "DateTime"}
                ),
                "end_at": DefaultField(
                    f"{p}_end", "DateTime", "default map", create={"kind": "DateTime"}
                ),
                "duration_minutes": DefaultField(
                    f"{p}_durationminutes", "Integer", "default map", create={"kind": "Integer"}
                ),
                "location": _str(f"{p}_location", 200),
                "price": DefaultField(
                    f"{p}_price", "Money", "default map", create={"kind": "Money"}
                ),
                "currency": DefaultField("transactioncurrencyid", "Lookup", "currency by ISO code"),
                "created_at": CREATED,
                "updated_at": UPDATED,
            },
            create={
                "schema_name": f"{p}_Session",
                "display_name": "Session",
                "plural_name": "Sessions",
                "primary_name": f"{p}_Name",
            },
            note='primary name "<date> <type> with <client>"',
        ),
        DefaultTarget(
            "note",
            "session_notes",
            "annotation",
            "all",
            {
                "id": _not("the note's id is derived from the source id (uuid5)"),
                "session_id": DefaultField("objectid", "Lookup", "the note hangs off its session"),
                "client_id": _not("reached through the session"),
                "author_id": _not("notes are owned by the session's owner"),
                "title": DefaultField(
                    "subject", "String", 'subject "<YYYY-MM-DD> Session Note" when empty'
                ),
                "body_html": DefaultField(
                    "notetext", "Memo", "HTML as plain text; inline images become attachments"
                ),
                "created_at": CREATED,
                "updated_at": UPDATED,
            },
        ),
        DefaultTarget(
            "invoice",
            "invoices",
            "invoice",
            "all",
            {
                "id": _pid(p),
                "number": DefaultField("invoicenumber", "String", "also the invoice name"),
                "client_id": DefaultField("customerid", "Customer", "the client's contact/account"),
                "issue_date": DefaultField(
                    f"{p}_issuedate",
                    "DateTime",
                    "default map",
                    create={"kind": "DateTime", "behavior": "DateOnly"},
                ),
                "due_date": DefaultField("duedate", "DateTime"),
                "status": DefaultField(
                    "statuscode",
                    "Status",
                    "state and status set last (a paid invoice is read-only)",
                    "invoice_status",
                ),
                "currency": DefaultField("transactioncurrencyid", "Lookup", "currency by ISO code"),
                "subtotal": _not("computed by Dataverse from the lines; checked by verify"),
                "tax": _not(
                    "carried on the lines (invoicedetail.tax, spread by line amount), which "
                    "Dataverse adds up to totaltax; checked by verify"
                ),
                "total_amount": _not(
                    "computed by Dataverse (totalamount = lines + tax); checked by verify"
                ),
                "amount_paid": DefaultField(
                    f"{p}_amountpaid", "Money", "default map", create={"kind": "Money"}
                ),
                "paid_at": DefaultField(
                    f"{p}_paidat", "DateTime", "default map", create={"kind": "DateTime"}
                ),
                "created_at": CREATED,
                "updated_at": UPDATED,
            },
            note="price list and currency are required; the source status is kept as text",
        ),
        DefaultTarget(
            "invoice_line",
            "invoice_items",
            "invoicedetail",
            "all",
            {
                "id": _pid(p),
                "invoice_id": DefaultField("invoiceid", "Lookup", "the line's invoice"),
                "description": DefaultField("productdescription", "String", "write-in line"),
                "quantity": DefaultField("quantity", "Decimal"),
                "unit_price": DefaultField("priceperunit", "Money"),
                "amount": _not("computed by Dataverse (extendedamount); checked by verify"),
                "session_id": _not("write-in lines do not link sessions"),
                "service_type_id": _not("write-in lines have no product"),
            },
            note="write-in lines (isproductoverridden) carrying the invoice's tax, so "
            "Dataverse totals equal the source",
        ),
        DefaultTarget(
            "payment",
            "payments",
            f"{p}_payment",
            "all",
            {
                "id": _pid(p),
                "invoice_id": DefaultField(
                    f"{p}_invoiceid",
                    "Lookup",
                    "default map",
                    create={"kind": "Lookup", "target_table": "invoice"},
                ),
                "amount": DefaultField(
                    f"{p}_amount", "Money", "default map", create={"kind": "Money"}
                ),
                "paid_at": DefaultField(
                    f"{p}_paidat", "DateTime", "default map", create={"kind": "DateTime"}
                ),
                "method": DefaultField(
                    f"{p}_method",
                    "Picklist",
                    "payment method as a choice",
                    "payment_method",
                    {"kind": "Picklist"},
                ),
                "reference": _str(f"{p}_reference", 200),
            },
            create={
                "schema_name": f"{p}_Payment",
                "display_name": "Payment",
                "plural_name": "Payments",
                "primary_name": f"{p}_Name",
            },
        ),
        DefaultTarget(
            "opportunity",
            "sessions",
            "opportunity",
            "completed_paid",
            {
                "price": DefaultField(
                    "actualvalue", "Money", "sum of the aggregated sessions' prices"
                ),
                "id": DefaultField(
                    f"{p}_sessioncount",
                    "Integer",
                    "number of sessions aggregated",
                    create={"kind": "Integer"},
                ),
            },
            option="opportunities",
            note=(
                "one per client (and service type where a session has one); "
                "closed as Won through WinOpportunity"
            ),
        ),
        *(
            DefaultTarget(
                f"activity_{kind}",
                "activities",
                table,
                f"kind={kind}",
                {
                    "subject": DefaultField("subject", "String"),
                    "body": DefaultField("description", "Memo"),
                    "direction": (
                        DefaultField("directioncode", "Boolean", "outbound = true")
                        if table != "appointment"
                        else _not("appointments have no direction")
                    ),
                    "occurred_at": DefaultField(
                        "actualstart", "DateTime", "original time (also scheduled start)"
                    ),
                    "duration_minutes": DefaultField("actualdurationminutes", "Integer"),
                    "client_id": DefaultField(
                        "regardingobjectid", "Lookup", "regarding the client"
                    ),
                    "coach_id": OWNER,
                    "created_at": CREATED,
                    "id": _not("the activity's id is derived from the source id (uuid5)"),
                },
                note="parties through activityparty; closed as Completed after creation",
            )
            for kind, table in (
                ("call", "phonecall"),
                ("email", "email"),
                ("meeting", "appointment"),
            )
        ),
        DefaultTarget(
            "attachment",
            "files",
            "annotation",
            "all",
            {
                "id": _not("the attachment's id is derived from the source id (uuid5)"),
                "client_id": DefaultField("objectid", "Lookup", "on the client's contact/account"),
                "session_id": _not("on the session when set (objectid)"),
                "filename": DefaultField("filename", "String"),
                "content_type": DefaultField("mimetype", "String"),
                "path": DefaultField("documentbody", "String", "the file, base64"),
                "size_bytes": _not("checked against the tenant's upload limit"),
                "url": _not(
                    "a linked file is looked for in the downloads folder ([source] files); "
                    "documents.linked says what a missing one does"
                ),
                "sha256": _not("checked when the file is read"),
                "uploaded_at": CREATED,
            },
            note="files over the upload limit or of blocked types are listed with a reason",
        ),
    ]


NOT_MIGRATED_OBJECTS: dict[str, str] = {
    "users": "resolved to system users (owners section), not created",
    "packages": "not migrated by default (no package-level pipeline)",
    "automations": "exported as a rebuild guide (crm-ferry references)",
    "email_templates": "exported as a reference file (crm-ferry references)",
    "integrations": "exported as a checklist (crm-ferry references)",
    "reports": "exported as a data dictionary (crm-ferry references)",
}


@dataclass(frozen=True, slots=True)
class DefaultValueMap:
    name: str
    column: str
    labels: dict[str, str] = field(default_factory=dict)
    """Source value → option label (matched against the tenant's labels or created)."""
    values: dict[str, Any] = field(default_factory=dict)
    """Source value → fixed option value(s) (state/status pairs)."""
    policy: str = "fail"
    text_column: str | None = None
    """``table.column`` that always receives the source value as text as well (and, with
    policy ``keep_text``, is all an unknown value gets)."""


def default_value_maps(p: str = "new") -> list[DefaultValueMap]:
    return [
        DefaultValueMap(
            "session_status",
            f"{p}_session.{p}_sessionstatus",
            {
                "scheduled": "Scheduled",
                "completed": "Completed",
                "cancelled": "Cancelled",
                "no_show": "No Show",
            },
        ),
        DefaultValueMap(
            "session_type",
            f"{p}_session.{p}_sessiontype",
            {t: t.replace("_", " ").title().replace("On One", "on One") for t in SESSION_TYPES},
        ),
        DefaultValueMap(
            "billing_status",
            f"{p}_session.{p}_billingstatus",
            {"unbilled": "Unbilled", "invoiced": "Invoiced", "paid": "Paid", "waived": "Waived"},
        ),
        DefaultValueMap(
            "client_status",
            f"contact.{p}_clientstatus",
            {"active": "Active", "archived": "Archived", "prospect": "Prospect"},
        ),
        DefaultValueMap(
            "on_track_status",
            f"contact.{p}_ontrackstatus",
            {"on_track": "On Track", "at_risk": "At Risk", "off_track": "Off Track"},
        ),
        DefaultValueMap(
            "payment_method",
            f"{p}_payment.{p}_method",
            {"card": "Card", "ach": "ACH", "wire": "Wire", "cash": "Cash", "other": "Other"},
        ),
        DefaultValueMap(
            "gender",
            "contact.gendercode",
            {"male": "Male", "m": "Male", "female": "Female", "f": "Female"},
            policy="keep_text",
            text_column=f"contact.{p}_gender",
        ),
        DefaultValueMap(
            "vertical",
            "account.industrycode",
            policy="fail",
        ),
        DefaultValueMap("tags", f"contact.{p}_tags", policy="fail"),
        DefaultValueMap(
            "invoice_status",
            "invoice.statuscode",
            text_column=f"invoice.{p}_sourcestatus",
            values={
                "draft": [0, 1],
                "sent": [0, 1],
                "viewed": [0, 1],
                "overdue": [0, 1],
                "failed": [0, 1],
                "paid": [2, 100001],
                "partially_paid": [2, 100002],
                "void": [3, 100003],
            },
        ),
    ]


FIRST_OPTION_VALUE = 100_000_000
"""Option values of a new choice start at the publisher's prefix × 10,000 (default 100000000)."""


def option_values(labels: list[str]) -> dict[str, int]:
    """Labels of a new choice → option values from :data:`FIRST_OPTION_VALUE`, in order."""
    return {label: FIRST_OPTION_VALUE + i for i, label in enumerate(dict.fromkeys(labels))}


def default_document(p: str = "new") -> dict[str, Any]:
    """The default map as a plain document, before the proposer has seen source or tenant.

    New choices get option values from :data:`FIRST_OPTION_VALUE` in label order; maps
    onto the tenant's own choices (gender, industry) are left empty for the proposer, which
    reads their labels from metadata. Tests and the provisioning planner start from this.
    """
    value_maps: dict[str, Any] = {}
    new_choice_options: dict[str, dict[int, str]] = {}
    for vm in default_value_maps(p):
        entry: dict[str, Any] = {"column": vm.column, "policy": vm.policy}
        if vm.values:
            entry["values"] = dict(vm.values)
        elif vm.column.split(".")[1].startswith(f"{p}_"):
            values = option_values(list(vm.labels.values()))
            entry["values"] = {src: values[label] for src, label in vm.labels.items()}
            new_choice_options[vm.name] = {v: label for label, v in values.items()}
        else:
            entry["values"] = {}
        if vm.text_column:
            entry["text_column"] = vm.text_column
        value_maps[vm.name] = entry
    targets: dict[str, Any] = {}
    for t in default_targets(p):
        targets[t.role] = target_entry(t, p, new_choice_options)
    return {
        "version": 1,
        "status": "proposed",
        "confirmed_by": None,
        "confirmed_at": None,
        "fingerprint": {"source": None, "target": None},
        "publisher_prefix": p,
        "confirm_threshold": 0.8,
        "options": {
            "opportunities": True,
            "households": True,
            "invoice_lines": "invoicedetail",
            "match_existing": True,
        },
        "owners": {"fallback": None, "coaches": {}},
        "documents": {"files": "dataverse", "images": "dataverse", "linked": "skip"},
        "value_maps": value_maps,
        "targets": targets,
    }


def target_entry(
    t: DefaultTarget, p: str, new_choice_options: dict[str, dict[int, str]] | None = None
) -> dict[str, Any]:
    """One target of the plain document (as :func:`default_document` writes it)."""
    options = new_choice_options or {}
    fields: dict[str, Any] = {}
    for name, f in t.fields.items():
        fd: dict[str, Any] = {"column": f.column}
        if f.type:
            fd["type"] = f.type
        fd["confidence"] = 1.0
        fd["reason"] = f.reason
        if f.value_map:
            fd["value_map"] = f.value_map
        if f.create is not None and f.column:
            create = {"kind": f.create["kind"], "schema_name": _schema_of(f.column, p)}
            create["label"] = name.replace("_", " ").title()
            create.update({k: v for k, v in f.create.items() if k != "kind"})
            if f.value_map in options:
                create["options"] = options[f.value_map]
            fd["create"] = create
        fields[name] = fd
    target: dict[str, Any] = {"source": t.source, "table": t.table, "rows": t.rows}
    if t.create:
        target["create"] = dict(t.create)
    if t.note:
        target["note"] = t.note
    target["fields"] = fields
    return target


SCHEMA_WORDS: dict[str, str] = {
    name.lower(): name
    for name in [
        "PracticeId",
        "CoachEmail",
        "PrimaryService",
        "Tags",
        "ClientStatus",
        "OnTrackStatus",
        "DefaultRate",
        "DurationMinutes",
        "Active",
        "ClientId",
        "ServiceTypeId",
        "SessionType",
        "SessionStatus",
        "BillingStatus",
        "Start",
        "End",
        "Location",
        "Price",
        "IssueDate",
        "AmountPaid",
        "PaidAt",
        "InvoiceId",
        "Amount",
        "Method",
        "Reference",
        "SessionCount",
        "Gender",
        "SourceStatus",
        "Name",
        "ServiceType",
        "Session",
        "Payment",
    ]
}


def _schema_of(column: str, p: str) -> str:
    """``new_sessionstatus`` → ``new_SessionStatus`` (the schema name of a default column)."""
    if not column.startswith(f"{p}_"):
        return column
    rest = column[len(p) + 1 :]
    return f"{p}_{SCHEMA_WORDS.get(rest, rest.title())}"


INVOICE_LABELS: dict[str, str] = {
    "draft": "Draft",
    "sent": "Sent",
    "viewed": "Viewed",
    "paid": "Paid",
    "partially_paid": "Partially Paid",
    "overdue": "Overdue",
    "failed": "Failed",
    "void": "Void",
}
"""Invoice status → option label of the fallback table's ``{p}_invoicestatus`` choice."""


def fallback_invoice_targets(p: str = "new") -> list[DefaultTarget]:
    """The custom ``{p}_invoice`` and ``{p}_invoicelineitem`` tables, for a tenant without the
    Sales ``invoice`` table (the object map's fallback). Same roles as the default map."""
    invoice_table = f"{p}_invoice"

    def money(column: str) -> DefaultField:
        return DefaultField(column, "Money", "fallback invoice table", create={"kind": "Money"})

    return [
        DefaultTarget(
            "invoice",
            "invoices",
            invoice_table,
            "all",
            {
                "id": _pid(p),
                "number": DefaultField(f"{p}_name", "String", "primary name: the invoice number"),
                "client_id": DefaultField(
                    f"{p}_clientid",
                    "Lookup",
                    "the client's contact (an organization's primary contact)",
                    create={"kind": "Lookup", "target_table": "contact"},
                ),
                "issue_date": DefaultField(
                    f"{p}_issuedate",
                    "DateTime",
                    "fallback invoice table",
                    create={"kind": "DateTime", "behavior": "DateOnly"},
                ),
                "due_date": DefaultField(
                    f"{p}_duedate",
                    "DateTime",
                    "fallback invoice table",
                    create={"kind": "DateTime", "behavior": "DateOnly"},
                ),
                "status": DefaultField(
                    f"{p}_invoicestatus",
                    "Picklist",
                    "invoice status as a choice",
                    "invoice_status",
                    {"kind": "Picklist"},
                ),
                "currency": DefaultField("transactioncurrencyid", "Lookup", "currency by ISO code"),
                "subtotal": money(f"{p}_subtotal"),
                "tax": money(f"{p}_tax"),
                "total_amount": money(f"{p}_totalamount"),
                "amount_paid": money(f"{p}_amountpaid"),
                "paid_at": DefaultField(
                    f"{p}_paidat", "DateTime", "fallback invoice table", create={"kind": "DateTime"}
                ),
                "created_at": CREATED,
                "updated_at": UPDATED,
            },
            create={
                "schema_name": f"{p}_Invoice",
                "display_name": "Invoice",
                "plural_name": "Invoices",
                "primary_name": f"{p}_Name",
            },
            note="the tenant has no invoice table (Sales Professional or Enterprise needed)",
        ),
        DefaultTarget(
            "invoice_line",
            "invoice_items",
            f"{p}_invoicelineitem",
            "all",
            {
                "id": _pid(p),
                "invoice_id": DefaultField(
                    f"{p}_invoiceid",
                    "Lookup",
                    "the line's invoice",
                    create={"kind": "Lookup", "target_table": invoice_table},
                ),
                "description": DefaultField(f"{p}_name", "String", "primary name"),
                "quantity": DefaultField(
                    f"{p}_quantity",
                    "Decimal",
                    "fallback line table",
                    create={"kind": "Decimal", "precision": 2},
                ),
                "unit_price": money(f"{p}_unitprice"),
                "amount": money(f"{p}_amount"),
                "session_id": DefaultField(
                    f"{p}_sessionid",
                    "Lookup",
                    "fallback line table",
                    create={"kind": "Lookup", "target_table": f"{p}_session"},
                ),
                "service_type_id": DefaultField(
                    f"{p}_servicetypeid",
                    "Lookup",
                    "fallback line table",
                    create={"kind": "Lookup", "target_table": f"{p}_servicetype"},
                ),
            },
            create={
                "schema_name": f"{p}_InvoiceLineItem",
                "display_name": "Invoice Line Item",
                "plural_name": "Invoice Line Items",
                "primary_name": f"{p}_Name",
            },
            note="custom line table (no invoicedetail without the invoice table)",
        ),
    ]


SCHEMA_WORDS.update(
    {
        name.lower(): name
        for name in [
            "DueDate",
            "InvoiceStatus",
            "Subtotal",
            "Tax",
            "TotalAmount",
            "Quantity",
            "UnitPrice",
            "SessionId",
            "IssueDate",
            "Invoice",
            "InvoiceLineItem",
        ]
    }
)
