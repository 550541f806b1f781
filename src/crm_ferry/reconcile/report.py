"""The reconciliation report: one self-contained HTML page, and the same data as JSON and CSV.

:func:`write_report` writes a :class:`~crm_ferry.reconcile.reconciliation.Reconciliation`
as ``report.json`` (:meth:`Reconciliation.as_dict`: amounts and counts as JSON numbers),
``report.csv`` (one row per fact: ``kind`` says which: ``meta``, ``summary``, ``records``,
``total``, ``difference``, ``field``, ``check``; a cell a spreadsheet would evaluate starts
with a single quote) and ``report.html``: inline CSS and
JavaScript, nothing fetched from the network, every value escaped. The page opens with the
summary (differences by class, new and accepted; records per object; totals; environment,
runs and the map's confirmation), then the differences grouped by table, the field-level
diff per table and column, and the cross-record checks; each table is a collapsible section
with its filter next to the rows it filters. The files hold client data, so they are
created readable by their owner only (mode 0600), and written atomically.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jinja2

from crm_ferry.owner_only import csv_text, write_private
from crm_ferry.reconcile.classify import CLASSES, CheckRow
from crm_ferry.reconcile.diff import VERDICTS, plain
from crm_ferry.reconcile.reconciliation import Reconciliation

__all__ = [
    "CSV_COLUMNS",
    "CheckRow",
    "ReportPaths",
    "quantity",
    "render_html",
    "report_environment",
    "shown",
    "write_report",
]

HTML_NAME: Final = "report.html"
JSON_NAME: Final = "report.json"
CSV_NAME: Final = "report.csv"
HTML_ROW_LIMIT: Final = 5000
"""Compared fields shown in the HTML page (differences first); JSON and CSV hold every one.
Differences are always shown, up to :data:`HTML_DIFFERENCE_LIMIT`."""
HTML_DIFFERENCE_LIMIT: Final = 5000

CSV_COLUMNS: Final = (
    "kind",
    "id",
    "classification",
    "status",
    "table",
    "record",
    "source_key",
    "column",
    "what",
    "source_value",
    "expected",
    "actual",
    "verdict",
    "detail",
    "accepted_by",
    "accepted_at",
    "accepted_reason",
)


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
    env.filters["num"] = _num
    env.filters["qty"] = quantity
    return env


def shown(value: Any) -> str:
    """A value as text for the page and the CSV: ``null`` for nothing, JSON for structures."""
    value = plain(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def quantity(value: Any, digits: int = 0) -> str:
    """A quantity of the scoping report: ``—`` for none, ``yes``/``no``, thousands separators,
    ``digits`` decimals for a float."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _num(value: Any) -> str:
    """A number with thousands separators (amounts with two decimals)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return shown(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}"


# ---------------------------------------------------------------------------
# CSV


def _csv_text(data: Mapping[str, Any]) -> str:
    """``report.csv``: one row per fact, cells neutralised against formula injection
    (:func:`~crm_ferry.owner_only.csv_text`)."""
    rows: list[list[str]] = [list(CSV_COLUMNS)]

    def row(kind: str, **cells: Any) -> None:
        values = {"kind": kind, **{k: shown(v) for k, v in cells.items()}}
        rows.append([values.get(column, "") for column in CSV_COLUMNS])

    env, mp = data["environment"], data["map"]
    for what, value in (
        ("title", data["title"]),
        ("id", data["id"]),
        ("generated at", data["generated_at"]),
        ("environment name", env["name"]),
        ("environment url", env["url"]),
        ("source", data["source"]),
        ("map file", mp["file"]),
        ("map digest", mp["digest"]),
        ("map status", mp["status"]),
        ("map confirmed by", mp["confirmed_by"]),
        ("map confirmed at", mp["confirmed_at"]),
    ):
        row("meta", what=what, detail=value)
    for run in data["runs"]:
        row("meta", what="run", record=run["run_id"], detail=f"{run['kind']} {run['state']}")
    summary = data["summary"]
    for what, value in summary.items():
        if what == "by_class":
            for cls, per in value.items():
                for status, n in per.items():
                    row("summary", classification=cls, status=status, what="differences", actual=n)
        else:
            row("summary", what=what, actual=value)
    for obj, tally in data["objects"].items():
        for what in ("source", "loaded", "rejected", "skipped"):
            row("records", table=obj, what=what, actual=tally[what])
        for reason, n in tally["reasons"].items():
            row("records", table=obj, what="rejected", detail=reason, actual=n)
    for name, per in data["totals"].items():
        for what, value in per.items():
            row("total", table=name, what=what, actual=value)
    for d in data["differences"]:
        accepted = d["accepted"] or {}
        row(
            "difference",
            id=d["id"],
            classification=d["classification"],
            status=d["status"],
            table=d["table"],
            record=d["record"],
            source_key=d["source_key"],
            column=d["column"],
            what=d["what"],
            source_value=d["source_value"],
            expected=d["expected"],
            actual=d["actual"],
            detail=d["detail"],
            accepted_by=accepted.get("by"),
            accepted_at=accepted.get("at"),
            accepted_reason=accepted.get("reason"),
        )
    for r in data["rows"]:
        row(
            "field",
            table=r["table"],
            record=r["record_id"],
            source_key=r["source_key"],
            column=r["field"],
            source_value=r["source_value"],
            expected=r["expected"],
            actual=r["actual"],
            verdict=r["verdict"],
        )
    for c in data["checks"]["rows"]:
        row(
            "check",
            classification=c["classification"],
            table=c["table"],
            record=c["record"],
            column=c["column"],
            what=c["name"],
            verdict="passed" if c["passed"] else "failed",
            detail=c["detail"],
        )
    return csv_text(rows)


# ---------------------------------------------------------------------------
# HTML


def _grouped(items: Sequence[Mapping[str, Any]], key: str) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in items:
        out[str(item[key])].append(item)
    return dict(sorted(out.items()))


def render_html(
    data: Mapping[str, Any],
    *,
    row_limit: int = HTML_ROW_LIMIT,
    difference_limit: int = HTML_DIFFERENCE_LIMIT,
) -> str:
    """The HTML page for :meth:`Reconciliation.as_dict`'s output (lists in display order)."""
    differences = data["differences"][:difference_limit]
    rows = data["rows"][:row_limit]
    fields = data["fields"]["by_table"]
    template = report_environment().get_template("report.html.j2")
    return template.render(
        data=data,
        classes=CLASSES,
        verdicts=VERDICTS,
        differences=_grouped(differences, "table"),
        hidden_differences=max(0, len(data["differences"]) - difference_limit),
        rows=_grouped(rows, "table"),
        hidden_rows=max(0, len(data["rows"]) - row_limit),
        field_tables=sorted(fields),
    )


def write_report(
    out_dir: Path, recon: Reconciliation, *, row_limit: int = HTML_ROW_LIMIT
) -> ReportPaths:
    """Write ``report.html``, ``report.json`` and ``report.csv`` into ``out_dir`` (mode 0600).

    The HTML page shows at most ``row_limit`` compared fields, differences first; JSON and
    CSV hold all."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = recon.as_dict()
    paths = ReportPaths(out_dir / HTML_NAME, out_dir / JSON_NAME, out_dir / CSV_NAME)
    write_private(paths.json, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_private(paths.csv, _csv_text(data))
    write_private(paths.html, render_html(data, row_limit=row_limit))
    return paths
