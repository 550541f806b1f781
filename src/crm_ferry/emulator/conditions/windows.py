"""The clock and the caller a condition is evaluated against (:class:`Context`), and the date
windows of the date operators, worked out in the caller's time zone (see the package
docstring for the boundaries)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from crm_ferry.emulator.conditions.values import ConditionError, as_instant


@dataclass(frozen=True, slots=True)
class Context:
    """What a condition is evaluated against besides the row: the clock (an aware instant),
    the caller's ``systemuserid`` and business unit, and the caller's time zone."""

    now: datetime
    user_id: str | None = None
    business_unit_id: str | None = None
    zone: tzinfo = UTC

    @classmethod
    def at(cls, now: datetime | None = None) -> Context:
        """A context without a caller (the wall clock when ``now`` is not given)."""
        return cls(now if now is not None else datetime.now(UTC))

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.zone)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, kept inside the month it lands in."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def week_start(day: date) -> date:
    """The Sunday a week (Sunday to Saturday) containing ``day`` starts on."""
    return day - timedelta(days=(day.weekday() + 1) % 7)


Window = tuple[datetime | None, datetime | None]
"""An interval of instants: start included, end excluded; None is unbounded."""

_JUST_AFTER = timedelta(microseconds=1)


def _back(ctx: Context, unit: str, n: int) -> date:
    """The day ``n`` days (weeks, months, years) before today."""
    if unit == "days":
        return ctx.today - timedelta(days=n)
    if unit == "weeks":
        return ctx.today - timedelta(days=7 * n)
    return add_months(ctx.today, -n * (12 if unit == "years" else 1))


def _ahead(ctx: Context, unit: str, n: int) -> date:
    if unit == "days":
        return ctx.today + timedelta(days=n)
    if unit == "weeks":
        return ctx.today + timedelta(days=7 * n)
    return add_months(ctx.today, n * (12 if unit == "years" else 1))


def relative_window(kind: str, unit: str, n: int, ctx: Context) -> Window:
    now = ctx.now
    if unit in ("minutes", "hours"):
        span = timedelta(**{unit: n})
        if kind == "last":
            return now - span, now + _JUST_AFTER
        if kind == "next":
            return now, now + span + _JUST_AFTER
        return None, now - span
    if kind == "last":
        return ctx.midnight(_back(ctx, unit, n)), now + _JUST_AFTER
    if kind == "next":
        return now, ctx.midnight(_ahead(ctx, unit, n) + timedelta(days=1))
    return None, ctx.midnight(_back(ctx, unit, n))


def calendar_window(period: str, shift: int, ctx: Context) -> Window:
    """This (0), the last (-1) or the next (1) day, week, month or year."""
    today = ctx.today
    if period == "day":
        start = today + timedelta(days=shift)
        end = start + timedelta(days=1)
    elif period == "week":
        start = week_start(today) + timedelta(days=7 * shift)
        end = start + timedelta(days=7)
    elif period == "month":
        start = add_months(today.replace(day=1), shift)
        end = add_months(start, 1)
    else:
        start = date(today.year + shift, 1, 1)
        end = date(today.year + shift + 1, 1, 1)
    return ctx.midnight(start), ctx.midnight(end)


def inside(value: object, window: Window) -> bool | None:
    if value is None:
        return None
    instant = as_instant(value)
    if instant is None:
        raise ConditionError(
            f"The value '{value}' is not a date and time; this condition operator applies to "
            "date and time columns only."
        )
    start, end = window
    return (start is None or instant >= start) and (end is None or instant < end)


__all__ = [
    "Context",
    "Window",
    "add_months",
    "calendar_window",
    "inside",
    "relative_window",
    "week_start",
]
