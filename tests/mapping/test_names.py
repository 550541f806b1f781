from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.errors import MapError
from crm_ferry.mapping.names import MAX_SCHEMA_NAME, check_prefix, pascal_case, schema_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("referral source", "ReferralSource"),
        ("referral_source", "ReferralSource"),
        ("intakeDate", "IntakeDate"),
        ("Präferenz-Sprache", "PraferenzSprache"),
        ("2nd coach", "N2ndCoach"),
        ("!!!", "Field"),
    ],
)
def test_pascal_case(text: str, expected: str) -> None:
    assert pascal_case(text) == expected


def test_unique_and_bounded() -> None:
    first = schema_name("new", "referral source")
    assert first == "new_ReferralSource"
    second = schema_name("new", "Referral-Source", taken=[first])
    assert second == "new_ReferralSource2"
    long = schema_name("new", "x" * 80)
    assert len(long) == MAX_SCHEMA_NAME


@pytest.mark.parametrize("prefix", ["n", "New", "mscrmx", "1ab", "toolongprefix"])
def test_bad_prefix(prefix: str) -> None:
    with pytest.raises(MapError, match="prefix"):
        check_prefix(prefix)


@given(st.lists(st.text(min_size=0, max_size=70), min_size=1, max_size=30))
def test_names_are_always_valid_and_unique(texts: list[str]) -> None:
    taken: list[str] = []
    for text in texts:
        name = schema_name("new", text, taken)
        assert len(name) <= MAX_SCHEMA_NAME
        assert name.startswith("new_")
        assert name[4:].isalnum()
        assert name[4:].isascii()
        assert name.lower() not in {t.lower() for t in taken}
        taken.append(name)
