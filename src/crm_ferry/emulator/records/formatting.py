"""Formatted values: the ``<property>@OData.Community.Display.V1.FormattedValue`` texts the
server writes when ``Prefer: odata.include-annotations`` asks for them.

What the Web API formats (Select columns, "Formatted values",
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns,
and the examples of Query data, https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/overview):

* choices, yes/no, status and status reason columns: the option's label (``Competitor``,
  ``Active``; a yes/no column's own labels, ``donotpostalmail: false`` → ``Allow``); a
  choices (multi-select) column: its labels joined with ``; ``;
* lookups: the related row's primary name (written by :mod:`.reads`);
* money: the currency symbol of the row's currency and the currency's precision
  (``$20,000.00``; money columns take their precision from the currency by default); a
  ``<money>_base`` column and an aggregate are in the organization's base currency;
* whole numbers with digit grouping (``9,500``), decimals and floating point numbers with
  their column's precision;
* dates and times in the user's format and time zone (``2023-04-07T21:59:01Z`` →
  ``4/7/2023 2:59 PM``). Date-only columns (``DateOnly`` behaviour, or the ``DateOnly``
  format) show the date alone; ``TimeZoneIndependent`` columns are not converted.

The emulator's users all have the settings of a new user in an en-US organization: locale
1033 (month/day/year, 12-hour clock, ``,`` grouping and ``.`` decimals, ``-`` before a negative
number and before a negative amount's symbol) and the time zone "(GMT-08:00) Pacific Time (US
& Canada)", which is what the documented examples show (UTC 21:59 in April is 2:59 PM).
Text, GUID and unformatted columns have no formatted value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from crm_ferry.emulator import tenant
from crm_ferry.emulator.schema import AttributeDef
from crm_ferry.emulator.state import TenantState

USER_TIME_ZONE = ZoneInfo("America/Los_Angeles")
"""The emulated users' time zone: "(GMT-08:00) Pacific Time (US & Canada)"."""

NUMBER_TYPES = frozenset({"Integer", "BigInt", "Decimal", "Double"})


@dataclass(slots=True)
class Currencies:
    """The symbol and precision of each currency a request formats money in (read once)."""

    known: dict[str, tuple[str, int]] = field(default_factory=dict)
    base_id: str | None = None

    def of(self, em: TenantState, currency_id: Any) -> tuple[str, int]:
        """(symbol, precision) of a currency; the base currency's when ``currency_id`` is
        None."""
        key = str(currency_id) if currency_id else self.base(em)
        found = self.known.get(key)
        if found is None:
            row = em.store.get("transactioncurrency", key) or {}
            precision = row.get("currencyprecision")
            found = (str(row.get("currencysymbol") or ""), 2 if precision is None else precision)
            self.known[key] = found
        return found

    def base(self, em: TenantState) -> str:
        """The organization's base currency."""
        if self.base_id is None:
            org = em.store.get("organization", tenant.ORGANIZATION_ID) or {}
            self.base_id = str(org.get("basecurrencyid") or tenant.BASE_CURRENCY_ID)
        return self.base_id


def format_number(value: int | float | Decimal, precision: int | None = 0) -> str:
    """``9500`` → ``9,500``; ``1234.5`` with precision 2 → ``1,234.50``; ``-3`` → ``-3``.
    Halves round away from zero, as .NET's number formats do (``0.125`` → ``0.13``)."""
    if isinstance(value, int) and not precision:
        return f"{value:,}"
    places = 0 if precision is None else precision
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{places}f}"


def format_money(value: int | float | Decimal, symbol: str, precision: int) -> str:
    """``20000`` in US dollars → ``$20,000.00``; a negative amount → ``-$20,000.00``."""
    text = format_number(abs(Decimal(str(value))), precision)
    return f"-{symbol}{text}" if Decimal(str(value)) < 0 else f"{symbol}{text}"


def _clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def format_datetime(attr: AttributeDef, value: str) -> str | None:
    """A stored ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ`` as the user reads it."""
    if len(value) == 10:
        day = datetime.fromisoformat(value)
        return f"{day.month}/{day.day}/{day.year}"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if attr.datetime_behavior != "TimeZoneIndependent":
        moment = moment.astimezone(USER_TIME_ZONE)
    date_text = f"{moment.month}/{moment.day}/{moment.year}"
    if attr.format == "DateOnly" or attr.datetime_behavior == "DateOnly":
        return date_text
    return f"{date_text} {_clock(moment)}"


def _labels(attr: AttributeDef, value: Any) -> str | None:
    assert attr.option_set is not None
    if attr.type == "MultiSelectPicklist":
        labels = []
        for part in str(value).split(","):
            opt = attr.option_set.option(int(part)) if part.strip().lstrip("-").isdigit() else None
            if opt is not None:
                labels.append(opt.label)
        return "; ".join(labels) if labels else None
    if isinstance(value, bool | int):
        opt = attr.option_set.option(int(value))
        return opt.label if opt else None
    return None


def formatted(
    em: TenantState,
    currencies: Currencies,
    attr: AttributeDef,
    value: Any,
    row: Any = None,
) -> str | None:
    """The formatted value of a (non-lookup) column's value, or None when it has none.

    ``row`` is the stored row the value belongs to: a money value is in its currency
    (``transactioncurrencyid``); without a row (an aggregate) money is in the base currency.
    """
    if value is None:
        return None
    if attr.option_set is not None:
        return _labels(attr, value)
    kind = attr.type
    if kind == "Money" and isinstance(value, int | float | Decimal):
        base = attr.attribute_of is not None or row is None
        currency = None if base else row.get("transactioncurrencyid")
        symbol, precision = currencies.of(em, currency)
        return format_money(value, symbol, precision)
    if kind in NUMBER_TYPES and isinstance(value, int | float | Decimal):
        if kind in ("Integer", "BigInt"):
            return format_number(value, 0)
        return format_number(value, 2 if attr.precision is None else attr.precision)
    if kind == "DateTime" and isinstance(value, str):
        return format_datetime(attr, value)
    return None


__all__ = [
    "USER_TIME_ZONE",
    "Currencies",
    "format_datetime",
    "format_money",
    "format_number",
    "formatted",
]
