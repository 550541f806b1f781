"""Value converters, name splitting, type inference and the compact id table."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.model import RECORD_TYPES, Client, Provenance
from crm_ferry.sources import open_bundle
from crm_ferry.sources.csvrows import CsvRows, RowProblem
from crm_ferry.sources.fastinit import record_maker
from crm_ferry.sources.idtable import IdList, IdTable, id_hash
from crm_ferry.sources.infer import CHOICE_MAX, PropertyInference
from crm_ferry.sources.values import (
    TimeParsers,
    converter_for,
    split_full_name,
    to_bool,
    to_int,
    to_money,
    to_tags,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.50", Decimal("1234.50")),
        ("1,234.50", Decimal("1234.50")),
        ("-12", Decimal("-12")),
        ("1,234,567", Decimal("1234567")),
        (" 7.5 ", Decimal("7.5")),
        (12, Decimal("12")),
    ],
)
def test_money(raw: object, expected: Decimal) -> None:
    assert to_money(raw) == expected


@pytest.mark.parametrize(
    "raw", ["$12", "12 €", "12,34", "1,23,456", "NaN", "Infinity", "1_000", "", True]
)
def test_money_rejects(raw: object) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        to_money(raw)


def test_bool_int_tags() -> None:
    assert [to_bool(v) for v in ("TRUE", "no", "1", "0", "Yes", False)] == [
        True, False, True, False, True, False,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="not a boolean"):
        to_bool("maybe")
    assert to_int("+42") == 42
    assert to_int(7.0) == 7
    for bad in ("4.5", "sixty", True, 7.5):
        with pytest.raises(ValueError, match="not a whole number"):
            to_int(bad)
    assert to_tags("a; b;;c ") == ("a", "b", "c")


def test_enums_are_case_insensitive_and_closed() -> None:
    status = converter_for(("scheduled", "completed", "cancelled", "no_show"), UTC, "iso")
    assert status("No Show") == "no_show"
    assert status("COMPLETED") == "completed"
    with pytest.raises(ValueError, match="not one of scheduled, completed, cancelled, no_show"):
        status("done")


def test_timestamps() -> None:
    ny = ZoneInfo("America/New_York")
    iso = TimeParsers(ny, "iso")
    assert iso.ts("2024-03-01T09:30:00Z") == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    assert iso.ts("2024-03-01 09:30") == datetime(2024, 3, 1, 9, 30, tzinfo=ny)
    with pytest.raises(ValueError, match="not a timestamp"):
        iso.ts("3/1/2024 9:30")
    us = TimeParsers(ny, "us")
    assert us.ts("3/1/2024 9:30") == datetime(2024, 3, 1, 9, 30, tzinfo=ny)
    assert us.ts("12/31/2024 12:05 AM") == datetime(2024, 12, 31, 0, 5, tzinfo=ny)
    assert us.ts("3/1/2024") == datetime(2024, 3, 1, tzinfo=ny)
    for bad in ("13/1/2024 9:30", "3/1/2024 13:00 PM", "2/30/2024 1:00"):
        with pytest.raises(ValueError, match=r"expected M/D/YYYY H:MM"):
            us.ts(bad)
    assert us.date("2/29/2024") == date(2024, 2, 29)
    with pytest.raises(ValueError, match=r"not a date \(expected M/D/YYYY or YYYY-MM-DD\)"):
        us.date("2/30/2024")


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Ann Lee", "Ann", "Lee"),
        ("  Ann   Marie  Lee ", "Ann Marie", "Lee"),
        ("Lee, Ann", "Ann", "Lee"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Jean de la Fontaine", "Jean", "de la Fontaine"),
        ("Van Morrison", "Van", "Morrison"),
        ("Sammy Davis Jr.", "Sammy", "Davis Jr."),
        ("King, Jr.", None, "King, Jr."),
        ("Cher", None, "Cher"),
        ("Zoë O'Brien", "Zoë", "O'Brien"),
    ],
)
def test_split_full_name(full: str, first: str | None, last: str) -> None:
    assert split_full_name(full) == (first, last)


def test_inference_rules() -> None:
    inf = PropertyInference()
    for v in ("2024-01-01", "2023-12-31", ""):
        inf.add("d", v)
    for v in ("1", "2.5", "1,000"):
        inf.add("n", v)
    for v in ("yes", "No", "TRUE"):
        inf.add("b", v)
    for v in ("red", "blue", "red"):
        inf.add("c", v)
    for v in ("red", "blue", "green"):  # never repeated
        inf.add("t", v)
    for i in range(CHOICE_MAX + 1):  # 13 distinct values, repeated
        inf.add("many", f"v{i}")
        inf.add("many", f"v{i}")
    inf.add("empty", None)
    assert inf.types() == {
        "b": "boolean",
        "c": "choice",
        "d": "date",
        "empty": "text",
        "many": "text",
        "n": "number",
        "t": "text",
    }
    assert len(inf.profiles["many"].distinct or {}) == CHOICE_MAX + 1
    inf.add("many", "one more")
    assert inf.profiles["many"].distinct is None  # memory bounded once it cannot be a choice
    assert inf.profiles["many"].type == "text"
    assert inf.profiles["c"].choices == ("red", "blue")


def test_id_table_grows_and_keeps_values() -> None:
    table = IdTable(capacity=4)
    ids = [f"C-{i}" for i in range(5000)]
    for n, i in enumerate(ids, start=1):
        assert table.add(id_hash(i), n if n % 2 else -n) is None
    assert len(table) == 5000
    assert table.get(id_hash("C-9")) == 10 * -1
    assert table.add(id_hash("C-0"), 99) == 1
    assert id_hash("C-5000") not in table
    table.put(id_hash("C-0"), 7)
    assert table.get(id_hash("C-0")) == 7


@pytest.mark.parametrize("cls", list(RECORD_TYPES.values()), ids=lambda c: c.OBJECT)
def test_record_maker_equals_the_constructor(cls: type) -> None:
    required = {
        f.name: "x"
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    required["provenance"] = Provenance("f.csv", 3)
    if cls is Client:
        required["type"] = "individual"
    made = record_maker(cls)(dict(required))
    assert made == cls(**required)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.id = "y"


_cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=12
)


@given(
    header=st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=2, max_size=5),
    rows=st.lists(st.lists(_cell, min_size=5, max_size=5), max_size=8),
    delimiter=st.sampled_from([",", ";"]),
    crlf=st.booleans(),
)
def test_any_csv_the_csv_module_writes_reads_back(
    header: list[str], rows: list[list[str]], delimiter: str, crlf: bool
) -> None:
    rows = [r[: len(header)] for r in rows]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8")
    reader = CsvRows(lambda: io.BytesIO(data), "t.csv")
    assert reader.header == header
    got = list(reader)
    assert not [g for g in got if isinstance(g, RowProblem)]
    assert [cells for _, cells in got] == rows
    lines = [line for line, _ in got]
    assert lines == sorted(set(lines))
    assert all(line >= 2 for line in lines)


_junk = st.lists(
    st.sampled_from(
        [b"C1", b"x", b",", b";", b'"', b'""', b"\n", b"\r\n", b"\xff", b" ", b"2024-01-01"]
    ),
    max_size=60,
).map(b"".join)


@given(body=_junk, as_json=st.booleans())
def test_counts_always_add_up(
    tmp_path_factory: pytest.TempPathFactory, body: bytes, as_json: bool
) -> None:
    root = tmp_path_factory.mktemp("b")
    (root / "users.csv").write_bytes(b"id,email\nU1,a@b.c\n")
    name = "clients.jsonl" if as_json else "clients.csv"
    head = b"" if as_json else b"id,last_name,birth_date\n"
    (root / name).write_bytes(head + body)
    with open_bundle(root) as bundle:
        items = list(bundle.read("clients"))
        counts = bundle.counts["clients"]
    assert counts.read == counts.accepted + counts.rejected == len(items)


def test_id_list_round_trips() -> None:
    ids = IdList()
    values = ["C-1", "", "Zoë/ü", "x" * 300]
    assert [ids.append(v) for v in values] == [0, 1, 2, 3]
    assert [ids[i] for i in range(len(ids))] == values


def test_bundle_keeps_the_accepted_ids_of_parents(make_bundle) -> None:
    root = make_bundle(
        **{"clients.csv": "id,last_name,birth_date\nC1,Lee,\nC2,Ray,soon\nC1,Dup,\n"}
    )
    with open_bundle(root) as bundle:
        assert bundle.accepted_ids("clients") is None  # not read yet
        rejects = [r for r in bundle.read("clients") if r.__class__.__name__ == "Reject"]
        accepted = bundle.accepted_ids("clients")
        list(bundle.read("users"))
        users = bundle.accepted_ids("users")
    assert [r.reason for r in rejects] == [
        "not a date (expected YYYY-MM-DD)",
        "duplicate id (first seen on line 2)",
    ]
    assert accepted == {id_hash("C1")}  # C2 was rejected, the second C1 is a duplicate
    assert users == {id_hash("U1"), id_hash("U2")}
