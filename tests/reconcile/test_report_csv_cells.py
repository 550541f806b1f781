"""Spreadsheet formula injection (issue 15, point 16): every cell of report.csv that a
spreadsheet would evaluate is written neutralised (OWASP's CSV injection rule), and reads
back as the original text behind a single quote."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_ferry.owner_only import FORMULA_STARTS, csv_text, neutral_cell
from crm_ferry.reconcile.diff import DiffRow
from crm_ferry.reconcile.reconciliation import Reconciliation
from crm_ferry.reconcile.report import write_report

ATTACKS = (
    "=cmd|' /c calc'!a0",
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",  # full-width =
    "\uff0b1",  # full-width +
    "\uff0d1",  # full-width -
    "\uff20SUM(A1)",  # full-width @
)

_cells = st.text(
    alphabet=st.sampled_from([*"=+-@'\t\r\n\",;a1 ", "\uff1d", "\uff0b", "\uff0d", "\uff20", "é"])
    | st.characters(codec="utf-8", exclude_categories=("Cs",)),
    max_size=12,
)


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _number(cell: str) -> bool:
    return re.fullmatch(r"-\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", cell) is not None


def _safe(cell: str, original: str) -> bool:
    unchanged_or_quoted = cell == original or (cell.startswith("'") and cell[1:] == original)
    return unchanged_or_quoted and not (cell and cell[0] in FORMULA_STARTS and not _number(cell))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_cells, min_size=1, max_size=4), min_size=1, max_size=4))
def test_any_cell_reads_back_as_itself_or_quoted_and_never_as_a_formula(
    rows: list[list[str]],
) -> None:
    back = _read(csv_text(rows))
    assert len(back) == len(rows)
    for got_row, row in zip(back, rows, strict=True):
        assert len(got_row) == len(row)
        for got, original in zip(got_row, row, strict=True):
            assert _safe(got, original), (got, original)
            if original and original[0] in FORMULA_STARTS and not _number(original):
                assert got == "'" + original


def test_owasp_characters_are_neutralised() -> None:
    for attack in ATTACKS:
        assert neutral_cell(attack) == "'" + attack
    for harmless in ("", "plain", "'quoted", " =1", "a=b", "1-2", "-12.50", "-3", "-1e5"):
        assert neutral_cell(harmless) == harmless
    for formula in ("-1+1", "-2*3", "-A1", "-12.5)", "=-12.5"):
        assert neutral_cell(formula) == "'" + formula


def test_every_cell_is_quoted_so_another_list_separator_cannot_start_a_cell() -> None:
    """Excel set to ';' as list separator splits an unquoted ``a;=1+1`` into a formula cell."""
    text = csv_text([["a;=1+1", "b"]])
    assert text == '"a;=1+1","b"\r\n'


def test_report_csv_neutralises_every_formula_cell(
    tmp_path: Path, sample_recon: Reconciliation
) -> None:
    rows = [
        DiffRow("contact", "id-9", f"clients/{a}", "new_tags", a, a, a, "match") for a in ATTACKS
    ]
    recon = replace(sample_recon, proof=replace(sample_recon.proof, rows=rows))
    paths = write_report(tmp_path / "run", recon)
    text = paths.csv.read_bytes().decode("utf-8")
    for row in _read(text):
        for cell in row:
            assert not (cell and cell[0] in FORMULA_STARTS and not _number(cell)), (cell, row)
    fields = list(csv.DictReader(io.StringIO(text, newline="")))
    got = [r["source_value"] for r in fields if r["kind"] == "field"]
    assert got == ["'" + a for a in ATTACKS]


@settings(
    max_examples=15,  # each writes the three report files
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the fixture is only read
)
@given(value=_cells)
def test_report_csv_cells_of_any_source_value(sample_recon: Reconciliation, value: str) -> None:
    row = DiffRow("contact", "id-9", "clients/c9", "description", value, value, value, "match")
    recon = replace(sample_recon, proof=replace(sample_recon.proof, rows=[row]))
    with tempfile.TemporaryDirectory() as folder:
        paths = write_report(Path(folder), recon)
        text = paths.csv.read_bytes().decode("utf-8")
    (field,) = [r for r in csv.DictReader(io.StringIO(text, newline="")) if r["kind"] == "field"]
    for name in ("source_value", "expected", "actual"):
        assert _safe(field[name], value), (name, field[name], value)
