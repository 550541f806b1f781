"""Value validation as Dataverse does it, with its status codes, error codes and messages.

Every check raises :class:`Fault`, which the core turns into the documented error body
``{"error": {"code": "0x…", "message": "…"}}``
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors).
Hex codes are the two's complement of the platform's error codes; message texts follow the
platform's where they are documented or widely quoted (e.g. the string-length text appears in
the $batch article, https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api).

Values are stored as the Web API writes them on the wire: text, numbers, booleans, GUIDs as
lower-case strings, DateOnly as ``YYYY-MM-DD`` (Edm.Date), other date-times as UTC
``YYYY-MM-DDTHH:MM:SSZ`` (Edm.DateTimeOffset).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from crm_ferry.emulator.schema import AttributeDef, EntityDef

# Error codes (hex of the platform's decimal codes). Documented or quoted with their text:
# DUPLICATE_RECORD, OBJECT_DOES_NOT_EXIST, DUPLICATE_KEY, RECORD_NOT_FOUND_BY_KEY,
# PRIVILEGE_DENIED, STRING_TOO_LONG, PICKLIST_OUT_OF_RANGE, INVALID_STATE_STATUS,
# CANNOT_DELETE_ASSOCIATION, ATTACHMENT_TOO_BIG, OPPORTUNITY_CLOSED (reference §8).
# Chosen here, the platform's exact code or text not being documented (clients must not
# depend on them beyond status and presence): UNKNOWN_PROPERTY and PAYLOAD_ERROR (reported
# by users), NUMBER_OUT_OF_RANGE, READ_ONLY_RECORD, DISABLED_USER, OPPORTUNITY_SET_STATE
# (CannotUseOpportunitySetStateMessage, -2146435067), ATTACHMENT_BLOCKED.
DUPLICATE_RECORD = "0x80040237"
OBJECT_DOES_NOT_EXIST = "0x80040217"
DUPLICATE_KEY = "0x80060892"
RECORD_NOT_FOUND_BY_KEY = "0x80060891"
INVALID_KEY_OPERATION = "0x8006088F"
INVALID_ARGUMENT = "0x80040203"
PRIVILEGE_DENIED = "0x80040220"
STRING_TOO_LONG = "0x80044331"
PICKLIST_OUT_OF_RANGE = "0x8004431A"
NUMBER_OUT_OF_RANGE = "0x80044330"
INVALID_STATE_STATUS = "0x80048408"
CANNOT_DELETE_ASSOCIATION = "0x80040227"
ATTACHMENT_TOO_BIG = "0x80044a02"
ATTACHMENT_BLOCKED = "0x80043e09"
CONCURRENCY_MISMATCH = "0x80060882"
PAYLOAD_ERROR = "0x80048d19"
UNKNOWN_PROPERTY = "0x80060888"
OPPORTUNITY_CLOSED = "0x80040515"
OPPORTUNITY_SET_STATE = "0x80100005"
READ_ONLY_RECORD = "0x80043b0b"
DISABLED_USER = "0x80040225"
NOT_SUPPORTED = "0x80040315"
"""``NotSupported``: "This action is not supported." (Web service error codes)."""
NOT_IMPLEMENTED = "0x80040219"
"""``NotImplemented``: "The requested functionality is not yet implemented." (the 501s)."""
UNEXPECTED = "0x80040216"
"""``UnExpected``: "An unexpected error occurred." (the 500s)."""

MIN_DATE = date(1753, 1, 1)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$"
)


class Fault(Exception):
    """A request Dataverse rejects: HTTP status, hex error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def unknown_property(entity: str, name: str) -> Fault:
    return Fault(
        400,
        UNKNOWN_PROPERTY,
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'.",
    )


def undeclared_bind(name: str) -> Fault:
    """Unknown or wrongly-cased ``<nav>@odata.bind`` (OData parser error, case-sensitive)."""
    return Fault(
        400,
        PAYLOAD_ERROR,
        f"An undeclared property '{name}' which only has property annotations in the payload "
        "but no property value was found in the payload. In OData, only declared navigation "
        "properties and declared named streams can be represented as properties without values.",
    )


def cannot_convert(value: Any, edm: str) -> Fault:
    text = value if isinstance(value, str) else repr(value)
    return Fault(
        400, PAYLOAD_ERROR, f"Cannot convert the literal '{text}' to the expected type '{edm}'."
    )


def not_found(entity: str, row_id: str) -> Fault:
    return Fault(404, OBJECT_DOES_NOT_EXIST, f"{entity} With Id = {row_id} Does Not Exist")


def lookup_not_found(entity: str, row_id: str) -> Fault:
    return Fault(404, OBJECT_DOES_NOT_EXIST, f"{entity} With Ids = {row_id} Do Not Exist")


def duplicate_record() -> Fault:
    return Fault(412, DUPLICATE_RECORD, "Cannot insert duplicate key.")


def is_guid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def norm_guid(value: str) -> str:
    return str(uuid.UUID(value))


def _quantize(value: Decimal, precision: int | None) -> Decimal:
    if precision is None:
        return value
    return value.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_EVEN)


def to_number(value: Decimal, precision: int | None) -> int | float:
    q = _quantize(value, precision)
    return int(q) if precision == 0 else float(q)


def parse_datetime_value(text: str) -> datetime:
    """A stored Edm.DateTimeOffset value as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def coerce(entity: EntityDef, attr: AttributeDef, value: Any) -> Any:
    """The stored form of ``value`` for ``attr``, or a Fault as Dataverse answers it.

    Null is returned as None (required-level checks are the caller's: they depend on whether
    the row is being created or updated).
    """
    if value is None:
        return None
    t = attr.type
    name, table = attr.logical_name, entity.logical_name
    if t in ("String", "Memo", "EntityName"):
        if not isinstance(value, str):
            raise cannot_convert(value, "Edm.String")
        if attr.max_length is not None and len(value) > attr.max_length:
            raise Fault(
                400,
                STRING_TOO_LONG,
                f"A validation error occurred.  The length of the '{name}' attribute of the "
                f"'{table}' entity exceeded the maximum allowed length of '{attr.max_length}'.",
            )
        return value
    if t in ("Integer", "BigInt"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise cannot_convert(value, "Edm.Int64" if t == "BigInt" else "Edm.Int32")
        limit = 2**63 if t == "BigInt" else 2**31
        if not -limit <= value < limit:
            raise cannot_convert(str(value), "Edm.Int64" if t == "BigInt" else "Edm.Int32")
        _range(attr, table, Decimal(value))
        return value
    if t in ("Decimal", "Double", "Money"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise cannot_convert(value, {"Money": "Edm.Decimal"}.get(t, f"Edm.{t}"))
        number = Decimal(str(value))
        _range(attr, table, number)
        if t == "Double":  # a float column keeps its Precision's decimal places
            return float(_quantize(number, attr.precision))
        return to_number(number, attr.precision)
    if t == "Boolean":
        if not isinstance(value, bool):
            raise cannot_convert(value, "Edm.Boolean")
        return value
    if t in ("Picklist", "State", "Status"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise cannot_convert(value, "Edm.Int32")
        options = attr.option_set.values() if attr.option_set else []
        if value not in options:
            raise _not_an_option(value, name, table, options)
        return value
    if t == "MultiSelectPicklist":
        if not isinstance(value, str):
            raise cannot_convert(value, "Edm.String")
        options = attr.option_set.values() if attr.option_set else []
        chosen: list[int] = []
        for part in value.split(","):
            part = part.strip()
            if not part.lstrip("-").isdigit() or int(part) not in options:
                raise _not_an_option(part, name, table, options)
            chosen.append(int(part))
        return ",".join(str(v) for v in sorted(set(chosen)))
    if t == "Uniqueidentifier":
        if not is_guid(value):
            raise cannot_convert(value, "Edm.Guid")
        return norm_guid(value)
    if t == "DateTime":
        return _datetime(attr, value)
    if t == "Image":
        # Edm.Binary: the image's bytes as Base64 text; stored by the records' file rules
        if not isinstance(value, str):
            raise cannot_convert(value, "Edm.Binary")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise cannot_convert(value, "Edm.Binary") from None
    if t == "File":
        # https://learn.microsoft.com/power-apps/developer/data-platform/file-column-data:
        # a file column's value can't be set in a create or update, only emptied (null)
        raise Fault(
            400,
            INVALID_ARGUMENT,
            f"The file column '{name}' of '{table}' can't be set by a create or update; "
            f"upload the file to {entity.entity_set_name}(<id>)/{name}.",
        )
    raise Fault(400, PAYLOAD_ERROR, f"The property '{name}' cannot be written.")


def _not_an_option(value: object, name: str, table: str, options: list[int]) -> Fault:
    return Fault(
        400,
        PICKLIST_OUT_OF_RANGE,
        f"A validation error occurred. The value {value} of '{name}' on record of type "
        f"'{table}' is outside the valid range. Accepted Values: "
        + ",".join(str(v) for v in options),
    )


def _range(attr: AttributeDef, table: str, number: Decimal) -> None:
    check_range(attr.logical_name, table, number, attr.min_value, attr.max_value)


def check_range(name: str, table: str, number: Decimal | int, lo: Any, hi: Any) -> None:
    """NumberOutOfRange when ``number`` (of column ``name`` of ``table``) is outside
    ``lo``..``hi`` (None: unbounded)."""
    if (lo is not None and number < Decimal(str(lo))) or (
        hi is not None and number > Decimal(str(hi))
    ):
        raise Fault(
            400,
            NUMBER_OUT_OF_RANGE,
            f"A validation error occurred. The value {number} of '{name}' on record "
            f"of type '{table}' is outside the valid range. Accepted range: {lo} to {hi}.",
        )


def _out_of_range(attr: AttributeDef) -> Fault:
    return Fault(
        400,
        INVALID_ARGUMENT,
        f"The date-time format for {attr.logical_name} is invalid, or value is outside the "
        "supported range.",
    )


def _datetime(attr: AttributeDef, value: Any) -> str:
    """DateOnly behaviour is Edm.Date (no time allowed); the others Edm.DateTimeOffset.

    https://learn.microsoft.com/power-apps/developer/data-platform/behavior-format-date-time-attribute
    A UserLocal value sent without an offset is taken as UTC; dates before 1753-01-01 fail.
    """
    if not isinstance(value, str):
        raise cannot_convert(value, "Edm.DateTimeOffset")
    if attr.datetime_behavior == "DateOnly":
        if not _DATE_RE.match(value):
            raise cannot_convert(value, "Edm.Date")
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise cannot_convert(value, "Edm.Date") from None
        if day < MIN_DATE:
            raise _out_of_range(attr)
        return day.isoformat()
    match = _DATETIME_RE.match(value)
    if match is None:
        raise cannot_convert(value, "Edm.DateTimeOffset")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise cannot_convert(value, "Edm.DateTimeOffset") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment.date() < MIN_DATE:
        raise _out_of_range(attr)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_last_instant: tuple[datetime, str] = (datetime.min.replace(tzinfo=UTC), "")


def format_instant(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC) of an instant; the text of the last second is kept, as
    every row a request writes is stamped with (nearly) the same one."""
    global _last_instant
    utc = moment.astimezone(UTC)
    whole = utc.replace(microsecond=0)
    last = _last_instant
    if last[0] == whole:
        return last[1]
    text = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_instant = (whole, text)
    return text


__all__ = [
    "Fault",
    "check_range",
    "coerce",
    "duplicate_record",
    "format_instant",
    "is_guid",
    "lookup_not_found",
    "norm_guid",
    "not_found",
    "undeclared_bind",
    "unknown_property",
]
