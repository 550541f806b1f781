"""The default Dynamics 365 Sales tenant: its standard tables and the rows every tenant has.

Names, option values and navigation properties are the real ones (Dataverse table reference,
https://learn.microsoft.com/power-apps/developer/data-platform/reference/about-entity-reference
and the Dynamics 365 Sales entity reference), because a client that works here must work there:
``parentcustomerid_account`` not ``parentcustomerid``, ``objectid_contact`` on notes,
``regardingobjectid_contact_phonecall`` on activities, ``phonecall_activity_parties``.

Only what the migration touches is modelled; other tables and columns are deliberately
absent, so writing them fails here as an unknown property rather than passing silently.
Seed rows have deterministic ids (uuid5 under :data:`NAMESPACE`) so dumps compare.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from crm_ferry.emulator.schema import (
    BULK_MESSAGES,
    AttributeDef,
    AttributeType,
    CascadeType,
    DateTimeBehavior,
    EntityDef,
    ManyToManyRelationshipDef,
    OptionDef,
    OptionSetDef,
    OwnershipType,
    RelationshipDef,
    RequiredLevel,
    Schema,
)

NAMESPACE = uuid.UUID("6f0b5c1e-7d3a-4b8e-9c2f-1a2b3c4d5e6f")


def seed_id(*parts: str) -> str:
    """A deterministic id for a seeded row."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


ORGANIZATION_ID = seed_id("organization")
ORGANIZATION_NAME = "crmferry"
ROOT_BUSINESS_UNIT_ID = seed_id("businessunit", "root")
DEFAULT_TEAM_ID = seed_id("team", "default")
BASE_CURRENCY_ID = seed_id("transactioncurrency", "USD")
DEFAULT_PUBLISHER_ID = seed_id("publisher", "default")
DEFAULT_SOLUTION_ID = seed_id("solution", "default")
DEFAULT_PRICE_LEVEL_ID = seed_id("pricelevel", "default")
DEFAULT_APP_CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"
"""The client id of the application user every tenant is seeded with; requests that carry
no caller run as this user."""
DEFAULT_APP_USER_ID = seed_id("systemuser", "app", DEFAULT_APP_CLIENT_ID)
MAX_UPLOAD_FILE_SIZE = 5_242_880

CURRENCIES: tuple[tuple[str, str, str, float], ...] = (
    ("USD", "US Dollar", "$", 1.0),
    ("EUR", "Euro", "€", 0.92),
    ("GBP", "Pound Sterling", "£", 0.79),
    ("CAD", "Canadian Dollar", "CA$", 1.36),
    ("AUD", "Australian Dollar", "A$", 1.52),
)


@dataclass(frozen=True, slots=True)
class SeedUser:
    key: str
    fullname: str
    firstname: str
    lastname: str
    email: str
    isdisabled: bool = False

    @property
    def id(self) -> str:
        return seed_id("systemuser", self.key)


SEED_USERS: tuple[SeedUser, ...] = (
    SeedUser("admin", "Alex Admin", "Alex", "Admin", "alex.admin@crmferry.onmicrosoft.com"),
    SeedUser("coach1", "Casey Coach", "Casey", "Coach", "casey.coach@crmferry.onmicrosoft.com"),
    SeedUser("coach2", "Robin Mentor", "Robin", "Mentor", "robin.mentor@crmferry.onmicrosoft.com"),
    SeedUser(
        "former",
        "Former Coach",
        "Former",
        "Coach",
        "former.coach@crmferry.onmicrosoft.com",
        isdisabled=True,
    ),
)

SERVICE_VERSION = "9.2.25124.00000"
"""What ``RetrieveVersion`` answers: a 9.2 service (the build number is the emulator's own)."""

ACTIVITIES = ("phonecall", "email", "appointment", "task", "opportunityclose")
"""Activity tables (activityid primary key, regarding, parties)."""
NOTE_TARGETS = (
    "contact",
    "account",
    "opportunity",
    "invoice",
    "phonecall",
    "email",
    "appointment",
    "task",
)
REGARDING_TARGETS = ("contact", "account", "opportunity", "invoice")

# ---------------------------------------------------------------------------------------
# Option sets


def _options(*pairs: tuple[int, str]) -> list[OptionDef]:
    return [OptionDef(v, label) for v, label in pairs]


INDUSTRY_LABELS = (
    "Accounting",
    "Agriculture and Non-petrol Natural Resource Extraction",
    "Broadcasting Printing and Publishing",
    "Brokers",
    "Building Supply Retail",
    "Business Services",
    "Consulting",
    "Consumer Services",
    "Design, Direction and Creative Management",
    "Distributors, Dispatchers and Processors",
    "Doctor's Offices and Clinics",
    "Durable Manufacturing",
    "Eating and Drinking Places",
    "Entertainment Retail",
    "Equipment Rental and Leasing",
    "Financial",
    "Food and Tobacco Processing",
    "Inbound Capital Intensive Processing",
    "Inbound Repair and Services",
    "Insurance",
    "Legal Services",
    "Non-Durable Merchandise Retail",
    "Outbound Consumer Service",
    "Petrochemical Extraction and Distribution",
    "Service Retail",
    "SIG Affiliations",
    "Social Services",
    "Special Outbound Trade Contractors",
    "Specialty Realty",
    "Transportation",
    "Utility Creation and Distribution",
    "Vehicle Retail",
    "Wholesale",
)

PARTICIPATION_TYPES = (
    "Sender",
    "To Recipient",
    "CC Recipient",
    "BCC Recipient",
    "Required attendee",
    "Optional attendee",
    "Organizer",
    "Regarding",
    "Owner",
    "Resource",
    "Customer",
    "Chat Participant",
)

# (state value, state label, default status, [(status value, status label)])
StateSpec = tuple[tuple[int, str, int, tuple[tuple[int, str], ...]], ...]

ACTIVE_INACTIVE: StateSpec = (
    (0, "Active", 1, ((1, "Active"),)),
    (1, "Inactive", 2, ((2, "Inactive"),)),
)
STATES: dict[str, StateSpec] = {
    "account": ACTIVE_INACTIVE,
    "contact": ACTIVE_INACTIVE,
    "pricelevel": ACTIVE_INACTIVE,
    "transactioncurrency": ACTIVE_INACTIVE,
    "team": (),
    "opportunity": (
        (0, "Open", 1, ((1, "In Progress"), (2, "On Hold"))),
        (1, "Won", 3, ((3, "Won"),)),
        (2, "Lost", 4, ((4, "Canceled"), (5, "Out-Sold"))),
    ),
    # Pairing from the invoice statuscode metadata (Sales entity reference, invoice):
    # Active 1,2,4,5,6; Closed 3,7 (deprecated); Paid 100001,100002; Canceled 100003.
    "invoice": (
        (
            0,
            "Active",
            1,
            (
                (1, "New"),
                (2, "Partially Shipped"),
                (4, "Billed"),
                (5, "Booked (applies to services)"),
                (6, "Installed (applies to services)"),
            ),
        ),
        (
            1,
            "Closed (deprecated)",
            3,
            ((3, "Canceled (deprecated)"), (7, "Paid in Full (deprecated)")),
        ),
        (2, "Paid", 100001, ((100001, "Complete"), (100002, "Partial"))),
        (3, "Canceled", 100003, ((100003, "Canceled"),)),
    ),
    "phonecall": (
        (0, "Open", 1, ((1, "Open"),)),
        (1, "Completed", 2, ((2, "Made"), (4, "Received"))),
        (2, "Canceled", 3, ((3, "Canceled"),)),
    ),
    "email": (
        (0, "Open", 1, ((1, "Draft"), (8, "Failed"))),
        (
            1,
            "Completed",
            2,
            ((2, "Completed"), (3, "Sent"), (4, "Received"), (6, "Pending Send"), (7, "Sending")),
        ),
        (2, "Canceled", 5, ((5, "Canceled"),)),
    ),
    "appointment": (
        (0, "Open", 1, ((1, "Free"), (2, "Tentative"))),
        (1, "Completed", 3, ((3, "Completed"),)),
        (2, "Canceled", 4, ((4, "Canceled"),)),
        (3, "Scheduled", 5, ((5, "Busy"), (6, "Out of Office"))),
    ),
    "task": (
        (
            0,
            "Open",
            2,
            (
                (2, "Not Started"),
                (3, "In Progress"),
                (4, "Waiting on someone else"),
                (7, "Deferred"),
            ),
        ),
        (1, "Completed", 5, ((5, "Completed"),)),
        (2, "Canceled", 6, ((6, "Canceled"),)),
    ),
    "opportunityclose": (
        (0, "Open", 1, ((1, "Open"),)),
        (1, "Completed", 2, ((2, "Completed"),)),
        (2, "Canceled", 3, ((3, "Canceled"),)),
    ),
}
# System jobs (System Job (AsyncOperation) and BulkDeleteOperation table references). For
# bulkdeleteoperation the reference gives Ready's default status as 1, a value its status list
# does not have; 0 (Waiting For Resources), the only status of Ready, is used.
_JOB_STATES: StateSpec = (
    (0, "Ready", 0, ((0, "Waiting For Resources"),)),
    (1, "Suspended", 10, ((10, "Waiting"),)),
    (2, "Locked", 20, ((20, "In Progress"), (21, "Pausing"), (22, "Canceling"))),
    (3, "Completed", 30, ((30, "Succeeded"), (31, "Failed"), (32, "Canceled"))),
)
STATES["asyncoperation"] = _JOB_STATES
STATES["bulkdeleteoperation"] = (
    _JOB_STATES[0],
    (1, "Suspended", 10, ((10, "Waiting"), (11, "Retrying"), (12, "Paused"))),
    *_JOB_STATES[2:],
)
STATES["activitypointer"] = STATES["phonecall"]

READ_ONLY_STATES: dict[str, frozenset[int]] = {"invoice": frozenset({1, 2, 3})}
"""States in which a row accepts no writes (closed invoices are read-only)."""
CLOSED_ACTIVITY_STATES = frozenset({1, 2})


def _state_attributes(entity: str, spec: StateSpec) -> list[AttributeDef]:
    state_set = OptionSetDef(
        f"{entity}_statecode",
        kind="State",
        options=[OptionDef(s, label, default_status=d) for s, label, d, _ in spec],
    )
    status_set = OptionSetDef(
        f"{entity}_statuscode",
        kind="Status",
        options=[OptionDef(v, label, state=s) for s, _, _, sts in spec for v, label in sts],
    )
    return [
        AttributeDef("statecode", "StateCode", "State", "Status", option_set=state_set),
        AttributeDef("statuscode", "StatusCode", "Status", "Status Reason", option_set=status_set),
    ]


# ---------------------------------------------------------------------------------------
# Column helpers


def _schema_name(logical: str) -> str:
    return logical[:1].upper() + logical[1:]


def col(
    name: str,
    type_: AttributeType,
    *,
    required: RequiredLevel = "None",
    max_length: int | None = None,
    fmt: str | None = None,
    behavior: DateTimeBehavior | None = None,
    options: Iterable[tuple[int, str]] | None = None,
    option_set_name: str | None = None,
    targets: tuple[str, ...] = (),
    create: bool = True,
    update: bool = True,
    precision: int | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    attribute_of: str | None = None,
    display: str = "",
) -> AttributeDef:
    option_set = None
    if options is not None:
        option_set = OptionSetDef(
            option_set_name or name,
            kind="Boolean" if type_ == "Boolean" else "Picklist",
            options=_options(*options),
        )
    if type_ == "Money":
        precision = 2 if precision is None else precision
        min_value = -922337203685477.0 if min_value is None else min_value
        max_value = 922337203685477.0 if max_value is None else max_value
    if type_ == "DateTime" and behavior is None:
        behavior = "UserLocal"
    if type_ == "DateTime" and fmt is None:
        fmt = "DateOnly" if behavior == "DateOnly" else "DateAndTime"
    return AttributeDef(
        name,
        _schema_name(name),
        type_,
        display or name,
        required=required,
        max_length=max_length,
        format=fmt,
        datetime_behavior=behavior,
        option_set=option_set,
        targets=targets,
        valid_for_create=create,
        valid_for_update=update,
        precision=precision,
        min_value=min_value,
        max_value=max_value,
        attribute_of=attribute_of,
    )


def s(name: str, length: int = 100, **kw: Any) -> AttributeDef:
    return col(name, "String", max_length=length, fmt=kw.pop("fmt", "Text"), **kw)


def memo(name: str, length: int = 2000, **kw: Any) -> AttributeDef:
    return col(name, "Memo", max_length=length, fmt="TextArea", **kw)


def money(name: str, **kw: Any) -> list[AttributeDef]:
    """A Money column and its read-only ``_base`` twin in the organization's currency."""
    return [
        col(name, "Money", **kw),
        col(f"{name}_base", "Money", create=False, update=False, attribute_of=name),
    ]


def exchange_rate() -> AttributeDef:
    """``exchangerate``: every table with a currency column has it (read-only, set by the
    platform from the row's currency; Microsoft Learn, "Currency (Money) columns")."""
    return AttributeDef(
        logical_name="exchangerate",
        schema_name="ExchangeRate",
        type="Decimal",
        display_name="Exchange Rate",
        precision=10,
        min_value=Decimal("0.000000000001"),
        max_value=Decimal("100000000000"),
        valid_for_create=False,
        valid_for_update=False,
    )


def lookup(name: str, *targets: str, type_: AttributeType = "Lookup", **kw: Any) -> AttributeDef:
    return col(name, type_, targets=targets, **kw)


def boolean(name: str, labels: tuple[str, str] = ("No", "Yes"), **kw: Any) -> AttributeDef:
    """A yes/no column: the labels of false and true (``donotemail``: Allow / Do Not Allow,
    contact table reference)."""
    return col(name, "Boolean", options=((0, labels[0]), (1, labels[1])), **kw)


_DO_NOT = ("Allow", "Do Not Allow")


def system_columns(ownership: OwnershipType) -> list[AttributeDef]:
    cols = [
        col("createdon", "DateTime", create=False, update=False),
        col("modifiedon", "DateTime", create=False, update=False),
        lookup("createdby", "systemuser", create=False, update=False),
        lookup("modifiedby", "systemuser", create=False, update=False),
        col("versionnumber", "BigInt", create=False, update=False),
        # "Date and time that the record was migrated": create only, DateOnly format,
        # UserLocal behaviour (table reference pages, overriddencreatedon).
        col("overriddencreatedon", "DateTime", fmt="DateOnly", update=False),
        col("importsequencenumber", "Integer", update=False),
    ]
    if ownership == "UserOwned":
        cols += [
            lookup("ownerid", "systemuser", "team", type_="Owner", required="SystemRequired"),
            lookup("owningbusinessunit", "businessunit", create=False, update=False),
            lookup("owninguser", "systemuser", create=False, update=False),
            lookup("owningteam", "team", create=False, update=False),
        ]
    return cols


# ---------------------------------------------------------------------------------------
# Tables


@dataclass(frozen=True, slots=True)
class _Table:
    logical: str
    schema: str
    set_name: str
    primary_id: str
    primary_name: str | None
    otc: int
    ownership: OwnershipType = "UserOwned"
    is_activity: bool = False
    has_notes: bool = False
    has_activities: bool = False


TABLES: tuple[_Table, ...] = (
    _Table(
        "account",
        "Account",
        "accounts",
        "accountid",
        "name",
        1,
        has_notes=True,
        has_activities=True,
    ),
    _Table(
        "contact",
        "Contact",
        "contacts",
        "contactid",
        "fullname",
        2,
        has_notes=True,
        has_activities=True,
    ),
    _Table(
        "opportunity",
        "Opportunity",
        "opportunities",
        "opportunityid",
        "name",
        3,
        has_notes=True,
        has_activities=True,
    ),
    _Table(
        "systemuser",
        "SystemUser",
        "systemusers",
        "systemuserid",
        "fullname",
        8,
        "OrganizationOwned",
    ),
    _Table("team", "Team", "teams", "teamid", "name", 9, "OrganizationOwned"),
    _Table(
        "businessunit",
        "BusinessUnit",
        "businessunits",
        "businessunitid",
        "name",
        10,
        "OrganizationOwned",
    ),
    _Table("annotation", "Annotation", "annotations", "annotationid", "subject", 5),
    _Table(
        "organization",
        "Organization",
        "organizations",
        "organizationid",
        "name",
        1019,
        "OrganizationOwned",
    ),
    _Table(
        "invoice",
        "Invoice",
        "invoices",
        "invoiceid",
        "name",
        1090,
        has_notes=True,
        has_activities=True,
    ),
    _Table("invoicedetail", "InvoiceDetail", "invoicedetails", "invoicedetailid", None, 1091),
    _Table(
        "pricelevel", "PriceLevel", "pricelevels", "pricelevelid", "name", 1022, "OrganizationOwned"
    ),
    _Table(
        "transactioncurrency",
        "TransactionCurrency",
        "transactioncurrencies",
        "transactioncurrencyid",
        "currencyname",
        9105,
        "OrganizationOwned",
    ),
    _Table(
        "activitypointer",
        "ActivityPointer",
        "activitypointers",
        "activityid",
        "subject",
        4200,
        is_activity=True,
    ),
    _Table(
        "activityparty",
        "ActivityParty",
        "activityparties",
        "activitypartyid",
        "partyidname",
        135,
        "None",
    ),
    _Table(
        "phonecall",
        "PhoneCall",
        "phonecalls",
        "activityid",
        "subject",
        4210,
        is_activity=True,
        has_notes=True,
    ),
    _Table(
        "email", "Email", "emails", "activityid", "subject", 4202, is_activity=True, has_notes=True
    ),
    _Table(
        "appointment",
        "Appointment",
        "appointments",
        "activityid",
        "subject",
        4201,
        is_activity=True,
        has_notes=True,
    ),
    _Table(
        "task", "Task", "tasks", "activityid", "subject", 4212, is_activity=True, has_notes=True
    ),
    _Table(
        "opportunityclose",
        "OpportunityClose",
        "opportunitycloses",
        "activityid",
        "subject",
        4208,
        is_activity=True,
    ),
    _Table(
        "solution", "Solution", "solutions", "solutionid", "friendlyname", 7100, "OrganizationOwned"
    ),
    _Table(
        "publisher",
        "Publisher",
        "publishers",
        "publisherid",
        "friendlyname",
        7101,
        "OrganizationOwned",
    ),
    _Table(
        "sdkmessage", "SdkMessage", "sdkmessages", "sdkmessageid", "name", 4606, "OrganizationOwned"
    ),
    # what the platform keeps for each file of a file column (FileAttachment table reference)
    _Table(
        "fileattachment",
        "FileAttachment",
        "fileattachments",
        "fileattachmentid",
        "filename",
        55,
        "None",
    ),
    # e-mail attachments (Attachment (ActivityMimeAttachment) table reference)
    _Table(
        "activitymimeattachment",
        "ActivityMimeAttachment",
        "activitymimeattachments",
        "activitymimeattachmentid",
        "filename",
        1001,
        "None",
    ),
    _Table(
        "sdkmessagefilter",
        "SdkMessageFilter",
        "sdkmessagefilters",
        "sdkmessagefilterid",
        None,
        4607,
        "OrganizationOwned",
    ),
    # System jobs: what the BulkDelete action submits (crm_ferry.emulator.jobs). Table
    # reference: System Job (AsyncOperation), BulkDeleteOperation (OwnershipType None, but it
    # has the owner columns of the user who submitted it).
    _Table("asyncoperation", "AsyncOperation", "asyncoperations", "asyncoperationid", "name", 4700),
    _Table(
        "bulkdeleteoperation",
        "BulkDeleteOperation",
        "bulkdeleteoperations",
        "bulkdeleteoperationid",
        "name",
        4424,
        "None",
    ),
)


ADDRESS_PARTS = ("line1", "line2", "line3", "city", "stateorprovince", "postalcode", "country")
"""The columns of an address its ``<prefix>_composite`` column is built from."""


def composite_address(values: Sequence[Any]) -> str | None:
    """``<prefix>_composite`` as the platform builds it for en-US from the values of
    :data:`ADDRESS_PARTS` (in that order): the street lines, then "City, State PostalCode",
    then the country, one per line (CR LF), empty parts left out; None for an empty address.
    (The table reference only says "Shows the complete primary address", read-only, Memo of
    1,000: the layout is the en-US address format.)"""
    line1, line2, line3, city, state, postal, country = values
    place = f"{city}, {state}" if city and state else str(city or state or "")
    if postal:
        place = f"{place} {postal}" if place else str(postal)
    parts = [str(p) for p in (line1, line2, line3, place, country) if p]
    return "\r\n".join(parts)[:1000] if parts else None


def _address(prefix: str) -> list[AttributeDef]:
    return [
        memo(f"{prefix}_composite", 1000, create=False, update=False),
        s(f"{prefix}_name", 200),
        s(f"{prefix}_line1", 250),
        s(f"{prefix}_line2", 250),
        s(f"{prefix}_line3", 250),
        s(f"{prefix}_city", 80),
        s(f"{prefix}_stateorprovince", 50),
        s(f"{prefix}_postalcode", 20),
        s(f"{prefix}_country", 80),
        s(f"{prefix}_telephone1", 50),
        col(f"{prefix}_latitude", "Double", min_value=-90, max_value=90, precision=5),
        col(f"{prefix}_longitude", "Double", min_value=-180, max_value=180, precision=5),
        col(
            f"{prefix}_addresstypecode",
            "Picklist",
            options=((1, "Bill To"), (2, "Ship To"), (3, "Primary"), (4, "Other")),
            option_set_name=f"{prefix}_addresstypecode",
        ),
    ]


def _activity_columns() -> list[AttributeDef]:
    return [
        s("subject", 400),
        memo("description", 1_048_576),
        col("scheduledstart", "DateTime"),
        col("scheduledend", "DateTime"),
        col("actualstart", "DateTime"),
        col("actualend", "DateTime"),
        col("actualdurationminutes", "Integer", min_value=0, max_value=2_147_483_647),
        col("scheduleddurationminutes", "Integer", min_value=0, max_value=2_147_483_647),
        col("prioritycode", "Picklist", options=((0, "Low"), (1, "Normal"), (2, "High"))),
        lookup("regardingobjectid", *REGARDING_TARGETS),
        col("activitytypecode", "EntityName", create=False, update=False),
        lookup("transactioncurrencyid", "transactioncurrency"),
    ]


def _columns(table: str) -> list[AttributeDef]:
    if table == "contact":
        return [
            s("firstname", 50),
            s("middlename", 50),
            s("lastname", 50),
            s("fullname", 160, create=False, update=False),
            s("yomifirstname", 150),
            s("yomilastname", 150),
            s("yomifullname", 450, create=False, update=False),
            s("salutation", 100),
            s("jobtitle", 100),
            s("nickname", 100),
            s("emailaddress1", 100, fmt="Email"),
            s("emailaddress2", 100, fmt="Email"),
            s("emailaddress3", 100, fmt="Email"),
            s("telephone1", 50, fmt="Phone"),
            s("telephone2", 50, fmt="Phone"),
            s("mobilephone", 50, fmt="Phone"),
            s("fax", 50),
            s("websiteurl", 200, fmt="Url"),
            col("birthdate", "DateTime", behavior="DateOnly"),
            col("anniversary", "DateTime", behavior="DateOnly"),
            col("gendercode", "Picklist", options=((1, "Male"), (2, "Female"))),
            col(
                "familystatuscode",
                "Picklist",
                options=((1, "Single"), (2, "Married"), (3, "Divorced"), (4, "Widowed")),
            ),
            col(
                "preferredcontactmethodcode",
                "Picklist",
                options=((1, "Any"), (2, "Email"), (3, "Phone"), (4, "Fax"), (5, "Mail")),
            ),
            col("customertypecode", "Picklist", options=((1, "Default Value"),)),
            boolean("donotemail", _DO_NOT),
            boolean("donotphone", _DO_NOT),
            memo("description", 2000),
            lookup("parentcustomerid", "account", "contact", type_="Customer"),
            lookup("transactioncurrencyid", "transactioncurrency"),
            *money("creditlimit"),
            *_address("address1"),
            *_address("address2"),
        ]
    if table == "account":
        return [
            s("name", 160, required="ApplicationRequired"),
            s("accountnumber", 20),
            s("emailaddress1", 100, fmt="Email"),
            s("telephone1", 50, fmt="Phone"),
            s("telephone2", 50, fmt="Phone"),
            s("fax", 50),
            s("websiteurl", 200, fmt="Url"),
            memo("description", 2000),
            col("industrycode", "Picklist", options=list(enumerate(INDUSTRY_LABELS, start=1))),
            col(
                "ownershipcode",
                "Picklist",
                options=((1, "Public"), (2, "Private"), (3, "Subsidiary"), (4, "Other")),
            ),
            col(
                "customertypecode",
                "Picklist",
                options=(
                    (1, "Competitor"),
                    (2, "Consultant"),
                    (3, "Customer"),
                    (4, "Investor"),
                    (5, "Partner"),
                    (6, "Influencer"),
                    (7, "Press"),
                    (8, "Prospect"),
                    (9, "Reseller"),
                    (10, "Supplier"),
                    (11, "Vendor"),
                    (12, "Other"),
                ),
            ),
            col(
                "accountcategorycode",
                "Picklist",
                options=((1, "Preferred Customer"), (2, "Standard")),
            ),
            col(
                "paymenttermscode",
                "Picklist",
                options=((1, "Net 30"), (2, "2% 10, Net 30"), (3, "Net 45"), (4, "Net 60")),
            ),
            col("numberofemployees", "Integer", min_value=0, max_value=1_000_000_000),
            col("accountratingcode", "Picklist", options=((1, "Default Value"),)),
            boolean("creditonhold"),
            boolean("donotemail", _DO_NOT),
            boolean("donotphone", _DO_NOT),
            boolean("donotpostalmail", _DO_NOT),
            boolean("followemail", ("Do Not Allow", "Allow")),
            *money("revenue"),
            *money("creditlimit"),
            lookup("primarycontactid", "contact"),
            lookup("parentaccountid", "account"),
            lookup("transactioncurrencyid", "transactioncurrency"),
            *_address("address1"),
            *_address("address2"),
        ]
    if table == "opportunity":
        return [
            s("name", 300, required="ApplicationRequired"),
            memo("description", 2000),
            lookup("customerid", "account", "contact", type_="Customer"),
            lookup("parentcontactid", "contact"),
            lookup("parentaccountid", "account"),
            lookup("pricelevelid", "pricelevel"),
            lookup("transactioncurrencyid", "transactioncurrency"),
            *money("estimatedvalue"),
            *money("actualvalue"),
            *money("budgetamount"),
            col("estimatedclosedate", "DateTime", behavior="DateOnly"),
            col("actualclosedate", "DateTime", behavior="DateOnly"),
            col("closeprobability", "Integer", min_value=0, max_value=100),
            col(
                "opportunityratingcode", "Picklist", options=((1, "Hot"), (2, "Warm"), (3, "Cold"))
            ),
            col(
                "salesstagecode",
                "Picklist",
                options=((1, "Qualify"), (2, "Develop"), (3, "Propose"), (4, "Close")),
            ),
            boolean("isrevenuesystemcalculated"),
        ]
    if table == "invoice":
        return [
            s("name", 300, required="SystemRequired"),
            s("invoicenumber", 100, required="SystemRequired"),
            memo("description", 2000),
            lookup("customerid", "account", "contact", type_="Customer", required="SystemRequired"),
            lookup("pricelevelid", "pricelevel", required="SystemRequired"),
            lookup("transactioncurrencyid", "transactioncurrency", required="SystemRequired"),
            lookup("opportunityid", "opportunity"),
            col("duedate", "DateTime", behavior="DateOnly"),
            col("datedelivered", "DateTime", behavior="DateOnly"),
            boolean("ispricelocked", create=False, update=False),
            *money("totalamount", create=False, update=False),
            *money("totallineitemamount", create=False, update=False),
            *money("totalamountlessfreight", create=False, update=False),
            *money("totaldiscountamount", create=False, update=False),
            *money("totallineitemdiscountamount", create=False, update=False),
            *money("totaltax", create=False, update=False),
            *money("freightamount"),
            *money("discountamount"),
            col("discountpercentage", "Decimal", precision=2, min_value=0, max_value=100),
            col(
                "paymenttermscode",
                "Picklist",
                options=((1, "Net 30"), (2, "2% 10, Net 30"), (3, "Net 45"), (4, "Net 60")),
            ),
            *_address("billto"),
        ]
    if table == "invoicedetail":
        return [
            lookup("invoiceid", "invoice", required="SystemRequired"),
            boolean("isproductoverridden"),
            s("productdescription", 500),
            col(
                "quantity",
                "Decimal",
                required="SystemRequired",
                precision=5,
                min_value=0,
                max_value=1_000_000_000,
            ),
            *money("priceperunit"),
            # the ranges of the table reference (InvoiceDetail: ManualDiscountAmount, Tax)
            *money("manualdiscountamount", min_value=0, max_value=1_000_000_000_000),
            *money("tax", min_value=-1_000_000_000_000, max_value=1_000_000_000_000),
            *money("baseamount", create=False, update=False),
            *money("extendedamount", create=False, update=False),
            col("lineitemnumber", "Integer", min_value=0, max_value=1_000_000_000),
            memo("description", 2000),
            lookup("transactioncurrencyid", "transactioncurrency", create=False, update=False),
        ]
    if table == "pricelevel":
        return [
            s("name", 100, required="SystemRequired"),
            memo("description", 200),
            lookup("transactioncurrencyid", "transactioncurrency", required="SystemRequired"),
            col("begindate", "DateTime", behavior="DateOnly"),
            col("enddate", "DateTime", behavior="DateOnly"),
        ]
    if table == "transactioncurrency":
        return [
            s("currencyname", 100, required="SystemRequired"),
            s("isocurrencycode", 5, required="SystemRequired"),
            s("currencysymbol", 13, required="SystemRequired"),
            col(
                "exchangerate",
                "Decimal",
                required="SystemRequired",
                precision=10,
                min_value=0.0000000001,
                max_value=100_000_000_000,
            ),
            col("currencyprecision", "Integer", min_value=0, max_value=4),
        ]
    if table == "annotation":
        return [
            s("subject", 500),
            memo("notetext", 100_000),
            boolean("isdocument"),
            memo("documentbody", 1_073_741_823),
            s("filename", 255),
            s("mimetype", 256),
            col("filesize", "Integer", create=False, update=False),
            lookup("objectid", *NOTE_TARGETS),
            col("objecttypecode", "EntityName"),
        ]
    if table == "fileattachment":
        # written by the platform only (File columns); objectid gains a target per table with
        # a file column ({table}_FileAttachments)
        return [
            s("filename", 255, create=False, update=False),
            s("mimetype", 256, create=False, update=False),
            lookup("objectid", create=False, update=False),
            col("objecttypecode", "EntityName", create=False, update=False),
            col("objectidtypecode", "EntityName", create=False, update=False),
            s("regardingfieldname", 255, create=False, update=False),
            col("filesizeinbytes", "BigInt", create=False, update=False),
        ]
    if table == "activitymimeattachment":
        return [
            s("subject", 2000),
            memo("body", 1_073_741_823),
            s("filename", 255),
            s("mimetype", 256),
            col("filesize", "Integer", create=False, update=False, min_value=0, max_value=10**9),
            lookup(
                "objectid", "activitypointer", "email", "appointment", required="SystemRequired"
            ),
            col("objecttypecode", "EntityName", required="SystemRequired"),
        ]
    if table == "systemuser":
        return [
            s("fullname", 200, create=False, update=False),
            s("firstname", 64),
            s("lastname", 64),
            s("internalemailaddress", 100, fmt="Email"),
            s("domainname", 1024, required="SystemRequired"),
            s("azureactivedirectoryobjectid", 100),
            col("applicationid", "Uniqueidentifier"),
            boolean("isdisabled", create=False, update=False),
            boolean("islicensed"),
            col(
                "accessmode",
                "Picklist",
                options=(
                    (0, "Read-Write"),
                    (1, "Administrative"),
                    (2, "Read"),
                    (3, "Support User"),
                    (4, "Non-interactive"),
                    (5, "Delegated Admin"),
                ),
            ),
            lookup("businessunitid", "businessunit", required="SystemRequired"),
        ]
    if table == "team":
        return [
            s("name", 160, required="SystemRequired"),
            lookup("businessunitid", "businessunit", required="SystemRequired"),
            boolean("isdefault"),
            col(
                "teamtype",
                "Picklist",
                options=((0, "Owner"), (1, "Access"), (2, "Security Group"), (3, "Office Group")),
            ),
        ]
    if table == "businessunit":
        return [
            s("name", 160, required="SystemRequired"),
            lookup("parentbusinessunitid", "businessunit"),
            boolean("isdisabled"),
        ]
    if table == "organization":
        return [
            s("name", 160),
            col("maxuploadfilesize", "Integer", min_value=0, max_value=131_072_000),
            memo("blockedattachments", 1_073_741_823),
            # MIME types refused on upload, or the only ones allowed (files-images-overview)
            memo("blockedmimetypes", 1_073_741_823),
            memo("allowedmimetypes", 1_073_741_823),
            lookup("basecurrencyid", "transactioncurrency"),
            col("pricingdecimalprecision", "Integer", min_value=0, max_value=4),
        ]
    if table == "activityparty":
        return [
            lookup("activityid", *ACTIVITIES, "activitypointer"),
            lookup("partyid", "systemuser", "contact", "account"),
            s("partyidname", 400, create=False, update=False),
            col(
                "participationtypemask",
                "Picklist",
                options=list(enumerate(PARTICIPATION_TYPES, start=1)),
            ),
            s("addressused", 320),
        ]
    if table == "activitypointer":
        return _activity_columns()
    if table == "phonecall":
        return [
            *_activity_columns(),
            boolean("directioncode"),
            s("phonenumber", 200),
        ]
    if table == "email":
        return [
            *_activity_columns(),
            boolean("directioncode"),
            s("sender", 250),
            memo("torecipients", 500),
        ]
    if table == "appointment":
        return [*_activity_columns(), s("location", 200), boolean("isalldayevent")]
    if table == "task":
        return [
            *_activity_columns(),
            col("percentcomplete", "Integer", min_value=0, max_value=100),
            s("category", 250),
            s("subcategory", 250),
        ]
    if table == "opportunityclose":
        return [
            *_activity_columns(),
            lookup("opportunityid", "opportunity"),
            *money("actualrevenue"),
            s("competitorid", 100, create=False, update=False),
        ]
    if table == "solution":
        return [
            s("uniquename", 65, required="SystemRequired"),
            s("friendlyname", 256, required="SystemRequired"),
            s("version", 256, required="SystemRequired"),
            boolean("ismanaged", create=False, update=False),
            boolean("isvisible", create=False, update=False),
            lookup("publisherid", "publisher", required="SystemRequired"),
            memo("description", 2000),
        ]
    if table == "sdkmessage":
        return [s("name", 256, create=False, update=False)]
    if table == "sdkmessagefilter":
        return [
            col("primaryobjecttypecode", "EntityName", create=False, update=False),
            col("secondaryobjecttypecode", "EntityName", create=False, update=False),
            lookup("sdkmessageid", "sdkmessage", create=False, update=False),
            boolean("iscustomprocessingstepallowed", create=False, update=False),
        ]
    if table in ("asyncoperation", "bulkdeleteoperation"):
        return _job_columns(table)
    if table == "publisher":
        return [
            s("uniquename", 256, required="SystemRequired"),
            s("friendlyname", 256, required="SystemRequired"),
            s("customizationprefix", 8),
            col("customizationoptionvalueprefix", "Integer", min_value=10000, max_value=99999),
            boolean("isreadonly", create=False, update=False),
            memo("description", 2000),
        ]
    return []


def _job_columns(table: str) -> list[AttributeDef]:
    """Columns of the system job tables, all read-only: the platform writes them (System Job
    (AsyncOperation) and BulkDeleteOperation table references; only what a bulk deletion
    job fills in)."""

    def ro(attr: AttributeDef) -> AttributeDef:
        attr.valid_for_create = attr.valid_for_update = False
        return attr

    if table == "asyncoperation":
        return [
            ro(s("name", 256)),
            ro(col("operationtype", "Picklist", options=JOB_TYPES)),
            ro(s("messagename", 160)),
            ro(memo("message", 1073741823)),
            ro(memo("friendlymessage", 100000)),
            ro(col("errorcode", "Integer", min_value=-2147483648, max_value=2147483647)),
            ro(col("startedon", "DateTime")),
            ro(col("completedon", "DateTime")),
            ro(col("postponeuntil", "DateTime")),
            ro(s("recurrencepattern", 256)),
            ro(col("executiontimespan", "Double", precision=2, min_value=0, max_value=1e9)),
            ro(col("retrycount", "Integer", min_value=0, max_value=2147483647)),
            ro(col("depth", "Integer", min_value=0, max_value=2147483647)),
            ro(col("correlationid", "Uniqueidentifier")),
            ro(col("primaryentitytype", "EntityName")),
            ro(memo("data", 1073741823)),
        ]
    return [
        ro(s("name", 256)),
        ro(lookup("asyncoperationid", "asyncoperation")),
        ro(col("successcount", "Integer", min_value=0, max_value=1000000000)),
        ro(col("failurecount", "Integer", min_value=0, max_value=1000000000)),
        ro(col("processingqeindex", "Integer", min_value=0, max_value=1000000000)),
        ro(boolean("isrecurring")),
        ro(col("nextrun", "DateTime")),
        ro(s("orderedquerysetxml", 1073741823)),
        ro(lookup("ownerid", "systemuser", "team", type_="Owner")),
        ro(lookup("owningbusinessunit", "businessunit")),
        ro(lookup("owninguser", "systemuser")),
    ]


JOB_TYPES: tuple[tuple[int, str], ...] = (
    (1, "System Event"),
    (10, "Workflow"),
    (13, "Bulk Delete"),
    (23, "Bulk Delete Subprocess"),
    (63, "EntityKey Index Creation"),
)
"""Some values of asyncoperation's ``operationtype`` (the reference lists about a hundred);
the emulator's own jobs are Bulk Delete (13)."""


# Cascade-on-delete per relationship family (Dataverse defaults: parental relationships of
# customer and regarding cascade; price list and currency restrict; plain lookups remove the
# link). https://learn.microsoft.com/power-apps/developer/data-platform/configure-entity-relationship-cascading-behavior
_RESTRICT_TARGETS = frozenset({"pricelevel", "transactioncurrency", "businessunit"})
_CASCADE_ATTRS = frozenset(
    {
        ("contact", "parentcustomerid"),
        ("opportunity", "customerid"),
        ("annotation", "objectid"),
        ("invoicedetail", "invoiceid"),
        ("opportunityclose", "opportunityid"),
        ("activityparty", "activityid"),
        ("invoice", "customerid"),
        ("activitymimeattachment", "objectid"),
    }
)


def _cascade(entity: str, attr: AttributeDef, target: str) -> CascadeType:
    if attr.logical_name in {
        "createdby",
        "modifiedby",
        "owninguser",
        "owningteam",
        "owningbusinessunit",
    }:
        return "NoCascade"
    if attr.type == "Owner" or target in _RESTRICT_TARGETS:
        return "Restrict"
    if (entity, attr.logical_name) in _CASCADE_ATTRS or attr.logical_name == "regardingobjectid":
        return "Cascade"
    return "RemoveLink"


def navigation_name(entity: str, attr: AttributeDef, target: str) -> str:
    """The single-valued navigation property of a lookup for one of its targets."""
    name = attr.logical_name
    if attr.type == "Owner" or len(attr.targets) == 1:
        return name
    if name == "regardingobjectid":
        return f"regardingobjectid_{target}_{entity}"
    if name == "activityid" and entity == "activityparty":
        return f"activityid_{target}"
    return f"{name}_{target}"


# The note table (annotation) is user-owned (OwnershipType UserOwned): besides the notes
# relationship of each table it can hang off (``objectid``), it has the owner, creator and
# modifier relationships every user-owned table has. Names from the table reference (Note
# (Annotation) table/entity reference, "Many-to-One relationships"). The reference's one
# owner relationship (``owner_annotations``, ownerid → the ``owner`` of users and teams) is
# one per owner table here, named as on every other table of the emulator
# (``lk_annotation_ownerid_systemuser``, ``lk_annotation_ownerid_team``).
_ANNOTATION_SYSTEM: Mapping[str, str] = {
    "owninguser": "annotation_owning_user",
    "owningteam": "team_annotations",
    "owningbusinessunit": "business_unit_annotations",
    "createdby": "lk_annotationbase_createdby",
    "modifiedby": "lk_annotationbase_modifiedby",
}
_NOTE_RELATIONSHIPS: Mapping[str, str] = {
    "phonecall": "PhoneCall_Annotation",
}
"""Notes relationships whose names are not ``<Table>_Annotation`` with the table's logical
name capitalized."""


def relationship_name(entity: str, attr: AttributeDef, target: str) -> str:
    known = {
        ("contact", "parentcustomerid", "account"): "contact_customer_accounts",
        ("contact", "parentcustomerid", "contact"): "contact_customer_contacts",
        ("account", "primarycontactid", "contact"): "account_primary_contact",
        ("opportunity", "customerid", "account"): "opportunity_customer_accounts",
        ("opportunity", "customerid", "contact"): "opportunity_customer_contacts",
        ("invoice", "customerid", "account"): "invoice_customer_accounts",
        ("invoice", "customerid", "contact"): "invoice_customer_contacts",
        ("invoicedetail", "invoiceid", "invoice"): "invoice_details",
        ("opportunityclose", "opportunityid", "opportunity"): "opportunity_OpportunityClose",
        ("invoice", "pricelevelid", "pricelevel"): "price_level_invoices",
        ("bulkdeleteoperation", "asyncoperationid", "asyncoperation"): (
            "AsyncOperation_BulkDeleteOperation"
        ),
        # account table reference, "Many-to-One relationships"
        ("account", "parentaccountid", "account"): "account_parent_account",
        ("account", "owninguser", "systemuser"): "user_accounts",
        ("account", "owningteam", "team"): "team_accounts",
        ("account", "owningbusinessunit", "businessunit"): "business_unit_accounts",
        ("account", "createdby", "systemuser"): "lk_accountbase_createdby",
        ("account", "modifiedby", "systemuser"): "lk_accountbase_modifiedby",
        ("account", "transactioncurrencyid", "transactioncurrency"): "transactioncurrency_account",
        # systemuser table reference, "One-to-Many relationships"
        ("contact", "createdby", "systemuser"): "lk_contactbase_createdby",
        ("contact", "modifiedby", "systemuser"): "lk_contactbase_modifiedby",
    }
    if (entity, attr.logical_name, target) in known:
        return known[(entity, attr.logical_name, target)]
    if entity == "annotation" and attr.logical_name in _ANNOTATION_SYSTEM:
        return _ANNOTATION_SYSTEM[attr.logical_name]
    if entity == "annotation" and attr.logical_name == "objectid":
        return _NOTE_RELATIONSHIPS.get(target, f"{target.capitalize()}_Annotation")
    if entity == "activityparty" and attr.logical_name == "activityid":
        return f"{target}_activity_parties"
    if entity == "activitymimeattachment" and attr.logical_name == "objectid":
        if target == "activitypointer":
            return "activity_pointer_activity_mime_attachment"
        return f"{target}_activity_mime_attachment"
    if attr.logical_name == "regardingobjectid":
        return f"{target.capitalize()}_{entity.capitalize()}s"
    if entity == "activityparty":
        return f"{target}_activityparty_{attr.logical_name}"
    return f"lk_{entity}_{attr.logical_name}_{target}"


def add_lookup_relationships(schema: Schema, entity: EntityDef) -> None:
    """One 1:N relationship per lookup column and target (called for every table)."""
    for attr in entity.attributes.values():
        if attr.type in ("Lookup", "Customer", "Owner"):
            add_column_relationships(schema, entity, attr, seeded=True)


def add_column_relationships(
    schema: Schema, entity: EntityDef, attr: AttributeDef, *, seeded: bool = False
) -> None:
    """The relationships of one lookup column, one per target table that exists.

    Names, navigation properties and cascade rules are the same for the tenant's own tables
    and for tables created later through the metadata API, so ``ownerid@odata.bind`` and
    friends work the same way everywhere. ``seeded`` relationships get deterministic
    metadata ids (the default tenant); others a new one.
    """
    for target in attr.targets:
        ref = schema.entity(target)
        if ref is None:
            continue
        name = relationship_name(entity.logical_name, attr, target)
        referenced_nav = name
        if entity.logical_name == "activityparty" and attr.logical_name == "activityid":
            referenced_nav = f"{target}_activity_parties"
        rel = RelationshipDef(
            schema_name=name,
            referenced_entity=target,
            referenced_attribute=ref.primary_id,
            referencing_entity=entity.logical_name,
            referencing_attribute=attr.logical_name,
            referencing_nav=navigation_name(entity.logical_name, attr, target),
            referenced_nav=referenced_nav,
            cascade_delete=_cascade(entity.logical_name, attr, target),
        )
        if seeded:
            rel.metadata_id = seed_id("relationship", name)
        schema.add_relationship(rel)


def build_schema(bulk_tables: Iterable[str] = ()) -> Schema:
    """The metadata of a fresh Dynamics 365 Sales tenant.

    ``bulk_tables``: standard tables that support CreateMultiple/UpdateMultiple/UpsertMultiple
    (custom tables always do; which standard ones do is configured, see ``CoreConfig``).
    """
    bulk = frozenset(bulk_tables)
    schema = Schema()
    for t in TABLES:
        attrs: dict[str, AttributeDef] = {}
        pk = col(t.primary_id, "Uniqueidentifier", update=False)
        pk.is_primary_id = True
        attrs[pk.logical_name] = pk
        for a in _columns(t.logical) + system_columns(t.ownership):
            attrs[a.logical_name] = a
        if "exchangerate" not in attrs and any(a.type == "Money" for a in attrs.values()):
            attrs["exchangerate"] = exchange_rate()
        if t.primary_name and t.primary_name in attrs:
            attrs[t.primary_name].is_primary_name = True
        if STATES.get(t.logical):
            for a in _state_attributes(t.logical, STATES[t.logical]):
                attrs[a.logical_name] = a
        for a in attrs.values():
            a.metadata_id = seed_id("attribute", t.logical, a.logical_name)
            if a.option_set is not None:
                a.option_set.metadata_id = seed_id("optionset", t.logical, a.logical_name)
        schema.add_entity(
            EntityDef(
                logical_name=t.logical,
                schema_name=t.schema,
                entity_set_name=t.set_name,
                primary_id=t.primary_id,
                primary_name=t.primary_name,
                object_type_code=t.otc,
                display_name=t.schema,
                display_collection_name=t.set_name,
                ownership=t.ownership,
                is_activity=t.is_activity,
                has_notes=t.has_notes,
                has_activities=t.has_activities,
                bulk_messages=BULK_MESSAGES if t.logical in bulk else frozenset(),
                attributes=attrs,
                metadata_id=seed_id("entity", t.logical),
            )
        )
    for entity in list(schema.entities.values()):
        add_lookup_relationships(schema, entity)
    for rel in STANDARD_MANY_TO_MANY:
        schema.add_many_to_many(replace(rel, metadata_id=seed_id("relationship", rel.schema_name)))
    return schema


STANDARD_MANY_TO_MANY: tuple[ManyToManyRelationshipDef, ...] = (
    ManyToManyRelationshipDef(
        schema_name="teammembership_association",
        entity1="team",
        entity2="systemuser",
        intersect_entity="teammembership",
        entity1_attribute="teamid",
        entity2_attribute="systemuserid",
        entity1_nav="teammembership_association",
        entity2_nav="teammembership_association",
        entity1_menu={"Behavior": "DoNotDisplay", "Group": "Details", "Order": None},
        entity2_menu={"Behavior": "DoNotDisplay", "Group": "Details", "Order": None},
    ),
)
"""The standard many-to-many relationships between the tenant's tables: a team's members
(team table reference, "Many-to-Many relationships": teammembership_association, intersect
``teammembership``, Entity1 team / Entity2 systemuser)."""


# ---------------------------------------------------------------------------------------
# Seed rows


def seed_rows() -> list[tuple[str, dict[str, Any]]]:
    """(table, row) pairs of what every tenant holds before anyone writes to it.

    Rows carry only business columns; the core adds system columns (createdon, version...).
    """
    rows: list[tuple[str, dict[str, Any]]] = []
    for code, name, symbol, rate in CURRENCIES:
        rows.append(
            (
                "transactioncurrency",
                {
                    "transactioncurrencyid": seed_id("transactioncurrency", code),
                    "currencyname": name,
                    "isocurrencycode": code,
                    "currencysymbol": symbol,
                    "exchangerate": rate,
                    "currencyprecision": 2,
                },
            )
        )
    rows.append(
        (
            "businessunit",
            {
                "businessunitid": ROOT_BUSINESS_UNIT_ID,
                "name": ORGANIZATION_NAME,
                "isdisabled": False,
            },
        )
    )
    rows.append(
        (
            "organization",
            {
                "organizationid": ORGANIZATION_ID,
                "name": ORGANIZATION_NAME,
                "maxuploadfilesize": MAX_UPLOAD_FILE_SIZE,
                "basecurrencyid": BASE_CURRENCY_ID,
                "pricingdecimalprecision": 2,
            },
        )
    )
    rows.append(
        (
            "team",
            {
                "teamid": DEFAULT_TEAM_ID,
                "name": ORGANIZATION_NAME,
                "businessunitid": ROOT_BUSINESS_UNIT_ID,
                "isdefault": True,
                "teamtype": 0,
            },
        )
    )
    for u in SEED_USERS:
        rows.append(
            (
                "systemuser",
                {
                    "systemuserid": u.id,
                    "firstname": u.firstname,
                    "lastname": u.lastname,
                    "fullname": u.fullname,
                    "internalemailaddress": u.email,
                    "domainname": u.email,
                    "azureactivedirectoryobjectid": seed_id("entra", u.key),
                    "isdisabled": u.isdisabled,
                    "islicensed": not u.isdisabled,
                    "accessmode": 0,
                    "businessunitid": ROOT_BUSINESS_UNIT_ID,
                },
            )
        )
    rows.append(
        (
            "publisher",
            {
                "publisherid": DEFAULT_PUBLISHER_ID,
                "uniquename": f"DefaultPublisher{ORGANIZATION_NAME}",
                "friendlyname": f"Default Publisher for {ORGANIZATION_NAME}",
                "customizationprefix": "new",
                "customizationoptionvalueprefix": 10000,
                "isreadonly": False,
            },
        )
    )
    rows.append(
        (
            "solution",
            {
                "solutionid": DEFAULT_SOLUTION_ID,
                "uniquename": "Default",
                "friendlyname": "Default Solution",
                "version": "1.0",
                "ismanaged": False,
                "isvisible": False,
                "publisherid": DEFAULT_PUBLISHER_ID,
            },
        )
    )
    rows.append(
        (
            "pricelevel",
            {
                "pricelevelid": DEFAULT_PRICE_LEVEL_ID,
                "name": "Default Price List",
                "transactioncurrencyid": BASE_CURRENCY_ID,
            },
        )
    )
    return rows


VIRTUAL_TABLES = frozenset({"sdkmessage", "sdkmessagefilter"})
"""Read-only tables whose rows are derived from the metadata (which messages each table
supports), so clients can probe bulk-message support the documented way."""
READ_ONLY_TABLES = VIRTUAL_TABLES | {"fileattachment"}
"""Tables requests may only read: the virtual ones, and ``fileattachment`` (written by the
platform when files are uploaded; its table reference lists no Create, Update or Delete)."""
SDK_MESSAGES = (
    "Create",
    "Retrieve",
    "RetrieveMultiple",
    "Update",
    "Delete",
    "Upsert",
    "CreateMultiple",
    "UpdateMultiple",
    "UpsertMultiple",
)


def virtual_rows(schema: Schema, table: str) -> list[dict[str, Any]]:
    """The rows of a virtual table, sorted by primary id.

    ``sdkmessagefilters?$filter=sdkmessageid/name eq 'CreateMultiple' and
    primaryobjecttypecode eq 'contact'`` is non-empty exactly when the table supports the
    message (https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations).
    """
    rows: list[dict[str, Any]] = []
    if table == "sdkmessage":
        rows = [{"sdkmessageid": seed_id("sdkmessage", m), "name": m} for m in SDK_MESSAGES]
    elif table == "sdkmessagefilter":
        for entity in schema.entities.values():
            if entity.logical_name in VIRTUAL_TABLES:
                continue
            for message in SDK_MESSAGES:
                if message.endswith("Multiple") and message not in entity.bulk_messages:
                    continue
                rows.append(
                    {
                        "sdkmessagefilterid": seed_id(
                            "sdkmessagefilter", entity.logical_name, message
                        ),
                        "primaryobjecttypecode": entity.logical_name,
                        "secondaryobjecttypecode": "none",
                        "sdkmessageid": seed_id("sdkmessage", message),
                        "sdkmessageid@lookuplogicalname": "sdkmessage",
                        "iscustomprocessingstepallowed": True,
                        "versionnumber": 1,
                    }
                )
    for row in rows:
        row.setdefault("versionnumber", 1)
    key = "sdkmessageid" if table == "sdkmessage" else "sdkmessagefilterid"
    return sorted(rows, key=lambda r: str(r[key]))


def application_user_row(client_id: str, name: str, *, disabled: bool) -> dict[str, Any]:
    """The systemuser row of an application user (``applicationid`` set)."""
    return {
        "systemuserid": seed_id("systemuser", "app", client_id.lower()),
        "firstname": "#",
        "lastname": name,
        "fullname": f"# {name}",
        "domainname": f"{client_id.lower()}@crmferry.onmicrosoft.com",
        "internalemailaddress": f"{client_id.lower()}@crmferry.onmicrosoft.com",
        "applicationid": client_id.lower(),
        "azureactivedirectoryobjectid": seed_id("entra", "app", client_id.lower()),
        "isdisabled": disabled,
        "islicensed": False,
        "accessmode": 4,
        "businessunitid": ROOT_BUSINESS_UNIT_ID,
    }


__all__ = [
    "ACTIVITIES",
    "ADDRESS_PARTS",
    "BASE_CURRENCY_ID",
    "CLOSED_ACTIVITY_STATES",
    "DEFAULT_APP_CLIENT_ID",
    "DEFAULT_APP_USER_ID",
    "DEFAULT_PRICE_LEVEL_ID",
    "DEFAULT_PUBLISHER_ID",
    "DEFAULT_SOLUTION_ID",
    "MAX_UPLOAD_FILE_SIZE",
    "NAMESPACE",
    "ORGANIZATION_ID",
    "READ_ONLY_STATES",
    "READ_ONLY_TABLES",
    "ROOT_BUSINESS_UNIT_ID",
    "SEED_USERS",
    "SERVICE_VERSION",
    "VIRTUAL_TABLES",
    "add_lookup_relationships",
    "application_user_row",
    "build_schema",
    "composite_address",
    "navigation_name",
    "seed_id",
    "seed_rows",
    "virtual_rows",
]
