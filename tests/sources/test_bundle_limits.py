"""What the reader refuses instead of crashing or filling memory (issue 15, points 14, 15,
17 and 24): ids differing only in case, values beyond what Dataverse holds, over-long
lines, zip members that expand too far, attachments too large to read whole."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry.errors import SourceError
from crm_ferry.model import Client, Invoice, Record, Reject
from crm_ferry.sources import open_bundle
from crm_ferry.sources.csvrows import LINE_LIMIT
from crm_ferry.sources.discover import discover_source

CASES = Path(__file__).parents[1] / "cases" / "sources"
FIXTURE_OK = [HealthCheck.function_scoped_fixture]


def read_all(root: Path, obj: str, **kwargs: object) -> list[Record | Reject]:
    with open_bundle(root, **kwargs) as bundle:  # type: ignore[arg-type]
        items = list(bundle.read(obj))
        counts = bundle.counts[obj]
        assert counts.read == counts.accepted + counts.rejected == len(items)
    return items


def write_bundle(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "users.csv").write_bytes((CASES / "users.csv").read_bytes())
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (root / name).write_bytes(data)
    return root


# -- 14: ids differing only in case are duplicates ---------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_id_differing_only_in_case_is_a_duplicate(tmp_path: Path, fmt: str) -> None:
    rows = [("ACME-1", "Ann"), ("acme-1", "Bob"), ("C2", "Cy")]
    if fmt == "csv":
        text = "id,first_name,last_name\n" + "".join(f"{i},{n},Lee\n" for i, n in rows)
    else:
        text = "".join(
            json.dumps({"id": i, "first_name": n, "last_name": "Lee"}) + "\n" for i, n in rows
        )
    root = write_bundle(tmp_path / "b", {f"clients.{fmt}": text})
    first, second, third = read_all(root, "clients")
    assert isinstance(first, Client)
    assert first.id == "ACME-1"
    assert isinstance(third, Client)
    assert isinstance(second, Reject)
    assert second.reason.startswith("duplicate id")  # what the load knows a duplicate by
    first_line = 2 if fmt == "csv" else 1
    assert f"first seen on line {first_line} with other upper and lower case" in second.reason
    with open_bundle(root) as bundle:
        list(bundle.read("clients"))
        assert len(bundle.accepted_ids("clients") or ()) == 2


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
        min_size=1,
        max_size=8,
    )
)
def test_case_variants_of_any_id_are_rejected(tmp_path: Path, rid: str) -> None:
    """Property: of two ids equal when case-folded, the later row is the duplicate."""
    variant = rid.swapcase()
    rows = [{"id": rid, "last_name": "A"}, {"id": variant, "last_name": "B"}]
    root = write_bundle(
        tmp_path / "p", {"clients.jsonl": "".join(json.dumps(r) + "\n" for r in rows)}
    )
    items = read_all(root, "clients")
    records = [i for i in items if isinstance(i, Client)]
    if rid.strip() and rid.strip().casefold() == variant.strip().casefold():
        assert len(records) == 1
        assert isinstance(items[1], Reject)
        assert items[1].reason.startswith("duplicate id")


# -- 15: values beyond what Dataverse can hold -------------------------------------------

HUGE = "99999999999999999999.99"


def test_money_beyond_dataverse_is_a_reject_and_discover_does_not_crash(tmp_path: Path) -> None:
    root = write_bundle(
        tmp_path / "b",
        {
            "clients.csv": "id,last_name\nC1,Lee\n",
            "invoices.csv": "id,client_id,total_amount,tax\n"
            f"I1,C1,{HUGE},\nI2,C1,100.00,\nI3,C1,922337203685477,-922337203685477\n",
            "invoice_items.csv": "id,invoice_id,amount\nL1,I2,100.00\nL2,I3,1\n",
        },
    )
    items = read_all(root, "invoices")
    big = items[0]
    assert isinstance(big, Reject)
    assert big.column == "total_amount"
    assert "largest amount Dataverse" in big.reason
    assert isinstance(items[1], Invoice)
    assert isinstance(items[2], Invoice)
    found = discover_source(root)
    assert found.objects["invoices"].rejected == 1
    # I3's items (1) do not add up to its total less its tax (2 × 922337203685477)
    assert found.findings["invoices.items_total_mismatch"].source_ids == ("I3",)


_EXTREME_MONEY = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.sampled_from([HUGE, "-" + HUGE, "922337203685477.5807", "1e30", "1E-30", "0.00001"]),
).map(str)


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(total=_EXTREME_MONEY, tax=_EXTREME_MONEY, amounts=st.lists(_EXTREME_MONEY, max_size=4))
def test_discover_over_extreme_amounts(
    tmp_path: Path, total: str, tax: str, amounts: list[str]
) -> None:
    """Fuzz: any amounts in totals, taxes and items are records or rejects, never a crash."""
    root = write_bundle(
        tmp_path / "fuzz",
        {
            "clients.csv": "id,last_name\nC1,Lee\n",
            "invoices.csv": f'id,client_id,total_amount,tax\nI1,C1,"{total}","{tax}"\n',
            "invoice_items.csv": "id,invoice_id,amount\n"
            + "".join(f'L{n},I1,"{a}"\n' for n, a in enumerate(amounts)),
        },
    )
    found = discover_source(root)
    for summary in found.objects.values():
        assert summary.read == summary.accepted + summary.rejected


@pytest.mark.parametrize(
    ("zone", "stamp", "ok"),
    [
        ("America/New_York", "9999-12-31T23:59:59", False),  # 10000-01-01 in UTC
        ("America/New_York", "9999-12-31T18:59:59", True),
        ("Asia/Tokyo", "0001-01-01T00:00:00", False),
        ("UTC", "1753-01-01T00:00:00", True),
        ("UTC", "1752-12-31T23:59:59", False),
        ("UTC", "9999-12-31T23:59:59+00:00", True),
        ("UTC", "9999-12-31T23:59:59-05:00", False),
    ],
)
def test_timestamps_outside_dataverse_are_rejects(
    tmp_path: Path, zone: str, stamp: str, ok: bool
) -> None:
    root = write_bundle(
        tmp_path / "b",
        {
            "manifest.json": json.dumps({"timezone": zone}),
            "clients.csv": f"id,last_name,created_at\nC1,Lee,{stamp}\nC2,Ray,{stamp}\n",
        },
    )
    for item in read_all(root, "clients"):  # twice: the second may come from a cache
        if ok:
            assert isinstance(item, Client)
        else:
            assert isinstance(item, Reject)
            assert item.column == "created_at"
            assert "1753-01-01" in item.reason
            assert "9999-12-31" in item.reason


_ZONES = st.sampled_from(["UTC", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati"])


@settings(max_examples=80, deadline=None, suppress_health_check=FIXTURE_OK)
@given(zone=_ZONES, moment=st.datetimes(), offset=st.none() | st.integers(-14 * 60, 14 * 60))
def test_any_timestamp_is_a_record_only_when_dataverse_holds_it(
    tmp_path: Path, zone: str, moment: datetime, offset: int | None
) -> None:
    """Property over the whole datetime range, naive or with an offset, in several zones."""
    stamp = moment.isoformat()
    if offset is not None:
        sign = "+" if offset >= 0 else "-"
        stamp += f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    root = write_bundle(
        tmp_path / "t",
        {
            "manifest.json": json.dumps({"timezone": zone}),
            "clients.csv": f"id,last_name,created_at\nC1,Lee,{stamp}\n",
        },
    )
    (item,) = read_all(root, "clients")
    tz = ZoneInfo(zone) if offset is None else None
    try:
        aware = moment.replace(tzinfo=tz) if tz else datetime.fromisoformat(stamp)
        utc = aware.astimezone(UTC)
        holds = (
            datetime(1753, 1, 1, tzinfo=UTC)
            <= utc
            <= datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
        )
    except OverflowError:
        holds = False
    assert isinstance(item, Client) is holds, (stamp, zone, item)
    if holds:
        assert isinstance(item, Client)
        assert item.created_at is not None
        assert item.created_at.astimezone(UTC) == utc


def test_a_date_before_1753_is_a_reject(tmp_path: Path) -> None:
    root = write_bundle(
        tmp_path / "b", {"clients.csv": "id,last_name,birth_date\nC1,Lee,0001-01-01\n"}
    )
    (item,) = read_all(root, "clients")
    assert isinstance(item, Reject)
    assert item.column == "birth_date"
    assert "1753-01-01" in item.reason


# -- 17 and 24: over-long lines ------------------------------------------------------------


def test_an_over_long_csv_line_is_a_reject_naming_it(tmp_path: Path) -> None:
    long = "x" * (LINE_LIMIT + 10)
    root = write_bundle(
        tmp_path / "b",
        {"clients.csv": f"id,last_name\nC1,Lee\nC2,{long}\nC3,Ray\n"},
    )
    first, bad, last = read_all(root, "clients")
    assert isinstance(first, Client)
    assert isinstance(last, Client)
    assert last.id == "C3"
    assert isinstance(bad, Reject)
    assert bad.line == 3
    assert "line 3 is longer than 4 MiB" in bad.reason
    assert "quot" not in bad.reason  # not "broken quoting"


def test_an_over_long_line_inside_a_quoted_cell_loses_nothing(tmp_path: Path) -> None:
    root = write_bundle(
        tmp_path / "b",
        {"clients.csv": 'id,last_name\nC1,"Lee\n' + "y" * 5000 + '\nx"\nC2,Ray\n'},
    )
    items = read_all(root, "clients", line_limit=1024)
    rejects = [i for i in items if isinstance(i, Reject)]
    assert any("line 3 is longer than 1 KiB" in r.reason for r in rejects)
    assert [i.id for i in items if isinstance(i, Client)] == ["C2"]


def test_an_over_long_jsonl_line_is_a_reject(tmp_path: Path) -> None:
    big = json.dumps({"id": "C2", "last_name": "z" * 5000})
    root = write_bundle(
        tmp_path / "b",
        {
            "clients.jsonl": '{"id": "C1", "last_name": "Lee"}\n'
            + big
            + '\n{"id": "C3", "last_name": "R"}\n'
        },
    )
    items = read_all(root, "clients", line_limit=1024)
    assert [type(i).__name__ for i in items] == ["Client", "Reject", "Client"]
    bad = items[1]
    assert isinstance(bad, Reject)
    assert "line 2 is longer than 1 KiB" in bad.reason


def test_a_long_line_is_refused_without_buffering_it(tmp_path: Path) -> None:
    """Memory: the reader's peak stays well under the line's size (no quadratic buffer)."""
    line = 16 * 1024 * 1024
    root = write_bundle(
        tmp_path / "b",
        {"clients.csv": b"id,last_name\nC1," + b"x" * line + b"\nC2,Ray\n"},
    )
    tracemalloc.start()
    try:
        items = read_all(root, "clients", line_limit=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [type(i).__name__ for i in items] == ["Reject", "Client"]
    assert peak < line // 4, peak


def test_an_over_long_header_line_is_refused(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", {"clients.csv": "id," + "h" * 5000 + "\nC1,x\n"})
    with pytest.raises(SourceError, match="line 1 is longer than 1 KiB") as info:
        read_all(root, "clients", line_limit=1024)
    assert "line_limit" in (info.value.hint or "")


# -- 17: zip members and attachments ---------------------------------------------------


def test_a_zip_member_expanding_too_far_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.csv", (CASES / "users.csv").read_text())
        zf.writestr("clients.csv", b"id,last_name\nC1," + b"x" * (8 << 20) + b"\n")
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match="expands") as info:
            read_all(path, "clients")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20
    assert info.value.hint


def test_a_zip_member_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("users.csv", (CASES / "users.csv").read_text())
        zf.writestr("clients.csv", "id,last_name\n" + "".join(f"C{n},L\n" for n in range(500)))
    with pytest.raises(SourceError, match="larger than"):
        read_all(path, "clients", member_limit=1000)


def test_a_zip_member_larger_than_declared_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lying.zip"
    body = b"id,last_name\n" + b"".join(b"C%d,L\n" % n for n in range(2000))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("users.csv", (CASES / "users.csv").read_text())
        zf.writestr("clients.csv", body)
    data = path.read_bytes()
    # declare a smaller size in both headers: the data expands beyond it
    real = len(body).to_bytes(4, "little")
    fake = (len(body) // 2).to_bytes(4, "little")
    path.write_bytes(data.replace(real + real, real + fake).replace(real + real, real + fake))
    with pytest.raises(SourceError) as info:
        read_all(path, "clients")
    assert "clients.csv" in str(info.value)
    assert info.value.hint


def test_an_attachment_too_large_is_refused_before_it_is_read(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", {"clients.csv": "id,last_name\nC1,Lee\n"})
    (root / "files").mkdir()
    (root / "files" / "big.bin").write_bytes(b"\0" * (4 << 20))
    with open_bundle(root) as bundle:
        tracemalloc.start()
        try:
            with pytest.raises(SourceError, match="over the limit") as info:
                bundle.read_attachment("files/big.bin", limit=1 << 20)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20
        assert info.value.hint
        assert bundle.read_attachment("files/big.bin", limit=8 << 20) == b"\0" * (4 << 20)


def test_limits_can_be_given_to_the_reader(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", {"clients.csv": "id,last_name\nC1," + "x" * 100 + "\n"})
    (item,) = read_all(root, "clients", line_limit=64)
    assert isinstance(item, Reject)
    assert "longer than 64 bytes" in item.reason
    (item,) = read_all(root, "clients")
    assert isinstance(item, Client)
