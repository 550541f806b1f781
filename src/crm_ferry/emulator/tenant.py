"""The default Dynamics 365 Sales tenant: its standard tables and the rows every tenant has.

The standard tables are made from Microsoft's table reference (:mod:`crm_ferry.emulator.reference`):
every column with its real type, length, range, options and states, every relationship between
them with its real name and navigation properties, because a client that works here must work
there: ``parentcustomerid_account`` not ``parentcustomerid``, ``objectid_contact`` on notes,
``regardingobjectid_contact_phonecall`` on activities, ``phonecall_activity_parties``.

Tables the migration does not touch are absent, so writing them fails here as an unknown entity
set rather than passing silently.
Seed rows have deterministic ids (uuid5 under :data:`NAMESPACE`) so dumps compare.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from crm_ferry.emulator.reference.build import (
    default_cascade,
    lookups_without_relationship,
    single_valued_navigation,
    standard_entities,
    standard_many_to_many,
    standard_relationships,
)
from crm_ferry.emulator.schema import (
    BULK_MESSAGES,
    AttributeDef,
    AttributeType,
    DateTimeBehavior,
    EntityDef,
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

READ_ONLY_STATES: dict[str, frozenset[int]] = {"invoice": frozenset({1, 2, 3})}
"""States in which a row accepts no writes (closed invoices are read-only)."""
CLOSED_ACTIVITY_STATES = frozenset({1, 2})


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
            options=[OptionDef(v, label) for v, label in options],
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


navigation_name = single_valued_navigation
"""The single-valued navigation property of a lookup for one of its targets."""


def relationship_name(entity: str, attr: AttributeDef, target: str) -> str:
    """The name of a relationship the reference does not list: those of the tables made
    through the metadata API, and the emulator's per-table owner relationships."""
    if entity == "annotation" and attr.logical_name == "objectid":
        return f"{target.capitalize()}_Annotation"
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


def add_column_relationships(
    schema: Schema,
    entity: EntityDef,
    attr: AttributeDef,
    *,
    seeded: bool = False,
    targets: Iterable[str] | None = None,
) -> None:
    """The relationships of one lookup column, one per target table that exists.

    Names, navigation properties and cascade rules are the same for the tenant's own tables
    and for tables created later through the metadata API, so ``ownerid@odata.bind`` and
    friends work the same way everywhere. ``seeded`` relationships get deterministic
    metadata ids (the default tenant); others a new one.
    """
    for target in attr.targets if targets is None else targets:
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
            cascade_delete=default_cascade(entity.logical_name, attr, target),
        )
        if seeded:
            rel.metadata_id = seed_id("relationship", name)
        schema.add_relationship(rel)


# ---------------------------------------------------------------------------------------
# The standard tables


def build_schema(bulk_tables: Iterable[str] = ()) -> Schema:
    """The metadata of a fresh Dynamics 365 Sales tenant: the standard tables as Microsoft's
    table reference describes them (:mod:`crm_ferry.emulator.reference`).

    ``bulk_tables``: standard tables that support CreateMultiple/UpdateMultiple/UpsertMultiple
    (custom tables always do; which standard ones do is configured, see ``CoreConfig``).
    Each call gives a schema of its own (made once per process, then copied).
    """
    schema: Schema = pickle.loads(_built(frozenset(bulk_tables)))
    return schema


@cache
def _built(bulk: frozenset[str]) -> bytes:
    schema = Schema()
    entities, global_option_sets = standard_entities(seed_id)
    for entity in entities:
        if entity.logical_name in bulk:
            entity.bulk_messages = BULK_MESSAGES
        schema.add_entity(entity)
    schema.global_option_sets.update(global_option_sets)
    relationships = standard_relationships(schema.entities, seed_id)
    for rel in relationships:
        schema.add_relationship(rel)
    # Lookups the reference lists no relationship for within the emulated tables: the owner
    # columns (Dataverse relates them to the ``owner`` table, which stands for users and
    # teams; here one relationship per owner table) and the few the pages leave out.
    uncovered = list(lookups_without_relationship(schema.entities, relationships))
    for table, column, target in uncovered:
        entity = schema.entities[table]
        attr = entity.attributes[column]
        add_column_relationships(schema, entity, attr, seeded=True, targets=(target,))
    for m2m in standard_many_to_many(schema.entities, seed_id):
        schema.add_many_to_many(m2m)
    return pickle.dumps(schema, protocol=pickle.HIGHEST_PROTOCOL)


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
    "application_user_row",
    "build_schema",
    "composite_address",
    "navigation_name",
    "seed_id",
    "seed_rows",
    "virtual_rows",
]
