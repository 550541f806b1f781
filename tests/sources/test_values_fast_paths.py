"""The reader's fast paths give exactly what the generic path gives.

Generated row functions (:meth:`RecordBuilder.row_builder`), remembered conversions and the
timestamp halves (:meth:`TimeParsers._remember`) are optimisations only: every record,
reject, count and finding must be the same as without them.
"""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crm_ferry.sources import open_bundle
from crm_ferry.sources.bundle._records import RecordBuilder
from crm_ferry.sources.discover import discover_source
from crm_ferry.sources.values import TimeParsers

CASES = Path(__file__).parents[1] / "cases" / "sources" / "bundles"

MESSY = {
    "manifest.json": json.dumps({"timezone": "Europe/Berlin", "date_format": "us"}),
    "clients.csv": (
        "id,first_name,last_name,full_name,email,birth_date,created_at,updated_at,status,"
        "tags,custom:intake,custom:n,Foo,Foo,coach_id\n"
        "C1,Ann,Lee,,a@x.com,1/2/1990,2024-03-31T02:30:00,2024-10-27T02:30:00,Active,a; b,"
        "2024-01-01,1,x,,U1\n"
        'C2,,,"Lee, Ann",A@x.com ,1990-02-01,2024-03-01 09:30:00,3/1/2024 9:30 PM,ACTIVE,,'
        '1/2/2024,"1,234.50",,y,U9\n'
        "C3,Bo,,,,02/30/1990,2024-03-01T09:30:00Z,2024-03-01T09:30:00.123456,prospect,,,x,,,\n"
        "C4,X,Y,,,,2024-03-01T25:30:00,20240301T093000,active,,,,,,\n"
        "C5,X,Y,,,,2024-03-01X09:30:00,2024-03-01T09:30,active,,,,,,\n"
        "C6,X,Y,,,,2024-03-01T09:30:00 ,2024-03-01 09:30:00,Sleeping,,,,,,\n"
        "C7,,,Cher,,,2024-03-01T09:30:00+01:00,2024-03-01T09:30:00,,,,,,,\n"
        "C1,dup,,,,,,,,,,,,,\n"
        ",noid,,,,,,,,,,,,,\n"
    ),
    "sessions.csv": (
        "id,client_id,start_at,end_at,price,duration_minutes,status,billing_status,session_type\n"
        'S1,C1,2024-03-01T09:30:00,2024-03-01T10:30:00,"1,200.00",60,Completed,paid,One on One\n'
        "S2,C2,2024-03-01T09:30:00,2024-03-01T10:30:00,1e3,6o,no show,Paid,group\n"
        "S3,C99,2024-03-01T09:30:00,2024-03-01 10:30:00, 150 ,+60,no-show,unbilled,Other\n"
        "S4,C1,2024-03-01T10:30:00,2024-03-01T10:30:00,NaN,60,completed,paid,\n"
        "S5,C1,2024-11-01T10:30:00,2024-13-01T10:30:00,$5,60,completed,paid,\n"
        "S1,C1,,,,,,,\n"
        "S6,C1,2024-03-01T10:30:00,2024-03-01T10:30:00,150.00,60,completed,paid,\n"
    ),
    "activities.jsonl": "\n".join(
        json.dumps(row)
        for row in [
            {"id": "A1", "client_id": "C1", "kind": "call", "occurred_at": "2024-03-01T09:30:00"},
            {"id": "A2", "client_id": "C1", "kind": None, "occurred_at": "2024-03-01T09:30:00"},
            {"id": "A3", "client_id": "C1", "kind": " ", "occurred_at": "2024-03-01T09:30:00"},
            {"id": "A2", "client_id": "C1", "kind": "note", "occurred_at": 5},
            {"id": "A4", "client_id": "C1", "kind": "Email", "occurred_at": ["x"]},
            {"id": "A5", "client_id": "C1", "kind": "note", "occurred_at": None, "x": {"a": 1}},
            {"id": "A6", "client_id": "C1", "kind": "note", "occurred_at": None, "x": None},
            {"id": "A7", "client_id": "C1"},
        ]
    ),
    "invoices.json": json.dumps(
        [
            {"id": "I1", "client_id": "C1", "total_amount": 12.5, "paid_at": "2024-03-01T09:30:00"},
            {"id": "I2", "client_id": "C1", "total_amount": "1,000.00", "issue_date": "3/1/2024"},
            {"id": "I3", "total_amount": True},
            {"id": "I4", "total_amount": 1, "status": "Paid"},
        ]
    ),
    "invoice_items.csv": (
        "id,invoice_id,amount,quantity,unit_price\nII1,I1,12.5,1,\nII2,I2,,2,500\n"
    ),
    "client_properties.csv": "client_id,key,value\nC1,color,red\nC1,color,blue\n,x,y\nC1,,z\n",
}


def _everything(root: Path) -> list[str]:
    out: list[str] = []
    with open_bundle(root) as bundle:
        for obj in bundle.objects:
            for item in bundle.read(obj):
                split = f" split={bundle.name_was_split}" if obj == "clients" else ""
                out.append(repr(item) + split)
            out.append(f"{obj}: {bundle.counts[obj]}")
    found = discover_source(root).as_dict()
    out.append(json.dumps(found, sort_keys=True, default=str))
    return out


def _bundles(make_bundle, tmp_path: Path) -> list[Path]:
    return [*sorted(CASES.iterdir()), make_bundle("messy", **MESSY)]


def test_generated_rows_equal_the_generic_path(
    make_bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundles = _bundles(make_bundle, tmp_path)
    fast = [_everything(root) for root in bundles]
    monkeypatch.setattr(RecordBuilder, "row_builder", lambda self, plan, json=False: None)
    slow = [_everything(root) for root in bundles]
    for root, a, b in zip(bundles, fast, slow, strict=True):
        assert a == b, root
    del fast, slow
    gc.collect()  # leave the worker as found (test_generator measures memory with tracemalloc)


def test_generated_rows_are_used(make_bundle, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    original = RecordBuilder.row_builder

    def spy(self: RecordBuilder, plan, json: bool = False):  # type: ignore[no-untyped-def]
        row = original(self, plan, json=json)
        if row is not None:
            built.append(self.obj)
        return row

    monkeypatch.setattr(RecordBuilder, "row_builder", spy)
    _everything(make_bundle("messy", **MESSY))
    assert {"clients", "sessions", "activities", "invoices", "invoice_items"} <= set(built)


def test_timestamp_halves_are_remembered_and_combined() -> None:
    ny = ZoneInfo("America/New_York")
    parsers = TimeParsers(ny, "iso")
    assert parsers.ts("2024-03-10T02:30:00") == datetime(2024, 3, 10, 2, 30, tzinfo=ny)
    assert parsers.ts("2024-11-03 01:30:00.250000") == datetime(
        2024, 11, 3, 1, 30, 0, 250000, tzinfo=ny
    )
    assert set(parsers.days) == {"2024-03-10", "2024-11-03"}
    assert set(parsers.times) == {"T02:30:00", " 01:30:00.250000"}
    # A known date with a known time of day from another value: looked up, same result.
    combined = parsers.ts("2024-03-10 01:30:00.250000")
    assert combined == datetime(2024, 3, 10, 1, 30, 0, 250000, tzinfo=ny)
    assert repr(combined) == repr(datetime(2024, 3, 10, 1, 30, 0, 250000, tzinfo=ny))
    assert combined.fold == 0
    assert combined.tzinfo is ny
    assert len(parsers.days) == 2  # nothing new to remember
    # Offsets, other forms and bad values are never remembered.
    assert parsers.ts("2024-03-10T02:30:00+01:00").tzinfo == timezone(timedelta(hours=1))
    assert parsers.ts("2024-03-10T02:30:00Z") == datetime(2024, 3, 10, 2, 30, tzinfo=UTC)
    for bad in ("2024-03-10T25:00:00", "2024-02-30T02:30:00", "2024-03-10T02:30:0x"):
        with pytest.raises(ValueError, match="not a timestamp"):
            parsers.ts(bad)
    assert set(parsers.times) == {"T02:30:00", " 01:30:00.250000"}
    assert parsers.ts("20240310T023000") == datetime(2024, 3, 10, 2, 30, tzinfo=ny)
    assert set(parsers.days) == {"2024-03-10", "2024-11-03"}
