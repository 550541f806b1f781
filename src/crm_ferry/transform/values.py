"""Canonical values → the values Dataverse takes on the wire: parsing and wire forms.

Every function either returns the wire value or raises :class:`BadValue` with a reason that
names the problem; the transformer turns that into a reject naming the field and the value.
The converter of each column type (:mod:`crm_ferry.transform.convert`) is made of these.

Wire forms (Web API):

* DateOnly behaviour: ``"YYYY-MM-DD"`` (Edm.Date);
* other date-times: UTC ISO 8601 with ``Z`` (Edm.DateTimeOffset);
* Money / Decimal: :class:`~decimal.Decimal`, kept exact. The client encodes it as a JSON
  number through ``float`` (``crm_ferry.dataverse.odata.json_default``), which is exact only
  while the float's shortest text equals the decimal (always up to 15 significant digits),
  so a value whose float text would differ is refused here rather than rounded on the wire;
* choices: integers; multi-select choices: ``"100000000,100000001"``;
* Boolean: ``true``/``false``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_ferry.dataverse.metadata import ColumnInfo

__all__ = [
    "MIN_DATE",
    "BadValue",
    "check_range",
    "option_by_label",
    "to_bool",
    "to_date",
    "to_datetime",
    "to_decimal",
    "to_int",
    "to_text",
    "wire_date",
    "wire_datetime",
    "wire_decimal",
]

_TRUE = frozenset({"true", "yes", "y", "1", "t", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "f", "off"})
MIN_DATE = date(1753, 1, 1)
"""Dataverse's earliest date."""
MAX_DATE = date(9999, 12, 31)
"""Dataverse's latest date (in UTC, for a date and time)."""


class BadValue(ValueError):
    """A value the column cannot take; ``str()`` is the reason."""


def to_text(value: Any) -> str:
    """``value`` as text (a date and time in UTC; as written when UTC cannot hold it)."""
    if isinstance(value, datetime):
        try:
            return wire_datetime(value)
        except BadValue:
            return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ";".join(to_text(v) for v in value)
    return str(value)


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadValue(f"{value!r} is not a yes/no value")


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise BadValue(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    try:
        number = to_decimal(value)
    except BadValue:
        raise BadValue(f"{value!r} is not a whole number") from None
    if number != number.to_integral_value():
        raise BadValue(f"{value!r} is not a whole number")
    return int(number)


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool):
        raise BadValue(f"{value!r} is not a number")
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        text = str(value).strip().replace(",", "").replace("_", "")
        for sign in ("$", "€", "£"):
            text = text.replace(sign, "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise BadValue(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise BadValue(f"{value!r} is not a finite number")
    return number


def wire_decimal(number: Decimal) -> Decimal:
    """``number`` unchanged, if the client can send it without rounding (see module doc)."""
    as_float = float(number)
    if Decimal(repr(as_float)) != number:
        raise BadValue(
            f"{number} has more significant digits than the client's JSON encoding (a "
            "float) carries; it would be rounded on the wire"
        )
    return number


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if "T" in text or " " in text:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return date.fromisoformat(text)
    except ValueError:
        raise BadValue(f"{value!r} is not a date (YYYY-MM-DD)") from None


def to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0), tzinfo=UTC)
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                moment = datetime.combine(date.fromisoformat(text), time(0))
            except ValueError:
                raise BadValue(f"{value!r} is not a date and time (ISO 8601)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def wire_date(day: date) -> str:
    if day < MIN_DATE:
        raise BadValue(f"{day.isoformat()} is before {MIN_DATE.isoformat()}, the earliest date")
    return day.isoformat()


def wire_datetime(moment: datetime) -> str:
    """UTC ISO 8601 with ``Z`` (seconds; sub-second parts are kept only when present)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # before year 1 or after year 9999 once in UTC
        raise BadValue(
            f"{moment.isoformat()} is outside the dates Dataverse holds "
            f"({MIN_DATE.isoformat()} to {MAX_DATE.isoformat()} UTC)"
        ) from None
    if utc.date() < MIN_DATE:
        raise BadValue(f"{utc.date().isoformat()} is before {MIN_DATE.isoformat()}")
    # isoformat() of the naive UTC moment is strftime("%Y-%m-%dT%H:%M:%S[.%f]") for every
    # year from MIN_DATE on, at a fraction of the cost
    return utc.replace(tzinfo=None).isoformat() + "Z"


def option_by_label(col: ColumnInfo | None, options: Mapping[int, str], text: str) -> int | None:
    """The option whose label (case and spacing ignored) is ``text``, or a value given as a
    number that the column has."""
    wanted = " ".join(text.replace("_", " ").split()).lower()
    every = dict(options)
    if col is not None:
        every.update(col.options)
    for value, label in every.items():
        if " ".join(label.replace("_", " ").split()).lower() == wanted:
            return value
    stripped = text.strip()
    if stripped.lstrip("-").isdigit() and int(stripped) in every:
        return int(stripped)
    return None


def check_range(col: ColumnInfo | None, number: Decimal, where: str = "the column") -> None:
    """``number`` within the range the tenant gives the column (``where``: its
    ``table.column``, for the reason)."""
    if col is None:
        return
    lo, hi = col.min_value, col.max_value
    if lo is not None and number < Decimal(str(lo)):
        raise BadValue(f"{number} is below {where}'s minimum in the tenant, {_plain(lo)}")
    if hi is not None and number > Decimal(str(hi)):
        raise BadValue(f"{number} is above {where}'s maximum in the tenant, {_plain(hi)}")


def _plain(bound: float | int) -> str:
    """A range bound as the tenant's metadata gives it, without an exponent."""
    value = Decimal(str(bound))
    return f"{value:f}" if value != value.to_integral_value() else f"{int(value)}"
