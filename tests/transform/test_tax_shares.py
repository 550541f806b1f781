"""An invoice's tax spread over its lines: in cents, adding up to the tax exactly, each line
within a cent of its proportional share."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.transform.roles.invoices import tax_shares

CENTS = st.integers(-100_000_00, 100_000_00).map(lambda c: Decimal(c) / 100)
AMOUNTS = st.lists(st.integers(0, 10_000_00).map(lambda c: Decimal(c) / 100), min_size=1)


def test_an_even_and_an_uneven_split() -> None:
    lines = [("a", Decimal("150.00")), ("b", Decimal("150.00"))]
    assert tax_shares(Decimal("39.00"), lines) == {"a": Decimal("19.5"), "b": Decimal("19.5")}
    thirds = [("a", Decimal("33.33")), ("b", Decimal("33.33")), ("c", Decimal("33.34"))]
    assert tax_shares(Decimal("10.00"), thirds) == {
        "a": Decimal("3.33"),
        "b": Decimal("3.33"),
        "c": Decimal("3.34"),
    }


def test_no_proportion_puts_the_tax_on_the_first_line() -> None:
    free = [("a", Decimal(0)), ("b", Decimal(0))]
    assert tax_shares(Decimal("5.00"), free) == {"a": Decimal("5"), "b": Decimal("0")}
    credit = [("a", Decimal("100")), ("b", Decimal("-20"))]
    assert tax_shares(Decimal("8.00"), credit) == {"a": Decimal("8"), "b": Decimal("0")}
    assert tax_shares(Decimal("1.00"), []) == {}


@given(tax=CENTS, amounts=AMOUNTS)
def test_shares_add_up_to_the_tax_and_follow_the_amounts(
    tax: Decimal, amounts: list[Decimal]
) -> None:
    lines = [(f"l{i}", a) for i, a in enumerate(amounts)]
    shares = tax_shares(tax, lines)
    assert list(shares) == [line_id for line_id, _ in lines]
    assert sum(shares.values(), Decimal(0)) == tax
    assert all(s == s.quantize(Decimal("0.01")) for s in shares.values())
    total = sum(amounts, Decimal(0))
    if total > 0:
        for (line_id, amount), share in zip(lines, shares.values(), strict=True):
            assert abs(share - tax * amount / total) < Decimal("0.01"), line_id
    assert tax_shares(tax, lines) == shares
