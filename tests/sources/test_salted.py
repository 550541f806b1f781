"""A bundle salted with malformed rows: each reject names file, line, column, value and
reason; reading goes on after each; ``read = accepted + rejected`` for every file."""

from __future__ import annotations

import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from crm_ferry.errors import SourceError
from crm_ferry.model import Reject
from crm_ferry.sources import open_bundle
from crm_ferry.sources.discover import discover_source

SALTED = Path(__file__).parents[1] / "cases" / "sources" / "bundles" / "salted"

ACCEPTS = "not one of active, archived, prospect"

EXPECTED: dict[str, list[tuple[int, str | None, str | None, str]]] = {
    "clients": [
        (3, "birth_date", "31/02/1990", "not a date (expected YYYY-MM-DD)"),
        (4, "status", "sleeping", ACCEPTS),
        (5, "id", None, "id is required"),
        (6, "id", "C1", "duplicate id (first seen on line 2)"),
        (7, None, None, "expected 7 cells, found 8"),
        (8, None, None, "expected 7 cells, found 3"),
        (9, "last_name", "J\ufffdr\ufffdme", "not valid UTF-8"),
        (
            10,
            None,
            None,
            "broken quoting: a quote opened on this line is not closed properly (the row would"
            " swallow lines 11-12; ',' expected after '\"'); reading resumes on the next line",
        ),
        (
            12,
            "created_at",
            "not-a-time",
            "not a timestamp (expected ISO 8601, e.g. 2024-03-01T09:30:00)",
        ),
        (13, None, None, "broken quoting: ',' expected after '\"'"),
    ],
    "sessions": [
        (3, "price", "$50", "not an amount (no currency sign allowed)"),
        (4, "duration_minutes", "sixty", "not a whole number"),
        (
            5,
            None,
            None,
            "broken quoting: a quote opened on this line is not closed properly (the row would"
            " swallow lines 6-6; unexpected end of data); reading resumes on the next line",
        ),
    ],
    "session_notes": [
        (2, None, None, "not valid JSON (Expecting property name enclosed in double quotes"),
        (3, None, None, "not a JSON object (a list)"),
        (4, None, None, "not valid UTF-8"),
        (
            5,
            "created_at",
            "yesterday",
            "not a timestamp (expected ISO 8601, e.g. 2024-03-01T09:30:00)",
        ),
        (6, "id", "N1", "duplicate id (first seen on line 1)"),
    ],
    "invoices": [
        (2, None, None, "not a JSON object (a str)"),
        (3, "status", "refunded", "not one of draft, sent, viewed, paid, overdue, failed, void"),
    ],
}

ACCEPTED = {
    "users": ["U1", "U2"],
    "clients": ["C1", "C10", "C13"],
    "sessions": ["S1", "S5"],
    "session_notes": ["N1"],
    "invoices": ["I1", "I4"],
}

FILES = {
    "users": "users.csv",
    "clients": "clients.csv",
    "sessions": "sessions.csv",
    "session_notes": "session_notes.jsonl",
    "invoices": "invoices.json",
}


@pytest.mark.parametrize("obj", list(ACCEPTED))
def test_each_reject_and_the_counts(obj: str) -> None:
    with open_bundle(SALTED) as bundle:
        items = list(bundle.read(obj))
        counts = bundle.counts[obj]
    rejects = [i for i in items if isinstance(i, Reject)]
    accepted = [i.id for i in items if not isinstance(i, Reject)]
    assert accepted == ACCEPTED[obj]
    got = [(r.line, r.column, r.value, r.reason) for r in rejects]
    want = EXPECTED.get(obj, [])
    assert len(got) == len(want), got
    for (line, column, value, reason), expected in zip(got, want, strict=True):
        assert (line, column, value) == expected[:3]
        assert reason.startswith(expected[3]), (reason, expected[3])
    assert {r.file for r in rejects} <= {FILES[obj]}
    assert {r.object for r in rejects} <= {obj}
    assert counts.read == counts.accepted + counts.rejected
    assert (counts.accepted, counts.rejected) == (len(accepted), len(rejects))


def test_reject_text_points_at_the_cell() -> None:
    with open_bundle(SALTED) as bundle:
        first = next(i for i in bundle.read("clients") if isinstance(i, Reject))
    assert str(first).startswith("clients.csv:3 [birth_date]")
    assert "'31/02/1990'" in str(first)
    assert first.source_id == "C2"


def test_values_of_accepted_rows_survive_the_neighbours() -> None:
    with open_bundle(SALTED) as bundle:
        sessions = {s.id: s for s in bundle.read("sessions") if not isinstance(s, Reject)}
        invoices = {i.id: i for i in bundle.read("invoices") if not isinstance(i, Reject)}
    assert sessions["S1"].price == Decimal("1234.50")  # type: ignore[attr-defined]
    assert sessions["S5"].provenance.line == 6
    assert invoices["I1"].total_amount == Decimal("150")  # type: ignore[attr-defined]
    assert invoices["I4"].status == "sent"  # type: ignore[attr-defined]


def test_discover_writes_every_reject(tmp_path: Path) -> None:
    out = tmp_path / "run" / "rejects.jsonl"
    result = discover_source(SALTED, rejects_path=out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == sum(len(v) for v in EXPECTED.values())
    assert set(rows[0]) == {"object", "file", "line", "column", "value", "reason", "source_id"}
    assert (rows[0]["file"], rows[0]["line"]) == ("clients.csv", 3)
    for name, summary in result.objects.items():
        assert summary.read == summary.accepted + summary.rejected, name
        assert summary.rejected == len(EXPECTED.get(name, []))
    reasons = dict(result.top_reject_reasons)
    assert reasons["clients.id: duplicate id (first seen on line N)"] == 1
    assert "clients.birth_date: not a date (expected YYYY-MM-DD)" in reasons
    assert reasons["clients: expected N cells, found N"] == 2
    assert "clients.last_name: not valid UTF-8" in reasons  # a number that is not a value
    assert (
        "clients.created_at: not a timestamp (expected ISO 8601, e.g. 2024-03-01T09:30:00)"
        in reasons
    )
    assert result.rejects_path == str(out)


def test_a_broken_json_array_stops_with_a_reject(make_bundle) -> None:
    root = make_bundle(
        **{
            "clients.csv": "clients/plain.csv",
            "invoices.json": '[{"id": "I1"},\n {"id": "I2", "total_amount": 5,\n {"id": "I3"}]',
        }
    )
    with open_bundle(root) as bundle:
        items = list(bundle.read("invoices"))
        counts = bundle.counts["invoices"]
    assert [type(i).__name__ for i in items] == ["Invoice", "Reject"]
    reject = items[1]
    assert isinstance(reject, Reject)
    assert reject.line == 2
    assert reject.reason.endswith("the rest of the file was not read")
    assert (counts.read, counts.accepted, counts.rejected) == (2, 1, 1)


def test_header_that_is_not_utf8_makes_the_file_unreadable(make_bundle) -> None:
    root = make_bundle(**{"clients.csv": b"id,na\xefme\nC1,x\n"})
    with open_bundle(root) as bundle, pytest.raises(SourceError, match=r"clients\.csv:1"):
        list(bundle.read("clients"))


def test_blank_lines_are_not_rows(make_bundle) -> None:
    root = make_bundle(**{"clients.csv": "\n\nid,last_name\n\nC1,Lee\n\n\nC2,Ray\n"})
    with open_bundle(root) as bundle:
        items = list(bundle.read("clients"))
        counts = bundle.counts["clients"]
    assert [(i.id, i.provenance.line) for i in items] == [("C1", 5), ("C2", 8)]
    assert (counts.read, counts.rejected) == (2, 0)


@pytest.mark.parametrize("as_zip", [False, True])
def test_problems_far_into_a_large_file(make_bundle, tmp_path: Path, as_zip: bool) -> None:
    """Rows, problems and line numbers stay right across the reader's 1 MiB blocks."""
    lines = [b"id,last_name,note"]
    expected_rejects: dict[int, str] = {}
    for n in range(1, 40_001):
        line_no = len(lines) + 1
        if n == 15_000:
            lines.append(b'C%d,Lee,"line one' % n)  # a quoted note over two lines
            lines.append(b'line two"')
        elif n == 25_000:
            lines.append(b'C%d,"Broken,quote' % n)
            expected_rejects[line_no] = "broken quoting: a quote opened on this line"
        elif n == 33_000:
            lines.append(b"C%d,J\xe9r\xf4me,x" % n)
            expected_rejects[line_no] = "not valid UTF-8"
        else:
            lines.append(b"C%d,Name%d,%s" % (n, n, b"x" * (n % 50)))
    root = make_bundle(**{"clients.csv": b"\r\n".join(lines) + b"\r\n"})
    source: Path = root
    if as_zip:
        source = tmp_path / "big.zip"
        with zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in root.iterdir():
                zf.write(path, path.name)
    with open_bundle(source) as bundle:
        items = list(bundle.read("clients"))
        counts = bundle.counts["clients"]
    rejects = {i.line: i.reason for i in items if isinstance(i, Reject)}
    assert set(rejects) == set(expected_rejects)
    for line, start in expected_rejects.items():
        assert rejects[line].startswith(start)
    records = [i for i in items if not isinstance(i, Reject)]
    assert len(records) == 40_000 - 2
    by_id = {r.id: r for r in records}
    assert by_id["C15000"].extra == {"note": "line one\r\nline two"}
    assert by_id["C15001"].provenance.line == 15_003
    assert by_id["C25001"].provenance.line == 25_003  # read again after the broken quote
    assert by_id["C40000"].provenance.line == 40_002
    assert counts.read == counts.accepted + counts.rejected == 40_000
