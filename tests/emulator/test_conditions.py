"""Dataverse's condition operators in one place (emulator/conditions): the date windows'
arithmetic, the operands each operator takes, and the table both FetchXML and the Web API's
query functions read (every query function is an operator, and every documented name is
either implemented or refused).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.emulator.conditions import (
    FUNCTIONS,
    NOT_IMPLEMENTED,
    NOT_IMPLEMENTED_FUNCTIONS,
    OPERATORS,
    ConditionError,
    Context,
    add_months,
    function_parameters,
    week_start,
)

NOW = Context(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


def check(name: str, value: object, *values: object, ctx: Context = NOW) -> bool | None:
    op = OPERATORS[name]
    return op.check(value, op.prepare(list(values)), ctx)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 15), -13, date(2024, 12, 15)),
        (date(2026, 12, 1), 1, date(2027, 1, 1)),
    ],
)
def test_months_move_inside_the_month_they_land_in(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_weeks_start_on_sunday(day: date) -> None:
    start = week_start(day)
    assert start.weekday() == 6
    assert timedelta(0) <= day - start < timedelta(days=7)


def test_windows_are_in_the_callers_zone() -> None:
    """Today in UTC+10 (the caller's zone) began at 14:00 UTC the day before."""
    east = Context(NOW.now, zone=timezone(timedelta(hours=10)))
    assert check("today", "2026-01-01T15:00:00Z", ctx=east)
    assert not check("today", "2026-01-01T15:00:00Z")
    assert check("yesterday", "2026-01-01T15:00:00Z")


def test_the_edges_of_a_window() -> None:
    assert check("last-x-hours", "2026-01-02T02:04:05Z", 1)  # the start is in
    assert check("last-x-hours", "2026-01-02T03:04:05Z", 1)  # now is in
    assert not check("last-x-hours", "2026-01-02T03:04:06Z", 1)
    assert check("next-x-days", "2026-01-03T23:59:59Z", 1)
    assert not check("next-x-days", "2026-01-04T00:00:00Z", 1)  # the end is out
    assert check("olderthan-x-days", "2025-12-31T23:59:59Z", 1)
    assert not check("olderthan-x-days", "2026-01-01T00:00:00Z", 1)


def test_null_is_unknown_except_for_null_and_not_null() -> None:
    for name, values in (
        ("eq", ["x"]),
        ("ne", ["x"]),
        ("like", ["%"]),
        ("in", ["a"]),
        ("between", [1, 2]),
        ("today", []),
        ("eq-userid", []),
    ):
        assert check(name, None, *values) is None
    assert check("null", None) is True
    assert check("not-null", None) is False


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("null", ["x"]),
        ("eq", []),
        ("between", [1]),
        ("last-x-days", ["a"]),
        ("last-x-days", [-1]),
        ("on", ["not a date"]),
        ("today", ["2026-01-01"]),
    ],
)
def test_operands_are_checked(name: str, values: list[object]) -> None:
    with pytest.raises(ConditionError):
        OPERATORS[name].prepare(values)


def test_hours_on_a_date_only_value_are_refused() -> None:
    with pytest.raises(ConditionError, match="DateOnly"):
        check("last-x-hours", "2026-01-02", 2)
    assert check("last-x-days", "2026-01-02", 2)


def test_the_caller() -> None:
    me = Context(NOW.now, user_id="0f6c2c42-8c9a-4b8e-9a4b-6d1f6f4a3d11", business_unit_id="b")
    assert check("eq-userid", "0F6C2C42-8C9A-4B8E-9A4B-6D1F6F4A3D11", ctx=me)
    assert check("ne-userid", "0f6c2c42-8c9a-4b8e-9a4b-000000000000", ctx=me)
    assert check("eq-businessid", "b", ctx=me)


def test_every_query_function_is_an_operator_with_its_parameters() -> None:
    assert set(FUNCTIONS) >= {"In", "Between", "LastXHours", "Today", "On", "EqualUserId"}
    assert function_parameters(FUNCTIONS["LastXDays"]) == ("PropertyName", "PropertyValue")
    assert function_parameters(FUNCTIONS["In"]) == ("PropertyName", "PropertyValues")
    assert function_parameters(FUNCTIONS["Today"]) == ("PropertyName",)
    assert not set(FUNCTIONS) & NOT_IMPLEMENTED_FUNCTIONS
    assert not set(OPERATORS) & set(NOT_IMPLEMENTED)
