"""Reject thresholds (a share of an object's records, or a number of them) and the rejects
they count: the map's listed files never, every other reject always."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.errors import ConfigError
from crm_ferry.model import Reject
from crm_ferry.reconcile.classify import (
    MIGRATION,
    REJECTED,
    SOURCE_DEFECT,
    caused_by,
    reject_checks,
)
from crm_ferry.reconcile.thresholds import (
    RejectLimits,
    RejectThreshold,
    load_breaches,
    over_threshold,
)
from crm_ferry.settings import Settings

LINKED = "a linked file (a URL, not in the bundle): listed, not migrated"
DANGLING = "client 'C9' is not in the export (dangling reference)"


@given(
    records=st.integers(min_value=0, max_value=100_000),
    data=st.data(),
    share=st.decimals(min_value=0, max_value=100, places=2),
)
def test_a_share_is_exceeded_exactly_when_more_than_it_is_rejected(
    records: int, data: st.DataObject, share: Decimal
) -> None:
    rejected = data.draw(st.integers(min_value=0, max_value=records))
    threshold = RejectThreshold.parse(f"{share}%")
    over = rejected > 0 and Fraction(rejected, max(records, 1)) > Fraction(share) / 100
    assert threshold.exceeded(rejected, records) == over


@given(count=st.integers(min_value=0, max_value=1000), rejected=st.integers(0, 2000))
def test_a_count_is_exceeded_by_one_record_more(count: int, rejected: int) -> None:
    for value in (count, str(count)):
        assert RejectThreshold.parse(value).exceeded(rejected, 5000) == (rejected > count)


@pytest.mark.parametrize("value", ["two", "-1%", "101%", "%", "2.5", 1.5, True, None, -3, "1e3%"])
def test_what_is_not_a_threshold(value: object) -> None:
    with pytest.raises(ValueError, match='like "2%"'):
        RejectThreshold.parse(value)


def test_every_object_over_its_threshold_and_only_those() -> None:
    limits = RejectLimits(RejectThreshold.parse("2%"), {"sessions": RejectThreshold.parse(3)})
    reasons = {"not a date": 2, LINKED: 40}
    found = over_threshold(
        [
            ("clients", 100, {"not a date": 2}),  # 2%: not over
            ("files", 50, {LINKED: 40}),  # listed by the map: not counted
            ("sessions", 10, {DANGLING: 3}),  # 3 allowed
            ("invoices", 100, {"not a date": 3}),
            ("payments", 10, reasons),
        ],
        limits,
    )
    assert [(b.object, b.rejected, b.records, b.share) for b in found] == [
        ("invoices", 3, 100, "3%"),
        ("payments", 2, 10, "20%"),
    ]
    assert found[1].reasons == {"not a date": 2}
    assert str(found[1]) == (
        "payments: 2 of 10 records rejected (20%), over the reject threshold of 2%; 2 × not a date"
    )


def test_a_load_counts_each_rejected_record_once_and_those_without_a_reject_of_their_own() -> None:
    rejects = [
        Reject("sessions", "sessions.csv", 2, "client_id", "C9", DANGLING, "S1"),
        Reject("sessions", "sessions.csv", 2, "price", "x", "not money", "S1"),  # same record
        Reject("files", "files.csv", 2, "url", "https://x", LINKED, "F1"),
    ]
    counts = {"sessions": (40, 1), "files": (2, 1), "client_properties": (10, 4)}
    found = {b.object: b for b in load_breaches(counts, rejects, RejectLimits())}
    assert set(found) == {"sessions", "client_properties"}
    assert found["sessions"].rejected == 1
    assert found["client_properties"].reasons == {"rejected with the record it belongs to": 4}


def test_settings_read_the_thresholds(tmp_path: Path) -> None:
    assert Settings.load(tmp_path, env={}).reject_limits == RejectLimits()
    (tmp_path / "ferry.toml").write_text(
        '[load]\nreject_threshold = "0.5%"\n[load.reject_thresholds]\nfiles = "10%"\nusers = 0\n',
        encoding="utf-8",
    )
    limits = Settings.load(tmp_path, env={}).reject_limits
    assert limits.of("clients") == RejectThreshold(percent=Decimal("0.5"))
    assert limits.of("files") == RejectThreshold(percent=Decimal(10))
    assert limits.of("users") == RejectThreshold(count=0)
    env = {"CRM_FERRY_LOAD_REJECT_THRESHOLD": "7"}
    assert Settings.load(tmp_path, env=env).reject_limits.of("clients") == RejectThreshold(count=7)
    with pytest.raises(ConfigError, match="reject_threshold = 'lots'"):
        Settings.load(tmp_path, env={"CRM_FERRY_LOAD_REJECT_THRESHOLD": "lots"})
    (tmp_path / "ferry.toml").write_text(
        '[load.reject_thresholds]\nfiles = "ten"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"\[load.reject_thresholds\] files = 'ten'"):
        Settings.load(tmp_path, env={})


# -- whose problem a reject is ------------------------------------------------------------


def _reject(obj: str, line: int, column: str, value: str, reason: str, sid: str) -> Reject:
    return Reject(obj, f"{obj}.csv", line, column, value, reason, sid)


def test_a_record_lost_with_another_is_a_migration_difference() -> None:
    bad = _reject("clients", 2, "birth_date", "31/02", "not a date", "C2")
    twin = _reject("clients", 3, "id", "C2", "duplicate id (first seen on line 2)", "C2")
    loaded_twin = _reject("clients", 5, "id", "C3", "duplicate id (first seen on line 4)", "C3")
    child = _reject(
        "sessions",
        2,
        "client_id",
        "C2",
        "client 'C2' is not in the export (dangling reference)",
        "S1",
    )
    orphan = _reject("sessions", 3, "client_id", "C9", DANGLING, "S2")
    grandchild = _reject(
        "session_notes",
        2,
        "session_id",
        "S1",
        "session 'S1' was rejected, so this row cannot point to it",
        "N1",
    )
    unnamed = _reject("clients", 6, "last_name", "", "a contact needs a last name", "C5")
    child_of_unnamed = _reject(
        "sessions",
        4,
        "client_id",
        "C5",
        "client 'C5' was rejected, so this row cannot point to it",
        "S5",
    )
    rejects = [bad, twin, loaded_twin, unnamed, child, orphan, grandchild, child_of_unnamed]
    reader = [bad, twin, loaded_twin]
    checks = reject_checks(
        rejects,
        reader,
        accepted={"clients": {"C1", "C3", "C5"}, "sessions": {"S1", "S2", "S5"}},
        loaded={"clients": {"C1", "C3"}, "sessions": set()},
    )
    classes = {(c.table, c.record, c.column): c.classification for c in checks}
    assert classes == {
        ("clients", "C2", "birth_date"): SOURCE_DEFECT,
        ("clients", "C2", "id"): MIGRATION,
        ("clients", "C3", "id"): SOURCE_DEFECT,
        ("clients", "C5", "last_name"): REJECTED,
        ("sessions", "S1", "client_id"): MIGRATION,
        ("sessions", "S2", "client_id"): SOURCE_DEFECT,
        ("session_notes", "N1", "session_id"): MIGRATION,
        ("sessions", "S5", "client_id"): MIGRATION,
    }
    detail = {c.record: c.detail for c in checks if c.column != "birth_date"}
    assert "the row this id was first seen on was rejected: not a date" in detail["C2"]
    assert "client 'C5', which it points to, was rejected: a contact needs" in detail["S5"]
    # without the reader's accepted ids nothing says the first row of C2 was rejected
    assert caused_by(twin, from_reader=True) is None
