"""Excel workbooks as bundles: each rule of Excel's types, on small workbooks built here.

Each test writes a workbook with XlsxWriter (as Excel would store it: shared strings,
styles, serial dates) and reads it through :func:`open_bundle`, as a single-workbook
bundle or as ``.xlsx`` files in a folder next to CSVs.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import xlsxwriter

from crm_ferry.errors import SourceError
from crm_ferry.model import Client, FileRecord, Invoice, Record, Reject, Session
from crm_ferry.sources import open_bundle
from crm_ferry.sources.bundle._xlsx import OLE_MAGIC, number_format

USERS = [["id", "email", "first_name", "last_name", "role", "active"],
         ["U1", "u1@example.com", "Una", "One", "coach", True]]  # fmt: skip

Cell = Any
"""A value, or (value, format dict) to write with that number format."""


def build(path: Path, sheets: dict[str, list[list[Cell]]], **options: Any) -> Path:
    """A workbook of these sheets (rows of cells; None leaves a cell out)."""
    wb = xlsxwriter.Workbook(str(path), options)
    formats: dict[str, Any] = {}
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                fmt = None
                if isinstance(cell, tuple):
                    cell, code = cell
                    fmt = formats.setdefault(code, wb.add_format({"num_format": code}))
                _write(ws, r, c, cell, fmt)
    wb.close()
    return path


def _write(ws: Any, r: int, c: int, cell: Cell, fmt: Any) -> None:
    if cell is None:
        return
    if isinstance(cell, bool):
        ws.write_boolean(r, c, cell, fmt)
    elif isinstance(cell, datetime | date | time):
        ws.write_datetime(r, c, cell, fmt)
    elif isinstance(cell, int | float):
        ws.write_number(r, c, cell, fmt)
    elif isinstance(cell, str) and cell.startswith("="):
        ws.write_formula(r, c, cell, fmt, "#N/A" if "NA()" in cell else "#DIV/0!")
    else:
        ws.write_string(r, c, cell, fmt)


def read(path: Path, obj: str) -> list[Record | Reject]:
    with open_bundle(path) as bundle:
        items = list(bundle.read(obj))
        counts = bundle.counts[obj]
        assert counts.read == counts.accepted + counts.rejected == len(items)
    return items


@pytest.fixture
def workbook(tmp_path: Path) -> Callable[..., Path]:
    def make(clients: list[list[Cell]], **sheets: list[list[Cell]]) -> Path:
        return build(tmp_path / "export.xlsx", {"Users": USERS, "Clients": clients, **sheets})

    return make


def rejects(items: list[Record | Reject]) -> list[Reject]:
    return [i for i in items if isinstance(i, Reject)]


# -- dates and moments ----------------------------------------------------------------


def test_serial_dates_are_iso_dates_and_moments_in_the_manifest_zone(workbook) -> None:
    path = workbook(
        [
            ["id", "first_name", "last_name", "birth_date", "created_at", "updated_at"],
            [
                "C1",
                "Ann",
                "Lee",
                (date(1990, 2, 3), "dd/mm/yyyy"),
                (datetime(2024, 3, 1, 9, 30), "yyyy-mm-dd hh:mm"),
                (date(2024, 3, 2), "d-mmm-yy"),
            ],
        ],
        Manifest=[["timezone"], ["Europe/Paris"]],
    )
    (client,) = read(path, "clients")
    assert isinstance(client, Client)
    paris = ZoneInfo("Europe/Paris")
    assert client.birth_date == date(1990, 2, 3)
    assert client.created_at == datetime(2024, 3, 1, 9, 30, tzinfo=paris)
    assert client.updated_at == datetime(2024, 3, 2, 0, 0, tzinfo=paris)  # date-only -> midnight
    assert client.provenance.file == "export.xlsx[Clients]"
    assert client.provenance.line == 2


def test_a_number_in_a_date_column_without_a_date_format_is_a_reject_naming_the_cell(
    workbook,
) -> None:
    path = workbook(
        [["id", "last_name", "DOB", "created_at"],
         ["C1", "Lee", 45352, None],
         ["C2", "Ray", None, (45352.5, "0.00")]],
    )  # fmt: skip
    first, second = read(path, "clients")
    assert isinstance(first, Reject)
    assert isinstance(second, Reject)
    assert (first.file, first.line, first.column, first.value) == (
        "export.xlsx[Clients]",
        2,
        "DOB",
        "45352",
    )
    assert "cell C2" in first.reason
    assert "without a date format" in first.reason
    assert (second.line, second.column, second.value) == (3, "created_at", "45352.5")
    assert "cell D3" in second.reason


def test_a_moment_in_a_date_column_is_refused_as_in_csv(workbook) -> None:
    path = workbook(
        [["id", "last_name", "birth_date"],
         ["C1", "Lee", (datetime(1990, 2, 3, 0, 0), "yyyy-mm-dd hh:mm")],
         ["C2", "Ray", (datetime(1990, 2, 3, 8, 15), "yyyy-mm-dd hh:mm")]],
    )  # fmt: skip
    ok, bad = read(path, "clients")
    assert isinstance(ok, Client)
    assert ok.birth_date == date(1990, 2, 3)
    assert isinstance(bad, Reject)
    assert bad.value == "1990-02-03T08:15:00"
    assert bad.reason.startswith("not a date")


def test_a_time_of_day_in_a_date_column_is_a_reject(workbook) -> None:
    path = workbook([["id", "last_name", "birth_date"], ["C1", "Lee", (time(9, 30), "hh:mm")]])
    (bad,) = read(path, "clients")
    assert isinstance(bad, Reject)
    assert "cell C2 holds a time of day" in bad.reason


# -- numbers and text -----------------------------------------------------------------


def test_numbers_stored_as_text_stay_text(tmp_path: Path) -> None:
    path = build(
        tmp_path / "export.xlsx",
        {
            "users": USERS,
            "clients": [["id", "last_name", "postal_code"], ["00123", "Lee", "02134"]],
            "invoices": [["id", "client_id", "total_amount"], ["I1", "00123", "1,234.50"]],
        },
    )
    (client,) = read(path, "clients")
    assert isinstance(client, Client)
    assert (client.id, client.postal_code) == ("00123", "02134")
    (invoice,) = read(path, "invoices")
    assert isinstance(invoice, Invoice)
    assert invoice.total_amount == Decimal("1234.50")


def test_real_numbers_read_as_their_digits_and_shown_decimals(tmp_path: Path) -> None:
    path = build(
        tmp_path / "export.xlsx",
        {
            "users": USERS,
            "clients": [["id", "last_name", "postal_code", "custom:score"],
                        [123.0, "Lee", 90210, 0.1 + 0.2],
                        [4567, "Ray", 12345.0, 1e-3]],
            "invoices": [["id", "client_id", "subtotal", "tax", "total_amount"],
                         ["I1", 123, (0.1 + 0.2, "0.00"), (2.675, "#,##0.00"), (1234.5, "0.00")]],
        },
    )  # fmt: skip
    ann, bob = read(path, "clients")
    assert isinstance(ann, Client)
    assert isinstance(bob, Client)
    assert (ann.id, ann.postal_code, ann.custom["score"]) == ("123", "90210", "0.3")
    assert (bob.id, bob.postal_code, bob.custom["score"]) == ("4567", "12345", "0.001")
    (invoice,) = read(path, "invoices")
    assert isinstance(invoice, Invoice)
    assert invoice.client_id == "123"
    assert str(invoice.subtotal) == "0.30"  # never 0.30000000000000004
    assert str(invoice.tax) == "2.68"  # as Excel shows it: half away from zero
    assert str(invoice.total_amount) == "1234.50"


def test_an_id_of_more_than_15_digits_stored_as_a_number_is_a_reject(workbook) -> None:
    path = workbook([["id", "last_name"], [12345678901234567890, "Lee"]])
    (bad,) = read(path, "clients")
    assert isinstance(bad, Reject)
    assert bad.column == "id"
    assert "cell A2" in bad.reason
    assert "15 digits" in bad.reason


def test_booleans_are_true_and_false(tmp_path: Path) -> None:
    path = build(
        tmp_path / "export.xlsx",
        {
            "users": [*USERS, ["U2", "u2@example.com", "Dee", "Two", "coach", False]],
            "clients": [["id", "last_name", "custom:vip"], ["C1", "Lee", True]],
        },
    )
    one, two = read(path, "users")
    assert (one.active, two.active) == (True, False)  # type: ignore[union-attr]
    (client,) = read(path, "clients")
    assert isinstance(client, Client)
    assert client.custom == {"vip": "true"}


@pytest.mark.parametrize("formula", ["=NA()", "=1/0"])
def test_an_error_cell_is_a_reject_naming_the_cell(workbook, formula: str) -> None:
    path = workbook([["id", "last_name", "email"], ["C1", "Lee", formula], ["C2", "Ray", None]])
    bad, ok = read(path, "clients")
    assert isinstance(ok, Client)
    assert isinstance(bad, Reject)
    error = "#N/A" if "NA" in formula else "#DIV/0!"
    assert (bad.line, bad.column, bad.value, bad.source_id) == (2, "email", error, "C1")
    assert bad.reason == f"cell C2 holds the Excel error {error}"


def test_an_error_cell_and_a_bad_value_are_both_named(workbook) -> None:
    path = workbook([["id", "last_name", "email", "DOB"], ["C1", "Lee", "=NA()", "31/02/1990"]])
    (bad,) = read(path, "clients")
    assert isinstance(bad, Reject)
    assert bad.column == "email"
    assert bad.reason.endswith("(also bad: DOB)")


def test_a_value_in_a_column_without_a_header_is_a_reject(workbook) -> None:
    path = workbook([["id", "last_name"], ["C1", "Lee", None, "stray note"]])
    (bad,) = read(path, "clients")
    assert isinstance(bad, Reject)
    assert "cell D2 holds a value" in bad.reason


# -- headers --------------------------------------------------------------------------


def test_a_merged_header_cell_makes_a_two_row_header(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    users = wb.add_worksheet("Users")
    for r, row in enumerate(USERS):
        users.write_row(r, 0, row)
    ws = wb.add_worksheet("Clients")
    ws.write_row(0, 0, ["Client ID", "Last Name"])
    ws.merge_range(0, 2, 0, 5, "Address")
    ws.write_row(1, 2, ["Line 1", "Line 2", "City", "Zip"])
    ws.write_string(0, 6, "Notes")
    ws.write_row(2, 0, ["C1", "Lee", "1 Road", "Flat 2", "Hull", "HU1"])
    wb.close()
    with open_bundle(path) as bundle:
        (client,) = list(bundle.read("clients"))
        headers, _ = bundle.sheet_rows("clients")
    address = ["Address Line 1", "Address Line 2", "City", "Zip"]
    assert headers == ["Client ID", "Last Name", *address, "Notes"]
    assert isinstance(client, Client)
    assert client.provenance.line == 3
    assert (client.address_line1, client.address_line2) == ("1 Road", "Flat 2")
    assert (client.city, client.postal_code) == ("Hull", "HU1")


def test_header_cells_with_line_breaks_and_spaces(workbook) -> None:
    path = workbook([["ID ", "First\nName", "  Last   Name  "], ["C1", "Ann", "Lee"]])
    (client,) = read(path, "clients")
    assert isinstance(client, Client)
    assert (client.first_name, client.last_name) == ("Ann", "Lee")


# -- empty rows and columns -----------------------------------------------------------


def test_trailing_empty_rows_and_columns_are_not_rows(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    fmt = wb.add_format({"num_format": "0.00"})
    for name, rows in (("Users", USERS), ("Clients", [["id", "last_name"], ["C1", "Lee"]])):
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            ws.write_row(r, 0, row)
        for r in range(len(rows), len(rows) + 40):
            ws.write_blank(r, 0, None, fmt)  # Excel's used range beyond the data
            ws.write_string(r, 1, "   ")
            ws.write_blank(r, 9, None, fmt)
    wb.close()
    (client,) = read(path, "clients")
    assert isinstance(client, Client)


def test_an_empty_row_in_the_middle_is_read_and_rejected_like_a_csv_row(
    workbook, tmp_path: Path
) -> None:
    path = workbook([["id", "last_name"], ["C1", "Lee"], [], [None, "   "], ["C4", "Ray"]])
    items = read(path, "clients")
    assert [type(i) for i in items] == [Client, Reject, Reject, Client]
    assert [(r.line, r.column, r.reason) for r in rejects(items)] == [
        (3, "id", "id is required"),
        (4, "id", "id is required"),
    ]
    csv = tmp_path / "csv"
    csv.mkdir()
    (csv / "users.csv").write_text("id,email\nU1,u@example.com\n", encoding="utf-8")
    (csv / "clients.csv").write_text("id,last_name\nC1,Lee\n,\n,   \nC4,Ray\n", encoding="utf-8")
    as_csv = rejects(read(csv, "clients"))
    assert [(r.column, r.reason) for r in as_csv] == [(r.column, r.reason) for r in rejects(items)]


# -- layouts --------------------------------------------------------------------------


def test_sheet_names_ignore_case_and_spacing_and_others_are_listed(tmp_path: Path) -> None:
    path = build(
        tmp_path / "export.xlsx",
        {
            "USERS": USERS,
            "clients": [["id", "last_name"], ["C1", "Lee"]],
            "Client Properties": [["client_id", "key", "value"], ["C1", "goal", "x"]],
            "Pivot": [["anything"]],
        },
    )
    with open_bundle(path) as bundle:
        assert bundle.kind == "workbook"
        assert list(bundle.files) == ["users", "clients", "client_properties"]
        assert bundle.files["client_properties"].sheet == "Client Properties"
        assert [(i.sheet, i.reason[:9]) for i in bundle.ignored_sheets] == [("Pivot", "not named")]


def test_files_rows_with_a_path_in_a_single_workbook_are_rejected(tmp_path: Path) -> None:
    path = build(
        tmp_path / "export.xlsx",
        {
            "Users": USERS,
            "Clients": [["id", "last_name"], ["C1", "Lee"]],
            "Files": [["id", "client_id", "filename", "path", "url"],
                      ["F1", "C1", "a.pdf", "files/a.pdf", None],
                      ["F2", "C1", "b.pdf", None, "https://example.com/b.pdf"]],
        },
    )  # fmt: skip
    bad, linked = read(path, "files")
    assert isinstance(linked, FileRecord)
    assert isinstance(bad, Reject)
    assert bad.column == "path"
    assert bad.value == "files/a.pdf"
    assert "single workbook export.xlsx" in bad.reason
    assert "give the folder" in bad.reason


def test_a_folder_with_workbooks_next_to_csvs(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "users.csv").write_text("id,email\nU1,u@example.com\n", encoding="utf-8")
    build(root / "clients.xlsx", {"Export 1": [["id", "last_name"], ["C1", "Lee"]],
                                  "Summary": [["n"], [1]]})  # fmt: skip
    build(root / "export.xlsx", {"Sessions": [["id", "client_id"], ["S1", "C1"]]})
    with open_bundle(root) as bundle:
        assert bundle.kind == "folder"
        assert {o: (f.name, f.sheet) for o, f in bundle.files.items()} == {
            "users": ("users.csv", None),
            "clients": ("clients.xlsx", "Export 1"),
            "sessions": ("export.xlsx", "Sessions"),
        }
        assert [(i.file, i.sheet) for i in bundle.ignored_sheets] == [("clients.xlsx", "Summary")]
        (session,) = list(bundle.read("sessions"))
        assert isinstance(session, Session)
        assert session.provenance.file == "export.xlsx[Sessions]"


def test_an_object_as_csv_and_as_a_sheet_is_refused_naming_both(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "users.csv").write_text("id,email\nU1,u@example.com\n", encoding="utf-8")
    (root / "clients.csv").write_text("id,last_name\nC1,Lee\n", encoding="utf-8")
    build(root / "export.xlsx", {"Clients": [["id", "last_name"], ["C1", "Lee"]]})
    with pytest.raises(SourceError, match=r"clients: clients\.csv and export\.xlsx\[Clients\]"):
        open_bundle(root)


def test_a_workbook_in_a_zip_bundle(tmp_path: Path) -> None:
    book = build(tmp_path / "export.xlsx", {"Users": USERS, "Clients": [["id"], ["C1"]]})
    bundle_zip = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle_zip, "w") as zf:
        zf.write(book, "export/export.xlsx")
    with open_bundle(bundle_zip) as bundle:
        assert bundle.kind == "zip"
        assert [r.id for r in bundle.read("clients")] == ["C1"]  # type: ignore[union-attr]


# -- what is not a workbook -----------------------------------------------------------


def test_not_a_workbook_is_a_source_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"export\.xlsx: not an Excel workbook") as info:
        open_bundle(path)
    assert "save the file from Excel" in (info.value.hint or "")
    other = tmp_path / "other.xlsx"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(SourceError, match=r"other\.xlsx: a zip file, but not an Excel workbook"):
        open_bundle(other)


def test_a_password_protected_workbook_is_a_source_error(tmp_path: Path) -> None:
    # An encrypted workbook is an OLE compound file with an EncryptedPackage stream.
    ole = io.BytesIO()
    ole.write(OLE_MAGIC + bytes(504))
    ole.write("EncryptionInfo".encode("utf-16-le") + bytes(50))
    ole.write("EncryptedPackage".encode("utf-16-le") + bytes(1000))
    path = tmp_path / "locked.xlsx"
    path.write_bytes(ole.getvalue())
    with pytest.raises(SourceError, match=r"locked\.xlsx: the workbook is protected by a password"):
        open_bundle(path)
    legacy = tmp_path / "old.xlsx"
    legacy.write_bytes(OLE_MAGIC + bytes(2048))
    with pytest.raises(SourceError, match=r"old\.xlsx: an Excel 97-2003 workbook"):
        open_bundle(legacy)


@pytest.mark.parametrize(
    ("code", "kind", "decimals"),
    [
        ("General", "general", None),
        ("0.00", "fixed", 2),
        ("#,##0.00;[Red](#,##0.00)", "fixed", 2),
        ('[$€-407] #,##0.000 "EUR"', "fixed", 3),
        ("0%", "percent", 0),
        ("yyyy-mm-dd", "date", None),
        ("d-mmm-yy", "date", None),
        ("mmm", "date", None),
        ("m/d/yy h:mm", "datetime", None),
        ("[h]:mm:ss", "time", None),
        ("mm:ss", "time", None),
        ("@", "text", None),
        ("0.00E+00", "general", None),
    ],
)
def test_number_formats(code: str, kind: str, decimals: int | None) -> None:
    fmt = number_format(code)
    assert (fmt.kind, fmt.decimals) == (kind, decimals)
