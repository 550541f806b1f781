"""The condition operators: one :class:`Operator` per ``ConditionOperator`` the emulator
implements (:data:`OPERATORS` by FetchXML name, :data:`FUNCTIONS` by Web API query function),
and the documented ones it does not (:data:`NOT_IMPLEMENTED`, :data:`NOT_IMPLEMENTED_FUNCTIONS`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from crm_ferry.emulator.conditions.values import (
    ConditionError,
    LikeKind,
    as_instant,
    compare_values,
    equal_text,
    folded_texts,
    like_pattern,
    text_as,
)
from crm_ferry.emulator.conditions.windows import (
    Context,
    Window,
    calendar_window,
    inside,
    relative_window,
)

Operands = Literal["none", "value", "values", "pair", "count", "date"]
"""What an operator takes: nothing, one value, one or more, exactly two, a whole number of
units (the X of ``last-x-days``), a date (``on``)."""

Check = Callable[[Any, tuple[Any, ...], Context], "bool | None"]


@dataclass(frozen=True, slots=True)
class Operator:
    """One ``ConditionOperator``: its FetchXML name, its Web API query function (if any),
    what it takes and its predicate ``check(value, operands, context)``."""

    name: str
    function: str | None
    operands: Operands
    check: Check
    dates: bool = False
    """Applies to date and time columns only."""
    hours: bool = False
    """Works on the time of day (so not on a ``DateOnly`` column)."""

    def prepare(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """The operands from the values given (FetchXML ``value``s, the query function's
        ``PropertyValue(s)``), checked for number and kind (``in`` takes any number: none
        matches nothing)."""
        given = len(values)
        if self.operands == "none":
            if given:
                raise ConditionError(f"The condition operator '{self.name}' takes no value.")
            return ()
        if self.operands in ("value", "count", "date") and given != 1:
            raise ConditionError(
                f"The condition operator '{self.name}' takes exactly one value; {given} given."
            )
        if self.operands == "pair" and given != 2:
            raise ConditionError(
                f"The condition operator '{self.name}' takes exactly two values; {given} given."
            )
        if self.operands == "count":
            return (_count(self.name, values[0]),)
        if self.operands == "date":
            return (_day(self.name, values[0]),)
        return tuple(values)


def _count(name: str, value: object) -> int:
    text = str(value).strip() if not isinstance(value, bool) else ""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif re.fullmatch(r"\d+", text):
        number = int(text)
    else:
        raise ConditionError(
            f"The value '{value}' of the condition operator '{name}' is not a whole number."
        )
    if number < 0:
        raise ConditionError(f"The value of the condition operator '{name}' can't be negative.")
    return number


def _day(name: str, value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    instant = as_instant(value) if isinstance(value, str) else None
    if instant is None or not isinstance(value, str):
        raise ConditionError(
            f"The value '{value}' of the condition operator '{name}' is not a date."
        )
    return date.fromisoformat(value[:10])


def _comparison(op: str) -> Check:
    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        return compare_values(op, value, text_as(value, operands[0]))

    return check


def _like(kind: LikeKind, negate: bool) -> Check:
    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        if value is None:
            return None
        pattern = operands[0]
        if not isinstance(value, str) or not isinstance(pattern, str):
            raise ConditionError("This condition operator applies to text columns only.")
        found = like_pattern(kind, pattern).fullmatch(value.casefold()) is not None
        return found != negate

    return check


def _in(negate: bool) -> Check:
    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        if value is None:
            return None
        folded = folded_texts(operands)
        if folded is not None and isinstance(value, str) and as_instant(value) is None:
            # every value is text and the row's is not a date: each comparison would be the
            # case-insensitive one equal_text makes, and none of them can raise
            found = value.casefold() in folded
        else:
            found = any(equal_text(value, item) for item in operands)
        return found != negate

    return check


def _between(negate: bool) -> Check:
    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        if value is None:
            return None
        low = compare_values("ge", value, text_as(value, operands[0]))
        high = compare_values("le", value, text_as(value, operands[1]))
        return bool(low and high) != negate

    return check


def _null(negate: bool) -> Check:
    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        return (value is None) != negate

    return check


def _caller(field: str, op: str) -> Check:
    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        return compare_values(op, value, getattr(ctx, field))

    return check


def _relative_check(kind: str, unit: str) -> Check:
    by_time = unit in ("minutes", "hours")

    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        if by_time and isinstance(value, str) and len(value) == 10:
            # a date without a time: what a DateOnly column holds
            raise ConditionError(
                f"The value '{value}' is a date only; this condition operator can't be "
                "applied on a column that is configured to use the DateOnly behavior."
            )
        return inside(value, relative_window(kind, unit, operands[0], ctx))

    return check


def _calendar_check(period: str, shift: int) -> Check:
    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        return inside(value, calendar_window(period, shift, ctx))

    return check


def _seven_days(kind: str) -> Check:
    """``last-seven-days`` is ``last-x-days 7``, ``next-seven-days`` ``next-x-days 7``."""

    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        return inside(value, relative_window(kind, "days", 7, ctx))

    return check


def _on(kind: str) -> Check:
    def check(value: Any, operands: tuple[Any, ...], ctx: Context) -> bool | None:
        day: date = operands[0]
        start, end = ctx.midnight(day), ctx.midnight(day + timedelta(days=1))
        window: Window = (
            (start, end) if kind == "on" else (None, end) if kind == "before" else (start, None)
        )
        return inside(value, window)

    return check


def _operators() -> Iterable[Operator]:
    for op in ("eq", "ne", "gt", "ge", "lt", "le"):
        yield Operator(op, None, "value", _comparison(op))
    yield Operator("neq", None, "value", _comparison("ne"))
    yield Operator("like", None, "value", _like("like", False))
    yield Operator("not-like", None, "value", _like("like", True))
    yield Operator("begins-with", None, "value", _like("startswith", False))
    yield Operator("not-begin-with", None, "value", _like("startswith", True))
    yield Operator("ends-with", None, "value", _like("endswith", False))
    yield Operator("not-end-with", None, "value", _like("endswith", True))
    yield Operator("in", "In", "values", _in(False))
    yield Operator("not-in", "NotIn", "values", _in(True))
    yield Operator("between", "Between", "pair", _between(False))
    yield Operator("not-between", "NotBetween", "pair", _between(True))
    yield Operator("null", "Null", "none", _null(False))
    yield Operator("not-null", "NotNull", "none", _null(True))
    yield Operator("eq-userid", "EqualUserId", "none", _caller("user_id", "eq"))
    yield Operator("ne-userid", "NotEqualUserId", "none", _caller("user_id", "ne"))
    yield Operator("eq-businessid", "EqualBusinessId", "none", _caller("business_unit_id", "eq"))
    yield Operator("ne-businessid", "NotEqualBusinessId", "none", _caller("business_unit_id", "ne"))
    yield Operator("on", "On", "date", _on("on"), dates=True)
    yield Operator("on-or-before", "OnOrBefore", "date", _on("before"), dates=True)
    yield Operator("on-or-after", "OnOrAfter", "date", _on("after"), dates=True)
    for shift, name in enumerate(("yesterday", "today", "tomorrow"), start=-1):
        yield Operator(name, name.title(), "none", _calendar_check("day", shift), dates=True)
    for period in ("week", "month", "year"):
        for shift, word in ((-1, "last"), (0, "this"), (1, "next")):
            function = f"{word.title()}{period.title()}"
            check = _calendar_check(period, shift)
            yield Operator(f"{word}-{period}", function, "none", check, dates=True)
    for unit in ("hours", "days", "weeks", "months", "years"):
        for kind in ("last", "next"):
            yield Operator(
                f"{kind}-x-{unit}",
                f"{kind.title()}X{unit.title()}",
                "count",
                _relative_check(kind, unit),
                dates=True,
                hours=unit == "hours",
            )
    for unit in ("minutes", "hours", "days", "weeks", "months", "years"):
        yield Operator(
            f"olderthan-x-{unit}",
            f"OlderThanX{unit.title()}",
            "count",
            _relative_check("older", unit),
            dates=True,
            hours=unit in ("minutes", "hours"),
        )
    yield Operator("last-seven-days", "Last7Days", "none", _seven_days("last"), dates=True)
    yield Operator("next-seven-days", "Next7Days", "none", _seven_days("next"), dates=True)


OPERATORS: dict[str, Operator] = {op.name: op for op in _operators()}
"""The operators the emulator implements, by FetchXML name."""

FUNCTIONS: dict[str, Operator] = {op.function: op for op in OPERATORS.values() if op.function}
"""The same, by Web API query function name (without the ``Microsoft.Dynamics.CRM.``)."""

_FISCAL = (
    "in-fiscal-period in-fiscal-period-and-year in-fiscal-year in-or-after-fiscal-period-and-year "
    "in-or-before-fiscal-period-and-year last-fiscal-period last-fiscal-year "
    "last-x-fiscal-periods last-x-fiscal-years next-fiscal-period next-fiscal-year "
    "next-x-fiscal-periods next-x-fiscal-years this-fiscal-period this-fiscal-year"
)
_HIERARCHY = (
    "above eq-or-above eq-or-under under not-under eq-useroruserhierarchy "
    "eq-useroruserhierarchyandteams eq-useroruserteams eq-userteams"
)
NOT_IMPLEMENTED: dict[str, str] = {
    **dict.fromkeys(_FISCAL.split(), "fiscal periods (the organization's fiscal year settings)"),
    **dict.fromkeys(_HIERARCHY.split(), "hierarchies and teams"),
    "contain-values": "choices (multi-select) columns",
    "not-contain-values": "choices (multi-select) columns",
    "eq-userlanguage": "the caller's language (usersettings)",
}
"""Documented FetchXML operators the emulator does not implement, with what they depend on
(condition operator values,
https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/reference/operators)."""

_NOT_IMPLEMENTED_FUNCTIONS = (
    "InFiscalPeriod InFiscalPeriodAndYear InFiscalYear InOrAfterFiscalPeriodAndYear "
    "InOrBeforeFiscalPeriodAndYear LastFiscalPeriod LastFiscalYear LastXFiscalPeriods "
    "LastXFiscalYears NextFiscalPeriod NextFiscalYear NextXFiscalPeriods NextXFiscalYears "
    "ThisFiscalPeriod ThisFiscalYear Above AboveOrEqual EqualUserOrUserHierarchy "
    "EqualUserOrUserHierarchyAndTeams EqualUserOrUserTeams EqualUserTeams NotUnder Under "
    "UnderOrEqual ContainValues DoesNotContainValues EqualUserLanguage Contains"
)
NOT_IMPLEMENTED_FUNCTIONS: frozenset[str] = frozenset(_NOT_IMPLEMENTED_FUNCTIONS.split())
"""Documented query functions the emulator does not implement (Dataverse query functions,
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows;
``Contains`` is the full-text one, for knowledge articles)."""


def function_parameters(op: Operator) -> tuple[str, ...]:
    """The parameters the query function of ``op`` takes, ``PropertyName`` first."""
    if op.operands == "none":
        return ("PropertyName",)
    if op.operands in ("values", "pair"):
        return ("PropertyName", "PropertyValues")
    return ("PropertyName", "PropertyValue")


__all__ = [
    "FUNCTIONS",
    "NOT_IMPLEMENTED",
    "NOT_IMPLEMENTED_FUNCTIONS",
    "OPERATORS",
    "Operands",
    "Operator",
    "function_parameters",
]
