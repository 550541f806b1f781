from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.dataverse.metadata import ColumnInfo
from crm_ferry.reconcile.diff import ROW_FIELD, compare_row, count_verdicts

CID = "6f1c1b8e-3d5a-4f5e-9a7e-1c2b3d4e5f60"
COLUMNS = {
    "firstname": ColumnInfo("firstname", "String"),
    "birthdate": ColumnInfo(
        "birthdate", "DateTime", format="DateOnly", datetime_behavior="DateOnly"
    ),
    "new_start": ColumnInfo("new_start", "DateTime", datetime_behavior="UserLocal"),
    "new_local": ColumnInfo("new_local", "DateTime", datetime_behavior="TimeZoneIndependent"),
    "new_price": ColumnInfo("new_price", "Money", precision=2),
    "quantity": ColumnInfo("quantity", "Decimal", precision=3),
    "new_sessionstatus": ColumnInfo("new_sessionstatus", "Picklist"),
    "new_tags": ColumnInfo("new_tags", "MultiSelectPicklist"),
    "new_active": ColumnInfo("new_active", "Boolean"),
    "new_count": ColumnInfo("new_count", "Integer"),
    "parentcustomerid": ColumnInfo("parentcustomerid", "Customer"),
    "new_clientid": ColumnInfo("new_clientid", "Lookup"),
}


def _cmp(expected: dict[str, Any], actual: dict[str, Any] | None, **kw: Any) -> dict[str, str]:
    rows = compare_row(
        "contact", expected, actual, columns=COLUMNS, source_values=kw.pop("source", {}), **kw
    )
    return {r.field: r.verdict for r in rows}


def test_lookup_bind_matches_value_column() -> None:
    got = _cmp(
        {"parentcustomerid_account@odata.bind": f"/accounts({CID.upper()})"},
        {"_parentcustomerid_value": CID},
    )
    assert got == {"parentcustomerid": "match"}


def test_lookup_with_explicit_navigation_mapping() -> None:
    rows = compare_row(
        "new_session",
        {"new_ClientId@odata.bind": f"/contacts({CID})"},
        {"_new_clientid_value": "00000000-0000-0000-0000-000000000001"},
        columns={},
        source_values={"new_clientid": "c1"},
        navigation={"new_ClientId": "new_clientid"},
    )
    assert [(r.field, r.verdict, r.source_value) for r in rows] == [
        ("new_clientid", "mismatch", "c1")
    ]


def test_date_only_vs_midnight_timestamp() -> None:
    assert _cmp({"birthdate": "1980-02-29"}, {"birthdate": "1980-02-29T00:00:00Z"}) == {
        "birthdate": "match"
    }
    assert _cmp({"birthdate": "1980-02-29"}, {"birthdate": "1980-03-01T00:00:00Z"}) == {
        "birthdate": "mismatch"
    }


def test_datetimes_compare_as_instants() -> None:
    assert (
        _cmp({"new_start": "2024-05-01T10:30:00+02:00"}, {"new_start": "2024-05-01T08:30:00Z"})[
            "new_start"
        ]
        == "match"
    )
    assert (
        _cmp({"new_start": "2024-05-01T10:30:00+02:00"}, {"new_start": "2024-05-01T10:30:00Z"})[
            "new_start"
        ]
        == "mismatch"
    )
    # the service keeps whole seconds
    assert (
        _cmp({"new_start": "2024-05-01T08:30:00.250Z"}, {"new_start": "2024-05-01T08:30:00Z"})[
            "new_start"
        ]
        == "match"
    )
    # time-zone independent: wall-clock time
    assert (
        _cmp({"new_local": "2024-05-01T10:30:00"}, {"new_local": "2024-05-01T10:30:00Z"})[
            "new_local"
        ]
        == "match"
    )


def test_money_and_decimal_at_precision() -> None:
    got = _cmp(
        {"new_price": "120.5", "quantity": Decimal("1.5")}, {"new_price": 120.50, "quantity": 1.5}
    )
    assert got == {"new_price": "match", "quantity": "match"}
    assert _cmp({"new_price": "120.50"}, {"new_price": 120.51}) == {"new_price": "mismatch"}


def test_choices_multiselect_bool_int_strings() -> None:
    got = _cmp(
        {
            "new_sessionstatus": 100000001,
            "new_tags": "100000002,100000000",
            "new_active": True,
            "new_count": 3,
            "firstname": "Zoë",
        },
        {
            "new_sessionstatus": "100000001",
            "new_tags": "100000000,100000002",
            "new_active": True,
            "new_count": 3,
            "firstname": "Zoë",
        },
    )
    assert set(got.values()) == {"match"}
    assert _cmp({"firstname": "Zoë"}, {"firstname": "zoë"}) == {"firstname": "mismatch"}
    assert _cmp({"new_tags": [1, 2]}, {"new_tags": "1"}) == {"new_tags": "mismatch"}
    assert _cmp({"new_count": 3}, {"new_count": "three"}) == {"new_count": "mismatch"}


def test_missing_row_is_one_missing_diff_row() -> None:
    rows = compare_row(
        "contact",
        {"firstname": "A", "lastname": "B"},
        None,
        columns=COLUMNS,
        source_values={},
        record_id=CID,
        source_key="clients/c1",
    )
    assert len(rows) == 1
    assert (rows[0].field, rows[0].verdict, rows[0].record_id) == (ROW_FIELD, "missing", CID)
    assert rows[0].source_key == "clients/c1"


def test_missing_field_and_extra_columns() -> None:
    actual = {
        "firstname": "A",
        "telephone1": "555",
        "modifiedon": "2024-01-01T00:00:00Z",
        "@odata.etag": 'W/"1"',
        "mobilephone": None,
    }
    assert _cmp({"firstname": "A", "lastname": "B"}, actual) == {
        "firstname": "match",
        "lastname": "missing",
    }
    got = _cmp({"firstname": "A"}, actual, include_extra=True)
    assert got == {"firstname": "match", "telephone1": "extra"}
    assert _cmp({"firstname": "A"}, actual, include_extra=True, ignore={"telephone1"}) == {
        "firstname": "match"
    }


def test_source_values_and_counts() -> None:
    rows = compare_row(
        "contact",
        {"firstname": "A", "new_count": 2},
        {"firstname": "A", "new_count": 3},
        columns=COLUMNS,
        source_values={"firstname": "a ", "new_count": "2"},
    )
    assert [r.source_value for r in rows] == ["a ", "2"]
    assert count_verdicts(rows) == {
        "contact": {"match": 1, "mismatch": 1, "missing": 0, "extra": 0}
    }
    assert rows[1].as_dict()["verdict"] == "mismatch"


# ---------------------------------------------------------------------------
# Property: whatever was sent, read back in the service's own form, is all match.

_zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)
_datetimes = st.datetimes(
    min_value=datetime(1901, 1, 1), max_value=datetime(2199, 12, 31), timezones=_zones
)
_money = st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False)
_guid = st.uuids().map(str)
_text = st.text(max_size=40).filter(lambda s: s != "")

FIELDS: dict[str, tuple[Any, Any]] = {
    # column: (strategy for the sent value, function to the service form)
    "firstname": (_text, lambda v: v),
    "birthdate": (st.dates(), lambda v: f"{v.isoformat()}T00:00:00Z"),
    "new_start": (
        _datetimes.map(lambda d: d.isoformat()),
        lambda v: datetime.fromisoformat(v).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ),
    "new_price": (_money.map(str), lambda v: float(v)),
    "quantity": (
        st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False),
        lambda v: float(v),
    ),
    "new_sessionstatus": (st.integers(100000000, 100000010), lambda v: v),
    "new_tags": (
        st.lists(st.integers(100000000, 100000020), min_size=1, unique=True),
        lambda v: ",".join(str(x) for x in reversed(v)),
    ),
    "new_active": (st.booleans(), lambda v: v),
    "new_count": (st.integers(-(2**31), 2**31 - 1), lambda v: v),
}


@st.composite
def _payloads(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, min_size=1))
    expected: dict[str, Any] = {}
    actual: dict[str, Any] = {}
    for name in names:
        strategy, to_service = FIELDS[name]
        value = draw(st.one_of(st.none(), strategy))
        expected[name] = value
        actual[name] = None if value is None else to_service(value)
    if draw(st.booleans()):
        guid = draw(_guid)
        expected["parentcustomerid_contact@odata.bind"] = f"/contacts({guid})"
        actual["_parentcustomerid_value"] = guid
        actual["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = "contact"
    actual["modifiedon"] = "2024-01-01T00:00:00Z"
    return expected, actual


@given(_payloads())
def test_expected_read_back_in_service_form_is_all_match(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    expected, actual = pair
    rows = compare_row(
        "contact", expected, actual, columns=COLUMNS, source_values={}, include_extra=True
    )
    assert rows, expected
    assert [r for r in rows if r.verdict != "match"] == []


@given(st.dates(), st.dates())
def test_different_dates_never_match(a: date, b: date) -> None:
    verdict = _cmp({"birthdate": a.isoformat()}, {"birthdate": f"{b.isoformat()}T00:00:00Z"})
    assert verdict["birthdate"] == ("match" if a == b else "mismatch")
