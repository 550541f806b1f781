"""The reconciliation report on disk: one JSON document holding everything (numbers as
numbers), a CSV of every fact, and a self-contained HTML page with everything escaped."""

from __future__ import annotations

import csv
import json
import re
import stat
from collections import Counter
from dataclasses import replace
from pathlib import Path

from crm_ferry.reconcile.reconciliation import Reconciliation, choice_label
from crm_ferry.reconcile.report import write_report
from crm_ferry.reconcile.verify import Proof


def test_write_report_files_and_contents(tmp_path: Path, sample_recon: Reconciliation) -> None:
    paths = write_report(tmp_path / "run", sample_recon)
    for p in (paths.html, paths.json, paths.csv):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    data = json.loads(paths.json.read_text())

    # who, where, which runs, which map (its whole digest) and who confirmed it
    assert data["environment"] == {
        "url": "https://contoso.crm.dynamics.com",
        "name": "Contoso <Coaching>",
    }
    assert [r["run_id"] for r in data["runs"]] == ["20261119T080000-migrate-abc123"]
    assert data["map"]["digest"] == "ab" * 32
    assert (data["map"]["confirmed_by"], data["map"]["confirmed_at"]) == (
        "Grace Hopper",
        "2026-11-01T08:00:00Z",
    )
    # totals are numbers, never text
    assert data["totals"]["invoices"] == {
        "source total": 1234.5,
        "Dataverse total": 1244.5,
        "invoices whose lines agree with their total": 1,
    }
    assert data["totals"]["payments"] == {"source": 1000.0, "Dataverse": 1000.0}
    assert data["objects"]["clients"] == {
        "source": 3,
        "loaded": 2,
        "rejected": 1,
        "skipped": 0,
        "reasons": {"duplicate id (first seen on line …)": 1},
    }
    # the field-level diff per table and column
    contact = data["fields"]["by_table"]["contact"]
    assert contact["columns"]["birthdate"] == {"match": 0, "mismatch": 1, "missing": 0, "extra": 0}
    assert (contact["compared"], contact["match"], contact["differences"]) == (4, 1, 3)
    assert data["fields"]["total"]["match"] == 2

    # every difference classified, one accepted; new ones first
    differences = data["differences"]
    assert Counter(d["classification"] for d in differences) == {
        "migration difference": 5,
        "source defect": 2,
        "rejected by the map": 1,
    }
    assert data["summary"]["by_class"]["source defect"] == {"total": 2, "new": 1, "accepted": 1}
    assert (data["summary"]["new"], data["summary"]["accepted"]) == (7, 1)
    assert [d["status"] for d in differences] == ["new"] * 7 + ["accepted"]
    accepted = differences[-1]
    assert (accepted["table"], accepted["column"]) == ("invoice", "totalamount")
    assert accepted["accepted"] == {
        "by": "Ada Lovelace",
        "at": "2026-11-20T09:00:00Z",
        "reason": "agreed <b>in</b> May",
    }
    reject = next(d for d in differences if d["table"] == "clients")
    assert (reject["classification"], reject["record"], reject["column"]) == (
        "source defect",
        "c1",
        "id",
    )
    # a choice is shown with its label
    gender = next(d for d in differences if d["column"] == "gendercode")
    assert (gender["expected_label"], gender["actual_label"]) == ("2 Female", "1 Male")
    assert len({d["id"] for d in differences}) == len(differences)

    with paths.csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["difference"] == len(differences)
    assert kinds["field"] == len(sample_recon.proof.rows)
    assert kinds["check"] == len(sample_recon.proof.checks)
    assert {"meta", "summary", "records", "total"} <= set(kinds)
    digest = next(r for r in rows if r["kind"] == "meta" and r["what"] == "map digest")
    assert digest["detail"] == "ab" * 32
    total = next(r for r in rows if r["kind"] == "total" and r["what"] == "source total")
    assert total["actual"] == "1234.5"
    signed = next(r for r in rows if r["kind"] == "difference" and r["status"] == "accepted")
    assert (signed["accepted_by"], signed["accepted_reason"]) == (
        "Ada Lovelace",
        "agreed <b>in</b> May",
    )

    html = paths.html.read_text()
    assert "<script>alert(1)</script>" not in html  # values are escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Contoso &lt;Coaching&gt;" in html
    assert "agreed &lt;b&gt;in&lt;/b&gt; May" in html
    assert "ab" * 32 in html  # the whole digest
    for needle in (
        "<caption>",
        'scope="col"',
        'scope="row"',
        '<details class="group" id="differences-contact"',
        '<details class="group" id="fields-contact"',
        "2 Female",
        "1980-03-01T00:00:00Z",
        "1,234.50",
    ):
        assert needle in html, needle
    # each section's filter sits in the section, before the table it filters
    for table_id in re.findall(r'<form class="filter" data-for="([^"]+)"', html):
        form = html.index(f'data-for="{table_id}"')
        assert form < html.index(f'<table id="{table_id}"')
    assert not re.search(r"\b(src|href)=", html)  # self-contained: nothing fetched


def test_write_report_row_limit(tmp_path: Path, sample_recon: Reconciliation) -> None:
    paths = write_report(tmp_path, sample_recon, row_limit=2)
    html = paths.html.read_text()
    assert html.count('<tr data-row data-verdict="') == 2
    assert "4 more are in report.json and report.csv" in html
    data = json.loads(paths.json.read_text())
    assert len(data["rows"]) == len(sample_recon.proof.rows)
    # differences are never cut by the row limit
    assert html.count('<tr data-row data-id="') == len(sample_recon.differences)


def test_write_report_empty(tmp_path: Path, sample_recon: Reconciliation) -> None:
    empty = replace(sample_recon, proof=Proof(), differences=[], objects={})
    html = write_report(tmp_path, empty).html.read_text()
    assert "No fields were compared." in html
    assert "No differences." in html
    assert "Every difference is accepted (0 accepted, 0 in all)." in html


def test_choice_labels() -> None:
    options = {100000000: "Active", 100000001: "Paused"}
    assert choice_label(100000001, options) == "100000001 Paused"
    assert choice_label("100000000,100000001", options) == "100000000 Active, 100000001 Paused"
    assert choice_label([100000000], options) == "100000000 Active"
    assert choice_label(5, options) is None  # none of them
    assert choice_label("text", options) is None
    assert choice_label(1, None) is None
    assert choice_label(None, options) is None


def test_rows_are_ordered_differences_first(tmp_path: Path, sample_recon: Reconciliation) -> None:
    data = json.loads(write_report(tmp_path, sample_recon).json.read_text())
    verdicts = [r["verdict"] for r in data["rows"]]
    assert verdicts.index("match") > max(i for i, v in enumerate(verdicts) if v != "match"), (
        verdicts
    )
