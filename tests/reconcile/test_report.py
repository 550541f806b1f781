from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

from crm_ferry.reconcile.diff import DiffRow
from crm_ferry.reconcile.report import CheckRow, write_report


def test_write_report_files_and_contents(
    tmp_path: Path, sample_rows: list[DiffRow], sample_checks: list[CheckRow]
) -> None:
    paths = write_report(
        tmp_path / "run",
        title="Sample diff",
        summary={"read": 3, "loaded": 2},
        rows=sample_rows,
        checks=sample_checks,
        meta={"run": "r1"},
    )
    for p in (paths.html, paths.json, paths.csv):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    data = json.loads(paths.json.read_text())
    assert data["counts"]["by_table"]["contact"] == {
        "match": 1,
        "mismatch": 1,
        "missing": 1,
        "extra": 0,
    }
    assert data["counts"]["total"]["match"] == 2
    assert data["rows"][0]["verdict"] == "mismatch"  # differences first
    assert data["checks_summary"] == {"passed": 1, "failed": 1}
    with paths.csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(sample_rows) + len(sample_checks)
    assert {r["kind"] for r in rows} == {"diff", "check"}
    html = paths.html.read_text()
    assert "<script>alert(1)</script>" not in html  # values are escaped
    assert "&lt;script&gt;" in html
    for needle in (
        "<caption>",
        'scope="col"',
        'scope="row"',
        '<label for="filter-verdict"',
        '<label for="filter-table"',
        "1980-03-01T00:00:00Z",
    ):
        assert needle in html
    assert "http://" not in html  # self-contained
    assert "https://" not in html


def test_write_report_row_limit(tmp_path: Path, sample_rows: list[DiffRow]) -> None:
    paths = write_report(
        tmp_path, title="t", summary={}, rows=sample_rows, checks=[], meta={}, row_limit=2
    )
    html = paths.html.read_text()
    assert html.count('data-verdict="') == 2
    assert "3 more are in report.json" in html
    assert len(json.loads(paths.json.read_text())["rows"]) == len(sample_rows)


def test_write_report_empty(tmp_path: Path) -> None:
    paths = write_report(tmp_path, title="t", summary={}, rows=[], checks=[], meta={})
    assert "No fields were compared." in paths.html.read_text()
