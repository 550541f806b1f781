"""The reconciliation report: one self-contained HTML page, and the same data as JSON and CSV.

:func:`write_report` writes ``report.html`` (inline CSS and JavaScript, nothing fetched from
the network: a summary by table and verdict, filters by table and verdict, and every
difference with its source, expected and actual value side by side), ``report.json`` and
``report.csv``. The files hold client data, so they are created readable by their owner only
(mode 0600), and written atomically.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jinja2

from crm_ferry.owner_only import write_private
from crm_ferry.reconcile.diff import VERDICTS, DiffRow, count_verdicts, plain

HTML_NAME: Final = "report.html"
JSON_NAME: Final = "report.json"
CSV_NAME: Final = "report.csv"
HTML_ROW_LIMIT: Final = 5000
"""Rows shown in the HTML page; differences come first. JSON and CSV always hold every row."""

CSV_COLUMNS: Final = (
    "kind",
    "table",
    "record_id",
    "source_key",
    "field",
    "source_value",
    "expected",
    "actual",
    "verdict",
    "detail",
)


@dataclass(frozen=True, slots=True)
class CheckRow:
    """A cross-record check: "lookup points to the right parent", "invoice total = sum of
    lines" ..."""

    name: str
    table: str
    record: str
    passed: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "table": self.table,
            "record": self.record,
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ReportPaths:
    html: Path
    json: Path
    csv: Path

    def as_dict(self) -> dict[str, str]:
        return {"html": str(self.html), "json": str(self.json), "csv": str(self.csv)}


def report_environment() -> jinja2.Environment:
    """The Jinja environment of the reports' templates (``reconcile/templates``), escaping
    everything, failing on an undefined name."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crm_ferry.reconcile", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shown"] = shown
    return env


def shown(value: Any) -> str:
    """A value as text for the page and the CSV: ``null`` for nothing, JSON for structures."""
    value = plain(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _ordered(rows: Sequence[DiffRow]) -> list[DiffRow]:
    rank = {"mismatch": 0, "missing": 1, "extra": 2, "match": 3}
    return sorted(rows, key=lambda r: rank[r.verdict])


def report_data(
    *,
    title: str,
    summary: Mapping[str, Any],
    rows: Sequence[DiffRow],
    checks: Sequence[CheckRow],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything the report says, as JSON-friendly data (what ``report.json`` holds)."""
    counts = count_verdicts(rows)
    totals: dict[str, int] = dict.fromkeys(VERDICTS, 0)
    for per in counts.values():
        for verdict, n in per.items():
            totals[verdict] += n
    return {
        "title": title,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "meta": plain(dict(meta)),
        "summary": plain(dict(summary)),
        "counts": {"by_table": counts, "total": totals},
        "checks_summary": {
            "passed": sum(1 for c in checks if c.passed),
            "failed": sum(1 for c in checks if not c.passed),
        },
        "rows": [r.as_dict() for r in rows],
        "checks": [c.as_dict() for c in checks],
    }


def _csv_text(rows: Sequence[DiffRow], checks: Sequence[CheckRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                "diff",
                r.table,
                r.record_id,
                r.source_key,
                r.field,
                shown(r.source_value),
                shown(r.expected),
                shown(r.actual),
                r.verdict,
                "",
            ]
        )
    for c in checks:
        writer.writerow(
            [
                "check",
                c.table,
                c.record,
                "",
                c.name,
                "",
                "",
                "",
                "passed" if c.passed else "failed",
                c.detail,
            ]
        )
    return buf.getvalue()


def render_html(data: Mapping[str, Any], *, row_limit: int = HTML_ROW_LIMIT) -> str:
    """The HTML page for :func:`report_data`'s output (rows already in display order)."""
    rows = data["rows"]
    template = report_environment().get_template("report.html.j2")
    return template.render(
        data=data,
        rows=rows[:row_limit],
        hidden_rows=max(0, len(rows) - row_limit),
        tables=sorted(data["counts"]["by_table"]),
        verdicts=VERDICTS,
    )


def write_report(
    out_dir: Path,
    *,
    title: str,
    summary: Mapping[str, Any],
    rows: Sequence[DiffRow],
    checks: Sequence[CheckRow],
    meta: Mapping[str, Any],
    row_limit: int = HTML_ROW_LIMIT,
) -> ReportPaths:
    """Write ``report.html``, ``report.json`` and ``report.csv`` into ``out_dir`` (mode 0600).

    ``summary``: headline numbers of the run (read, loaded, rejected ...), shown first.
    ``meta``: where the data came from (run id, environment, map fingerprint ...).
    The HTML page shows at most ``row_limit`` rows, differences first; JSON and CSV hold all.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ordered = _ordered(rows)
    data = report_data(title=title, summary=summary, rows=ordered, checks=checks, meta=meta)
    paths = ReportPaths(out_dir / HTML_NAME, out_dir / JSON_NAME, out_dir / CSV_NAME)
    write_private(paths.json, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_private(paths.csv, _csv_text(ordered, checks))
    write_private(paths.html, render_html(data, row_limit=row_limit))
    return paths
